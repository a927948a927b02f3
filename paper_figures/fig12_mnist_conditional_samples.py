"""Figure 12: 16 test images drawn from the learned conditional nu^N_{u|v} (eq. 28) for the
label v = 7 over the N_test = 10,000 test images, under each loss. The classifier loss (the
paper's (2,0)) puts almost all weight on a few images (mode collapse, small effective sample
size); the losses that model images given a label spread it over many different sevens."""

from pathlib import Path

import numpy as np

from gaussclip.experiments import mnist

from ._common import figure_main, new_figure, save_figure
from ._mnist_panels import loss_label, results, summary

STEM = Path(__file__).stem
TITLE = "Figure 12: 16 draws from nu^N(u | v = 7) over the test set, per loss"
LABEL = 7
GRID = (2, 8)  # rows x columns of the 16 draws


def mosaic(images):
    """Tile (16, 28, 28) images into one (2*28, 8*28) array with 1-pixel gaps."""
    rows, cols = GRID
    tile = np.ones((rows * 29 - 1, cols * 29 - 1))
    for k, image in enumerate(images):
        r, c = divmod(k, cols)
        tile[r * 29 : r * 29 + 28, c * 29 : c * 29 + 28] = 1.0 - image
    return tile


@figure_main
def main(out_dir, mode):
    config, out, names = results(mode)
    _, _, images, labels = mnist.load_data(config)
    fig, axes = new_figure(mode, len(names), 1, panel_size=(7.5, 2.2))
    numbers = {"config": out["config"], "label": LABEL, "n_candidates": len(images), "losses": {}}
    for ax, name in zip(axes[:, 0], names, strict=True):
        entry = out[name]
        draws = np.asarray(entry["draws"])
        ax.imshow(mosaic(images[draws]), cmap="gray", vmin=0, vmax=1)
        ax.set(xticks=[], yticks=[])
        ax.grid(False)
        ess = entry["ess"][LABEL]
        ax.set_title(
            f"{loss_label(entry)}\n{entry['distinct_draws']} distinct images, "
            f"effective sample size {ess:.0f} of {len(images)}",
            fontsize=8,
        )
        record = summary(entry)
        record.update(
            draws=draws,
            draw_labels=entry["draw_labels"],
            distinct_draws=entry["distinct_draws"],
            ess_label=ess,
            fraction_of_draws_with_label=float(np.mean(labels[draws] == LABEL)),
        )
        numbers["losses"][name] = record
    fig.suptitle(TITLE)
    return save_figure(fig, out_dir, STEM, mode, TITLE, numbers)
