r"""Checks of the closed forms gaussclip adds beyond the paper (``docs/derivations.md``).

Everything is written for one canonical pair: whitened, standard ``(a, b)`` with correlation
``s`` in (0, 1), the data conditional ``mu_{a|b} = N(s b, 1 - s^2)``, and a model precision
``I + W`` with ``W = [[beta, -alpha], [-alpha, gamma]]`` (``beta = G^T G``, ``gamma = H^T H``,
``alpha = G^T H`` per pair). Encoders can realize exactly the ``W >= 0`` (``W`` is the Gram
matrix of ``(G, -H)``), so optimality over encoders is optimality of a convex function over
the cone ``W >= 0``; the Karush-Kuhn-Tucker conditions

    grad J(W*) >= 0,   W* >= 0,   <grad J(W*), W*> = 0

then certify a global minimizer. Each check derives J from Gaussian KL divergences
(Lemma E.1, checked by ``lem-E.1``), differentiates it symbolically and verifies the conditions.
"""

import sympy as sp

from ._core import (
    HALF,
    WHITENED,
    gaussian_expectation,
    gradient,
    h_definition,
    is_zero,
    kl_gaussian,
    register,
    require,
    require_equal,
    require_positive,
    unit_interval,
)

ALPHA, BETA, GAMMA = sp.symbols("alpha beta gamma", real=True)


def _conditional_kl(s, alpha, extra):
    """E_b KL(N(s b, 1 - s^2) || N(alpha b / p, 1 / p)), p = 1 + extra: one side of J_cond for
    the quadratic tilting (48a in canonical coordinates; extra = 0 is the inner tilting, 41)."""
    b = sp.Symbol("b", real=True)
    p = 1 + extra
    kl = kl_gaussian(
        sp.Matrix([s * b]), sp.Matrix([1 - s**2]), sp.Matrix([alpha * b / p]), sp.Matrix([1 / p])
    )
    return gaussian_expectation(kl, b, 1)


def _cond_objective(s, weights, alpha, beta=0, gamma=0):
    """J_cond = lambda_u/2 E KL_u + lambda_v/2 E KL_v (Optimization Problem 3.4) for one pair."""
    lam_u, lam_v = (sp.S(weight) / 2 for weight in weights)  # exact halves, never floats
    return lam_u * _conditional_kl(s, alpha, beta) + lam_v * _conditional_kl(s, alpha, gamma)


def _joint_objective(s, alpha, beta, gamma):
    """KL(mu || nu) for one pair: data covariance [[1, s], [s, 1]], model precision I + W."""
    zero = sp.zeros(2, 1)
    precision = sp.Matrix([[1 + beta, -alpha], [-alpha, 1 + gamma]])
    return kl_gaussian(zero, sp.Matrix([[1, s], [s, 1]]), zero, precision.inv())


def _kkt(objective, x, what):
    """Check the KKT conditions over W >= 0 at alpha = beta = gamma = x > 0, i.e. at
    W* = x [[1, -1], [-1, 1]]. The gradient with respect to W is
    M = [[dJ/dbeta, -dJ/dalpha / 2], [-dJ/dalpha / 2, dJ/dgamma]]; <M, W*> = 0 with M >= 0 means
    M (1, 1)^T-aligned: M (1, -1)^T = 0 and M_11 >= 0."""
    point = {ALPHA: x, BETA: x, GAMMA: x}
    d_alpha, d_beta, d_gamma = (sp.diff(objective, v).subs(point) for v in (ALPHA, BETA, GAMMA))
    M = sp.Matrix([[d_beta, -d_alpha / 2], [-d_alpha / 2, d_gamma]])
    require(is_zero(M * sp.Matrix([1, -1])), f"{what}: the gradient is not orthogonal to W*")
    require_positive(sp.factor(M[0, 0]), f"{what}: the gradient's diagonal")


@register(
    "new-cond-inner-weights",
    "Conditional loss, inner tilting, any weights (lambda_u, lambda_v) != 0: per pair "
    "J = (lambda_u + lambda_v)/4 [(alpha - s)^2 - s^2 - log(1 - s^2)], minimized at alpha = s "
    "whatever the weights (gaussclip's Theorem 5.1 for one-sided weights).",
    WHITENED,
    twin="alpha = lambda_v s / (lambda_u + lambda_v) (weights tilting the answer)",
)
def cond_inner_weights(twin):
    s, _ = unit_interval()
    lam_u, lam_v = sp.symbols("lambda_u lambda_v", nonnegative=True)
    J = _cond_objective(s, (lam_u, lam_v), ALPHA)
    stated = (lam_u + lam_v) / 4 * ((ALPHA - s) ** 2 - s**2 - sp.log(1 - s**2))
    require(is_zero(J - stated), "the per-pair objective differs")
    alpha_star = lam_v * s / (lam_u + lam_v) if twin else s
    require(is_zero(sp.diff(J, ALPHA).subs(ALPHA, alpha_star)), "J is not stationary")
    # J is quadratic in alpha with curvature (lambda_u + lambda_v)/2 >= 0: the stationary point
    # is the minimum (for one-sided weights too)
    require_equal(sp.diff(J, ALPHA, 2), (lam_u + lam_v) / 2, "the curvature")


@register(
    "new-cond-quadratic-two-sided",
    "Conditional loss (1, 1), quadratic tilting: per pair the minimizer is alpha = beta = gamma ="
    " s (1 + t) / ((3 + t)(1 - s)), t = sqrt(9 - 8 s) (KKT over W >= 0; the unconstrained "
    "stationary point is infeasible, alpha^2 > beta gamma; J is strictly convex on the line).",
    WHITENED,
    twin="alpha = beta = gamma = s / (1 - s^2) (Theorem 5.3's one-sided answer)",
)
def cond_quadratic_two_sided(twin):
    # y = 1/(1 + x) solves y^2 + y = 2 (1 - s), i.e. y = (t - 1)/2: parametrize by y = 1/(1 + w)
    # in (0, 1), which keeps every expression rational (s = 1 - (y^2 + y)/2 covers (0, 1))
    y, _ = unit_interval("y")
    s = 1 - (y**2 + y) / 2
    x = 1 / y - 1
    t = 2 * y + 1  # = sqrt(9 - 8 s) for y > 0
    require(is_zero(t**2 - (9 - 8 * s)), "t^2 = 9 - 8 s")
    require(is_zero(x - s * (1 + t) / ((3 + t) * (1 - s))), "x(s) in the closed form")
    if twin:
        x = s / (1 - s**2)
    J = _cond_objective(s, (1, 1), ALPHA, BETA, GAMMA)
    _kkt(J, x, "two-sided quadratic")
    # both conditionals exact needs p = q = 1/(1 - s^2), alpha = s/(1 - s^2): outside W >= 0
    sigma, _ = unit_interval()
    unconstrained = {ALPHA: sigma / (1 - sigma**2), BETA: sigma**2 / (1 - sigma**2)}
    unconstrained[GAMMA] = unconstrained[BETA]
    J_sigma = _cond_objective(sigma, (1, 1), ALPHA, BETA, GAMMA)
    for v in (ALPHA, BETA, GAMMA):
        require(is_zero(sp.diff(J_sigma, v).subs(unconstrained)), "unconstrained stationarity")
    excess = unconstrained[ALPHA] ** 2 - unconstrained[BETA] * unconstrained[GAMMA]
    require_positive(sp.factor(excess), "alpha^2 - beta gamma at the unconstrained point")
    # along the boundary line alpha = beta = gamma = z the objective is strictly convex
    z = sp.Symbol("z", positive=True)
    on_line = J_sigma.subs({ALPHA: z, BETA: z, GAMMA: z})
    require_positive(sp.factor(sp.diff(on_line, z, 2)), "the curvature along the line")


@register(
    "new-joint-quadratic",
    "Joint loss, quadratic tilting: per pair the minimizer is alpha = beta = gamma = "
    "s / (2 (1 - s)) (KKT over W >= 0), with J = (s - log(1 + s))/2 there.",
    WHITENED,
    twin="alpha = beta = gamma = h(s) (the inner tilting's answer)",
)
def joint_quadratic(twin):
    s, _ = unit_interval()
    x = h_definition(s) if twin else s / (2 * (1 - s))
    J = _joint_objective(s, ALPHA, BETA, GAMMA)
    _kkt(J, x, "joint quadratic")
    value = J.subs({ALPHA: x, BETA: x, GAMMA: x})
    require(
        is_zero(value - HALF * (s - sp.log(1 + s))),
        "the minimum value differs",
    )


@register(
    "new-one-sided-rank",
    "Rank-r one-sided conditional loss, quadratic tilting (the paper's (50b) left open): with B "
    "supported on a subspace R, optimizing A and B leaves const + 1/2 log det S_R, S = I - "
    "Omega Omega^T; for r = 1 of 2 pairs, S_R - (1 - s1^2) = sin^2(theta) (s1^2 - s2^2) >= 0, "
    "so R = the top canonical direction (keep the largest sigma).",
    WHITENED,
    twin="keep the pair with the smaller sigma",
)
def one_sided_rank(twin):
    # two whitened pairs with correlations s1, s2; R spanned by the unit vector
    # r = (1 - k^2, 2k) / (1 + k^2) (every direction but one, rationally)
    s1, s2, beta = sp.symbols("s1 s2 beta", positive=True)
    k = sp.Symbol("k", real=True)
    Omega = sp.diag(s1, s2)  # whitened Cuv
    S = sp.eye(2) - Omega * Omega.T  # C_{u|v} in whitened coordinates
    r = sp.Matrix([1 - k**2, 2 * k]) / (1 + k**2)
    P = sp.eye(2) + beta * r * r.T  # I + B with B = beta r r^T
    a = sp.Matrix(sp.symbols("a1 a2", real=True))
    A = r * a.T  # the columns of A lie in R (A = G^T H with a rank-1 G)
    # E_b KL(mu_{a|b} || nu_{a|b}), nu_{a|b} = N(P^-1 A b, P^-1) (48a), b standard; det P = 1 + beta
    mean_error = P.inv() * A - Omega
    kl = HALF * ((P * S).trace() - 2 - sp.log(1 + beta) - sp.log(S.det()))
    kl += HALF * (mean_error.T * P * mean_error).trace()
    # the best A for this B: a = (1 + beta) Omega^T r (the mean error leaves R^perp only)
    a_star = (1 + beta) * Omega.T * r
    at_a_star = dict(zip(a, a_star, strict=True))
    require(is_zero(gradient(kl, a).subs(at_a_star)), "the best A for a given B")
    profile = kl.subs(at_a_star)  # quadratic in a, so this is the minimum over A
    s_R = (r.T * S * r)[0]  # S compressed to R
    beta_star = 1 / s_R - 1  # B_R = S_R^-1 - I
    require(is_zero(sp.diff(profile, beta).subs(beta, beta_star)), "B_R = S_R^-1 - I")
    value = profile.subs(beta, beta_star)
    constant = -HALF * sp.log(S.det())
    require(is_zero(value - constant - HALF * sp.log(s_R)), "the profile is not 1/2 log S_R")
    # S_R over 1-D subspaces: for s1 = s2 + d > s2 and k > 0 (any direction off the axes) it
    # exceeds the first pair's 1 - s1^2, which it equals on the first canonical direction (k = 0)
    d, k_pos = sp.symbols("d k_pos", positive=True)
    kept = 1 - (s2**2 if twin else s1**2)
    excess = sp.factor((s_R - kept).subs(s1, s2 + d))
    require(is_zero(excess.subs(k, 0)), "S_R on the kept canonical direction")
    require_positive(excess.subs(k, k_pos), "S_R minus the kept pair's 1 - s^2")


def _vanishes_at(expr, var, num, den):
    """True when the rational ``expr`` vanishes at ``var = num / den`` (polynomials): the
    numerator's polynomial in ``var``, homogenized by ``den``, expands to zero. Much faster
    than simplifying the substituted expression."""
    numerator, _ = sp.fraction(sp.cancel(sp.together(expr)))
    poly = sp.Poly(numerator, var)
    degree = poly.degree()
    total = sum(c * num**i * den ** (degree - i) for (i,), c in poly.terms())
    return sp.expand(total) == 0


@register(
    "new-cond-quadratic-weights",
    "Conditional loss, quadratic tilting, weights (lambda_u, lambda_v) > 0, w = lambda_u / "
    "(lambda_u + lambda_v): (a) every boundary point W = (g, -h)(g, -h)^T, x = g^2, y = h^2, "
    "|x - y| < 1, is the KKT minimizer for w / (1 - w) = y^2 (1 + x)^2 (1 + y - x) / (x^2 (1 + "
    "y)^2 (1 + x - y)) and s = (h/g)[w x/(1 + x) + (1 - w)(y/(1 + y) + x/(1 + y)^2)]; (b) the "
    "curve x^2 + 2wQ/R x = z sqrt(Q)(sqrt(P) + sqrt(Q))/(2R), y = x - z(1 - 2w)/R (P = 2w + z, "
    "Q = 2(1 - w) + z, R = 4w(1 - w) + z) solves the w-equation of (a) and the mirror quadratic "
    "of y; (c) the pair objective is strictly convex in (alpha, 1 + beta, 1 + gamma).",
    WHITENED,
    twin="the weights swapped in the w-equation of (a) and in the curve (b)",
)
def cond_quadratic_weights(twin):
    # (a) KKT at a general boundary point, with the weights and the correlation it solves
    g, h, s, w = sp.symbols("g h s w", positive=True)
    x, y = g**2, h**2
    lhs = y**2 * (1 + x) ** 2 * (1 + y - x)  # proportional to w
    rhs = x**2 * (1 + y) ** 2 * (1 + x - y)  # proportional to 1 - w
    J = _cond_objective(s, (2 * w, 2 * (1 - w)), ALPHA, BETA, GAMMA)  # from the KL divergences
    d_alpha, d_beta, d_gamma = (sp.cancel(sp.diff(J, v)) for v in (ALPHA, BETA, GAMMA))
    M = sp.Matrix([[d_beta, -d_alpha / 2], [-d_alpha / 2, d_gamma]])  # gradient in W
    M = M.subs({ALPHA: g * h, BETA: x, GAMMA: y})
    s_star = h / g * (w * x / (1 + x) + (1 - w) * (y / (1 + y) + x / (1 + y) ** 2))
    null = (M * sp.Matrix([g, -h])).subs(s, s_star)
    w_num = rhs if twin else lhs
    for entry in null:
        require(_vanishes_at(entry, w, w_num, lhs + rhs), "M W* != 0 (not a KKT point)")
    # M has the null vector (g, -h), so M >= 0 iff its diagonal is >= 0:
    # dJ/dbeta = (w/2) x (1 + x - y) / (1 + x)^2 >= 0 and dJ/dgamma likewise on |x - y| < 1
    require_equal(M[0, 0], w / 2 * x * (1 + x - y) / (1 + x) ** 2, "dJ/dbeta")
    require_equal(M[1, 1], (1 - w) / 2 * y * (1 + y - x) / (1 + y) ** 2, "dJ/dgamma")
    # (b) the explicit curve: P = p^2, Q = q^2 make it rational; x is a root of its quadratic
    p, q, xs = sp.symbols("p q x", positive=True)
    w_c = (p**2 - q**2 + 2) / 4  # 2w + z = p^2, 2(1 - w) + z = q^2
    z = (p**2 + q**2 - 2) / 2
    r = 4 * w_c * (1 - w_c) + z
    one_plus_d = 2 * w_c * q**2 / r
    d = one_plus_d - 1
    k_x = z * q * (p + q) / (2 * r)
    k_y = z * p * (p + q) / (2 * r)
    if twin:
        k_x, k_y = k_y, k_x
    require(is_zero(d + z * (1 - 2 * w_c) / r), "D = -z (1 - 2w) / R")
    quadratic = sp.Poly(xs**2 + one_plus_d * xs - k_x, xs)
    ys = xs + d
    mirror = sp.Poly(sp.expand(ys**2 + (1 - d) * ys - k_y), xs)
    require(is_zero(mirror.rem(quadratic).as_expr()), "y solves the mirror quadratic")
    w_equation = w_c * (1 - d) * xs**2 * (1 + ys) ** 2 - (1 - w_c) * (1 + d) * ys**2 * (1 + xs) ** 2
    remainder = sp.Poly(sp.expand(w_equation), xs).rem(quadratic)
    require(all(is_zero(c) for c in remainder.all_coeffs()), "the curve solves the w-equation")
    # (c) strict convexity of f = w F(p) + (1 - w) F(q) - 2 s alpha, F(p) = p - log p + a^2/p
    t, pp, qq, a = sp.symbols("t p_ q_ a", positive=True)
    w_t = t / (1 + t)  # any w in (0, 1)
    f = w_t * (pp - sp.log(pp) + a**2 / pp) + (1 - w_t) * (qq - sp.log(qq) + a**2 / qq)
    hessian = sp.hessian(f, (a, pp, qq))
    for order in (1, 2, 3):
        require_positive(sp.factor(hessian[:order, :order].det()), f"leading minor {order}")


@register(
    "new-cond-quadratic-weights-rank",
    "Conditional loss, quadratic tilting, any weights: the gain of a pair over zero parameters, "
    "G(s) = max over feasible (alpha, beta, gamma) of J(s; 0) - J(s; alpha, beta, gamma), is a "
    "maximum of functions of s with slope (lambda_u + lambda_v) alpha / 2 >= 0, hence "
    "nondecreasing (strictly where alpha* > 0): among pair-diagonal solutions rank r keeps the "
    "r largest sigma.",
    WHITENED,
    twin="slope (lambda_u - lambda_v) alpha / 2 (the weights' difference)",
)
def cond_quadratic_weights_rank(twin):
    s = sp.Symbol("s", positive=True)
    lam_u, lam_v = sp.symbols("lambda_u lambda_v", positive=True)
    J = _cond_objective(s, (lam_u, lam_v), ALPHA, BETA, GAMMA)
    J0 = _cond_objective(s, (lam_u, lam_v), 0, 0, 0)
    slope = (lam_u - lam_v if twin else lam_u + lam_v) * ALPHA / 2
    require(is_zero(sp.diff(J0 - J, s) - slope), "the slope of the gain in sigma")
