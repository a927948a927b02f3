"""The registry of symbolic checks and the small SymPy toolkit they share.

A check is a function ``check(twin)`` that derives a result of the paper with SymPy and raises
:class:`CheckFailed` when the derivation disagrees with the statement. Called with
``twin=True`` it runs the same derivation against a deliberately wrong variant of the statement
(a dropped factor, a transposed block, h replaced by sigma, the paper's misprint, ...), which
must be rejected: a check whose twin passes proves nothing.
"""

import time
from dataclasses import dataclass

import sympy as sp

#: How each check argues, from strongest to weakest (the issue's order).
MATRIX_EXPRESSION = "matrix-expression"  # SymPy MatrixSymbol algebra, any dimension
SMALL_MATRIX = "symbolic 2x2 blocks"  # every entry a symbol (n_u = n_v = 2)
WHITENED = "symbolic whitened pair"  # one canonical pair, sigma a symbol (Section 5 reduction)
SCALAR = "symbolic scalar model"  # n_u = n_v = 1 with symbolic variances and covariance
FINITE = "symbolic finite sample"  # a batch or a finite space with symbolic entries
INTEGRAL = "1-D symbolic integral"  # SymPy integrates the defining integral


class CheckFailed(AssertionError):
    """A derivation disagrees with the statement it checks."""


@dataclass(frozen=True)
class Check:
    """One registered result: ``id`` (e.g. ``"thm-5.1"``), ``statement`` in words, ``method``,
    ``twin`` (what the negative twin changes) and the function ``run(twin)``."""

    id: str
    statement: str
    method: str
    twin: str
    run: object


@dataclass(frozen=True)
class Result:
    """Outcome of one check: ``status`` is ``"ok"`` or ``"fail"`` (``detail`` says why)."""

    id: str
    statement: str
    method: str
    status: str
    seconds: float
    detail: str = ""

    def as_dict(self):
        return {
            "id": self.id,
            "statement": self.statement,
            "method": self.method,
            "status": self.status,
            "seconds": round(self.seconds, 3),
            "detail": self.detail,
        }


REGISTRY = {}


def register(check_id, statement, method, twin):
    """Decorator adding ``run(twin)`` to :data:`REGISTRY` under ``check_id``."""

    def add(run):
        if check_id in REGISTRY:
            raise ValueError(f"duplicate symbolic check id {check_id!r}")
        REGISTRY[check_id] = Check(check_id, statement, method, twin, run)
        return run

    return add


def execute(check, twin=False):
    """Run one check (or its twin); a :class:`Result` with ``"ok"`` when the derivation agrees."""
    start = time.perf_counter()
    try:
        check.run(twin)
    except CheckFailed as exc:
        status, detail = "fail", str(exc)
    else:
        status, detail = "ok", ""
    return Result(
        check.id, check.statement, check.method, status, time.perf_counter() - start, detail
    )


# --------------------------------------------------------------------------- assertions
def require(condition, message):
    """Raise :class:`CheckFailed` with ``message`` unless ``condition`` is true."""
    if not bool(condition):
        raise CheckFailed(message)


def is_zero(expr):
    """True when a scalar or matrix expression simplifies to zero."""
    if isinstance(expr, sp.MatrixBase):
        return all(is_zero(entry) for entry in expr)
    if isinstance(expr, sp.MatrixExpr):  # MatrixSymbol algebra, any dimension
        return bool(sp.simplify(expr).is_ZeroMatrix)
    expr = sp.sympify(expr)
    if expr == 0:
        return True
    if _nonzero_at_a_point(expr):
        return False
    if expr.has(sp.log):
        expr = expand_logs(expr)
    # together + cancel decides rational expressions quickly (expanding first can be 100x
    # slower); simplify is the fallback for roots and logarithms
    reduced = sp.cancel(sp.together(expr))
    if reduced.has(sp.I):
        # every quantity compared here is real; splitting log(x y) into log x + log y with
        # force=True may leave branch multiples of i pi behind (log(-1)), so keep the real part
        reduced = sp.cancel(sp.together(sp.re(reduced)))
    if reduced == 0:
        return True
    if reduced.is_rational_function():
        return False  # cancel gives a canonical fraction: a nonzero one is not zero
    return sp.simplify(reduced) == 0


#: Sample values of the free symbols for :func:`_nonzero_at_a_point`: small, unremarkable
#: rationals, positive so that every domain assumption of the checks (positive variances,
#: canonical correlations 1/(1 + w), ...) holds for the positive symbols.
_SAMPLE_VALUES = (sp.Rational(3, 7), sp.Rational(5, 11), sp.Rational(2, 13), sp.Rational(7, 17))
#: With 60 significant digits an exactly-zero expression evaluates to far below this.
_WITNESS_THRESHOLD = sp.Float("1e-40", 60)


def _nonzero_at_a_point(expr):
    """True when ``expr`` is provably not identically zero: its value at one rational point of
    its domain is nonzero (exactly, for rational functions; with 60-digit arithmetic and a
    threshold far above its rounding otherwise). Lets a negative twin fail in milliseconds
    instead of waiting for ``cancel`` on a large fraction; proves nothing when it returns False."""
    symbols = sorted(expr.free_symbols, key=str)
    point = {
        x: _SAMPLE_VALUES[i % len(_SAMPLE_VALUES)] / (1 + i // 4) for i, x in enumerate(symbols)
    }
    try:
        value = expr.xreplace(point)
        if not value.is_number:
            return False
        if value.is_Rational:
            return value != 0
        number = sp.N(value, 60)
    except (ZeroDivisionError, ValueError, TypeError):
        return False
    if not number.is_finite or not number.is_real:
        return False  # the point left the domain (a pole, a negative logarithm): no witness
    return abs(number) > _WITNESS_THRESHOLD


def expand_logs(expr):
    """Split every logarithm into logarithms of its factors, after reducing its argument to one
    factored fraction: with positive symbols ``log((w + 1)**2 / (w (w + 2)))`` becomes
    ``2 log(w + 1) - log(w) - log(w + 2)``, so that identities between logarithms reduce to
    rational cancellation. (Expanding an unfactored argument can split a positive ratio of two
    negative expressions into ``log(-x) - log(-y)`` and leave ``i pi`` terms behind.)"""
    factored = expr.replace(sp.log, lambda arg: sp.log(sp.factor(sp.cancel(sp.together(arg)))))
    return sp.expand_log(factored, force=True)


def require_equal(a, b, what):
    """Raise unless ``a - b`` simplifies to zero."""
    require(is_zero(a - b), f"{what} differ")


def require_positive(expr, what):
    """Raise unless ``expr`` is positive under the symbols' assumptions (SymPy's own sign
    reasoning, after simplification)."""
    expr = sp.sympify(expr)
    # a factored fraction usually shows its sign factor by factor; simplify is the slow fallback
    simplified = sp.factor(sp.cancel(sp.together(expr))) if expr.is_rational_function() else expr
    if simplified.is_positive is not True:
        simplified = sp.simplify(simplified)
    require(simplified.is_positive is True, f"{what} is not provably positive: {simplified}")


# --------------------------------------------------------------------------- building blocks
HALF = sp.Rational(1, 2)


def scalar_model():
    """Symbols of the scalar Gaussian model: variances ``cu, cv > 0`` and covariance ``c``."""
    cu, cv = sp.symbols("c_u c_v", positive=True)
    return cu, cv, sp.Symbol("c", real=True)


def h_definition(s):
    """h(sigma) of Definition 5.5, written as in the paper (checked by ``def-5.5``)."""
    return (HALF * sp.sqrt(1 + 4 * s**2) - HALF) / s


def log_mean_exp(values):
    """log(1/n sum_i exp(x_i)): the log-normalizer of a batch of n similarities."""
    return sp.log(sum(sp.exp(x) for x in values) / len(values))


def spd2(name):
    """A 2x2 symmetric matrix with symbolic entries ``[[a, b], [b, c]]`` (a, c > 0, real b)."""
    a, c = sp.symbols(f"{name}_11 {name}_22", positive=True)
    b = sp.Symbol(f"{name}_12", real=True)
    return sp.Matrix([[a, b], [b, c]])


def general2(name):
    """A 2x2 matrix with four independent real symbols."""
    return sp.Matrix(2, 2, lambda i, j: sp.Symbol(f"{name}_{i + 1}{j + 1}", real=True))


def gradient(expr, matrix):
    """d expr / d matrix, entry by entry (same shape as ``matrix``)."""
    return matrix.applyfunc(lambda entry: sp.diff(expr, entry))


def unit_interval(name="sigma"):
    """A symbol ``s`` in (0, 1) written as ``s = 1 / (1 + w)`` with ``w > 0``, so that SymPy's
    sign reasoning can see ``0 < s < 1``; returns ``(s_expr, w)``."""
    w = sp.Symbol(f"w_{name}", positive=True)
    return 1 / (1 + w), w


def gaussian_expectation(expr, variable, variance, mean=0):
    """E[expr] for ``variable ~ N(mean, variance)`` when ``expr`` is a polynomial in it (by
    the Gaussian moments; used to average conditional KL divergences over the data)."""
    centred = sp.Symbol("centred_variable", real=True)
    poly = sp.Poly(sp.expand(expr.subs(variable, mean + centred)), centred)
    total = 0
    for (power,), coefficient in poly.terms():
        if power % 2 == 0:
            total += coefficient * sp.factorial2(power - 1) * variance ** (power // 2)
    return total


def kl_gaussian(m1, c1, m2, c2):
    """KL(N(m1, c1) || N(m2, c2)) for sympy matrices, by the closed form of Lemma E.1 (checked
    against its defining integral by the check ``lem-E.1``)."""
    d = c1.shape[0]
    diff = m2 - m1
    c2_inv = c2.inv()
    return sp.Rational(1, 2) * (
        (c2_inv * c1).trace() - d + sp.log(c2.det() / c1.det()) + (diff.T * c2_inv * diff)[0, 0]
    )
