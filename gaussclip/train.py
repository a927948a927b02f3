r"""Training loop: Adam on seeded minibatches, with progress, history, checkpoints and resume.

:func:`fit` minimizes ``objective(params, *batch)`` over any nest of dicts/lists of arrays
(:mod:`gaussclip.nn` models). Each epoch draws one permutation of the data from a
``numpy.random.Generator`` seeded by :attr:`TrainConfig.seed` and walks through it in
minibatches. After every epoch it can write a checkpoint (parameters, Adam moments, step count,
generator state, epoch, config and history) atomically; :func:`fit` with ``resume=True`` picks
up from it and reproduces the uninterrupted run bit for bit (same arrays, same order of
floating-point operations). A non-finite loss or gradient stops the run with
:class:`NonFiniteError` naming the epoch and step; the last good checkpoint is left untouched.

The trainer works in the dtype of the data and parameters. Float32 is the default for networks
and for :func:`fit_linear_encoders` (about twice the speed of float64, and what the benchmarks
measure); its rounding (1e-7 relative) is far below the minibatch noise of training. Pass
float64 data and parameters (``dtype=np.float64`` for :func:`fit_linear_encoders`) when
comparing closely with the float64 engine, as ``tests/test_fit_linear.py`` does.

Gradients come from autograd, one traced box per parameter array
(:func:`leaf_value_and_grad`).

:func:`fit_linear_encoders` trains the linear encoders of Section 5 / 6.1 on samples and
returns G, H in the engine's convention.
"""

import json
import math
import sys
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
from autograd.core import VJPNode, add_outgrads, vspace
from autograd.tracer import isbox, new_box, toposort, trace_stack
from tqdm.auto import tqdm

from . import losses
from ._checks import choice, finite_array, integer, weights_pair
from .errors import GaussclipError, OptionError, RankError, ShapeError
from .io import atomic_save_npz
from .nn import linear

SCHEDULES = ("constant", "cosine")
CHECKPOINT_FORMAT = 1


@dataclass(frozen=True)
class TrainConfig:
    """Settings of a training run (every field has the default shown)."""

    epochs: int = 10  # passes over the training set
    batch_size: int = 512  # pairs per minibatch: the N of the empirical loss L^N at each step
    lr: float = 1e-4  # Adam step size (the paper uses 1e-4 throughout Section 6)
    beta1: float = 0.9  # Adam decay of the first moment
    beta2: float = 0.999  # Adam decay of the second moment
    eps: float = 1e-8  # Adam: added to sqrt(second moment) before dividing
    schedule: str = "constant"  # "constant" lr, or "cosine": decays to 0 at the last step
    seed: int = 0  # seeds the minibatch order (initialize parameters with your own rng)
    drop_last: bool = True  # skip the incomplete last minibatch, so every step sees batch_size
    checkpoint_every: int = 1  # epochs between checkpoints (when `checkpoint` is given)
    progress: bool | None = None  # tqdm bar; None: shown only when stderr is a terminal

    @classmethod
    def from_run(cls, run_config, **overrides):
        """The TrainConfig of an experiment's config dataclass: every field both share (epochs,
        batch_size, lr, schedule, seed, ...) is taken from ``run_config``, then ``overrides``."""
        shared = {
            f.name: getattr(run_config, f.name) for f in fields(cls) if hasattr(run_config, f.name)
        }
        return cls(**(shared | overrides))

    def __post_init__(self):
        integer(self.epochs, "epochs", 0, 10**9)
        integer(self.batch_size, "batch_size", 1, 10**9)
        integer(self.checkpoint_every, "checkpoint_every", 1, 10**9)
        integer(self.seed, "seed", 0, 2**63 - 1)
        choice(self.schedule, "schedule", SCHEDULES)
        for name in ("lr", "beta1", "beta2", "eps"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and np.isfinite(value) and value >= 0):
                raise OptionError(f"`{name}` must be a finite non-negative number; got {value!r}.")
        if not (self.beta1 < 1 and self.beta2 < 1):
            raise OptionError(
                f"`beta1` and `beta2` must be < 1; got {self.beta1} and {self.beta2}."
            )


#: Fields that may differ between a checkpointed run and the run that resumes it: they do not
#: change the trajectory up to the checkpoint (``epochs`` only extends it, except with the
#: cosine schedule, which depends on the total length and is checked separately).
_RESUMABLE_FIELDS = {"epochs", "progress", "checkpoint_every"}


class NonFiniteError(GaussclipError, FloatingPointError):
    """The loss or a gradient became NaN or infinite during training."""


class StopTraining(Exception):
    """Raise from a callback to end the run after the current epoch (its checkpoint is
    written first)."""


@dataclass
class TrainResult:
    """Outcome of :func:`fit`.

    Attributes
    ----------
    params : nest of arrays
        Parameters after the last completed epoch.
    history : list of dict
        One record per epoch: ``epoch`` (1-based), ``loss`` (mean minibatch loss), ``lr``,
        ``seconds`` and whatever the callbacks returned.
    adam : dict
        Adam state ``{"m": [...], "v": [...], "step": int}``.
    epoch : int
        Epochs completed.
    stopped : bool
        True when a callback raised :class:`StopTraining`.
    """

    params: object
    history: list
    adam: dict
    epoch: int
    stopped: bool = False


# --- parameter trees ------------------------------------------------------------------------
def tree_leaves(tree, prefix=""):
    """``[(path, array), ...]`` of a nest of dicts (sorted keys) and lists/tuples."""
    if isinstance(tree, dict):
        return [kv for key in sorted(tree) for kv in tree_leaves(tree[key], f"{prefix}/{key}")]
    if isinstance(tree, list | tuple):
        return [kv for i, item in enumerate(tree) for kv in tree_leaves(item, f"{prefix}/{i}")]
    return [(prefix or "/", tree)]


def tree_unflatten(template, leaves):
    """A nest shaped like ``template`` holding ``leaves`` (in :func:`tree_leaves` order)."""
    it = iter(leaves)

    def build(node):
        if isinstance(node, dict):
            return {key: build(node[key]) for key in sorted(node)}
        if isinstance(node, list | tuple):
            return type(node)(build(item) for item in node)
        return next(it)

    return build(template)


def leaf_value_and_grad(objective, template):
    """``f(leaves, *batch) -> (value, [gradient of each leaf])`` for ``objective(params, *batch)``.

    The same as ``autograd.value_and_grad`` with respect to ``params`` (``test_train.py`` checks
    it), but each leaf array is traced on its own: the objective receives ``params`` rebuilt as
    plain dicts and lists holding the traced leaves. autograd's container boxes would instead
    build a zero gradient of *every* leaf for each leaf the model reads and add them up, a cost
    quadratic in the number of leaves that is a tenth of a small model's step.
    """

    def value_and_grads(leaves, *batch):
        roots = [VJPNode.new_root() for _ in leaves]
        with trace_stack.new_trace() as trace:
            boxed = [new_box(leaf, trace, root) for leaf, root in zip(leaves, roots, strict=True)]
            end = objective(tree_unflatten(template, boxed), *batch)
            traced = isbox(end) and end._trace == trace
        if not traced:  # the objective does not depend on the parameters
            return end, [np.zeros_like(leaf) for leaf in leaves]
        value, end_node = end._value, end._node
        index = {root: i for i, root in enumerate(roots)}
        grads = [None] * len(leaves)
        outgrads = {end_node: (vspace(value).ones(), False)}
        for node in toposort(end_node):  # autograd.core.backward_pass, keeping every root
            g = outgrads.pop(node)[0]
            if node in index:
                grads[index[node]] = g
                continue
            for parent, ingrad in zip(node.parents, node.vjp(g), strict=False):
                outgrads[parent] = add_outgrads(outgrads.get(parent), ingrad)
        return value, [
            np.zeros_like(a) if g is None else g for a, g in zip(leaves, grads, strict=True)
        ]

    return value_and_grads


# --- checkpoints ----------------------------------------------------------------------------
def _plain(value):
    """JSON form of NumPy scalars and arrays that callbacks may put in the history."""
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    raise TypeError(f"history entries must be numbers, strings, lists or dicts; got {value!r}")


def _save_checkpoint(path, leaves, adam, epoch, rng, config, history):
    arrays = {}
    for i, (_, leaf) in enumerate(leaves):
        arrays[f"param_{i}"] = leaf
        arrays[f"adam_m_{i}"] = adam["m"][i]
        arrays[f"adam_v_{i}"] = adam["v"][i]
    meta = {
        "format": CHECKPOINT_FORMAT,
        "epoch": epoch,
        "adam_step": adam["step"],
        "rng_state": rng.bit_generator.state,
        "config": asdict(config),
        "history": history,
        "leaves": [[p, list(np.shape(a)), str(np.asarray(a).dtype)] for p, a in leaves],
    }
    arrays["meta"] = np.array(json.dumps(meta, default=_plain))
    atomic_save_npz(path, **arrays)


def load_checkpoint(path):
    """Read a checkpoint written by :func:`fit`: ``(meta, params_leaves, adam)``."""
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        n = len(meta["leaves"])
        leaves = [data[f"param_{i}"] for i in range(n)]
        adam = {
            "m": [data[f"adam_m_{i}"] for i in range(n)],
            "v": [data[f"adam_v_{i}"] for i in range(n)],
            "step": int(meta["adam_step"]),
        }
    return meta, leaves, adam


def _check_resumable(path, meta, leaves, config):
    saved = meta["config"]
    current = asdict(config)
    changed = [
        f"{name} (checkpoint {saved.get(name)!r}, now {current[name]!r})"
        for name in current
        if name not in _RESUMABLE_FIELDS and saved.get(name) != current[name]
    ]
    if config.schedule == "cosine" and saved.get("epochs") != config.epochs:
        changed.append(
            f"epochs with the cosine schedule ({saved.get('epochs')} -> {config.epochs})"
        )
    if changed:
        raise OptionError(
            f"cannot resume from {path}: the config differs in " + "; ".join(changed) + ". "
            "Resume with the same settings, or start a new run in a new checkpoint file."
        )
    expected = [[p, list(np.shape(a)), str(np.asarray(a).dtype)] for p, a in leaves]
    if meta["leaves"] != expected:
        raise ShapeError(
            f"cannot resume from {path}: its parameters {meta['leaves']} do not match the "
            f"parameters given {expected}. Pass parameters of the same model."
        )


# --- the loop -------------------------------------------------------------------------------
def _check_data(data):
    if not isinstance(data, tuple | list) or not data:
        raise ShapeError(
            f"`data` must be a non-empty tuple of arrays with a common first axis; got "
            f"{type(data).__name__}."
        )
    data = tuple(np.asarray(d) for d in data)
    n = len(data[0])
    if any(np.ndim(d) == 0 or len(d) != n for d in data):
        raise ShapeError(
            f"every array in `data` must have the same first axis; got shapes "
            f"{[np.shape(d) for d in data]}."
        )
    return data, n


def _learning_rate(config, step, total_steps):
    if config.schedule == "constant" or total_steps == 0:
        return config.lr
    return 0.5 * config.lr * (1.0 + math.cos(math.pi * min(step, total_steps) / total_steps))


def _show_progress(config):
    if config.progress is not None:
        return bool(config.progress)
    return sys.stderr.isatty()


def fit(
    objective,
    params,
    data,
    config=None,
    *,
    checkpoint=None,
    resume=False,
    callbacks=(),
    grad_fn=None,
):
    r"""Minimize ``objective(params, *batch)`` with Adam on shuffled minibatches of ``data``.

    Parameters
    ----------
    objective : callable
        ``objective(params, *batch) -> scalar``, differentiable by autograd in ``params``.
    params : nest of dicts/lists of arrays
        Initial parameters (copied, never modified).
    data : tuple of arrays
        Arrays sharing their first axis (e.g. ``(u, v)``); a batch is the same rows of each.
    config : TrainConfig, optional
    checkpoint : path, optional
        File written atomically after every ``config.checkpoint_every`` epochs (and after the
        last). If it exists, ``resume=True`` is required (nothing is overwritten silently).
    resume : bool
        Continue from ``checkpoint`` when it exists (start afresh when it does not). The
        resumed run reproduces the uninterrupted one exactly.
    callbacks : sequence of callables
        ``callback(epoch, params, record) -> dict | None`` after each epoch; returned entries
        are added to the epoch's record (e.g. validation recall). Raise :class:`StopTraining`
        to end the run after this epoch.
    grad_fn : callable, optional
        ``grad_fn(params, *batch) -> (value, grads)`` replacing autograd's
        ``value_and_grad(objective)`` (e.g. a hand-derived gradient).

    Returns
    -------
    TrainResult

    Raises
    ------
    NonFiniteError
        When the loss or a gradient is NaN/inf; names the epoch and step.

    Examples
    --------
    Least squares on a line, :math:`\min_w \mathrm{mean}(xw - y)^2`:

    >>> import numpy as np
    >>> x = np.linspace(-1, 1, 64)[:, None]
    >>> y = 3.0 * x
    >>> def objective(p, xb, yb):
    ...     return ((xb * p["w"] - yb) ** 2).mean()
    >>> cfg = TrainConfig(epochs=200, batch_size=16, lr=0.05, progress=False)
    >>> result = fit(objective, {"w": np.zeros(1)}, (x, y), cfg)
    >>> bool(abs(result.params["w"][0] - 3.0) < 1e-2)
    True
    """
    config = TrainConfig() if config is None else config
    data, n = _check_data(data)
    if config.batch_size > n:
        raise ShapeError(
            f"`batch_size` ({config.batch_size}) exceeds the number of samples ({n}). "
            "Use a smaller batch_size."
        )
    if grad_fn is None:
        step_fn = leaf_value_and_grad(objective, params)
    else:

        def step_fn(leaves_, *batch):
            value, grads = grad_fn(tree_unflatten(params, leaves_), *batch)
            return value, [g for _, g in tree_leaves(grads)]

    leaves = [(p, np.array(a, copy=True)) for p, a in tree_leaves(params)]
    for path, leaf in leaves:
        if not np.issubdtype(leaf.dtype, np.floating):
            raise ShapeError(f"parameter {path} must be a float array; got dtype {leaf.dtype}.")
    adam = {"m": [np.zeros_like(a) for _, a in leaves], "v": [np.zeros_like(a) for _, a in leaves]}
    adam["step"] = 0
    rng = np.random.default_rng(config.seed)
    history, start = [], 0
    path = None if checkpoint is None else Path(checkpoint)
    if path is not None and path.exists():
        if not resume:
            raise OptionError(
                f"checkpoint {path} already exists; pass resume=True to continue that run, or "
                "choose another checkpoint path."
            )
        meta, saved, adam = load_checkpoint(path)
        _check_resumable(path, meta, leaves, config)
        leaves = [(p, a) for (p, _), a in zip(leaves, saved, strict=True)]
        rng.bit_generator.state = meta["rng_state"]
        history, start = meta["history"], int(meta["epoch"])

    steps = n // config.batch_size if config.drop_last else -(-n // config.batch_size)
    total_steps = steps * config.epochs
    arrays = [a for _, a in leaves]
    m, v = adam["m"], adam["v"]
    b1, b2, eps = config.beta1, config.beta2, config.eps
    stopped = False
    bar = tqdm(
        total=total_steps,
        initial=start * steps,
        disable=not _show_progress(config),
        unit="step",
        dynamic_ncols=True,
    )
    try:
        for epoch in range(start + 1, config.epochs + 1):
            tic = time.perf_counter()
            order = rng.permutation(n)
            total = 0.0
            for step in range(steps):
                idx = order[step * config.batch_size : (step + 1) * config.batch_size]
                batch = tuple(d[idx] for d in data)
                value, grad_leaves = step_fn(arrays, *batch)
                if not np.isfinite(value) or not all(np.isfinite(np.sum(g)) for g in grad_leaves):
                    what = "loss" if not np.isfinite(value) else "gradient"
                    kept = (
                        f"the last good checkpoint {path} (epoch {start}) is kept"
                        if path is not None and path.exists()
                        else "no checkpoint was written"
                    )
                    raise NonFiniteError(
                        f"non-finite {what} (loss = {float(value)}) at epoch {epoch}, step "
                        f"{step + 1} of {steps}; {kept}. Lower `lr`, check the data for "
                        "NaN/inf, or use a larger temperature."
                    )
                adam["step"] += 1
                t = adam["step"]
                lr = _learning_rate(config, t - 1, total_steps)
                # Python floats, so float32 parameters stay float32; the bias corrections of
                # Kingma & Ba folded into the step size and eps (their Section 2).
                step_size = lr * math.sqrt(1.0 - b2**t) / (1.0 - b1**t)
                eps_t = eps * math.sqrt(1.0 - b2**t)
                for a, g, mi, vi in zip(arrays, grad_leaves, m, v, strict=True):
                    mi *= b1
                    mi += (1.0 - b1) * g
                    vi *= b2
                    vi += (1.0 - b2) * (g * g)
                    a -= step_size * mi / (np.sqrt(vi) + eps_t)
                total += float(value)
                bar.update(1)
            record = {
                "epoch": epoch,
                "loss": total / max(steps, 1),
                "lr": float(_learning_rate(config, adam["step"], total_steps)),
                "seconds": time.perf_counter() - tic,
            }
            current = tree_unflatten(params, arrays)
            try:
                for callback in callbacks:
                    extra = callback(epoch, current, record)
                    if extra:
                        record.update(extra)
            except StopTraining:
                stopped = True
            history.append(record)
            bar.set_postfix(epoch=epoch, loss=f"{record['loss']:.4g}")
            if path is not None and (
                stopped or epoch % config.checkpoint_every == 0 or epoch == config.epochs
            ):
                _save_checkpoint(
                    path, list(zip([p for p, _ in leaves], arrays, strict=True)), adam,
                    epoch, rng, config, history,
                )  # fmt: skip
                start = epoch
            if stopped:
                break
    finally:
        bar.close()
    done = history[-1]["epoch"] if history else start
    return TrainResult(tree_unflatten(params, arrays), history, adam, done, stopped)


# --- linear encoders ------------------------------------------------------------------------
_TILTING_SIMILARITY = {
    "inner": "inner",
    "quadratic": "neg_half_sq_distance",
    "cosine": "cosine",
}


@dataclass
class LinearEncoders:
    r"""Linear encoders fitted by :func:`fit_linear_encoders`.

    :math:`g_u(u) = G(u - m_u)`, :math:`g_v(v) = H(v - m_v)` with the sample means
    ``mean_u``, ``mean_v`` (the engine's centred convention). ``A``, ``B``, ``C`` are
    :math:`G^\top H`, :math:`G^\top G`, :math:`H^\top H`.
    """

    G: np.ndarray
    H: np.ndarray
    mean_u: np.ndarray
    mean_v: np.ndarray
    history: list
    loss: str
    tilting: str
    weights: tuple
    config: TrainConfig

    @property
    def A(self):
        return self.G.T @ self.H

    @property
    def B(self):
        return self.G.T @ self.G

    @property
    def C(self):
        return self.H.T @ self.H

    def encode_u(self, u):
        return (np.asarray(u) - self.mean_u) @ self.G.T

    def encode_v(self, v):
        return (np.asarray(v) - self.mean_v) @ self.H.T


def fit_linear_encoders(
    u,
    v,
    n_e,
    *,
    loss="cond",
    tilting="inner",
    weights=(1.0, 1.0),
    batch_size=512,
    epochs=500,
    lr=1e-4,
    seed=0,
    temperature=1.0,
    schedule="constant",
    init_scale=0.1,
    progress=None,
    checkpoint=None,
    resume=False,
    dtype=np.float32,
):
    r"""Train linear encoders :math:`g_u = G(u - m_u)`, :math:`g_v = H(v - m_v)` on samples.

    The data are centred by their sample means; each Adam step evaluates the empirical loss
    on a minibatch of ``batch_size`` pairs: :func:`gaussclip.losses.cond_loss` with
    ``weights`` or :func:`gaussclip.losses.joint_loss_matrix` (off-diagonal negatives), with
    the similarity of ``tilting`` (inner: eq. 25, quadratic: eq. 26, cosine: eq. 2 with
    ``temperature``). Training runs in ``dtype`` (float32 by default, for speed: about 4 ms
    per step of 512 pairs on one core); the returned G and H are float64.

    Parameters
    ----------
    u : (N, n_u) array_like
    v : (N, n_v) array_like
    n_e : int
        Embedding dimension (rows of G and H); may exceed min(n_u, n_v).
    loss : {"cond", "joint"}
    tilting : {"inner", "quadratic", "cosine"}
    weights : (float, float)
        :math:`(\lambda_u, \lambda_v)` of the conditional loss.
    batch_size, epochs, lr, seed : training settings (:class:`TrainConfig`); ``seed`` also
        draws the initial G, H (entries :math:`N(0, s^2/n)`, s = ``init_scale``).
    temperature : float
        Divides the similarity.
    schedule : {"constant", "cosine"}
    progress : bool or None
    checkpoint, resume : see :func:`fit`.
    dtype : {numpy.float32, numpy.float64}

    Returns
    -------
    LinearEncoders
        With ``.G`` (n_e, n_u), ``.H`` (n_e, n_v) and ``.history``.

    Examples
    --------
    >>> import numpy as np, gaussclip as gc
    >>> mu = gc.JointGaussian([[1.0, 0.6], [0.6, 1.0]], n_u=1)
    >>> u, v = mu.sample(2000, np.random.default_rng(0))
    >>> enc = gc.fit_linear_encoders(u, v, 1, epochs=30, lr=1e-2, batch_size=500,
    ...                              progress=False)
    >>> enc.A.shape
    (1, 1)
    """
    loss = choice(loss, "loss", ("cond", "joint"))
    tilting = choice(tilting, "tilting", tuple(_TILTING_SIMILARITY))
    weights = weights_pair(weights)
    if loss == "joint" and weights != (1.0, 1.0):
        raise OptionError(
            f"`weights` apply to loss='cond' only; got {weights} with loss='joint'. Drop them."
        )
    u = finite_array(u, "u", ndim=2)
    v = finite_array(v, "v", ndim=2)
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise OptionError(f"`dtype` must be float32 or float64; got {dtype}.")
    if len(u) != len(v):
        raise ShapeError(f"`u` and `v` must have the same number of rows; got {len(u)}, {len(v)}.")
    n_e = integer(n_e, "n_e", 1, 10**6, error=RankError)
    config = TrainConfig(
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        schedule=schedule,
        progress=progress,
    )
    mean_u, mean_v = u.mean(axis=0), v.mean(axis=0)  # float64 means, then cast
    init_rng = np.random.default_rng([seed, 1])
    params = {
        "u": linear.init(init_rng, u.shape[1], n_e, scale=init_scale / np.sqrt(u.shape[1]),
                         dtype=dtype),
        "v": linear.init(init_rng, v.shape[1], n_e, scale=init_scale / np.sqrt(v.shape[1]),
                         dtype=dtype),
    }  # fmt: skip
    objective = losses.contrastive_objective(
        linear.apply,
        linear.apply,
        loss=loss,
        similarity=_TILTING_SIMILARITY[tilting],
        weights=weights if loss == "cond" else (1.0, 1.0),
        temperature=temperature,
    )
    result = fit(
        objective,
        params,
        ((u - mean_u).astype(dtype), (v - mean_v).astype(dtype)),
        config,
        checkpoint=checkpoint,
        resume=resume,
    )
    return LinearEncoders(
        G=result.params["u"]["W"].astype(np.float64),
        H=result.params["v"]["W"].astype(np.float64),
        mean_u=mean_u,
        mean_v=mean_v,
        history=result.history,
        loss=loss,
        tilting=tilting,
        weights=weights,
        config=config,
    )
