"""The fixed tiny training runs whose outputs the run-format version pins.

:func:`reference_numbers` trains them; ``REFERENCE_NUMBERS`` in
:mod:`gaussclip.experiments._run_format` records their outputs per version. Kept apart from the
version constants so that the experiments, which read those constants, are not imported by them.
"""

from dataclasses import replace

import numpy as np

from ..data import lagrangian as lag
from ..nn import lenet, transformer
from ..train import TrainConfig, fit, tree_leaves
from . import lagrangian, mnist
from . import lagrangian_features as lag_features


def _summary(result):
    leaves = [np.asarray(a, dtype=np.float64) for _, a in tree_leaves(result.params)]
    losses = [float(r["loss"]) for r in result.history]
    return [
        *losses,
        float(sum(a.sum() for a in leaves)),
        float(sum((a * a).sum() for a in leaves)),
    ]


def reference_numbers():
    """Train the fixed tiny reference runs (about a second) and return their outputs."""
    config = TrainConfig(epochs=2, batch_size=4, lr=1e-2, seed=3, progress=False)
    rng = np.random.default_rng(2024)
    images = rng.random((8, 28, 28))
    labels = np.arange(8) % mnist.N_CLASSES
    targets = np.eye(mnist.N_CLASSES)[labels]
    params = {"u": lenet.init(np.random.default_rng(1), dtype=np.float64), "v": {}}
    lenet_run = fit(mnist.objective((1.0, 1.0)), params, (images, targets), config)

    # the generic (motion) encoder, with the settings the tiny preset had up to version 2
    lag_config = replace(
        lagrangian.preset("tiny"), features="motion", pooling="last", causal=True, temperature=0.1
    )
    times = np.linspace(0.0, 1.0, 100)
    trajectories = np.cumsum(0.01 * rng.standard_normal((8, 100, 2)), axis=1) + 0.5
    features = lagrangian.trajectory_features(trajectories, times).astype(np.float64)
    t_config = lag_config.transformer_config(features.shape[1])
    coefficients = rng.standard_normal((8, t_config.n_out))
    params = {
        "u": {},
        "v": transformer.init(np.random.default_rng(1), t_config, dtype=np.float64),
    }
    objective = lagrangian.objective(lag_config, features.shape[1])
    transformer_run = fit(objective, params, (coefficients, features), config)

    # the physics-token encoder (local posterior tokens, mean pooling) of the tiny preset
    phys_config = replace(lagrangian.preset("tiny"), per_token=5)
    kv = lag.wavevectors()
    tokens = lag_features.local_posterior_tokens(
        trajectories, times + 0.01, lag.frequencies(kv), kv, every=10, per_token=5,
        noise=phys_config.noise, x0=(0.5, 0.5),
    ).astype(np.float64)  # fmt: skip
    t_config = phys_config.transformer_config(tokens.shape[1])
    params = {"u": {}, "v": transformer.init(np.random.default_rng(1), t_config, dtype=np.float64)}
    objective = lagrangian.objective(phys_config, tokens.shape[1])
    physics_run = fit(objective, params, (coefficients, tokens), config)
    return {
        "lenet": _summary(lenet_run),
        "transformer": _summary(transformer_run),
        "transformer_physics": _summary(physics_run),
    }
