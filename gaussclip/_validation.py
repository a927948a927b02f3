"""Declarative argument validation: one table of constraints per public function.

A public function states what each argument must be, once, as a table::

    @validate_params(
        temperature=Real(low=0.0, low_open=True),
        ks=IntegerTuple(low=1),
        rng=Seed(),
    )
    def recall_at_k(z_u, z_v, ks=(1, 5, 10), *, temperature=1.0, rng=None): ...

At call time the decorator binds the arguments, checks each one against its constraint and passes
the *converted* value on (a float, an int, a float64 array, a ``numpy.random.Generator``), so the
body works with clean values and never re-checks. Every constraint raises the
:class:`~gaussclip.errors.GaussclipError` subclass that matches the fault:

=====================  ==========================================================================
fault                  error
=====================  ==========================================================================
wrong kind of value    :class:`~gaussclip.errors.ArgumentTypeError` (a string, ``None``, a bool
                       where a number is expected, a complex array where a real one is)
wrong shape or empty   :class:`~gaussclip.errors.ShapeError`
NaN / inf, or outside  :class:`~gaussclip.errors.DomainError` (a negative temperature, a weight
the domain             of -1, a value that overflows float64)
unknown option         :class:`~gaussclip.errors.OptionError`
rank / size too large  :class:`~gaussclip.errors.RankError` (only for embedding ranks and block
                       sizes: pass ``error=RankError``)
=====================  ==========================================================================

and the message names the argument, what was expected and what was received (scikit-learn's
``_param_validation`` follows the same idea). The table is kept on the wrapped function as
``fn.constraints`` so tests and documentation can read it.
"""

import functools
import inspect
import numbers
import sys
from dataclasses import dataclass

import numpy as np

from .errors import ArgumentTypeError, DomainError, OptionError, ShapeError

__all__ = [
    "AnyOf",
    "Array",
    "Callable",
    "Choice",
    "Constraint",
    "FloatDtype",
    "InstanceOf",
    "Integer",
    "IntegerArray",
    "IntegerTuple",
    "Optional",
    "Real",
    "RealArray",
    "Seed",
    "Traceable",
    "check",
    "validate_params",
]


def received(value):
    """A short description of ``value`` for an error message."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, bool | numbers.Number | str) or value is None:
        return f"{value!r} ({type(value).__name__})"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def fail(error, name, expected, value, hint=""):
    """Raise ``error`` with the standard message: argument, expectation, what came, the fix."""
    message = f"`{name}` must be {expected}; got {received(value)}."
    if hint:
        message += f" {hint}"
    raise error(message)


class Constraint:
    """Base class: ``constraint(value, name)`` returns the converted value or raises."""

    def __call__(self, value, name):  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self):
        """What a valid value is, as the phrase after "must be"."""
        raise NotImplementedError


def _bound_text(low, high, low_open=False, high_open=False):
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f"{'<' if high_open else '<='} {high:g}"
    return ""


@dataclass(frozen=True)
class Real(Constraint):
    """A finite real number (not a bool, not complex) in an interval; returns ``float``."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    hint: str = ""

    def describe(self):
        bounds = _bound_text(self.low, self.high, self.low_open, self.high_open)
        return "a finite real number" + (f" {bounds}" if bounds else "")

    def __call__(self, value, name):
        if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
            if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf":
                value = value.item()
            else:
                fail(ArgumentTypeError, name, self.describe(), value, self.hint)
        number = float(value)
        if not np.isfinite(number):
            fail(DomainError, name, self.describe(), value, self.hint)
        below = self.low is not None and (
            number <= self.low if self.low_open else number < self.low
        )
        above = self.high is not None and (
            number >= self.high if self.high_open else number > self.high
        )
        if below or above:
            fail(DomainError, name, self.describe(), value, self.hint)
        return number


@dataclass(frozen=True)
class Integer(Constraint):
    """An integer (Python or NumPy, not a bool, not a float) in ``[low, high]``; returns ``int``.

    ``error`` is the class raised when the value is out of range: :class:`DomainError` by default,
    :class:`~gaussclip.errors.RankError` for embedding ranks and block sizes.
    """

    low: int | None = None
    high: int | None = None
    error: type = DomainError
    context: str = ""
    hint: str = ""

    def describe(self):
        bounds = _bound_text(self.low, self.high)
        text = "an integer" + (f" {bounds}" if bounds else "")
        return f"{text} {self.context}" if self.context else text

    def __call__(self, value, name):
        if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
            fail(ArgumentTypeError, name, self.describe(), value, self.hint)
        number = int(value)
        if (self.low is not None and number < self.low) or (
            self.high is not None and number > self.high
        ):
            fail(self.error, name, self.describe(), value, self.hint)
        return number


@dataclass(frozen=True)
class IntegerTuple(Constraint):
    """A non-empty sequence of integers in ``[low, high]``; returns a ``tuple`` of ``int``."""

    low: int | None = None
    high: int | None = None

    def describe(self):
        bounds = _bound_text(self.low, self.high)
        return "a non-empty sequence of integers" + (f" {bounds}" if bounds else "")

    def __call__(self, value, name):
        if isinstance(value, str | bytes) or not hasattr(value, "__iter__"):
            fail(ArgumentTypeError, name, self.describe(), value)
        items = tuple(value)
        if not items:
            fail(ShapeError, name, self.describe(), value)
        element = Integer(self.low, self.high)
        return tuple(element(item, f"{name}[{i}]") for i, item in enumerate(items))


@dataclass(frozen=True)
class Choice(Constraint):
    """One of a fixed set of options (compared with ``==``); returns the value."""

    options: tuple

    def describe(self):
        return "one of " + ", ".join(repr(o) for o in self.options)

    def __call__(self, value, name):
        try:
            known = bool(value in self.options)
        except (TypeError, ValueError):  # unhashable, incomparable or array values: not options
            known = False
        if not known:
            fail(OptionError, name, self.describe(), value)
        return value


@dataclass(frozen=True)
class InstanceOf(Constraint):
    """An instance of one of ``types``; returns the value."""

    types: tuple
    hint: str = ""

    def describe(self):
        names = " or ".join(t.__name__ for t in self.types)
        return f"a {names}"

    def __call__(self, value, name):
        if not isinstance(value, self.types):
            fail(ArgumentTypeError, name, self.describe(), value, self.hint)
        return value


@dataclass(frozen=True)
class Optional(Constraint):
    """``None`` or a value satisfying ``inner``."""

    inner: Constraint

    def describe(self):
        return f"None or {self.inner.describe()}"

    def __call__(self, value, name):
        return None if value is None else self.inner(value, name)


@dataclass(frozen=True)
class AnyOf(Constraint):
    """The first of ``constraints`` that accepts the value. When none does, a value of a kind some
    constraint knows gets that constraint's error (a number out of range says so); otherwise an
    :class:`~gaussclip.errors.ArgumentTypeError` lists every kind accepted."""

    constraints: tuple

    def describe(self):
        return " or ".join(c.describe() for c in self.constraints)

    def __call__(self, value, name):
        specific = None
        for constraint in self.constraints:
            try:
                return constraint(value, name)
            except ArgumentTypeError:
                continue
            except DomainError as exc:
                specific = specific or exc
            except (ShapeError, OptionError) as exc:
                specific = specific or exc
        if specific is not None:
            raise specific
        fail(ArgumentTypeError, name, self.describe(), value)


_REAL_KINDS = "biuf"


@dataclass(frozen=True)
class Array(Constraint):
    """A real, finite array converted to float64.

    Parameters
    ----------
    ndim : int, optional
        Required number of dimensions.
    shape : tuple, optional
        Required shape; ``None`` entries are free axes.
    nonempty : bool
        Refuse arrays with no entries.
    finite : bool
        Refuse NaN and inf entries.
    max_abs : float, optional
        Refuse entries larger than this in absolute value (e.g. to keep products from overflowing).
    """

    ndim: int | None = None
    shape: tuple | None = None
    nonempty: bool = True
    finite: bool = True
    max_abs: float | None = None
    hint: str = ""

    def describe(self):
        what = "a real array"
        if self.shape is not None:
            what += " of shape (" + ", ".join("any" if s is None else str(s) for s in self.shape)
            what += ",)" if len(self.shape) == 1 else ")"
        elif self.ndim is not None:
            what += f" with {self.ndim} dimension{'s' if self.ndim != 1 else ''}"
        return what

    def __call__(self, value, name):
        if value is None or isinstance(value, str | bytes):
            fail(ArgumentTypeError, name, self.describe(), value, self.hint)
        try:
            raw = np.asarray(value)
        except (TypeError, ValueError):  # ragged nested sequences
            fail(ShapeError, name, self.describe() + " (not ragged)", value, self.hint)
        if raw.dtype.kind == "c":
            fail(
                ArgumentTypeError,
                name,
                self.describe(),
                raw,
                "Complex values are not supported: pass the real part explicitly if that is "
                "what you mean.",
            )
        if raw.dtype.kind not in _REAL_KINDS:
            try:
                raw = raw.astype(np.float64)
            except (TypeError, ValueError):
                fail(ArgumentTypeError, name, self.describe(), raw, self.hint)
        array = np.asarray(raw, dtype=np.float64)
        if self.ndim is not None and array.ndim != self.ndim:
            fail(ShapeError, name, self.describe(), array, self.hint)
        if self.shape is not None and (
            array.ndim != len(self.shape)
            or any(w is not None and w != g for w, g in zip(self.shape, array.shape, strict=True))
        ):
            fail(ShapeError, name, self.describe(), array, self.hint)
        if self.nonempty and array.size == 0:
            fail(ShapeError, name, self.describe() + " with at least one entry", array, self.hint)
        if self.finite and not np.isfinite(array).all():
            bad = int(array.size - np.count_nonzero(np.isfinite(array)))
            fail(
                DomainError,
                name,
                self.describe() + " with finite entries",
                array,
                f"It has {bad} NaN/inf entr{'y' if bad == 1 else 'ies'}.",
            )
        if self.max_abs is not None and array.size and np.max(np.abs(array)) > self.max_abs:
            fail(
                DomainError,
                name,
                self.describe() + f" with entries of magnitude <= {self.max_abs:g}",
                array,
                self.hint or "Rescale it.",
            )
        return array


@dataclass(frozen=True)
class Seed(Constraint):
    """A :class:`numpy.random.Generator`, or a non-negative integer seed for one; returns a
    ``Generator``. With ``allow_none=True``, ``None`` passes through unchanged (the function then
    documents what it does without a seed)."""

    allow_none: bool = False

    def describe(self):
        text = "a numpy.random.Generator or an integer seed >= 0"
        return ("None or " + text) if self.allow_none else text

    def __call__(self, value, name):
        if value is None and self.allow_none:
            return None
        if isinstance(value, np.random.Generator):
            return value
        if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
            fail(ArgumentTypeError, name, self.describe(), value, "e.g. np.random.default_rng(0).")
        if value < 0:
            fail(DomainError, name, self.describe(), value)
        return np.random.default_rng(int(value))


def check(value, name, constraint):
    """Check one value against one constraint (for the few places a decorator does not fit)."""
    return constraint(value, name)


def validate_params(table=None, /, **constraints):
    """Decorate a function with its table of parameter constraints.

    Parameters
    ----------
    table : dict, optional
        ``{parameter name: Constraint}``; keyword arguments are merged into it.

    Returns
    -------
    decorator
        The wrapped function checks and converts its arguments, then calls the original with the
        converted values. ``wrapped.constraints`` is the table.
    """
    table = dict(table or {}, **constraints)

    def decorate(function):
        signature = inspect.signature(function)
        unknown = set(table) - set(signature.parameters)
        if unknown:
            raise TypeError(f"{function.__qualname__} has no parameters {sorted(unknown)}")
        plan = _BindingPlan.of(signature)
        defaults = {name: signature.parameters[name].default for name in table}
        converted = _converted_defaults(table, defaults)

        def checked(arguments):
            for name, constraint in table.items():
                if name in arguments:
                    arguments[name] = constraint(arguments[name], name)
                elif name in converted:
                    arguments[name] = converted[name]
                else:
                    default = defaults[name]
                    if default is not inspect.Parameter.empty:
                        arguments[name] = constraint(default, name)
            return arguments

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            arguments = plan.bind(args, kwargs)
            if arguments is not None:  # the fast path: every argument passed by keyword
                return function(**checked(arguments))
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError as exc:
                raise ArgumentTypeError(f"{function.__qualname__}(): {exc}") from None
            checked(bound.arguments)
            return function(*bound.args, **bound.kwargs)

        wrapper.constraints = table
        return wrapper

    return decorate


def _immutable(value):
    """True for values no caller can change: None, numbers, strings and tuples of them."""
    if value is None or type(value) in (bool, int, float, str):
        return True
    return type(value) is tuple and all(_immutable(v) for v in value)


def _converted_defaults(table, defaults):
    """The defaults that their constraints accept, converted once at decoration time, for those
    whose converted value is immutable (so sharing it between calls is safe): constraints are
    pure functions of the value. Others (no default, a mutable result such as a fresh array or
    generator, or a default the constraint refuses) are still checked on every call."""
    out = {}
    for name, constraint in table.items():
        default = defaults[name]
        if default is inspect.Parameter.empty or not _immutable(default):
            continue
        try:
            value = constraint(default, name)
        except Exception:  # a refused default is checked (and refused) on every call
            continue
        if _immutable(value):
            out[name] = value
    return out


@dataclass(frozen=True)
class _BindingPlan:
    """What :meth:`inspect.Signature.bind` would do, precomputed once per function for the common
    signature (no positional-only parameters, no ``*args``, no ``**kwargs``): the names that may
    come by position, every name, and the names without a default.

    :meth:`bind` maps a call to ``{name: value}`` (every argument by keyword, which such a
    signature accepts) or returns ``None`` when the call is not a plain valid one (too many
    positional arguments, an unknown or repeated keyword, a missing required argument) or the
    signature is not of the common kind; the caller then falls back to ``Signature.bind``, which
    raises the same ``TypeError`` as before (or binds the unusual signature)."""

    simple: bool
    positional: tuple
    names: frozenset
    required: tuple

    @classmethod
    def of(cls, signature):
        kinds = inspect.Parameter
        params = tuple(signature.parameters.values())
        return cls(
            simple=all(p.kind in (kinds.POSITIONAL_OR_KEYWORD, kinds.KEYWORD_ONLY) for p in params),
            positional=tuple(p.name for p in params if p.kind == kinds.POSITIONAL_OR_KEYWORD),
            names=frozenset(p.name for p in params),
            required=tuple(p.name for p in params if p.default is inspect.Parameter.empty),
        )

    def bind(self, args, kwargs):
        if not self.simple or len(args) > len(self.positional):
            return None
        arguments = dict(zip(self.positional, args, strict=False))  # args may be fewer
        for name, value in kwargs.items():
            if name not in self.names or name in arguments:
                return None
            arguments[name] = value
        for name in self.required:
            if name not in arguments:
                return None
        return arguments


# --- the learning half: values that may be traced by autograd ----------------------------------
def _traced_value(value):
    """The plain value inside an autograd box (through nested boxes), or ``None`` when ``value``
    is not a box. autograd is looked up only if it is already imported: otherwise nothing can be
    a box, and the exact engine never imports it."""
    tracer = sys.modules.get("autograd.tracer")
    if tracer is None or not tracer.isbox(value):
        return None
    return tracer.getval(value)


@dataclass(frozen=True)
class Traceable(Constraint):
    """``inner`` for plain values; an autograd box (a value being differentiated, e.g. a learned
    temperature) passes through unchanged, so gradients keep flowing."""

    inner: Constraint

    def describe(self):
        return self.inner.describe()

    def __call__(self, value, name):
        if _traced_value(value) is not None:
            return value
        return self.inner(value, name)


@dataclass(frozen=True)
class RealArray(Constraint):
    """A real array that keeps its floating dtype (float32 stays float32) and may be traced.

    Lists, integer and bool arrays become float64; complex, string and object values are
    refused. An autograd box is checked through its value (dimensions, emptiness, dtype) and
    passed on unchanged, so differentiation is not disturbed; non-finite entries are refused in
    plain arrays only when ``finite`` (inside training the trainer's NaN guard watches traced
    values).
    """

    ndim: int | None = None
    nonempty: bool = True
    finite: bool = True
    min_ndim: int = 0

    def describe(self):
        what = "a real array"
        if self.ndim is not None:
            what += f" with {self.ndim} dimension{'s' if self.ndim != 1 else ''}"
        elif self.min_ndim:
            what += f" with at least {self.min_ndim} dimensions"
        return what

    def __call__(self, value, name):
        inner = _traced_value(value)
        traced = inner is not None
        if value is None or isinstance(value, str | bytes):
            fail(ArgumentTypeError, name, self.describe(), value)
        try:
            raw = np.asarray(inner if traced else value)
        except (TypeError, ValueError):
            fail(ShapeError, name, self.describe() + " (not ragged)", value)
        if raw.dtype.kind not in _REAL_KINDS:
            hint = "Complex values are not supported." if raw.dtype.kind == "c" else ""
            fail(ArgumentTypeError, name, self.describe(), raw, hint)
        if (self.ndim is not None and raw.ndim != self.ndim) or raw.ndim < self.min_ndim:
            fail(ShapeError, name, self.describe(), raw)
        if self.nonempty and raw.size == 0:
            fail(ShapeError, name, self.describe() + " with at least one entry", raw)
        if traced:
            return value
        array = raw if raw.dtype.kind == "f" else raw.astype(np.float64)
        if self.finite and not np.isfinite(array).all():
            fail(DomainError, name, self.describe() + " with finite entries", array)
        return array


@dataclass(frozen=True)
class IntegerArray(Constraint):
    """An array of integers (an integer dtype, or floats with integral values; not bool) with
    entries >= ``low``; returns an ``int64`` array. Upper bounds that depend on another argument
    (a number of classes) are checked by the function."""

    ndim: int | None = 1
    low: int | None = 0
    nonempty: bool = True

    def describe(self):
        what = "an array of integers" + (f" >= {self.low}" if self.low is not None else "")
        return what + (f" with {self.ndim} dimension(s)" if self.ndim is not None else "")

    def __call__(self, value, name):
        if value is None or isinstance(value, str | bytes) or _traced_value(value) is not None:
            fail(ArgumentTypeError, name, self.describe(), value)
        try:
            raw = np.asarray(value)
        except (TypeError, ValueError):
            fail(ShapeError, name, self.describe() + " (not ragged)", value)
        if raw.dtype.kind in "iu":
            array = raw.astype(np.int64)
        elif raw.dtype.kind == "f" and np.isfinite(raw).all() and np.all(raw == np.round(raw)):
            array = raw.astype(np.int64)
        else:
            fail(ArgumentTypeError, name, self.describe(), raw)
        if self.ndim is not None and array.ndim != self.ndim:
            fail(ShapeError, name, self.describe(), array)
        if self.nonempty and array.size == 0:
            fail(ShapeError, name, self.describe() + " with at least one entry", array)
        if self.low is not None and array.size and array.min() < self.low:
            fail(DomainError, name, self.describe(), array, f"Its smallest entry is {array.min()}.")
        return array


@dataclass(frozen=True)
class Callable(Constraint):
    """A callable (an encoder, an objective, a kernel); returns the value."""

    hint: str = ""

    def describe(self):
        return "a callable"

    def __call__(self, value, name):
        if not callable(value):
            fail(ArgumentTypeError, name, self.describe(), value, self.hint)
        return value


@dataclass(frozen=True)
class FloatDtype(Constraint):
    """``numpy.float32`` or ``numpy.float64`` (anything ``numpy.dtype`` maps to them); returns
    the ``numpy.dtype``."""

    def describe(self):
        return "numpy.float32 or numpy.float64"

    def __call__(self, value, name):
        try:
            dtype = np.dtype(value)
        except TypeError:
            fail(OptionError, name, self.describe(), value)
        if dtype not in (np.float32, np.float64):
            fail(OptionError, name, self.describe(), value)
        return dtype
