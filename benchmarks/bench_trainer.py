"""Time per epoch of the autograd trainer against the same models in PyTorch (CPU).

Models (float32, one training step = forward + backward + Adam update, softmax cross-entropy
over 10 classes on synthetic data):

* ``mlp``: MLP 784-256-128-10 on flattened 28x28 inputs, batch 512;
* ``lenet``: LeNet-5 on 28x28 images (gaussclip.nn.lenet and its PyTorch twin), batch 512;
* ``transformer``: a 2-block transformer, d = 64, 4 heads, MLP width 256, 100 tokens (one 2-D
  point per token), causal attention, last-token pooling (gaussclip.nn.transformer), batch 512;
* ``paper``: the Section 6.3 encoder shape, 1000 one-point tokens and M = 12 blocks (d = 64,
  4 heads, MLP width 256, n_e = 98 outputs), timed on batches of ``PAPER_BATCH`` sequences.

The first three are scaled to an epoch of 60,000 samples (117 full batches of 512). The paper
row is scaled per sample to the paper's epoch of 32,268 training pairs (252 batches of 128: the
time of a step grows linearly with the batch, and neither side keeps the 1000 x 1000 attention
weights, so the smaller timed batch changes the memory, not the work per sample); the bench also
prints the projected time of the paper's 20 epochs.

Timing: both sides run in the same process, alternating (gaussclip, PyTorch, gaussclip, ...)
``--repeats`` times after a warm-up; each row gives the medians and the median of the per-repeat
ratios gaussclip / PyTorch. With one thread the clock is CPU time (``time.process_time``), which
other processes on a shared machine disturb less than wall time; with more threads it is wall
time. The gaussclip side runs through ``gaussclip.train.fit``, so its time includes minibatch
gathering, the NaN/inf guard and Adam. Both libraries use the same thread count (``--threads``:
``GAUSSCLIP_NUM_THREADS`` for gaussclip's kernels, which split the matrix products between
their threads, with NumPy's BLAS single-threaded, set before NumPy is imported; and
``torch.set_num_threads``); both run under the allocator setting ``fit`` makes
(:func:`gaussclip.train.allocator.keep_freed_memory`, which speeds up both). The "same output"
column loads the gaussclip parameters into the PyTorch twin and gives the largest difference of
the two outputs on one batch, relative to the largest output: both time the same function.

PyTorch is optional: ``pip install -e '.[bench]'`` (the ``bench`` extra pins the CPU wheel
``torch==2.13.0``). Without it the script prints the gaussclip timings and says so.

Usage::

    python benchmarks/bench_trainer.py [--steps 10] [--repeats 3] [--threads 1]
        [--models mlp lenet transformer paper]
"""

import argparse
import os
import statistics
import sys
import time

MODELS = ("mlp", "lenet", "transformer", "paper")
TARGET = 1.0  # ratio goal of issue 18: no slower than PyTorch on the CPU
SAMPLES_PER_EPOCH = 60_000
BATCH = 512
STEPS_PER_EPOCH = SAMPLES_PER_EPOCH // BATCH  # 117 full batches (drop_last)
N_CLASSES = 10
SEQ_LEN = 100
PAPER_BATCH = 16  # sequences per timed step of the paper-shaped row
PAPER_PAIRS, PAPER_BATCH_SIZE, PAPER_EPOCHS = 32_268, 128, 20  # Section 6.3's training setting


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=10, help="timed steps per model and repeat")
    parser.add_argument("--paper-steps", type=int, default=1, help="timed steps of the paper row")
    parser.add_argument("--repeats", type=int, default=3, help="alternating timings per model")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    parser.add_argument(
        "--threads", type=int, default=os.cpu_count() or 1, help="threads for both libraries"
    )
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    return parser.parse_args(argv)


ARGS = parse_args()
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "GAUSSCLIP_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)
# gaussclip runs its threads in one pool (gaussclip.nn.ops splits the products itself), so
# NumPy's BLAS stays single-threaded: two pools on the same cores oversubscribe them
os.environ["OPENBLAS_NUM_THREADS"] = "1"

import autograd.numpy as anp  # noqa: E402  (after the thread settings)
import numpy as np  # noqa: E402
from autograd.scipy.special import logsumexp  # noqa: E402

from gaussclip.nn import lenet, mlp, transformer  # noqa: E402
from gaussclip.train import TrainConfig, fit  # noqa: E402
from gaussclip.train.allocator import keep_freed_memory  # noqa: E402

CONFIGS = {
    "transformer": transformer.TransformerConfig(
        n_in=2, seq_len=SEQ_LEN, patch=1, d_model=64, n_heads=4, n_blocks=2, d_mlp=256, n_out=10
    ),
    "paper": transformer.TransformerConfig.paper(d_model=64, n_heads=4, d_mlp=256, n_out=98),
}
CLOCK = time.process_time if ARGS.threads == 1 else time.perf_counter


def batch_size(model):
    return PAPER_BATCH if model == "paper" else BATCH


def synthetic(model, n, rng):
    if model == "mlp":
        x = rng.random((n, 784), dtype=np.float32)
    elif model == "lenet":
        x = rng.random((n, 28, 28), dtype=np.float32)
    else:
        x = rng.standard_normal((n, CONFIGS[model].seq_len, 2), dtype=np.float32)
    return x, rng.integers(0, N_CLASSES, n)


def gaussclip_model(model, rng):
    if model == "mlp":
        return mlp.init(rng, (784, 256, 128, 10)), mlp.apply
    if model == "lenet":
        return lenet.init(rng), lenet.apply
    c = CONFIGS[model]
    return transformer.init(rng, c), lambda p, x: transformer.apply(p, x, c)


def gaussclip_runner(model, steps):
    """A function that trains ``steps`` steps through ``fit`` and returns the elapsed clock."""
    rng = np.random.default_rng(0)
    params, apply = gaussclip_model(model, rng)
    state = {"params": params}

    def objective(p, x, y):
        logits = apply(p, x)
        return anp.mean(logsumexp(logits, axis=1) - logits[np.arange(len(y)), y])

    cfg = TrainConfig(epochs=1, batch_size=batch_size(model), lr=1e-3, progress=False)
    data = {n: synthetic(model, batch_size(model) * n, rng) for n in {steps, ARGS.warmup}}

    def run(n_steps):
        tic = CLOCK()
        state["params"] = fit(objective, state["params"], data[n_steps], cfg).params
        return CLOCK() - tic

    return run


def torch_model(model, torch):
    nn = torch.nn
    if model == "mlp":
        return nn.Sequential(
            nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10)
        )
    if model == "lenet":
        return nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
        )  # fmt: skip
    F = torch.nn.functional
    c = CONFIGS[model]

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(c.d_model), nn.LayerNorm(c.d_model)
            self.q, self.k, self.v, self.proj = (nn.Linear(c.d_model, c.d_model) for _ in "qkvp")
            self.fc, self.fc_out = nn.Linear(c.d_model, c.d_mlp), nn.Linear(c.d_mlp, c.d_model)

        def forward(self, x):
            B, T, d = x.shape
            h = self.ln1(x)
            q, k, v = (
                m(h).view(B, T, c.n_heads, d // c.n_heads).transpose(1, 2)
                for m in (self.q, self.k, self.v)
            )
            a = F.scaled_dot_product_attention(q, k, v, is_causal=c.causal)
            x = x + self.proj(a.transpose(1, 2).reshape(B, T, d))
            return x + self.fc_out(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.lift = nn.Linear(c.patch * c.n_in, c.d_model)
            self.pos = nn.Parameter(0.02 * torch.randn(c.n_tokens, c.d_model))
            self.blocks = nn.ModuleList(Block() for _ in range(c.n_blocks))
            self.ln_f, self.head = nn.LayerNorm(c.d_model), nn.Linear(c.d_model, c.n_out)

        def forward(self, x):
            h = self.lift(x) + self.pos
            for block in self.blocks:
                h = block(h)
            return self.head(self.ln_f(h[:, -1]))

    return Encoder()


def load_params(model, net, params, torch):
    """Copy gaussclip parameters into the PyTorch twin (so both compute the same function)."""

    def put(module, layer, transpose=True):
        W = layer["W"].T if transpose else layer["W"]
        module.weight.data = torch.from_numpy(np.ascontiguousarray(W))
        module.bias.data = torch.from_numpy(layer["b"].copy())

    def put_norm(module, layer):
        module.weight.data = torch.from_numpy(layer["g"].copy())
        module.bias.data = torch.from_numpy(layer["b"].copy())

    if model == "mlp":
        for module, layer in zip((net[0], net[2], net[4]), params, strict=True):
            put(module, layer)
    elif model == "lenet":
        put(net[0], params["conv1"], transpose=False)
        put(net[3], params["conv2"], transpose=False)
        for index, name in ((7, "fc1"), (9, "fc2"), (11, "out")):
            put(net[index], params[name])
    else:
        put(net.lift, params["lift"])
        net.pos.data = torch.from_numpy(params["pos"].copy())
        for block, p in zip(net.blocks, params["blocks"], strict=True):
            put_norm(block.ln1, p["ln1"])
            put_norm(block.ln2, p["ln2"])
            for name in ("q", "k", "v", "proj", "fc", "fc_out"):
                put(getattr(block, name), p[name])
        put_norm(net.ln_f, params["ln_f"])
        put(net.head, params["head"])


def same_function(model, torch):
    """Largest |difference| of the two libraries' outputs on one batch, same parameters,
    relative to the largest output."""
    rng = np.random.default_rng(1)
    params, apply = gaussclip_model(model, rng)
    net = torch_model(model, torch)
    load_params(model, net, params, torch)
    x, _ = synthetic(model, 4 if model == "paper" else 64, rng)
    ours = apply(params, x)
    with torch.no_grad():
        theirs = net(torch.from_numpy(x[:, None] if model == "lenet" else x)).numpy()
    return float(np.max(np.abs(ours - theirs)) / np.max(np.abs(theirs)))


def torch_runner(model, steps, torch):
    """The PyTorch twin of :func:`gaussclip_runner`: same data sizes, Adam, the same loss."""
    net = torch_model(model, torch)
    load_params(model, net, gaussclip_model(model, np.random.default_rng(0))[0], torch)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    size = batch_size(model)
    data = {}
    for n in {steps, ARGS.warmup}:
        x, y = synthetic(model, size * n, rng)
        data[n] = (torch.from_numpy(x[:, None] if model == "lenet" else x), torch.from_numpy(y))

    def run(n_steps):
        x, y = data[n_steps]
        tic = CLOCK()
        order = torch.randperm(len(x))
        for s in range(n_steps):
            idx = order[s * size : (s + 1) * size]
            opt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(net(x[idx]), y[idx])
            loss.backward()
            opt.step()
        return CLOCK() - tic

    return run


def per_epoch(model, seconds, steps):
    """Seconds per epoch from ``seconds`` for ``steps`` timed steps."""
    if model == "paper":  # per sample, times the paper's 32,268 training pairs
        return seconds / (steps * PAPER_BATCH) * PAPER_PAIRS
    return seconds / steps * STEPS_PER_EPOCH


def main():
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        torch.set_num_threads(ARGS.threads)
    keep_freed_memory()  # what fit does, set before either side runs: both run under it
    clock = "CPU time" if ARGS.threads == 1 else "wall time"
    print(
        f"bench_trainer: float32, {ARGS.threads} thread(s), {clock}, median of {ARGS.repeats} "
        f"alternating repeats of {ARGS.steps} steps ({ARGS.paper_steps} for the paper row); "
        f"epochs of {SAMPLES_PER_EPOCH} samples ({STEPS_PER_EPOCH} steps of {BATCH}), the paper "
        f"row per epoch of {PAPER_PAIRS} pairs (timed on batches of {PAPER_BATCH}); "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    if torch is None:
        print(
            "PyTorch is not installed, so there is no peer to compare with: only gaussclip "
            "timings follow. Install the peer with `pip install -e '.[bench]'` (CPU wheel)."
        )
    header = (
        f"{'model':<12}{'gaussclip s/epoch':>19}{'torch s/epoch':>15}{'ratio':>8}{'target':>8}"
        f"{'same output':>12}"
    )
    print(header)
    print("-" * len(header))
    paper = None
    for model in ARGS.models:
        steps = ARGS.paper_steps if model == "paper" else ARGS.steps
        ours_run = gaussclip_runner(model, steps)
        peer_run = torch_runner(model, steps, torch) if torch is not None else None
        ours_run(ARGS.warmup)
        if peer_run is not None:
            peer_run(ARGS.warmup)
        ours, peer = [], []
        for _ in range(ARGS.repeats):
            ours.append(per_epoch(model, ours_run(steps), steps))
            if peer_run is not None:
                peer.append(per_epoch(model, peer_run(steps), steps))
        ours_s = statistics.median(ours)
        if peer_run is None:
            print(f"{model:<12}{ours_s:>19.2f}{'-':>15}{'-':>8}{TARGET:>7.1f}x")
            continue
        peer_s = statistics.median(peer)
        ratio = statistics.median(a / b for a, b in zip(ours, peer, strict=True))
        agree = same_function(model, torch)
        flag = "" if ratio <= TARGET else "  (above target)"
        flag += "" if agree <= 1e-6 else "  (outputs differ)"
        print(
            f"{model:<12}{ours_s:>19.2f}{peer_s:>15.2f}{ratio:>7.2f}x{TARGET:>7.1f}x"
            f"{agree:>12.0e}{flag}"
        )
        if model == "paper":
            paper = (ours_s, peer_s)
        sys.stdout.flush()
    if paper is not None:
        hours = [f"{PAPER_EPOCHS * s / 3600:.1f} h" for s in paper]
        print(
            f"Section 6.3 setting ({PAPER_PAIRS} pairs, batch {PAPER_BATCH_SIZE}, 1000 tokens, "
            f"M = 12): projected {paper[0] / 60:.0f} min per epoch for gaussclip, "
            f"{paper[1] / 60:.0f} min for PyTorch; the paper's {PAPER_EPOCHS} epochs: "
            f"{hours[0]} and {hours[1]} on {ARGS.threads} thread(s)."
        )
    print(f"Timings on a shared CPU are noisy (load average now {os.getloadavg()[0]:.2f}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
