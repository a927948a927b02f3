r"""Section 6.3 experiment: aligning Eulerian potentials with Lagrangian trajectories.

Pairs (u, v) come from :mod:`gaussclip.data.lagrangian`: u is the potential's coefficient
vector (2K = 98 real numbers) and v the tracer trajectory (1000 points). As in the paper,
:math:`g_u(u) = u` is fixed and :math:`g_v` is the transformer of :mod:`gaussclip.nn.transformer`
(lifting, M residual attention blocks, pooling, projection to n_e = 98), trained with the
two-sided conditional loss :math:`L_{cond}` (weights (1, 1)), the cosine similarity and Adam.

Choices on a CPU (stated, and all fields of :class:`LagrangianConfig`; the measurements that
justified them, on a validation split of the training pairs, are in ``paper_figures/README.md``):

* **Tokens** (``features``, :func:`encoder_inputs`).

  - ``"local_posterior"`` (the ``quick`` and ``cpu`` presets): **physics-informed** tokens. The
    velocity is linear in the coefficients, :math:`w(x, t) = A(x, t)\,c` (eqs. 58-59), and
    the experimenter knows the flow law (wavevectors, frequencies, prior scales). The path is
    cut into 4 pieces of ``per_token = 25`` velocities (midpoint finite differences of every
    ``every = 10``-th recorded point); a token holds the Gaussian posterior mean of the 98
    coefficients given its piece alone (prior scaled out;
    :func:`~gaussclip.experiments.lagrangian_features.local_posterior_tokens`). The
    transformer has to learn how to fuse the pieces, which depends on the path: summing them
    (or any linear map of them) retrieves far worse than the posterior given the whole path.
  - ``"matched"``: per piece, the matched filter :math:`\sum_m (A_m S)^\top y_m`.
  - ``"motion"`` (the ``motion`` preset, the generic tokenization): ``patch = 50`` consecutive
    points per token (20 tokens), each point with its displacement from the release point,
    :math:`(x_j - x_0)/0.2`, and its finite-difference velocity divided by the RMS speed 6
    (:func:`trajectory_features`). The paper's one point per token with M = 12 is
    :meth:`LagrangianConfig.paper_shaped`.

* **Pooling.** The physics presets average the tokens (``pooling="mean"``) with
  non-causal attention; the ``motion`` preset keeps the last token of causal attention.
* **Similarity.** Cosine (eq. 2) with temperature ``temperature`` (0.02 for the physics presets,
  0.1 for ``motion``): the coefficient vectors have norms that vary by a factor of a few between
  samples; normalizing both sides makes retrieval depend on directions only.
* **Data.** The physics presets simulate with RK4 at dt = 1e-4 (``data``), which reproduces the
  paper's dt = 1e-5 trajectories to float32 precision at a tenth of the cost, so the quick mode
  affords 16,384 training pairs; ``validation`` holds out the last training pairs (not trained
  on, scored every epoch) for model selection.
* **Metrics** (:func:`retrieval_metrics`) after every epoch: R@1 and R@5 in both directions
  (coefficients -> trajectories and back) over the *full* test set (``n_test`` candidates) and
  over random batches of 128 candidates (the paper's batch size), on the test set and on a fixed
  subset of the training set of the same size.

Runs are checkpointed every epoch under the cache folder and resume when interrupted; a finished
run is loaded, not retrained (Figures 14 and 15 share it). ``python -m
gaussclip.experiments.lagrangian cpu`` trains the opt-in ``cpu`` preset (all 32,268 training
pairs) with a progress bar and prints its test metrics beside the physics reference's.
"""

from dataclasses import asdict, dataclass, replace

import numpy as np

from .. import losses, retrieval
from .._checks import choice, integer
from ..data import lagrangian as lag
from ..nn import transformer
from ..train import TrainConfig, fit
from ..train.threads import one_blas_thread
from . import lagrangian_features as lag_features
from ._run_format import run_path

# re-exported: the metrics' names are part of this experiment's interface
from .lagrangian_metrics import CANDIDATE_BATCH as CANDIDATE_BATCH
from .lagrangian_metrics import KS as KS
from .lagrangian_metrics import retrieval_metrics

#: Feature scales: displacements of a tracer over T = 0.1 reach ~0.2-0.6 (see the simulator's
#: docstring); speeds are ~RMS_SPEED.
DISPLACEMENT_SCALE = 0.2
SPEED_SCALE = lag.RMS_SPEED
N_FEATURES = 4
#: Token inputs (:func:`encoder_inputs`): generic motion, or the physics-informed tokens of
#: :mod:`gaussclip.experiments.lagrangian_features`.
FEATURES = ("motion", "matched", "local_posterior")
EVAL_CHUNK = 512


@dataclass(frozen=True)
class LagrangianConfig:
    """One run of the Section 6.3 experiment (defaults: quick mode; see :data:`PRESETS`)."""

    n_train: int = lag.QUICK_N["train"]  # training pairs (full: 32,268)
    n_test: int = lag.QUICK_N["test"]  # test pairs (full: 32,268); candidates of the full metric
    epochs: int = 20  # passes over the training pairs (paper: 20)
    batch_size: int = 128  # pairs per minibatch (paper: 128)
    lr: float = 1e-3  # Adam step size (paper: 1e-4)
    schedule: str = "cosine"  # "constant" (paper) or "cosine" decay to 0
    temperature: float = 0.1  # of the cosine similarity
    patch: int = 50  # trajectory points per token (1 = the paper's one point per token)
    d_model: int = 64  # token width
    n_heads: int = 4  # attention heads
    n_blocks: int = 2  # residual attention blocks M (paper: 12)
    d_mlp: int = 256  # hidden width of the blocks' MLPs
    seed: int = 0  # transformer initialization and minibatch order
    data: tuple = ()  # extra keyword arguments of gaussclip.data.lagrangian.dataset, as pairs
    features: str = "motion"  # token inputs: "motion", "matched" or "local_posterior"
    every: int = 10  # physics tokens: observe every `every`-th recorded point
    per_token: int = 10  # physics tokens: consecutive observations per token
    noise: float = 1e-2  # "local_posterior": velocity noise sigma of the local inversions
    pooling: str = "last"  # "last" token (with causal attention) or "mean" over tokens
    causal: bool = True  # token t attends to tokens <= t only
    validation: int = 0  # last training pairs held out (not trained on) for model selection

    def __post_init__(self):
        integer(self.n_train, "n_train", 2, 10**7)
        integer(self.n_test, "n_test", 2, 10**7)
        integer(self.epochs, "epochs", 1, 10**6)
        integer(self.validation, "validation", 0, self.n_train - 2)
        integer(
            self.batch_size, "batch_size", 2, self.n_train - self.validation,
            hint=" (at most the n_train - validation training pairs)",
        )  # fmt: skip
        choice(self.schedule, "schedule", ("constant", "cosine"))
        choice(self.features, "features", FEATURES)
        choice(self.pooling, "pooling", transformer.POOLINGS)

    @property
    def n_out(self):
        """Embedding dimension: the 2K real coefficients."""
        return 2 * len(lag.wavevectors(dict(self.data).get("radius", lag.GRID_RADIUS)))

    def transformer_config(self, seq_len):
        """The encoder's shape for input sequences of length ``seq_len`` (recorded points for
        ``"motion"``, tokens for the physics features)."""
        motion = self.features == "motion"
        return transformer.TransformerConfig(
            n_in=N_FEATURES if motion else self.n_out,
            seq_len=seq_len,
            patch=self.patch if motion else 1,
            d_model=self.d_model,
            n_heads=self.n_heads,
            n_blocks=self.n_blocks,
            d_mlp=self.d_mlp,
            n_out=self.n_out,
            causal=self.causal,
            pooling=self.pooling,
        )

    def paper_shaped(self):
        """The paper's encoder shape: one point per token, M = 12 blocks (memory-hungry; see
        :meth:`gaussclip.nn.transformer.TransformerConfig.paper`)."""
        return replace(self, patch=1, n_blocks=12)


#: The physics-token encoder's settings shared by the presets below (chosen on a validation split
#: of the training pairs; paper_figures/README.md, "Figures 13-15", has the measurements).
PHYSICS = {"features": "local_posterior", "per_token": 25, "pooling": "mean", "causal": False,
           "temperature": 0.02}  # fmt: skip
#: RK4 with dt = 1e-4 reproduces the paper's dt = 1e-5 trajectories to float32 storage precision
#: (simulator docstring; the test splits differ by at most 1.2e-7) at a tenth of the cost.
COARSE_STEP = tuple(lag.QUICK_STEP.items())

PRESETS = {
    "full": LagrangianConfig(
        n_train=lag.FULL_N, n_test=lag.FULL_N, epochs=20, lr=1e-4, schedule="constant"
    ),
    # the generic tokenization (displacement and velocity patches) of the first quick mode
    "motion": LagrangianConfig(n_train=8192),
    "quick": LagrangianConfig(epochs=10, data=COARSE_STEP, **PHYSICS),
    # opt-in (python -m gaussclip.experiments.lagrangian cpu): all of the paper's training pairs
    "cpu": LagrangianConfig(n_train=lag.FULL_N, epochs=20, data=COARSE_STEP, **PHYSICS),
    # the smoke test: a coarse time step, few pairs, a small encoder
    "tiny": LagrangianConfig(
        n_train=96, n_test=48, epochs=2, batch_size=16, patch=100, d_model=16, n_heads=2,
        n_blocks=1, d_mlp=32, data=COARSE_STEP, **PHYSICS,
    ),
}  # fmt: skip


def preset(mode):
    """The :class:`LagrangianConfig` of a figure mode."""
    return PRESETS[choice(mode, "mode", tuple(PRESETS))]


def load_data(config, *, progress=None):
    """The (train, test) :class:`~gaussclip.data.lagrangian.LagrangianData` of ``config``
    (seeds 0 and 1: the same flow frequencies, independent potentials)."""
    kwargs = dict(config.data, n_jobs=-1, progress=progress)
    train = lag.dataset(config.n_train, lag.SPLIT_SEEDS["train"], **kwargs)
    test = lag.dataset(config.n_test, lag.SPLIT_SEEDS["test"], **kwargs)
    return train, test


def trajectory_features(trajectories, times, x0=lag.X0):
    r"""Per-point transformer inputs: :math:`[(x_j - x_0)/0.2,\ \dot x_j / 6]`.

    Parameters
    ----------
    trajectories : (n, J, 2) array
        Unwrapped positions at ``times``.
    times : (J,) array

    Returns
    -------
    (n, J, 4) float32 array
        Velocities by second-order finite differences in time (``numpy.gradient``).
    """
    x = np.asarray(trajectories, dtype=np.float64)
    displacement = (x - np.asarray(x0)) / DISPLACEMENT_SCALE
    speed = np.gradient(x, np.asarray(times, dtype=np.float64), axis=1) / SPEED_SCALE
    return np.concatenate([displacement, speed], axis=-1).astype(np.float32)


def encoder_inputs(config, data):
    """The transformer's input sequences for ``config.features`` from a
    :class:`~gaussclip.data.lagrangian.LagrangianData`: (n, 1000, 4) motion features
    (:func:`trajectory_features`) or (n, tokens, 2K) physics tokens
    (:mod:`~gaussclip.experiments.lagrangian_features`), float32."""
    if config.features == "motion":
        return trajectory_features(data.trajectories, data.times, data.params.get("x0", lag.X0))
    args = (data.trajectories, data.times, data.freqs, data.wavevectors)
    kwargs = {"every": config.every, "per_token": config.per_token}
    kwargs["x0"] = data.params.get("x0", lag.X0)
    if config.features == "matched":
        return lag_features.matched_filter_tokens(*args, **kwargs)
    return lag_features.local_posterior_tokens(*args, noise=config.noise, **kwargs)


def _identity(params, u):
    return u


def objective(config, seq_len):
    """:math:`L_{cond}` (1, 1) between the fixed coefficient embedding and the transformer."""
    t_config = config.transformer_config(seq_len)
    return losses.contrastive_objective(
        _identity,
        lambda params, v: transformer.apply(params, v, t_config),
        loss="cond",
        similarity="cosine",
        temperature=config.temperature,
    )


def embed(params, features, config):
    """Transformer embeddings (n, n_e) of trajectory features, float64, in chunks (one BLAS
    thread, as in training: :mod:`gaussclip.train.threads`)."""
    t_config = config.transformer_config(features.shape[1])
    with one_blas_thread():
        parts = [
            transformer.apply(params, features[i : i + EVAL_CHUNK], t_config)
            for i in range(0, len(features), EVAL_CHUNK)
        ]
    return np.concatenate(parts).astype(np.float64)


def _run_path(config, data_params):
    return run_path(
        "lagrangian_runs", "transformer", {"config": asdict(config), "data": data_params}
    )


def train(config, *, progress=None, callbacks=()):
    """Train (or load, or resume) the trajectory encoder; metrics are recorded every epoch.

    Returns
    -------
    (TrainResult, train_data, test_data)
        Each history record holds ``test`` and ``train`` :func:`retrieval_metrics` (the train
        metrics on the first ``n_test`` training pairs).
    """
    train_data, test_data = load_data(config, progress=progress)
    inputs = encoder_inputs(config, train_data)
    test_inputs = encoder_inputs(config, test_data)
    seq_len = inputs.shape[1]
    n_fit = config.n_train - config.validation
    coeffs = train_data.coefficients[:n_fit].astype(np.float32)
    n_eval = min(config.n_test, n_fit)

    def evaluate(epoch, params, record):
        rng = np.random.default_rng([config.seed, epoch])
        out = {
            "test": retrieval_metrics(
                test_data.coefficients, embed(params["v"], test_inputs, config), rng
            ),
            "train": retrieval_metrics(
                train_data.coefficients[:n_eval],
                embed(params["v"], inputs[:n_eval], config),
                rng,
            ),
        }
        if config.validation:
            out["validation"] = retrieval_metrics(
                train_data.coefficients[n_fit:], embed(params["v"], inputs[n_fit:], config), rng
            )
        return out

    t_config = config.transformer_config(seq_len)
    params = {"u": {}, "v": transformer.init(np.random.default_rng([config.seed, 1]), t_config)}
    result = fit(
        objective(config, seq_len),
        params,
        (coeffs, inputs[:n_fit]),
        TrainConfig.from_run(config, progress=progress),
        checkpoint=_run_path(config, train_data.params),
        resume=True,
        callbacks=[evaluate, *callbacks],
    )
    return result, train_data, test_data


def top_potentials(params, config, test_data, index, k=3):
    """The ``k`` test potentials whose coefficients are most similar to the embedding of test
    trajectory ``index`` (Algorithm 1, trajectories -> coefficients), best first, and their
    cosine similarities; also the rank of the true potential (1-based)."""
    z_traj = embed(params["v"], encoder_inputs(config, test_data)[index : index + 1], config)
    top = retrieval.retrieve(z_traj, test_data.coefficients, k)
    scores = retrieval.scores(z_traj, test_data.coefficients, "cosine")[0]
    rank = 1 + int(np.sum(scores > scores[index]))
    return np.asarray(top)[0], scores[np.asarray(top)[0]], rank


def main(argv=None):
    """``python -m gaussclip.experiments.lagrangian PRESET``: train (or resume, or load) the run
    of a preset with a progress bar, then print its final test metrics next to the physics
    reference's on the same test set, as JSON."""
    import argparse
    import json
    import time

    from . import lagrangian_reference as reference

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("preset", choices=sorted(PRESETS), help="a key of PRESETS")
    args = parser.parse_args(argv)
    config = preset(args.preset)
    start, cpu = time.time(), time.process_time()
    result, _, test = train(config, progress=True)
    last = result.history[-1]
    physics = reference.reference_metrics(test, np.random.default_rng([config.seed, config.epochs]))
    summary = {
        "preset": args.preset,
        "config": asdict(config),
        "epochs": result.epoch,
        "test": last["test"],
        "physics_reference": physics,
        "train_seconds": float(sum(r["seconds"] for r in result.history)),
        "this_call": {
            "wall_seconds": time.time() - start,
            "cpu_seconds": time.process_time() - cpu,
        },
    }
    print(json.dumps(summary, indent=1))
    return summary


if __name__ == "__main__":
    main()
