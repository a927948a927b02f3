"""Figure 11: label probabilities (Algorithm 2) that LeNet-5 trained with each of the three
conditional losses gives MNIST test images, and how well calibrated they are over the whole test
set (accuracy, NLL, expected calibration error with 15 equal-width bins, Brier score; a
reliability diagram).

The paper says the classifier loss (its (2,0)) is "most accurate at predicting class
probabilities"; the bottom row measures that claim and says whether the numbers support it.

Images shown, by a fixed rule (never by hand): the two test images on which the three models'
label distributions differ most (largest pairwise total-variation distance,
:func:`gaussclip.calibration.disagreement`), then a typical image, the one whose disagreement is
the median over the test set."""

from pathlib import Path

import numpy as np

from gaussclip import calibration
from gaussclip.experiments import mnist

from ._common import DATA_COLOR, figure_main, new_figure, save_figure
from ._mnist_panels import LOSS_COLORS, loss_label, results, summary
from ._mnist_panels import prepare as mnist_tasks

STEM = Path(__file__).stem
TITLE = "Figure 11: MNIST label probabilities and their calibration under the three losses"
N_MOST_DIFFERENT = 2  # images with the largest disagreement, then one with the median
METRICS = ("accuracy", "nll", "ece", "brier")
#: Lower is better for every metric but accuracy.
HIGHER_IS_BETTER = {"accuracy": True, "nll": False, "ece": False, "brier": False}
CLAIMED_BEST = "(2,0)"  # the paper's name of the loss it says is best calibrated


def chosen_images(probabilities):
    """Indices shown and the reason for each: the N_MOST_DIFFERENT most disputed test images,
    then the image of median disagreement."""
    score = calibration.disagreement(*probabilities)
    order = np.argsort(-score, kind="stable")
    picks = [(int(i), "most different") for i in order[:N_MOST_DIFFERENT]]
    median = int(order[len(order) // 2])
    picks.append((median, "typical (median disagreement)"))
    return picks, score


def verdict(metrics):
    """Which loss is best on each metric, and whether that supports the paper's claim."""
    best = {}
    for key in METRICS:
        values = {name: m[key] for name, m in metrics.items()}
        pick = max if HIGHER_IS_BETTER[key] else min
        best[key] = pick(values, key=values.get)
    probabilistic = ("nll", "ece", "brier")
    won = [key for key in probabilistic if best[key] == CLAIMED_BEST]
    if len(won) == len(probabilistic):
        text = f"paper's claim holds: {CLAIMED_BEST} is best on NLL, ECE and Brier"
    elif not won:
        text = f"contradicts the paper: {CLAIMED_BEST} is best on none of NLL, ECE, Brier"
    else:
        lost = [k for k in probabilistic if k not in won]
        text = (
            f"mixed: {CLAIMED_BEST} is best on {', '.join(won).upper()} but not on "
            f"{', '.join(lost).upper()}"
        )
    return best, text


def prepare(mode):
    """Work run in the background before :func:`main` (``python -m paper_figures``): the three
    MNIST training runs."""
    return mnist_tasks(mode)


@figure_main
def main(out_dir, mode):
    config, out, names = results(mode)
    _, _, images, labels = mnist.load_data(config)
    probabilities = [np.asarray(out[name]["probabilities"]) for name in names]
    picks, score = chosen_images(probabilities)
    fig, axes = new_figure(mode, len(picks) + 1, 1 + len(names), panel_size=(2.6, 1.9))
    for row, (index, reason) in enumerate(picks):
        ax = axes[row, 0]
        ax.imshow(images[index], cmap="gray_r", vmin=0, vmax=1)
        ax.set(xticks=[], yticks=[])
        ax.set_title(f"test image {index}, label {labels[index]}\n{reason}", fontsize=7)
        ax.grid(False)
        for col, (p, name, color) in enumerate(zip(probabilities, names, LOSS_COLORS,
                                                    strict=True), start=1):  # fmt: skip
            ax = axes[row, col]
            ax.bar(np.arange(10), p[index], color=color)
            ax.bar([labels[index]], [p[index, labels[index]]], color="none", edgecolor="black",
                   lw=1.2)  # fmt: skip
            ax.set(ylim=(0, 1.02), xticks=range(10))
            if row == 0:
                ax.set_title(loss_label(out[name]).replace(": ", ":\n"), fontsize=7)
    metrics = {name: out[name]["calibration"] for name in names}
    best, text = verdict(metrics)
    bottom = axes[len(picks)]
    # table of the four metrics
    ax = bottom[0]
    ax.axis("off")
    lines = [f"{'loss':6} {'acc':>7} {'NLL':>7} {'ECE':>7} {'Brier':>7}"]
    for name in names:
        m = metrics[name]
        lines.append(
            f"{name:6} {m['accuracy']:7.4f} {m['nll']:7.4f} {m['ece']:7.4f} {m['brier']:7.4f}"
        )
    lines.append(f"whole test set, n = {len(labels)}")
    lines.append(f"ECE: {calibration.N_BINS} equal-width bins")
    ax.text(0.0, 1.0, "\n".join(lines), family="monospace", fontsize=6, va="top")
    # reliability diagram
    ax = bottom[1]
    ax.plot([0, 1], [0, 1], color=DATA_COLOR, lw=0.8, ls=":", label="calibrated")
    for name, color in zip(names, LOSS_COLORS, strict=True):
        bins = out[name]["reliability"]
        filled = np.asarray(bins["count"]) > 0
        ax.plot(np.asarray(bins["confidence"])[filled], np.asarray(bins["accuracy"])[filled],
                "o-", color=color, ms=3, label=name)  # fmt: skip
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence (max prob.)", ylabel="accuracy")
    ax.set_title("reliability diagram", fontsize=8)
    ax.legend(fontsize=6)
    # how many test images fall in each confidence bin
    ax = bottom[2]
    for name, color in zip(names, LOSS_COLORS, strict=True):
        bins = out[name]["reliability"]
        edges = np.asarray(bins["edges"])
        ax.stairs(np.maximum(np.asarray(bins["count"]), 0.5), edges, color=color, label=name)
    ax.set(yscale="log", xlim=(0, 1), xlabel="confidence (max prob.)", ylabel="test images")
    ax.set_title("confidence histogram", fontsize=8)
    ax = bottom[3]
    ax.axis("off")
    best_lines = [f"best {key.upper()}: {best[key]}" for key in METRICS]
    ax.text(0.0, 1.0, "\n".join([*best_lines, "", *_wrap(text, 34)]), fontsize=7, va="top")
    numbers = {
        "config": out["config"],
        "image_rule": (
            f"the {N_MOST_DIFFERENT} test images with the largest pairwise total-variation "
            "distance between the three losses' label distributions, then the image with the "
            "median distance"
        ),
        "images": [i for i, _ in picks],
        "image_reasons": [r for _, r in picks],
        "image_disagreement": [float(score[i]) for i, _ in picks],
        "labels_shown": [int(labels[i]) for i, _ in picks],
        "calibration": metrics,
        "ece_bins": calibration.N_BINS,
        "best": best,
        "verdict": text,
        "losses": {},
    }
    for name in names:
        entry = summary(out[name])
        entry["probabilities_shown"] = [out[name]["probabilities"][i] for i, _ in picks]
        entry["reliability"] = _no_nan(out[name]["reliability"])
        numbers["losses"][name] = entry
    fig.suptitle(TITLE)
    return save_figure(fig, out_dir, STEM, mode, TITLE, numbers)


def _no_nan(bins):
    """The reliability table with empty bins as JSON null instead of NaN."""
    return {
        key: [None if np.isnan(x) else float(x) for x in np.asarray(value, dtype=float)]
        if key in ("confidence", "accuracy")
        else value
        for key, value in bins.items()
    }


def _wrap(text, width):
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return [*lines, line]
