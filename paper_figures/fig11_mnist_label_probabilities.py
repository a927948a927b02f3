"""Figure 11: label probabilities (Algorithm 2) that LeNet-5 trained with each of the three
conditional losses gives three MNIST test images. The classifier loss (the paper's (2,0)) is
sharp and right; the loss that only models images given a label (the paper's (0,2)) leaves the
label probabilities undetermined up to a per-class offset."""

from pathlib import Path

import numpy as np

from gaussclip.experiments import mnist

from ._common import figure_main, new_figure, save_figure
from ._mnist_panels import LOSS_COLORS, loss_label, results, summary

STEM = Path(__file__).stem
TITLE = "Figure 11: MNIST label probabilities under the three conditional losses"
#: The test images shown (the first three of the test set).
IMAGES = (0, 1, 2)


@figure_main
def main(out_dir, mode):
    config, out, names = results(mode)
    _, _, images, labels = mnist.load_data(config)
    fig, axes = new_figure(mode, len(IMAGES), 1 + len(names), panel_size=(2.6, 1.9))
    numbers = {"config": out["config"], "images": list(IMAGES), "losses": {}}
    for row, index in enumerate(IMAGES):
        ax = axes[row, 0]
        ax.imshow(images[index], cmap="gray_r", vmin=0, vmax=1)
        ax.set(xticks=[], yticks=[], title=f"test image {index} (label {labels[index]})")
        ax.grid(False)
        for col, (name, color) in enumerate(zip(names, LOSS_COLORS, strict=True), start=1):
            p = np.asarray(out[name]["probabilities"][index])
            ax = axes[row, col]
            ax.bar(np.arange(10), p, color=color)
            ax.bar([labels[index]], [p[labels[index]]], color="none", edgecolor="black", lw=1.2)
            ax.set(ylim=(0, 1.02), xticks=range(10))
            if row == 0:
                ax.set_title(loss_label(out[name]).replace(": ", ":\n"), fontsize=7)
            if row == len(IMAGES) - 1:
                ax.set_xlabel("label v")
    for name in names:
        entry = summary(out[name])
        entry["probabilities_shown"] = [out[name]["probabilities"][i] for i in IMAGES]
        numbers["losses"][name] = entry
    numbers["labels_shown"] = [int(labels[i]) for i in IMAGES]
    fig.suptitle(TITLE)
    return save_figure(fig, out_dir, STEM, mode, TITLE, numbers)
