"""Training on samples, in rooms with one job each.

=========================================  ================================================
module                                     job
=========================================  ================================================
:mod:`gaussclip.train.loop`                :func:`fit` (the loop), :class:`TrainConfig`,
                                           :class:`TrainResult`, :class:`NonFiniteError`,
                                           :class:`StopTraining`
:mod:`gaussclip.train.adam`                Adam as ``init`` / ``update`` on parameter trees
:mod:`gaussclip.train.backward`            the per-leaf backward pass (the only user of
                                           autograd internals)
:mod:`gaussclip.train.checkpoint`          checkpoint format, save, verify (sha256 manifest),
                                           load
:mod:`gaussclip.train.trees`               flattening parameter trees
:mod:`gaussclip.train.allocator`           keeping freed memory for the next step (glibc)
:mod:`gaussclip.train.linear_encoders`     :func:`fit_linear_encoders` (Sections 5, 6.1)
=========================================  ================================================

Everything public is re-exported here: ``gaussclip.train.fit``, ``gaussclip.train.TrainConfig``
and the rest keep their names.
"""

from ..errors import CheckpointError, DestinationError
from .backward import leaf_value_and_grad
from .checkpoint import CHECKPOINT_FORMAT
from .linear_encoders import LinearEncoders, fit_linear_encoders
from .loop import (
    SCHEDULES,
    NonFiniteError,
    StopTraining,
    TrainConfig,
    TrainResult,
    fit,
    load_checkpoint,
)
from .trees import tree_leaves, tree_unflatten

__all__ = [
    "CHECKPOINT_FORMAT",
    "SCHEDULES",
    "CheckpointError",
    "DestinationError",
    "LinearEncoders",
    "NonFiniteError",
    "StopTraining",
    "TrainConfig",
    "TrainResult",
    "fit",
    "fit_linear_encoders",
    "leaf_value_and_grad",
    "load_checkpoint",
    "tree_leaves",
    "tree_unflatten",
]
