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
joint x quadratic                   :math:`\alpha=\beta=\gamma=
                                    \frac{\sigma}{2(1-\sigma)}`                            new
=================================  =====================================================  =======

A rank constraint ``rank = r`` keeps the r pairs with the largest :math:`\sigma` (every pair's
gain is increasing in :math:`\sigma`) and sets the others to zero.
"""

import numpy as np

from .linalg import h

#: Closed forms exist for these (loss, tilting, weight pattern) triples; see :func:`pair_solution`.
CLOSED_FORMS = (
    ("cond", "inner", "any"),
    ("joint", "inner", "-"),
    ("cond", "quadratic", "u-only"),
    ("cond", "quadratic", "v-only"),
    ("cond", "quadratic", "equal"),
    ("joint", "quadratic", "-"),
)


def weight_pattern(loss, weights):
    """Classify ``(lambda_u, lambda_v)``: ``"equal"``, ``"u-only"`` (lambda_v = 0),
    ``"v-only"`` (lambda_u = 0) or ``"other"``; ``"-"`` for the joint loss. The minimizer
    depends only on this pattern, because scaling both weights scales the objective."""
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
    :math:`\gamma = \alpha^2/\beta = 1/(1-\sigma^2)` for the unmatched side (0 where
    :math:`\sigma = 0`). The loss does not see :math:`\gamma`; this choice realizes the pair with
    one embedding dimension (Remark D.3)."""
    sigma = np.asarray(sigma, dtype=np.float64)
    one_minus = 1.0 - sigma * sigma
    alpha = sigma / one_minus
    beta = sigma * sigma / one_minus
    gamma = np.where(sigma > 0.0, 1.0 / one_minus, 0.0)
    return alpha, beta, gamma


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
