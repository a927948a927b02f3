"""Figure 15: one test trajectory with its true potential and the three test potentials the
trained encoder retrieves for it (Algorithm 1, trajectories -> coefficients, over the whole test
set), best first, with their cosine similarities and the rank of the true potential."""

from pathlib import Path

import numpy as np

from gaussclip.experiments import lagrangian as experiment

from ._common import figure_main, new_figure, save_figure
from ._lagrangian_panels import draw_potential, draw_trajectory, potential_grid

STEM = Path(__file__).stem
TITLE = "Figure 15: a test trajectory, its potential and the top-3 retrieved potentials"
QUERY = 0  # the test trajectory shown
TOP = 3


@figure_main
def main(out_dir, mode):
    config = experiment.preset(mode)
    result, _, test = experiment.train(config)
    top, scores, rank = experiment.top_potentials(result.params, config, test, QUERY, TOP)
    trajectory = test.trajectories[QUERY].astype(np.float64)
    fig, axes = new_figure(mode, 1, 1 + TOP, panel_size=(3.0, 3.4))
    # square (aspect-equal) panels: the "compressed" layout sizes the figure around them, so
    # the suptitle sits above the panel titles instead of on top of them
    fig.set_layout_engine("compressed")
    x, psi = potential_grid(test, QUERY, mode)
    draw_potential(axes[0, 0], x, psi, title=f"true potential (rank {rank})")
    draw_trajectory(axes[0, 0], trajectory)
    for ax, index, score in zip(axes[0, 1:], top, scores, strict=True):
        x, psi = potential_grid(test, int(index), mode)
        mark = " = true" if index == QUERY else ""
        draw_potential(ax, x, psi, title=f"retrieved #{index}{mark}, cos {score:.2f}")
        draw_trajectory(ax, trajectory)
    coefficients = test.coefficients
    true_c = coefficients[QUERY]
    cosine_to_true = (
        coefficients[top]
        @ true_c
        / (np.linalg.norm(coefficients[top], axis=1) * np.linalg.norm(true_c))
    )
    numbers = {
        "config": config,
        "query": QUERY,
        "top": top,
        "scores": scores,
        "rank_of_true": rank,
        "n_candidates": len(test),
        "coefficient_cosine_to_true": cosine_to_true,
    }
    fig.suptitle(TITLE)
    return save_figure(fig, out_dir, STEM, mode, TITLE, numbers)


def prepare(mode):
    """Background work of :func:`main` (``python -m paper_figures``): the simulated pairs and
    the training run."""
    from ._lagrangian_panels import prepare_training

    return prepare_training(mode)
