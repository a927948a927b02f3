"""gaussclip: exact and fast mathematics of contrastive learning (CLIP).

Implements "A Mathematical Perspective On Contrastive Learning" (Baptista, Stuart, Tran,
arXiv:2505.24134): the exact linear-Gaussian engine (:func:`minimize`, :func:`population_loss`,
:func:`tilted`), a symbolic checker (``gaussclip verify``), an autograd trainer, and the paper's
figures.
"""

import importlib

from .canonical import Canonical
from .errors import (
    ArgumentTypeError,
    ConvergenceWarning,
    CovarianceError,
    DomainError,
    GaussclipError,
    OptionError,
    RankError,
    ShapeError,
)
from .gaussian import Gaussian, JointGaussian, kl_divergence
from .linalg import SPD, h, low_rank
from .minimizers import PairParameters, Solution, minimize
from .objectives import Estimate, population_loss
from .tilting import encoder_products, tilted, tilted_conditional

__version__ = "0.1.0"

# Submodules and functions that pull in more (autograd models, SymPy, data sets) load on first
# use, so `import gaussclip` stays fast.
_LAZY_MODULES = {
    "retrieval",
    "losses",
    "similarity",
    "nn",
    "train",
    "data",
    "symbolic",
    "cosine",
    "closed_forms",
    "numerical",
}
_LAZY_ATTRIBUTES = {"fit_linear_encoders": "train"}


def __getattr__(name):
    if name in _LAZY_MODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _LAZY_ATTRIBUTES:
        return getattr(importlib.import_module(f".{_LAZY_ATTRIBUTES[name]}", __name__), name)
    raise AttributeError(f"module 'gaussclip' has no attribute {name!r}")


__all__ = [
    "SPD",
    "ArgumentTypeError",
    "Canonical",
    "ConvergenceWarning",
    "CovarianceError",
    "DomainError",
    "Estimate",
    "GaussclipError",
    "Gaussian",
    "JointGaussian",
    "OptionError",
    "PairParameters",
    "RankError",
    "ShapeError",
    "Solution",
    "encoder_products",
    "h",
    "kl_divergence",
    "low_rank",
    "minimize",
    "population_loss",
    "tilted",
    "tilted_conditional",
]
