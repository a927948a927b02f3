"""Time per epoch of the autograd trainer against the same models in PyTorch (CPU).

Models (float32, batch 512, one training step = forward + backward + Adam update):

* MLP 784-256-128-10 on flattened 28x28 inputs;
* LeNet-5 on 28x28 images (gaussclip.nn.lenet and its PyTorch twin);
* a 2-block transformer, d = 64, 4 heads, MLP width 256, 100 tokens (one 2-D point per token),
  causal attention, last-token pooling (gaussclip.nn.transformer).

Each model is trained on synthetic data with a softmax cross-entropy over 10 classes. A fixed
number of steps is timed (after warm-up steps) and scaled to an epoch of 60,000 samples
(117 full batches of 512); the gaussclip side runs through ``gaussclip.train.fit``, so its
time includes minibatch gathering, the NaN/inf guard and Adam. Both libraries use the same
thread count (``--threads``; BLAS threads are set before NumPy is imported). The timings are
taken in one run, model by model, and printed with the ratio gaussclip / PyTorch. The
"same output" column loads the gaussclip parameters into the PyTorch twin and gives the largest
difference of the two outputs on one batch, relative to the largest output: both time the
same function.

PyTorch is optional: ``pip install -e '.[bench]'`` (the ``bench`` extra pins the CPU wheel
``torch==2.13.0``). Without it the script prints the gaussclip timings and says so.

Usage::

    python benchmarks/bench_trainer.py [--steps 10] [--threads 2] [--models mlp lenet transformer]
"""

import argparse
import os
import sys
import time

TARGETS = {"mlp": 1.5, "lenet": 2.0, "transformer": 2.0}  # ratio goals of issue 4
SAMPLES_PER_EPOCH = 60_000
BATCH = 512
STEPS_PER_EPOCH = SAMPLES_PER_EPOCH // BATCH  # 117 full batches (drop_last)
N_CLASSES = 10
SEQ_LEN = 100


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=10, help="timed steps per model")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    parser.add_argument(
        "--threads", type=int, default=os.cpu_count() or 1, help="threads for both libraries"
    )
    parser.add_argument("--models", nargs="+", default=list(TARGETS), choices=list(TARGETS))
    return parser.parse_args(argv)


ARGS = parse_args()
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)

import autograd.numpy as anp  # noqa: E402  (after the thread settings)
import numpy as np  # noqa: E402
from autograd.scipy.special import logsumexp  # noqa: E402

from gaussclip.nn import lenet, mlp, transformer  # noqa: E402
from gaussclip.train import TrainConfig, fit  # noqa: E402

TRANSFORMER = transformer.TransformerConfig(
    n_in=2, seq_len=SEQ_LEN, patch=1, d_model=64, n_heads=4, n_blocks=2, d_mlp=256, n_out=10
)


def synthetic(model, n, rng):
    if model == "mlp":
        x = rng.random((n, 784), dtype=np.float32)
    elif model == "lenet":
        x = rng.random((n, 28, 28), dtype=np.float32)
    else:
        x = rng.standard_normal((n, SEQ_LEN, 2), dtype=np.float32)
    return x, rng.integers(0, N_CLASSES, n)


def gaussclip_model(model, rng):
    if model == "mlp":
        return mlp.init(rng, (784, 256, 128, 10)), mlp.apply
    if model == "lenet":
        return lenet.init(rng), lenet.apply
    params = transformer.init(rng, TRANSFORMER)
    return params, lambda p, x: transformer.apply(p, x, TRANSFORMER)


def time_gaussclip(model, steps, warmup):
    rng = np.random.default_rng(0)
    params, apply = gaussclip_model(model, rng)

    def objective(p, x, y):
        logits = apply(p, x)
        return anp.mean(logsumexp(logits, axis=1) - logits[np.arange(len(y)), y])

    x, y = synthetic(model, BATCH * warmup, rng)
    cfg = TrainConfig(epochs=1, batch_size=BATCH, lr=1e-3, progress=False)
    params = fit(objective, params, (x, y), cfg).params  # warm-up
    x, y = synthetic(model, BATCH * steps, rng)
    tic = time.perf_counter()
    fit(objective, params, (x, y), cfg)
    return (time.perf_counter() - tic) / steps


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
    c = TRANSFORMER

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
    x, _ = synthetic(model, 64, rng)
    ours = apply(params, x)
    with torch.no_grad():
        theirs = net(torch.from_numpy(x[:, None] if model == "lenet" else x)).numpy()
    return float(np.max(np.abs(ours - theirs)) / np.max(np.abs(theirs)))


def time_torch(model, steps, warmup, torch):
    net = torch_model(model, torch)
    load_params(model, net, gaussclip_model(model, np.random.default_rng(0))[0], torch)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)

    def run(n_steps):
        x, y = synthetic(model, BATCH * n_steps, rng)
        if model == "lenet":
            x = x[:, None]  # NCHW
        x, y = torch.from_numpy(x), torch.from_numpy(y)
        order = torch.randperm(len(x))
        tic = time.perf_counter()
        for s in range(n_steps):
            idx = order[s * BATCH : (s + 1) * BATCH]
            opt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(net(x[idx]), y[idx])
            loss.backward()
            opt.step()
        return (time.perf_counter() - tic) / n_steps

    run(warmup)
    return run(steps)


def main():
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        torch.set_num_threads(ARGS.threads)
    print(
        f"bench_trainer: float32, batch {BATCH}, {ARGS.steps} timed steps scaled to an epoch of "
        f"{SAMPLES_PER_EPOCH} samples ({STEPS_PER_EPOCH} steps), {ARGS.threads} thread(s)"
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
    for model in ARGS.models:
        ours = time_gaussclip(model, ARGS.steps, ARGS.warmup) * STEPS_PER_EPOCH
        if torch is None:
            print(f"{model:<12}{ours:>19.2f}{'-':>15}{'-':>8}{TARGETS[model]:>7.1f}x")
            continue
        peer = time_torch(model, ARGS.steps, ARGS.warmup, torch) * STEPS_PER_EPOCH
        ratio = ours / peer
        flag = "" if ratio <= TARGETS[model] else "  (above target)"
        agree = same_function(model, torch)
        print(
            f"{model:<12}{ours:>19.2f}{peer:>15.2f}{ratio:>7.2f}x{TARGETS[model]:>7.1f}x"
            f"{agree:>12.0e}{flag}"
        )
        sys.stdout.flush()
    print("Timings on a shared CPU are noisy; rerun on a quiet machine for reference numbers.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
