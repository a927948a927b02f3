"""The collapse curve that sets the quick MNIST budget of Figures 11-12, measured on held-out
**training** images (never the test set).

Trains one loss of :mod:`gaussclip.experiments.mnist` with the quick preset's settings (the
first ``n_train`` training images, constant lr, batch 512) for ``--epochs`` epochs and, after
every epoch, computes :func:`gaussclip.experiments.mnist.collapse_stats` of nu^N(u|v) over the
**last** ``--held-out`` MNIST training images, which the quick runs never train on: median ESS
over labels, ESS for v = 7, distinct images among 16 draws for v = 7 and their exact expected
number; and, from ``--repeats`` independent repetitions of the 16 draws, the standard deviation
of that count and the probability that it is at most ``--target`` (how reliably any one set of
16 draws meets the target, not just the set drawn with the figure's seed).

With a constant learning rate the run of E epochs is the prefix of this curve (same
initialization, same minibatch order), so the quick budget is read off it: the smallest number
of epochs after which the held-out collapse is where the target needs it (see
paper_figures/README.md). The trained run also carries the test-set record of
:func:`gaussclip.experiments.mnist.collapse_monitor` in its history; it is printed next to the
held-out numbers only to report it, not to choose.

Run (resumable: the run is checkpointed every epoch under ``$GAUSSCLIP_CACHE/mnist_runs``)::

    OMP_NUM_THREADS=1 python benchmarks/mnist_collapse_budget.py --weights 0,2 --epochs 90 \\
        --json /tmp/budget_0_2.json
"""

import argparse
import dataclasses
import json
import time

import numpy as np

from gaussclip import retrieval
from gaussclip.data import mnist as mnist_data
from gaussclip.experiments import mnist

MNIST_TRAIN = 60_000


def distinct_counts(weights, repeats, rng):
    """Distinct images in each of ``repeats`` independent sets of N_DRAWS draws."""
    draws = np.sort(rng.choice(len(weights), size=(repeats, mnist.N_DRAWS), p=weights), axis=1)
    return 1 + np.count_nonzero(draws[:, 1:] != draws[:, :-1], axis=1)


def held_out_monitor(n_held_out, n_train, repeats, target):
    """A ``fit`` callback adding ``held_out``: the collapse statistics over the last
    ``n_held_out`` training images (disjoint from the first ``n_train`` trained on)."""
    if n_train + n_held_out > MNIST_TRAIN:
        raise SystemExit(f"--held-out {n_held_out} overlaps the {n_train} training images")
    images = mnist_data.load("train")[0][MNIST_TRAIN - n_held_out :]

    def record(epoch, params, _record):
        z = mnist.embed(params["u"], images)
        stats = mnist.collapse_stats(z)
        keep = ("ess_median", "ess_label", "distinct_draws", "expected_distinct")
        out = {key: stats[key] for key in keep}
        label = np.eye(mnist.N_CLASSES)[mnist.SAMPLE_LABEL]
        weights = retrieval.conditional_weights(label[None], z, similarity="inner")[0]
        counts = distinct_counts(weights, repeats, np.random.default_rng([epoch, 2]))
        out["sd_distinct"] = float(counts.std())
        out["p_at_most_target"] = float(np.mean(counts <= target))
        return {"held_out": out}

    return record


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", default="0,2", help="gaussclip weights, e.g. 0,2 (classifier)")
    parser.add_argument("--epochs", type=int, default=90)
    parser.add_argument("--lr", type=float, default=None, help="default: the quick preset's")
    parser.add_argument("--held-out", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=4000, help="sets of 16 draws per epoch")
    parser.add_argument("--target", type=int, default=10, help="at most this many distinct")
    parser.add_argument("--json", default=None, help="write the per-epoch curve here")
    args = parser.parse_args(argv)
    weights = tuple(float(w) for w in args.weights.split(","))
    config = dataclasses.replace(mnist.preset("quick"), epochs=args.epochs)
    if args.lr is not None:
        config = dataclasses.replace(config, lr=args.lr)
    tic, cpu = time.perf_counter(), time.process_time()
    monitor = held_out_monitor(args.held_out, config.n_train, args.repeats, args.target)
    result = mnist.train(config, weights, progress=False, callbacks=[monitor])
    print(
        f"epoch | held-out: median ESS, ESS(7), distinct, expected distinct, its sd, "
        f"P(<= {args.target}) | "
        "test: median ESS, ESS(7), distinct, expected distinct, accuracy"
    )
    for r in result.history:
        h, t = r["held_out"], r["collapse"]
        print(
            f"{r['epoch']:3d} | {h['ess_median']:8.1f} {h['ess_label']:8.1f} "
            f"{h['distinct_draws']:3d} {h['expected_distinct']:5.2f} {h['sd_distinct']:4.2f} "
            f"{h['p_at_most_target']:5.3f} | {t['ess_median']:8.1f} "
            f"{t['ess_label']:8.1f} {t['distinct_draws']:3d} {t['expected_distinct']:5.2f} "
            f"{100 * t['accuracy']:6.2f} %"
        )
    if args.json:
        record = {
            "config": dataclasses.asdict(config),
            "weights": weights,
            "held_out_images": [MNIST_TRAIN - args.held_out, MNIST_TRAIN],
            "repeats": args.repeats,
            "target": args.target,
            "wall_seconds": time.perf_counter() - tic,
            "cpu_seconds": time.process_time() - cpu,
            "history": result.history,
        }
        with open(args.json, "w") as f:
            json.dump(record, f, indent=1, default=lambda x: np.asarray(x).tolist())


if __name__ == "__main__":
    main()
