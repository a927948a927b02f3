r"""Section 6.3 experiment: aligning Eulerian potentials with Lagrangian trajectories.

Pairs (u, v) come from :mod:`gaussclip.data.lagrangian`: u is the potential's coefficient
vector (2K = 98 real numbers) and v the tracer trajectory (1000 points). As in the paper,
:math:`g_u(u) = u` is fixed and :math:`g_v` is the transformer of :mod:`gaussclip.nn.transformer`
(lifting, M residual attention blocks, last-token pooling, projection to n_e = 98), trained with
the two-sided conditional loss :math:`L_{cond}` (weights (1, 1)) and Adam.

Choices on a CPU (stated, and all fields of :class:`LagrangianConfig`):

* **Tokens.** Each token is ``patch = 50`` consecutive points (20 tokens per trajectory; the
  paper's one point per token with M = 12 is :meth:`LagrangianConfig.paper_shaped`). Each point
  carries four features: its displacement from the release point, :math:`(x_j - x_0)/0.2`, and its
  velocity by finite differences over the recording times, divided by the flow's RMS speed (6):
  both of order one (:func:`trajectory_features`).
* **Similarity.** Cosine with temperature 0.1 (eq. 2): the coefficient vectors have norms that
  vary by a factor of a few between samples; normalizing both sides makes retrieval depend on
  directions only.
* **Metrics** (:func:`retrieval_metrics`) after every epoch: R@1 and R@5 in both directions
  (coefficients -> trajectories and back) over the *full* test set (``n_test`` candidates) and
  over random batches of 128 candidates (the paper's batch size), on the test set and on a fixed
  subset of the training set of the same size.

Runs are checkpointed every epoch under the cache folder and resume when interrupted; a finished
run is loaded, not retrained (Figures 14 and 15 share it).
"""

from dataclasses import asdict, dataclass, replace

import numpy as np

from .. import losses, retrieval
from .._checks import choice, integer
from ..data import lagrangian as lag
from ..nn import transformer
from ..train import TrainConfig, fit
from ._run_format import run_path

#: Feature scales: displacements of a tracer over T = 0.1 reach ~0.2-0.6 (see the simulator's
#: docstring); speeds are ~RMS_SPEED.
DISPLACEMENT_SCALE = 0.2
SPEED_SCALE = lag.RMS_SPEED
N_FEATURES = 4
KS = (1, 5)
#: Candidate-set size of the batch-wise metric (the paper's batch size).
CANDIDATE_BATCH = 128
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

    def __post_init__(self):
        integer(self.n_train, "n_train", 2, 10**7)
        integer(self.n_test, "n_test", 2, 10**7)
        integer(self.epochs, "epochs", 1, 10**6)
        integer(self.batch_size, "batch_size", 2, self.n_train, hint=" (at most n_train)")
        choice(self.schedule, "schedule", ("constant", "cosine"))

    def transformer_config(self, seq_len):
        return transformer.TransformerConfig(
            n_in=N_FEATURES,
            seq_len=seq_len,
            patch=self.patch,
            d_model=self.d_model,
            n_heads=self.n_heads,
            n_blocks=self.n_blocks,
            d_mlp=self.d_mlp,
            n_out=2 * len(lag.wavevectors(dict(self.data).get("radius", lag.GRID_RADIUS))),
        )

    def paper_shaped(self):
        """The paper's encoder shape: one point per token, M = 12 blocks (memory-hungry; see
        :meth:`gaussclip.nn.transformer.TransformerConfig.paper`)."""
        return replace(self, patch=1, n_blocks=12)


PRESETS = {
    "full": LagrangianConfig(
        n_train=lag.FULL_N, n_test=lag.FULL_N, epochs=20, lr=1e-4, schedule="constant"
    ),
    "quick": LagrangianConfig(),
    # the smoke test: a coarse time step (RK4 with dt = 1e-4 is still accurate, see the
    # simulator), few pairs, a small encoder
    "tiny": LagrangianConfig(
        n_train=96, n_test=48, epochs=2, batch_size=16, patch=100, d_model=16, n_heads=2,
        n_blocks=1, d_mlp=32, data=(("dt", 1e-4), ("record_every", 1)),
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
    """Transformer embeddings (n, n_e) of trajectory features, float64, in chunks."""
    t_config = config.transformer_config(features.shape[1])
    parts = [
        transformer.apply(params, features[i : i + EVAL_CHUNK], t_config)
        for i in range(0, len(features), EVAL_CHUNK)
    ]
    return np.concatenate(parts).astype(np.float64)


def retrieval_metrics(z_coeff, z_traj, rng, batch=CANDIDATE_BATCH):
    """R@1 and R@5 in both directions, over all candidates and over random candidate batches.

    Returns
    -------
    dict
        ``{"full": {...}, "batch": {...}}``, each ``{"c_to_t": {"R@1", "R@5"}, "t_to_c": ...}``
        (``c_to_t``: a potential's coefficients query the trajectories), with the candidate-set
        sizes ``n_candidates_full`` and ``n_candidates_batch``.
    """
    names = {"u_to_v": "c_to_t", "v_to_u": "t_to_c"}

    def metrics(zu, zv):
        r = retrieval.recall_at_k(zu, zv, ks=KS, similarity="cosine")
        return {names[d]: {f"R@{k}": r[d][f"R@{k}"] for k in KS} for d in names}

    full = metrics(z_coeff, z_traj)
    batch = min(batch, len(z_coeff))
    order = rng.permutation(len(z_coeff))
    groups = [order[i : i + batch] for i in range(0, len(order) - batch + 1, batch)]
    per = [metrics(z_coeff[g], z_traj[g]) for g in groups]
    averaged = {d: {key: float(np.mean([p[d][key] for p in per])) for key in full[d]} for d in full}
    return {
        "full": full,
        "batch": averaged,
        "n_candidates_full": len(z_coeff),
        "n_candidates_batch": batch,
    }


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
    features = trajectory_features(train_data.trajectories, train_data.times)
    test_features = trajectory_features(test_data.trajectories, test_data.times)
    seq_len = features.shape[1]
    coeffs = train_data.coefficients.astype(np.float32)
    n_eval = min(config.n_test, config.n_train)

    def evaluate(epoch, params, record):
        rng = np.random.default_rng([config.seed, epoch])
        return {
            "test": retrieval_metrics(
                test_data.coefficients, embed(params["v"], test_features, config), rng
            ),
            "train": retrieval_metrics(
                train_data.coefficients[:n_eval],
                embed(params["v"], features[:n_eval], config),
                rng,
            ),
        }

    t_config = config.transformer_config(seq_len)
    params = {"u": {}, "v": transformer.init(np.random.default_rng([config.seed, 1]), t_config)}
    result = fit(
        objective(config, seq_len),
        params,
        (coeffs, features),
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
    features = trajectory_features(test_data.trajectories, test_data.times)
    z_traj = embed(params["v"], features[index : index + 1], config)
    top = retrieval.retrieve(z_traj, test_data.coefficients, k)
    scores = retrieval.scores(z_traj, test_data.coefficients, "cosine")[0]
    rank = 1 + int(np.sum(scores > scores[index]))
    return np.asarray(top)[0], scores[np.asarray(top)[0]], rank
