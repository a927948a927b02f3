"""Shared pieces of Figures 11-12: the three trained MNIST models (trained once, cached and
checkpointed by :mod:`gaussclip.experiments.mnist`, in the background by :func:`prepare`), their
evaluation (computed once per process and mode, for both figures) and their labels."""

import functools

from gaussclip.experiments import mnist
from gaussclip.io import cache_dir

from ._tasks import EpochPrinter, Task

#: Colours of the three losses, in the order of :data:`gaussclip.experiments.mnist.WEIGHTS`.
LOSS_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c")


def prepare(mode):
    """Background tasks of Figures 11-12 (:mod:`paper_figures._tasks`): the data (downloaded
    and cached once), then the three training runs side by side."""
    config = mnist.preset(mode)
    data = Task("MNIST data", mnist.load_data, (config,))
    tasks = [data]
    for weights in mnist.WEIGHTS:
        name = f"MNIST {mnist.PAPER_NAMES[weights]}"
        printer = EpochPrinter(name, config.epochs)
        kwargs = {"progress": False, "callbacks": [printer]}
        tasks.append(Task(name, mnist.train, (config, weights), kwargs, needs=(data.key,)))
    return tasks


def results(mode):
    """The evaluated models of ``mode``, keyed by the paper's names, and their order."""
    return _results(mode, str(cache_dir("mnist_runs", create=False)))


@functools.lru_cache(maxsize=1)
def _results(mode, _cache):  # the cache folder is part of the key: it decides which runs load
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
