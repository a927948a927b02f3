"""Shared pieces of Figures 11-12: the three trained MNIST models (trained once, cached and
checkpointed by :mod:`gaussclip.experiments.mnist`) and their labels."""

from gaussclip.experiments import mnist

#: Colours of the three losses, in the order of :data:`gaussclip.experiments.mnist.WEIGHTS`.
LOSS_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c")


def results(mode):
    """The evaluated models of ``mode``, keyed by the paper's names, and their order."""
    config = mnist.preset(mode)
    out = mnist.run(config)
    names = [mnist.PAPER_NAMES[w] for w in mnist.WEIGHTS]
    return config, out, names


def loss_label(entry):
    """'paper (2,0) = gaussclip (0,2): labels given image (cross-entropy)'."""
    w = entry["weights"]
    return f"paper {entry['paper_name']} = gaussclip ({w[0]:g},{w[1]:g}): {entry['description']}"


def summary(entry):
    """The numbers every MNIST figure's JSON repeats for one loss."""
    keys = ("weights", "paper_name", "description", "accuracy", "ess", "label_to_image")
    out = {key: entry[key] for key in keys}
    out["fine_tuning"] = entry["fine_tuning"]
    out["proposition_6_1"] = entry["proposition_6_1"]
    out["final_train_loss"] = entry["history"][-1]["loss"]
    out["epoch_seconds"] = [record["seconds"] for record in entry["history"]]
    return out
