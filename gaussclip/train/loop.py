r"""The training loop :func:`fit`: Adam on seeded minibatches, with progress, history,
verified checkpoints and exact resume.

:func:`fit` minimizes ``objective(params, *batch)`` over any nest of dicts/lists of arrays
(:mod:`gaussclip.nn` models). Each epoch draws one permutation of the data from a
``numpy.random.Generator`` seeded by :attr:`TrainConfig.seed` and walks through it in
minibatches. The loop only composes the rooms of :mod:`gaussclip.train`: gradients from
:mod:`~gaussclip.train.backward` (one traced box per parameter array), the update from
:mod:`~gaussclip.train.adam`, and after every epoch a checkpoint from
:mod:`~gaussclip.train.checkpoint` (parameters, Adam moments, step count, generator state,
epoch, config and history, with a sha256 manifest), written atomically. :func:`fit` with
``resume=True`` verifies the checkpoint, picks up from it and reproduces the uninterrupted run
bit for bit (same arrays, same order of floating-point operations). A non-finite loss or
gradient stops the run with :class:`NonFiniteError` naming the epoch and step; the last good
checkpoint is left untouched. The checkpoint folder is checked for being writable before the
first step.

The trainer works in the dtype of the data and parameters. Float32 is the default for networks
and for :func:`~gaussclip.train.fit_linear_encoders` (about twice the speed of float64, and what
the benchmarks measure); its rounding (1e-7 relative) is far below the minibatch noise of
training.
"""

import math
import sys
import time
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .._validation import (
    Callable,
    Choice,
    Constraint,
    InstanceOf,
    Integer,
    Optional,
    Real,
    check,
    fail,
    validate_params,
)
from ..errors import ArgumentTypeError, DomainError, GaussclipError, OptionError, ShapeError
from ..io import check_writable
from . import adam as adam_
from . import checkpoint as ckpt
from .allocator import keep_freed_memory
from .backward import leaf_value_and_grad
from .threads import one_blas_thread
from .trees import tree_leaves, tree_unflatten

SCHEDULES = ("constant", "cosine")

#: The constraint of every field of :class:`TrainConfig`.
CONFIG_CONSTRAINTS = {
    "epochs": Integer(0, 10**9),
    "batch_size": Integer(
        2,
        10**9,
        hint="A contrastive loss compares each pair with the other pairs of its "
        "minibatch, so `batch_size` must be at least 2.",
    ),
    "lr": Real(low=0.0),
    "beta1": Real(low=0.0, high=1.0, high_open=True),
    "beta2": Real(low=0.0, high=1.0, high_open=True),
    "eps": Real(low=0.0),
    "schedule": Choice(SCHEDULES),
    "seed": Integer(0, 2**63 - 1),
    "drop_last": InstanceOf((bool, np.bool_)),
    "checkpoint_every": Integer(1, 10**9),
    "progress": Optional(InstanceOf((bool, np.bool_))),
}


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
        for name, constraint in CONFIG_CONSTRAINTS.items():
            check(getattr(self, name), name, constraint)


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


def load_checkpoint(path):
    """Verify and read a checkpoint written by :func:`fit`: ``(meta, params_leaves, adam)``
    (see :func:`gaussclip.train.checkpoint.load`)."""
    return ckpt.load(path)


# --- the loop -------------------------------------------------------------------------------
class _Callbacks(Constraint):
    """A sequence of callables; returns a tuple."""

    def describe(self):
        return "a sequence of callables callback(epoch, params, record)"

    def __call__(self, value, name):
        if isinstance(value, str | bytes) or not hasattr(value, "__iter__"):
            fail(ArgumentTypeError, name, self.describe(), value)
        items = tuple(value)
        for i, item in enumerate(items):
            Callable()(item, f"{name}[{i}]")
        return items


class _TrainingData(Constraint):
    """A non-empty tuple/list of real arrays sharing their first axis; returns a tuple of
    arrays (dtypes kept: float32 data train in float32)."""

    def describe(self):
        return "a non-empty tuple of real arrays with a common first axis"

    def __call__(self, value, name):
        if not isinstance(value, tuple | list) or not value:
            fail(ShapeError, name, self.describe(), value)
        arrays = []
        for i, item in enumerate(value):
            try:
                array = np.asarray(item)
            except (TypeError, ValueError):
                fail(ShapeError, f"{name}[{i}]", "a real array (not ragged)", item)
            if array.dtype.kind not in "biuf":
                fail(
                    ArgumentTypeError,
                    f"{name}[{i}]",
                    "a real (bool, integer or float) array",
                    array,
                )
            arrays.append(array)
        n = len(arrays[0]) if arrays[0].ndim else 0
        if any(a.ndim == 0 or len(a) != n for a in arrays) or n == 0:
            raise ShapeError(
                f"every array in `{name}` must have the same, non-empty first axis; got shapes "
                f"{[a.shape for a in arrays]}."
            )
        return tuple(arrays)


def _learning_rate(config, step, total_steps):
    if config.schedule == "constant" or total_steps == 0:
        return config.lr
    return 0.5 * config.lr * (1.0 + math.cos(math.pi * min(step, total_steps) / total_steps))


def _show_progress(config):
    if config.progress is not None:
        return bool(config.progress)
    return sys.stderr.isatty()


@validate_params(
    objective=Callable(),
    data=_TrainingData(),
    config=Optional(InstanceOf((TrainConfig,), hint="Build one with TrainConfig(...).")),
    resume=InstanceOf((bool, np.bool_)),
    callbacks=_Callbacks(),
    grad_fn=Optional(Callable()),
)
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
        last), with a manifest holding its sha256 (:mod:`gaussclip.train.checkpoint`). If it
        exists, ``resume=True`` is required (nothing is overwritten silently).
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
    CheckpointError
        When ``resume=True`` meets a checkpoint that fails verification (corrupted, truncated,
        foreign, newer format); nothing from it is used and no step is taken.
    DestinationError
        When the checkpoint's folder is not writable (read-only, no permission, not a folder,
        disk full), before the first step.
    GaussclipError
        For bad arguments (see the constraint table ``fit.constraints`` and
        :data:`CONFIG_CONSTRAINTS`).

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
    keep_freed_memory()  # steps reuse freed arrays instead of page-faulting fresh ones
    n = len(data[0])
    if config.batch_size > n:
        raise ShapeError(
            f"`batch_size` ({config.batch_size}) exceeds the number of samples ({n}). "
            "Use a smaller batch_size."
        )
    if grad_fn is None:
        step_fn = leaf_value_and_grad(objective, params)
    else:

        def step_fn(leaves_, *batch):
            out = grad_fn(tree_unflatten(params, leaves_), *batch)
            if not (isinstance(out, tuple | list) and len(out) == 2):
                fail(ArgumentTypeError, "grad_fn", "a callable returning (value, grads)", out)
            grads = [g for _, g in tree_leaves(out[1])]
            if len(grads) != len(leaves_):
                raise ShapeError(
                    f"`grad_fn` returned {len(grads)} gradient arrays for {len(leaves_)} "
                    "parameter arrays; return a tree shaped like `params`."
                )
            return out[0], grads

    leaves = [(p, np.array(a, copy=True)) for p, a in tree_leaves(params)]
    for path, leaf in leaves:
        if not np.issubdtype(leaf.dtype, np.floating):
            raise ArgumentTypeError(
                f"parameter {path} must be a real float array; got dtype {leaf.dtype}."
            )
        if not np.all(np.isfinite(leaf)):
            raise DomainError(f"parameter {path} has NaN or inf entries; initialize it finite.")
    state = adam_.init(params)
    rng = np.random.default_rng(config.seed)
    history, start = [], 0
    path = None if checkpoint is None else Path(checkpoint)
    if path is not None:
        if path.exists() or path.is_symlink():
            if not resume:
                raise OptionError(
                    f"checkpoint {path} already exists; pass resume=True to continue that run, "
                    "or choose another checkpoint path."
                )
            meta, saved, state = ckpt.load(path)
            ckpt.check_resumable(path, meta, leaves, config)
            leaves = [(p, a) for (p, _), a in zip(leaves, saved, strict=True)]
            rng.bit_generator.state = meta["rng_state"]
            history, start = meta["history"], int(meta["epoch"])
        size = sum(3 * a.nbytes for _, a in leaves)
        check_writable(path.parent, need_bytes=size, what=f"the checkpoint {path.name}")

    steps = n // config.batch_size if config.drop_last else -(-n // config.batch_size)
    total_steps = steps * config.epochs
    arrays = [a for _, a in leaves]
    stopped = False
    with one_blas_thread():  # the same numbers with any number of threads (.threads)
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
                    value, grads = step_fn(arrays, *(d[idx] for d in data))
                    if not np.isfinite(value) or not all(np.isfinite(np.sum(g)) for g in grads):
                        raise _non_finite(value, epoch, step, steps, path, start)
                    lr = _learning_rate(config, state["step"], total_steps)
                    adam_.update_leaves(
                        arrays,
                        grads,
                        state,
                        lr=lr,
                        beta1=config.beta1,
                        beta2=config.beta2,
                        eps=config.eps,
                    )
                    total += float(value)
                    bar.update(1)
                record = {
                    "epoch": epoch,
                    "loss": total / max(steps, 1),
                    "lr": float(_learning_rate(config, state["step"], total_steps)),
                    "seconds": time.perf_counter() - tic,
                }
                stopped = _run_callbacks(callbacks, epoch, tree_unflatten(params, arrays), record)
                history.append(record)
                bar.set_postfix(epoch=epoch, loss=f"{record['loss']:.4g}")
                if path is not None and (
                    stopped or epoch % config.checkpoint_every == 0 or epoch == config.epochs
                ):
                    named = list(zip([p for p, _ in leaves], arrays, strict=True))
                    ckpt.save(path, named, state, epoch, rng, config, history)
                    start = epoch
                if stopped:
                    break
        finally:
            bar.close()
    done = history[-1]["epoch"] if history else start
    return TrainResult(tree_unflatten(params, arrays), history, state, done, stopped)


def _non_finite(value, epoch, step, steps, path, start):
    what = "loss" if not np.isfinite(value) else "gradient"
    kept = (
        f"the last good checkpoint {path} (epoch {start}) is kept"
        if path is not None and path.exists()
        else "no checkpoint was written"
    )
    return NonFiniteError(
        f"non-finite {what} (loss = {float(value)}) at epoch {epoch}, step {step + 1} of "
        f"{steps}; {kept}. Lower `lr`, check the data for NaN/inf, or use a larger temperature."
    )


def _run_callbacks(callbacks, epoch, params, record):
    """Call each callback; True when one raised :class:`StopTraining`."""
    try:
        for callback in callbacks:
            extra = callback(epoch, params, record)
            if extra:
                record.update(extra)
    except StopTraining:
        return True
    return False
