"""Input checks used once, at the public edge of each function ("checked wrapper, unchecked
kernel"). Each raises a :mod:`gaussclip.errors` error whose message names the argument."""

import numbers

import numpy as np

from .errors import OptionError, RankError, ShapeError


def _describe(x):
    x = np.asarray(x)
    return f"an array of shape {x.shape} and dtype {x.dtype}"


def finite_array(value, name, *, ndim=None, shape=None):
    """Return ``value`` as a float64 array after checking dimensions, shape and finiteness.

    ``shape`` may hold ``None`` for a free axis.
    """
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ShapeError(
            f"`{name}` must be a real array; got {type(value).__name__} ({exc})."
        ) from None
    if ndim is not None and array.ndim != ndim:
        raise ShapeError(f"`{name}` must have {ndim} dimension(s); got {_describe(array)}.")
    if shape is not None:
        if array.ndim != len(shape) or any(
            want is not None and want != got for want, got in zip(shape, array.shape, strict=True)
        ):
            expected = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
            raise ShapeError(f"`{name}` must have shape {expected}; got {_describe(array)}.")
    if not np.all(np.isfinite(array)):
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        raise ShapeError(
            f"`{name}` must be finite; got {bad} NaN/inf entr{'y' if bad == 1 else 'ies'}."
        )
    return array


def square_matrix(value, name):
    """A finite float64 square matrix."""
    array = finite_array(value, name, ndim=2)
    if array.shape[0] != array.shape[1] or array.shape[0] == 0:
        raise ShapeError(f"`{name}` must be a non-empty square matrix; got {_describe(array)}.")
    return array


def choice(value, name, options):
    """Check that ``value`` is one of ``options`` (strings)."""
    if value not in options:
        listed = ", ".join(repr(o) for o in options)
        raise OptionError(f"`{name}` must be one of {listed}; got {value!r}.")
    return value


def integer(value, name, low, high, hint=""):
    """An ``int`` in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise RankError(f"`{name}` must be an integer in [{low}, {high}]; got {value!r}.")
    if not low <= value <= high:
        raise RankError(f"`{name}` must be in [{low}, {high}]{hint}; got {value}.")
    return int(value)


def weights_pair(weights, name="weights"):
    """``(lambda_u, lambda_v)``: two finite non-negative numbers, not both zero."""
    try:
        lam = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError):
        raise OptionError(
            f"`{name}` must be a pair (lambda_u, lambda_v) of non-negative numbers; "
            f"got {weights!r}."
        ) from None
    if lam.shape != (2,) or not np.all(np.isfinite(lam)):
        raise OptionError(
            f"`{name}` must be a pair (lambda_u, lambda_v) of finite numbers; got {weights!r}."
        )
    if np.any(lam < 0) or not np.any(lam > 0):
        raise OptionError(
            f"`{name}` must be non-negative and not both zero (e.g. (1, 1) for CLIP, (2, 0) to "
            f"match u|v only); got {tuple(lam.tolist())}."
        )
    return float(lam[0]), float(lam[1])


def generator(rng, name="rng"):
    """A :class:`numpy.random.Generator`; global random state is never used."""
    if not isinstance(rng, np.random.Generator):
        raise OptionError(
            f"`{name}` must be a numpy.random.Generator (e.g. np.random.default_rng(0)); "
            f"got {type(rng).__name__}."
        )
    return rng
