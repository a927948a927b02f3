"""Figure 14: retrieval accuracy of the contrastively trained trajectory encoder (the preset's
transformer; quick mode: physics-informed tokens, :mod:`gaussclip.experiments.lagrangian`), per
epoch: coefficients -> trajectories (top) and trajectories -> coefficients (bottom), R@1 (left) and
R@5 (right), on the training and the test pairs, over the full test set of candidates and over
random batches of 128, against chance and against the physics reference: the Gaussian posterior
mean of the coefficients given finite-difference velocities along the trajectory
(:mod:`gaussclip.experiments.lagrangian_reference`, noise 1e-2, every 10th recorded point) used
as the trajectory embedding with the same cosine retrieval, drawn as purple levels."""

from pathlib import Path

import numpy as np

from gaussclip.experiments import lagrangian as experiment
from gaussclip.experiments import lagrangian_reference as reference

from ._common import COMPARE_COLOR, DATA_COLOR, MODEL_COLOR, figure_main, new_figure, save_figure

STEM = Path(__file__).stem
TITLE = "Figure 14: Lagrangian retrieval during training (R@1, R@5; train and test)"
REFERENCE_COLOR = "#9467bd"
DIRECTIONS = {"c_to_t": "coefficients -> trajectories", "t_to_c": "trajectories -> coefficients"}


@figure_main
def main(out_dir, mode):
    config = experiment.preset(mode)
    result, _, test = experiment.train(config)
    history = result.history
    # the same candidate batches as the final epoch's test metrics (same generator seed)
    physics = reference.reference_metrics(test, np.random.default_rng([config.seed, config.epochs]))
    epochs = [r["epoch"] for r in history]
    last = history[-1]
    n_full = last["test"]["n_candidates_full"]
    n_batch = last["test"]["n_candidates_batch"]
    fig, axes = new_figure(mode, 2, 2, panel_size=(3.8, 2.8))
    numbers = {"config": config, "epochs": epochs, "curves": {}, "chance": {}}
    for row, (direction, label) in enumerate(DIRECTIONS.items()):
        for col, k in enumerate(experiment.KS):
            ax = axes[row, col]
            key = f"R@{k}"
            for split, color in (("train", COMPARE_COLOR), ("test", MODEL_COLOR)):
                for scope, style in (("full", "-"), ("batch", "--")):
                    values = [r[split][scope][direction][key] for r in history]
                    size = n_full if scope == "full" else n_batch
                    ax.plot(epochs, values, style, color=color, marker="o", ms=2.5,
                            label=f"{split}, {size} candidates")  # fmt: skip
                    numbers["curves"][f"{direction}/{key}/{split}/{scope}"] = values
            for size, style in ((n_full, "-"), (n_batch, "--")):
                ax.axhline(k / size, color=DATA_COLOR, lw=0.8, ls=style, alpha=0.6,
                           label=f"chance, {size} candidates")  # fmt: skip
            for scope, style in (("full", "-"), ("batch", "--")):
                size = n_full if scope == "full" else n_batch
                ax.axhline(physics[scope][direction][key], color=REFERENCE_COLOR, lw=1.2,
                           ls=style, label=f"physics reference, {size} candidates")  # fmt: skip
            ax.set(title=f"{label}: {key}", xlabel="epoch", ylim=(0, 1))
    numbers["chance"] = {
        f"R@{k}": {"full": k / n_full, "batch": k / n_batch} for k in experiment.KS
    }
    numbers["final"] = {"test": last["test"], "train": last["train"]}
    numbers["loss"] = [r["loss"] for r in history]
    numbers["epoch_seconds"] = [r["seconds"] for r in history]
    numbers["n_candidates"] = {"full": n_full, "batch": n_batch}
    numbers["physics_reference"] = physics
    # one legend for the four panels, below them (inside a panel it covered the curves)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=4, fontsize=7)
    fig.suptitle(TITLE)
    return save_figure(fig, out_dir, STEM, mode, TITLE, numbers | {"mean_final_test_R@1": float(
        np.mean([last["test"]["full"][d]["R@1"] for d in DIRECTIONS]))})  # fmt: skip


def prepare(mode):
    """Background work of :func:`main` (``python -m paper_figures``): the simulated pairs and
    the training run."""
    from ._lagrangian_panels import prepare_training

    return prepare_training(mode)
