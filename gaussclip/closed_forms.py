r"""Closed-form minimizers, one canonical pair at a time.

Whiten and rotate to canonical coordinates :math:`a = X_u^\top(u - m_u)`,
:math:`b = X_v^\top(v - m_v)` (:meth:`gaussclip.JointGaussian.canonical`): the pairs
:math:`(a_i, b_i)` are independent, standard, with correlation :math:`\sigma_i`. Every loss of
Section 5 is invariant under this change of variables and has a minimizer that is *diagonal*
in it (``docs/derivations.md`` proves this with a convexity and sign-flip symmetry argument):

.. math::
    A = X_u \operatorname{diag}(\alpha) X_v^\top,\quad
    B = X_u \operatorname{diag}(\beta) X_u^\top,\quad
    C = X_v \operatorname{diag}(\gamma) X_v^\top ,

so each pair solves a problem in at most three numbers. Its model precision in canonical
coordinates is :math:`\begin{bmatrix}1+\beta & -\alpha\\ -\alpha & 1+\gamma\end{bmatrix}`.

=================================  =====================================================  =======
loss x tilting                      per-pair minimizer                                     source
=================================  =====================================================  =======
cond (any weights) x inner          :math:`\alpha = \sigma`                                Thm 5.1
joint x inner                       :math:`\alpha = h(\sigma)`                             Thm 5.6
cond (2, 0) x quadratic             :math:`\alpha = \frac{\sigma}{1-\sigma^2}`,
                                    :math:`\beta = \frac{\sigma^2}{1-\sigma^2}`            Thm 5.3
cond (0, 2) x quadratic             the mirror image (swap beta and gamma)                 Thm 5.3
cond (1, 1) x quadratic             :math:`\alpha=\beta=\gamma=
                                    \frac{\sigma(1+s)}{(3+s)(1-\sigma)}`,
                                    :math:`s = \sqrt{9 - 8\sigma}`                         new
cond (any other) x quadratic        :math:`\alpha^2 = \beta\gamma` on an explicit curve
                                    :math:`(\beta(z), \gamma(z))`; one scalar root
                                    :math:`\sigma(z) = \sigma` (bracketed)                 new
joint x quadratic                   :math:`\alpha=\beta=\gamma=
                                    \frac{\sigma}{2(1-\sigma)}`                            new
=================================  =====================================================  =======

A rank constraint ``rank = r`` keeps the r pairs with the largest :math:`\sigma` (every pair's
gain is increasing in :math:`\sigma`) and sets the others to zero.
"""

import math
from dataclasses import dataclass

import numpy as np

from .linalg import h

#: Closed forms exist for these (loss, tilting, weight pattern) triples; see :func:`pair_solution`.
CLOSED_FORMS = (
    ("cond", "inner", "any"),
    ("joint", "inner", "-"),
    ("cond", "quadratic", "u-only"),
    ("cond", "quadratic", "v-only"),
    ("cond", "quadratic", "equal"),
    ("cond", "quadratic", "other"),
    ("joint", "quadratic", "-"),
)
#: ``Solution.method`` of the closed forms that need the scalar root of
#: :func:`cond_quadratic_weighted` (every other closed form is explicit).
SCALAR_ROOT_METHOD = "closed-form (scalar root)"


def weight_pattern(loss, weights):
    """Classify ``(lambda_u, lambda_v)``: ``"equal"``, ``"u-only"`` (lambda_v = 0),
    ``"v-only"`` (lambda_u = 0) or ``"other"``; ``"-"`` for the joint loss. Scaling both
    weights scales the objective, so the minimizer depends only on the ratio
    ``lambda_u / (lambda_u + lambda_v)``: for the explicit closed forms only on the pattern, for
    ``"other"`` with the quadratic tilting on the ratio itself (:func:`cond_quadratic_weighted`)."""
    if loss == "joint":
        return "-"
    lam_u, lam_v = weights
    if lam_v == 0.0:
        return "u-only"
    if lam_u == 0.0:
        return "v-only"
    return "equal" if lam_u == lam_v else "other"


def has_closed_form(loss, tilting, weights):
    """True when :func:`pair_solution` covers the problem."""
    pattern = weight_pattern(loss, weights)
    return any(
        (loss, tilting) == (cl, ct) and cp in ("any", pattern) for cl, ct, cp in CLOSED_FORMS
    )


def closed_form_method(loss, tilting, weights):
    """``Solution.method`` of a closed form: ``"closed-form"`` when every pair is explicit,
    :data:`SCALAR_ROOT_METHOD` when each pair needs the bracketed root of
    :func:`cond_quadratic_weighted` (unequal two-sided weights with the quadratic tilting)."""
    if (loss, tilting, weight_pattern(loss, weights)) == ("cond", "quadratic", "other"):
        return SCALAR_ROOT_METHOD
    return "closed-form"


def cond_quadratic_two_sided(sigma):
    r"""The shared value :math:`x = \alpha = \beta = \gamma` for cond (1,1) x quadratic.

    Stationarity on the boundary :math:`\alpha^2 = \beta\gamma` gives
    :math:`y^2 + y = 2(1 - \sigma)` for :math:`y = 1/(1 + x)`, hence
    :math:`x = \sigma(1 + s)/((3 + s)(1 - \sigma))` with :math:`s = \sqrt{9 - 8\sigma}`
    (``docs/derivations.md``, Section 4; written without cancellation near sigma = 0).
    """
    sigma = np.asarray(sigma, dtype=np.float64)
    s = np.sqrt(9.0 - 8.0 * sigma)
    return sigma * (1.0 + s) / ((3.0 + s) * (1.0 - sigma))


def joint_quadratic(sigma):
    r""":math:`x = \alpha = \beta = \gamma = \sigma / (2(1 - \sigma))` for joint x quadratic.

    The learned precision adds :math:`\tfrac{\sigma}{1-\sigma}` along the difference direction
    :math:`(a - b)/\sqrt2`, whose variance :math:`1 - \sigma` it then matches exactly, and
    nothing along :math:`(a + b)/\sqrt2` (``docs/derivations.md``, Section 5).
    """
    sigma = np.asarray(sigma, dtype=np.float64)
    return sigma / (2.0 * (1.0 - sigma))


def one_sided_quadratic(sigma):
    r"""Theorem 5.3 per pair: :math:`\alpha = \sigma/(1-\sigma^2)`,
    :math:`\beta = \sigma^2/(1-\sigma^2)` (the matched side), and the smallest compatible
    :math:`\gamma = \alpha^2/\beta = 1/(1-\sigma^2)` for the unmatched side. The loss does
    not see :math:`\gamma`; this choice realizes the pair with one embedding dimension (Remark
    D.3). At :math:`\sigma = 0` (:math:`\alpha = \beta = 0`) every :math:`\gamma \ge 0` is
    compatible; the formula's value 1 there keeps the minimizer continuous in :math:`\sigma`, so
    a correlation that rounds to exactly 0 in one coordinate system and to 1e-17 in another
    gives the same model (invariance under changes of u and v, tested)."""
    sigma = np.asarray(sigma, dtype=np.float64)
    one_minus = 1.0 - sigma * sigma
    alpha = sigma / one_minus
    beta = sigma * sigma / one_minus
    gamma = 1.0 / one_minus
    return alpha, beta, gamma


_EPS = float(np.finfo(np.float64).eps)
_TINY = float(np.finfo(np.float64).tiny)
#: The bracket on the root variable is shrunk until its width is at most this many units of
#: the larger end (relative): 8 ulp, the resolution left once rounding in the ~30 operations of
#: one evaluation of sigma(z) makes the sign of sigma(z) - sigma itself uncertain.
ROOT_RTOL = 8.0 * np.finfo(np.float64).eps
#: After this many Anderson-Bjorck steps the solver bisects (a safeguard: typical pairs take
#: 5-15 steps; only weight ratios beyond 1e12 with sigma^2 of the order of the smaller weight
#: share, where sigma(z) has a kink, reach it).
ROOT_BISECT_AFTER = 30
#: Hard cap on the steps per pair: 40 secant steps and then bisection of a bracket in (0, 1)
#: reach ROOT_RTOL well before it.
ROOT_MAX_ITER = 200
#: Correlations below this are solved at SIGMA_LINEAR and scaled linearly: the pair's
#: minimizer is analytic at sigma = 0 with beta, gamma = sigma * c + O(sigma^2), so the scaling
#: is exact up to a relative O(SIGMA_LINEAR / min(w, 1 - w)^(1/2)) <= 1e-130 for any float
#: weights, far below rounding, where the root variable itself would be subnormal.
SIGMA_LINEAR = 2.0**-970


@dataclass(frozen=True)
class RootCertificate:
    """Evidence that :func:`cond_quadratic_weighted` solved its scalar equations.

    For every pair the root variable ``v`` (in (0, 1)) is bracketed, ``lower <= v <= upper``,
    with ``residual_lower <= 0 <= residual_upper`` (the computed sign change of the monotone
    function ``sigma(z(v)) - sigma``, oriented to increase) and ``upper - lower <= ROOT_RTOL *
    upper``. Pairs with ``sigma = 0`` have the exact answer 0 and the bracket ``[0, 0]``.

    Attributes
    ----------
    lower, upper, residual_lower, residual_upper : (k,) arrays
    iterations : (k,) int array
        Steps used per pair.
    """

    lower: np.ndarray
    upper: np.ndarray
    residual_lower: np.ndarray
    residual_upper: np.ndarray
    iterations: np.ndarray

    @property
    def relative_width(self):
        """``(upper - lower) / upper`` per pair (0 where the pair is exact)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.upper > 0.0, (self.upper - self.lower) / self.upper, 0.0)

    @property
    def certified(self):
        """Every pair has a sign change on a bracket of relative width <= ROOT_RTOL."""
        return bool(
            np.all(self.residual_lower <= 0.0)
            and np.all(self.residual_upper >= 0.0)
            and np.all(self.relative_width <= ROOT_RTOL)
        )


def _weighted_curve(z, w):
    r"""The boundary point :math:`(x, y) = (\beta, \gamma)` with parameter ``z > 0``.

    With :math:`P = 2w + z`, :math:`Q = 2(1-w) + z`, :math:`R = 4w(1-w) + z`, ``x`` and ``y``
    are the positive roots of
    :math:`x^2 + \tfrac{2wQ}{R}x = \tfrac{z\sqrt Q(\sqrt P + \sqrt Q)}{2R}` and
    :math:`y^2 + \tfrac{2(1-w)P}{R}y = \tfrac{z\sqrt P(\sqrt P + \sqrt Q)}{2R}`
    (``docs/derivations.md``, Section 5b), written without cancellation.
    """
    p, q, r = 2.0 * w + z, 2.0 * (1.0 - w) + z, 4.0 * w * (1.0 - w) + z
    root_p, root_q = math.sqrt(p), math.sqrt(q)
    lin_x, lin_y = 2.0 * w * q / r, 2.0 * (1.0 - w) * p / r  # 1 + D and 1 - D, D = y - x
    k_x = z * root_q * (root_p + root_q) / (2.0 * r)
    k_y = z * root_p * (root_p + root_q) / (2.0 * r)
    x = 2.0 * k_x / (lin_x + math.sqrt(lin_x * lin_x + 4.0 * k_x))
    y = 2.0 * k_y / (lin_y + math.sqrt(lin_y * lin_y + 4.0 * k_y))
    return x, y


def _curve_sigma(x, y, w):
    r"""The correlation for which the curve point is optimal:
    :math:`\sigma = \sqrt{y/x}\,[w\,\tfrac{x}{1+x} + (1-w)(\tfrac{y}{1+y} +
    \tfrac{x}{(1+y)^2})]` (stationarity in ``h``; 0 at the origin)."""
    if x == 0.0 or y == 0.0:
        return 0.0
    return math.sqrt(y / x) * (w * x / (1.0 + x) + (1.0 - w) * (y / (1.0 + y) + x / (1.0 + y) ** 2))


def _z_of(v, high):
    """Root variable ``v`` in (0, 1) -> curve parameter ``z``: ``v/(1 - v)^2`` (small sigma,
    ``sigma ~ v``) or ``(1 - v)/v^2`` (sigma > 1/2, ``1 - sigma ~ v``, so that ``1 - sigma``
    keeps its relative precision)."""
    return (1.0 - v) / (v * v) if high else v / ((1.0 - v) * (1.0 - v))


def _solve_pair(sigma, w):
    """Bracketed Anderson-Bjorck iteration for one pair; returns x, y and the bracket."""
    high = sigma > 0.5

    def residual(v):  # increasing in v, negative at v = 0, positive at v = 1
        z = _z_of(v, high)
        if math.isinf(z):  # v below ~1e-154 with sigma > 1/2: the limit sigma(z) -> 1
            return sigma - 1.0
        value = _curve_sigma(*_weighted_curve(z, w), w) - sigma
        return -value if high else value

    a, fa = 0.0, (sigma - 1.0 if high else -sigma)  # the limits sigma(z) -> 0 and 1
    b, fb = 1.0, (sigma if high else 1.0 - sigma)
    lo, hi, f_lo, f_hi = a, b, fa, fb
    steps = 0
    while hi - lo > ROOT_RTOL * hi and steps < ROOT_MAX_ITER:
        steps += 1
        if steps > ROOT_BISECT_AFTER or fa == fb:  # bisect, geometrically across decades
            c = math.sqrt(lo) * math.sqrt(hi) if 0.0 < 4.0 * lo < hi else 0.5 * (lo + hi)
        else:  # secant from the end with the smaller residual (tiny roots stay exact)
            c = a - fa * (b - a) / (fb - fa) if abs(fa) < abs(fb) else b - fb * (b - a) / (fb - fa)
            tol = 2.0 * _EPS * max(c, _TINY)  # relative to the step's own magnitude
            c = min(max(c, lo + tol), hi - tol)
            if abs(c - b) < tol:  # step at least tol, so the root ends up bracketed (Brent)
                c = b + (tol if a > b else -tol)
            if not lo < c < hi:
                c = 0.5 * (lo + hi)
        fc = residual(c)
        if fc == 0.0:
            lo = hi = c
            f_lo = f_hi = 0.0
            break
        if fc * fb < 0.0:
            a, fa = b, fb
        else:  # Anderson-Bjorck: shrink the retained end's residual
            m = 1.0 - fc / fb
            fa = fa * m if m > 0.0 else 0.5 * fa
        b, fb = c, fc
        if fc < 0.0:
            lo, f_lo = c, fc
        else:
            hi, f_hi = c, fc
    v = lo if abs(f_lo) <= abs(f_hi) else hi
    x, y = _weighted_curve(_z_of(v, high), w)
    return x, y, (lo, hi, f_lo, f_hi, steps)


def cond_quadratic_weighted(sigma, weights, *, certificate=False):
    r"""Per-pair minimizer of cond x quadratic for unequal weights :math:`\lambda_u, \lambda_v > 0`.

    With :math:`w = \lambda_u/(\lambda_u + \lambda_v)` the pair problem is
    :math:`\min\, w F(1+\beta) + (1-w) F(1+\gamma) - 2\sigma\alpha` over
    :math:`\alpha^2 \le \beta\gamma`, :math:`F(p) = p - \log p + \alpha^2/p`
    (``docs/derivations.md``, Section 5b). Its minimizer lies on :math:`\alpha^2 =
    \beta\gamma` at the point :math:`(\beta, \gamma) = (x(z), y(z))` of an explicit curve
    (:func:`_weighted_curve`) whose parameter solves :math:`\sigma(z) = \sigma`, a strictly
    increasing function from 0 to 1; each root is bracketed to :data:`ROOT_RTOL`.

    Parameters
    ----------
    sigma : (k,) array_like
        Canonical correlations in [0, 1).
    weights : (float, float)
        :math:`(\lambda_u, \lambda_v)`, both positive (the closed forms of
        :func:`one_sided_quadratic` cover a zero weight).
    certificate : bool
        Also return a :class:`RootCertificate`.

    Returns
    -------
    alpha, beta, gamma : (k,) arrays
        :math:`\alpha = \sqrt{\beta\gamma}`.
    certificate : RootCertificate
        Only with ``certificate=True``.

    Examples
    --------
    Equal weights reproduce :func:`cond_quadratic_two_sided`:

    >>> import numpy as np
    >>> a, b, c = cond_quadratic_weighted([0.5], (1.0, 1.0))
    >>> bool(np.allclose([a[0], b[0], c[0]], cond_quadratic_two_sided(0.5), rtol=1e-14))
    True
    """
    sigma = np.asarray(sigma, dtype=np.float64)
    lam_u, lam_v = weights
    top = max(lam_u, lam_v)  # w without overflow in lam_u + lam_v
    w = (lam_u / top) / (lam_u / top + lam_v / top)
    flat = sigma.ravel().tolist()
    x, y = np.zeros(len(flat)), np.zeros(len(flat))
    bracket = np.zeros((4, len(flat)))
    steps = np.zeros(len(flat), dtype=np.int64)
    for i, s in enumerate(flat):
        if s == 0.0:
            continue  # alpha = beta = gamma = 0 exactly (J is then stationary and convex)
        solved = max(s, SIGMA_LINEAR)
        x[i], y[i], (*ends, steps[i]) = _solve_pair(solved, w)
        bracket[:, i] = ends
        if solved != s:  # the linear regime: scale the answer at SIGMA_LINEAR
            x[i], y[i] = x[i] * (s / solved), y[i] * (s / solved)
    beta, gamma = x.reshape(sigma.shape), y.reshape(sigma.shape)
    alpha = np.sqrt(beta) * np.sqrt(gamma)  # no underflow of beta * gamma
    if not certificate:
        return alpha, beta, gamma
    lower, upper, f_lower, f_upper = (row.reshape(sigma.shape) for row in bracket)
    return alpha, beta, gamma, RootCertificate(lower, upper, f_lower, f_upper, steps)


def pair_solution(loss, tilting, weights, sigma):
    """Per-pair minimizer ``(alpha, beta, gamma)`` (``beta = gamma = None`` for the inner
    tilting) for canonical correlations ``sigma``.

    Raises ``NotImplementedError`` for problems without a closed form (see
    :func:`has_closed_form`).
    """
    sigma = np.asarray(sigma, dtype=np.float64)
    pattern = weight_pattern(loss, weights)
    if tilting == "inner":
        return (sigma.copy() if loss == "cond" else h(sigma)), None, None
    if tilting == "quadratic":
        if loss == "joint" or pattern == "equal":
            x = joint_quadratic(sigma) if loss == "joint" else cond_quadratic_two_sided(sigma)
            return x, x.copy(), x.copy()
        if pattern == "u-only":
            return one_sided_quadratic(sigma)
        if pattern == "v-only":
            alpha, beta, gamma = one_sided_quadratic(sigma)
            return alpha, gamma, beta
        if loss == "cond":  # unequal positive weights: the bracketed scalar root per pair
            return cond_quadratic_weighted(sigma, weights)
    raise NotImplementedError(f"no closed form for loss={loss!r}, tilting={tilting!r}, {pattern}")


def pair_kl_conditional(sigma, alpha, extra):
    r""":math:`E_b\,D_{KL}(\mu_{a|b}\|\nu_{a|b})` for one canonical pair.

    :math:`\mu_{a|b} = N(\sigma b, 1 - \sigma^2)` and, with :math:`p = 1 + \beta`,
    :math:`\nu_{a|b} = N(\alpha b / p, 1/p)` (eq. 48a in canonical coordinates):

    .. math:: \tfrac12\bigl[p(1-\sigma^2) - 1 - \log p - \log(1-\sigma^2)
              + (\alpha - \sigma p)^2/p\bigr].

    ``extra`` is :math:`\beta` (or :math:`\gamma` for :math:`b|a`, by symmetry); None means 0.
    """
    sigma = np.asarray(sigma, dtype=np.float64)
    p = 1.0 if extra is None else 1.0 + np.asarray(extra, dtype=np.float64)
    one_minus = 1.0 - sigma * sigma
    return 0.5 * (
        p * one_minus - 1.0 - np.log(p) - np.log(one_minus) + (alpha - sigma * p) ** 2 / p
    )


def pair_kl_joint(sigma, alpha, beta=None, gamma=None):
    r""":math:`D_{KL}(\mu\|\nu)` for one canonical pair:
    :math:`\tfrac12[\beta + \gamma - 2\alpha\sigma - \log((1+\beta)(1+\gamma) - \alpha^2)
    - \log(1 - \sigma^2)]` (infinite when the 2x2 precision is not positive definite)."""
    sigma = np.asarray(sigma, dtype=np.float64)
    beta = 0.0 if beta is None else beta
    gamma = 0.0 if gamma is None else gamma
    det = (1.0 + beta) * (1.0 + gamma) - alpha * alpha
    with np.errstate(divide="ignore", invalid="ignore"):
        log_det = np.where(det > 0.0, np.log(np.where(det > 0.0, det, 1.0)), -np.inf)
    return 0.5 * (beta + gamma - 2.0 * alpha * sigma - log_det - np.log(1.0 - sigma * sigma))


def pair_objective(loss, weights, sigma, alpha, beta=None, gamma=None):
    """Per-pair exact objective J: :math:`\\tfrac{\\lambda_u}{2}E\\,KL_u +
    \\tfrac{\\lambda_v}{2}E\\,KL_v` for ``"cond"`` (Optimization Problem 3.4) or
    :math:`KL(\\mu\\|\\nu)` for ``"joint"`` (3.6). The total J is the sum over pairs."""
    if loss == "joint":
        return pair_kl_joint(sigma, alpha, beta, gamma)
    lam_u, lam_v = weights
    value = np.zeros_like(np.asarray(sigma, dtype=np.float64))
    if lam_u:
        value = value + 0.5 * lam_u * pair_kl_conditional(sigma, alpha, beta)
    if lam_v:
        value = value + 0.5 * lam_v * pair_kl_conditional(sigma, alpha, gamma)
    return value
