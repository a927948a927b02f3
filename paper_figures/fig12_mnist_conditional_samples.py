"""Figure 12: 16 test images drawn from the learned conditional nu^N_{u|v} (eq. 28) for the
label v = 7 over the N_test = 10,000 test images, under each loss. The classifier loss (the
paper's (2,0)) puts almost all weight on a few images (mode collapse, small effective sample
size); the losses that model images given a label spread it over many different sevens.

The bottom row follows the collapse as it develops: after every training epoch, the effective
sample size of nu^N(u|v) over the test set (median over the ten labels, and for v = 7) and the
number of distinct images among 16 draws for v = 7, with its exact expectation under the
weights (:func:`gaussclip.experiments.mnist.expected_distinct`; the drawn count is one noisy
sample of it), recorded by :func:`gaussclip.experiments.mnist.collapse_monitor`."""

from pathlib import Path

import numpy as np

from gaussclip.experiments import mnist

from ._common import figure_main, new_figure, save_figure
from ._mnist_panels import LOSS_COLORS, loss_label, results, summary
from ._mnist_panels import prepare as mnist_tasks

STEM = Path(__file__).stem
TITLE = "Figure 12: 16 draws from nu^N(u | v = 7) over the test set, per loss"
LABEL = 7
GRID = (2, 8)  # rows x columns of the 16 draws
CLASSIFIER = "(2,0)"  # the paper's name of the loss that collapses


def mosaic(images):
    """Tile (16, 28, 28) images into one (2*28, 8*28) array with 1-pixel gaps."""
    rows, cols = GRID
    tile = np.ones((rows * 29 - 1, cols * 29 - 1))
    for k, image in enumerate(images):
        r, c = divmod(k, cols)
        tile[r * 29 : r * 29 + 28, c * 29 : c * 29 + 28] = 1.0 - image
    return tile


def prepare(mode):
    """Work run in the background before :func:`main` (``python -m paper_figures``): the three
    MNIST training runs."""
    return mnist_tasks(mode)


@figure_main
def main(out_dir, mode):
    config, out, names = results(mode)
    _, _, images, labels = mnist.load_data(config)
    fig, axes = new_figure(mode, len(names) + 1, 1, panel_size=(7.5, 2.2))
    numbers = {"config": out["config"], "label": LABEL, "n_candidates": len(images), "losses": {}}
    curves = draw_collapse_curves(fig, axes[-1, 0], out, names, len(images))
    numbers["collapse_per_epoch"] = curves
    final = {name: curves[name]["ess_median"][-1] for name in names}
    others = [final[name] for name in names if name != CLASSIFIER]
    numbers["ess_median_ratio"] = min(others) / final[CLASSIFIER]
    for ax, name in zip(axes[:-1, 0], names, strict=True):
        entry = out[name]
        draws = np.asarray(entry["draws"])
        ax.imshow(mosaic(images[draws]), cmap="gray", vmin=0, vmax=1)
        ax.set(xticks=[], yticks=[])
        ax.grid(False)
        ess = entry["ess"][LABEL]
        ax.set_title(
            f"{loss_label(entry)}\n{entry['distinct_draws']} distinct images "
            f"(expected {entry['expected_distinct']:.1f}), "
            f"effective sample size {ess:.0f} of {len(images)}",
            fontsize=8,
        )
        record = summary(entry)
        record.update(
            draws=draws,
            draw_labels=entry["draw_labels"],
            distinct_draws=entry["distinct_draws"],
            expected_distinct=entry["expected_distinct"],
            ess_label=ess,
            fraction_of_draws_with_label=float(np.mean(labels[draws] == LABEL)),
        )
        numbers["losses"][name] = record
    fig.suptitle(TITLE)
    return save_figure(fig, out_dir, STEM, mode, TITLE, numbers)


def draw_collapse_curves(fig, slot, out, names, n_candidates):
    """Two panels in place of the axes ``slot``: ESS and distinct draws per epoch and loss."""
    grid = slot.get_subplotspec().subgridspec(1, 2)
    slot.remove()
    ess_ax, distinct_ax = fig.add_subplot(grid[0]), fig.add_subplot(grid[1])
    curves = {}
    for name, color in zip(names, LOSS_COLORS, strict=True):
        history = out[name]["history"]
        epochs = [r["epoch"] for r in history]
        record = {"epoch": epochs}
        for key in ("ess_median", "ess_label", "distinct_draws", "expected_distinct", "accuracy"):
            record[key] = [r["collapse"][key] for r in history]
        curves[name] = record
        ess_ax.plot(epochs, record["ess_median"], "o-", color=color, ms=3,
                    label=f"{name}, median over labels")  # fmt: skip
        ess_ax.plot(epochs, record["ess_label"], "s--", color=color, ms=2.5,
                    label=f"{name}, v = {LABEL}")  # fmt: skip
        distinct_ax.plot(epochs, record["distinct_draws"], "o-", color=color, ms=3,
                         label=f"{name}, drawn")  # fmt: skip
        distinct_ax.plot(epochs, record["expected_distinct"], "--", color=color, lw=1,
                         label=f"{name}, expected")  # fmt: skip
    # the lower decade is left free for the legend
    ess_ax.set(yscale="log", xlabel="epoch", ylabel="ESS of nu^N(u|v)",
               ylim=(0.02, n_candidates * 1.25))  # fmt: skip
    ess_ax.set_title(f"effective sample size over {n_candidates} test images", fontsize=8)
    ess_ax.legend(fontsize=5, ncol=2, loc="lower left")
    distinct_ax.set(xlabel="epoch", ylabel="distinct of 16", ylim=(0, 16.5))
    distinct_ax.set_title(f"distinct images among 16 draws for v = {LABEL}", fontsize=8)
    distinct_ax.legend(fontsize=5, ncol=2, loc="lower left")
    return curves
