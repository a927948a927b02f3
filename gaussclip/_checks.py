"""Single-value checks for the places a constraint table does not fit (a dataclass's
``__post_init__``, a value derived inside a function). Each is a thin call of a constraint of
:mod:`gaussclip._validation`, so every check in the package raises the same error classes with the
same messages."""

import numpy as np

from ._validation import Array, Choice, Constraint, InstanceOf, Integer, fail
from .errors import DomainError, OptionError, ShapeError


def finite_array(value, name, *, ndim=None, shape=None):
    """``value`` as a finite float64 array; ``shape`` may hold ``None`` for a free axis."""
    return Array(ndim=ndim, shape=shape, nonempty=False)(value, name)


def square_matrix(value, name):
    """A finite, non-empty float64 square matrix."""
    array = Array(ndim=2)(value, name)
    if array.shape[0] != array.shape[1]:
        fail(ShapeError, name, "a non-empty square matrix", array)
    return array


def choice(value, name, options):
    """``value`` if it is one of ``options``."""
    return Choice(tuple(options))(value, name)


def integer(value, name, low, high, hint="", error=DomainError, fix=""):
    """An ``int`` in ``[low, high]``; ``error`` is raised when out of range (pass
    :class:`~gaussclip.errors.RankError` for ranks and block sizes). ``hint`` says what the range
    depends on ("for a 3x3 `cov`"), ``fix`` what to do."""
    return Integer(low, high, error=error, context=hint.strip(), hint=fix)(value, name)


def plain_pair(weights):
    """``weights`` itself when it is a tuple of two finite non-negative Python floats, not both
    zero (the common, already valid case, checked without NumPy); otherwise ``None``."""
    if type(weights) is tuple and len(weights) == 2:
        a, b = weights
        if (
            type(a) is float
            and type(b) is float
            and 0.0 <= a < _INF
            and 0.0 <= b < _INF
            and (a > 0.0 or b > 0.0)
        ):
            return weights
    return None


_INF = float("inf")


def weights_pair(weights, name="weights"):
    """``(lambda_u, lambda_v)``: two finite non-negative numbers, not both zero."""
    plain = plain_pair(weights)
    if plain is not None:
        return plain
    expected = "a pair (lambda_u, lambda_v) of finite non-negative numbers, not both zero"
    if isinstance(weights, str | bytes) or weights is None:
        fail(OptionError, name, expected, weights, "E.g. (1, 1) for CLIP, (2, 0) for u|v only.")
    try:
        lam = np.asarray(weights)
    except (TypeError, ValueError):
        fail(OptionError, name, expected, weights)
    if lam.shape != (2,) or lam.dtype.kind not in "iuf" or not np.isfinite(lam).all():
        fail(OptionError, name, expected, weights, "E.g. (1, 1) for CLIP, (2, 0) for u|v only.")
    lam = lam.astype(np.float64)
    if (lam < 0).any() or not (lam > 0).any():
        fail(OptionError, name, expected, tuple(lam.tolist()), "E.g. (1, 1) for CLIP.")
    return float(lam[0]), float(lam[1])


class WeightsPair(Constraint):
    """The constraint form of :func:`weights_pair`, for ``validate_params`` tables."""

    def describe(self):
        return "a pair (lambda_u, lambda_v) of finite non-negative numbers, not both zero"

    def __call__(self, value, name):
        return weights_pair(value, name)


def generator(rng, name="rng"):
    """A :class:`numpy.random.Generator`; global random state is never used."""
    return InstanceOf((np.random.Generator,), hint="Pass e.g. np.random.default_rng(0).")(rng, name)
