r"""Checks of Section 5 and Appendices D-E: linear encoders, Gaussian data, exact minimizers.

Every derivation starts from the definitions (Gaussian densities, the tilting, the KL
divergence) and never calls gaussclip's numerical engine. Conventions: ``Cuu``, ``Cvv`` are
symbolic symmetric 2x2 blocks, ``Cuv`` a general 2x2 block; the scalar model has variances
``cu``, ``cv`` and covariance ``c``; a whitened canonical pair has unit variances and
correlation ``s`` in (0, 1).
"""

import sympy as sp

from ._core import (
    FINITE,
    HALF,
    INTEGRAL,
    MATRIX_EXPRESSION,
    SCALAR,
    SMALL_MATRIX,
    WHITENED,
    gaussian_expectation,
    general2,
    gradient,
    h_definition,
    is_zero,
    kl_gaussian,
    log_mean_exp,
    register,
    require,
    require_equal,
    require_positive,
    scalar_model,
    spd2,
    unit_interval,
)


def _blocks():
    return spd2("Cuu"), spd2("Cvv"), general2("Cuv")


def _precision_from_log_density(log_density, u, v):
    """Minus the Hessian of a quadratic log-density in (u, v): the joint precision."""
    z = list(u) + list(v)
    return -sp.hessian(log_density, z)


# ------------------------------------------------------------------ Section 5.1-5.2 models
@register(
    "eq-40",
    "The inner tilting exp<Gu, Hv> of mu_u x mu_v is Gaussian with precision "
    "[[Cuu^-1, -A], [-A^T, Cvv^-1]], A = G^T H (eq. 40).",
    SMALL_MATRIX,
    twin="the off-diagonal blocks +A instead of -A",
)
def eq_40(twin):
    Cuu, Cvv, _ = _blocks()
    A = general2("A")
    u, v = sp.Matrix(sp.symbols("u1 u2", real=True)), sp.Matrix(sp.symbols("v1 v2", real=True))
    log_density = (
        -HALF * (u.T * Cuu.inv() * u)[0] - HALF * (v.T * Cvv.inv() * v)[0] + (u.T * A * v)[0]
    )
    sign = 1 if twin else -1
    stated = sp.BlockMatrix([[Cuu.inv(), sign * A], [sign * A.T, Cvv.inv()]]).as_explicit()
    require_equal(_precision_from_log_density(log_density, u, v), stated, "precision (40)")


@register(
    "eq-41",
    "Under the inner tilting, nu_{u|v} = N(Cuu A v, Cuu) and nu_{v|u} = N(Cvv A^T u, Cvv) (41).",
    SMALL_MATRIX,
    twin="the conditional mean Cuu A^T v",
)
def eq_41(twin):
    Cuu, Cvv, _ = _blocks()
    A = general2("A")
    # conditional of a Gaussian with precision [[P_uu, P_uv], [P_vu, P_vv]]:
    # u | v ~ N(-P_uu^-1 P_uv v, P_uu^-1)
    P_uu, P_uv, P_vv = Cuu.inv(), -A, Cvv.inv()
    gain_u = -P_uu.inv() * P_uv
    gain_v = -P_vv.inv() * P_uv.T
    require_equal(gain_u, Cuu * (A.T if twin else A), "mean gain of nu_u|v")
    require_equal(P_uu.inv(), Cuu, "covariance of nu_u|v")
    require_equal(gain_v, Cvv * A.T, "mean gain of nu_v|u")


@register(
    "eq-47",
    "The quadratic tilting exp(-|Gu - Hv|^2/2) gives the precision "
    "[[B + Cuu^-1, -A], [-A^T, C + Cvv^-1]] with A = G^T H, B = G^T G, C = H^T H (eq. 47).",
    SMALL_MATRIX,
    twin="B left out of the u block",
)
def eq_47(twin):
    Cuu, Cvv, _ = _blocks()
    G, H = general2("G"), general2("H")
    u, v = sp.Matrix(sp.symbols("u1 u2", real=True)), sp.Matrix(sp.symbols("v1 v2", real=True))
    r = G * u - H * v
    log_density = (
        -HALF * (u.T * Cuu.inv() * u)[0] - HALF * (v.T * Cvv.inv() * v)[0] - HALF * (r.T * r)[0]
    )
    A, B, C = G.T * H, G.T * G, H.T * H
    top = Cuu.inv() if twin else B + Cuu.inv()
    stated = sp.BlockMatrix([[top, -A], [-A.T, C + Cvv.inv()]]).as_explicit()
    require_equal(_precision_from_log_density(log_density, u, v), stated, "precision (47)")


@register(
    "eq-48",
    "Under the quadratic tilting, nu_{u|v} = N((B + Cuu^-1)^-1 A v, (B + Cuu^-1)^-1) (48a), "
    "and likewise for v|u with C and A^T (48b).",
    SMALL_MATRIX,
    twin="the mean (B + Cuu)^-1 A v",
)
def eq_48(twin):
    Cuu, Cvv, _ = _blocks()
    A, B, C = general2("A"), spd2("B"), spd2("C")
    P_uu, P_uv, P_vv = B + Cuu.inv(), -A, C + Cvv.inv()
    stated_u = (B + Cuu).inv() * A if twin else P_uu.inv() * A
    require_equal(-P_uu.inv() * P_uv, stated_u, "mean gain of nu_u|v")
    require_equal(-P_vv.inv() * P_uv.T, (C + Cvv.inv()).inv() * A.T, "mean gain of nu_v|u")


# ------------------------------------------------------------------ Theorem 5.1 and friends
def _cond_inner_loss(A, Cuu, Cvv, Cuv, factor=HALF):
    """(42) with E_v exp(u^T A v) = exp(u^T A Cvv A^T u / 2) (the Gaussian moment generating
    function; ``lem-E.2``): -Tr(A Cvu) + 1/2 * 1/2 Tr(A^T Cuu A Cvv) * 2 (both sides)."""
    return -(A * Cuv.T).trace() + factor * (A.T * Cuu * A * Cvv).trace()


@register(
    "thm-5.1",
    "The conditional loss (42) with the inner tilting equals -Tr(A Cvu) + 1/2 Tr(A^T Cuu A Cvv);"
    " its gradient vanishes at A* = Cuu^-1 Cuv Cvv^-1 (43), its Hessian is Cvv (x) Cuu > 0, and "
    "L + 1/2 Tr(Cuu^-1 Cuv Cvv^-1 Cvu) = 1/2 |Cuu^1/2 (A - A*) Cvv^1/2|_F^2 (corrected (68)).",
    SMALL_MATRIX,
    twin="the loss of the proof in Appendix D, without the factor 1/2 on the trace",
)
def thm_5_1(twin):
    Cuu, Cvv, Cuv = _blocks()
    A = general2("A")
    loss = _cond_inner_loss(A, Cuu, Cvv, Cuv, factor=1 if twin else HALF)
    A_star = Cuu.inv() * Cuv * Cvv.inv()
    at_star = dict(zip(A, A_star, strict=True))
    require(is_zero(gradient(loss, A).subs(at_star)), "the gradient does not vanish at A*")
    vec = [A[i, j] for j in range(2) for i in range(2)]  # column-major vec(A)
    require_equal(sp.hessian(loss, vec), sp.kronecker_product(Cvv, Cuu), "Hessian")
    gap = A - A_star
    square = HALF * (gap.T * Cuu * gap * Cvv).trace()
    constant = HALF * (Cuu.inv() * Cuv * Cvv.inv() * Cuv.T).trace()
    require(is_zero(loss + constant - square), "completing the square (68) fails")


@register(
    "thm-5.1-rank",
    "Rank-r minimizer (44): in whitened coordinates the loss is 1/2 sum_i (alpha_i - sigma_i)^2 "
    "- 1/2 sum_i sigma_i^2, so each kept pair takes alpha = sigma and keeping the pair with the "
    "larger sigma lowers the loss (SVD truncation).",
    WHITENED,
    twin="keep the pair with the smaller canonical correlation",
)
def thm_5_1_rank(twin):
    s1, s2, alpha = sp.symbols("sigma_1 sigma_2 alpha", positive=True)
    # the whitened scalar model of one pair: Cuu = Cvv = 1, Cuv = sigma
    one = sp.Matrix([[1]])

    def pair_loss(a, s):
        return _cond_inner_loss(sp.Matrix([[a]]), one, one, sp.Matrix([[s]]))

    stationary = sp.solve(sp.diff(pair_loss(alpha, s1), alpha), alpha)
    require(stationary == [s1], f"the kept pair's optimum is {stationary}, not sigma")
    keep_first = pair_loss(s1, s1) + pair_loss(0, s2)
    keep_second = pair_loss(0, s1) + pair_loss(s2, s2)
    # sigma_1 > sigma_2: write sigma_1 = sigma_2 + d with d > 0
    d = sp.Symbol("d", positive=True)
    gain = (keep_second - keep_first) if not twin else (keep_first - keep_second)
    require_positive(sp.expand(gain.subs(s1, s2 + d)), "the loss decrease of the kept pair")


@register(
    "cor-5.2",
    "With A = A*, nu_{u|v} = N(Cuv Cvv^-1 v, Cuu) and nu_{v|u} = N(Cvu Cuu^-1 u, Cvv) (45): the "
    "means are mu's, the covariances exceed mu's by Cuv Cvv^-1 Cvu >= 0 (0 iff Cuv = 0).",
    SMALL_MATRIX,
    twin="the v|u mean gain Cvv A* (A* not transposed)",
)
def cor_5_2(twin):
    Cuu, Cvv, Cuv = _blocks()
    A_star = Cuu.inv() * Cuv * Cvv.inv()
    require_equal(Cuu * A_star, Cuv * Cvv.inv(), "E[u|v] gain")
    require_equal(Cvv * (A_star if twin else A_star.T), Cuv.T * Cuu.inv(), "E[v|u] gain")
    schur = Cuu - Cuv * Cvv.inv() * Cuv.T
    require_equal(Cuu - schur, Cuv * Cvv.inv() * Cuv.T, "covariance excess")


# ------------------------------------------------------------------ Theorem 5.3, Corollary 5.4
def _scalar_one_sided(a, b, cu, cv, c):
    """E_v KL(mu_{u|v} || nu_{u|v}) in the scalar model with the quadratic tilting (48a)."""
    v = sp.Symbol("v", real=True)
    cu, cv = sp.S(cu), sp.S(cv)  # exact arithmetic when called with plain integers
    p = b + 1 / cu
    schur = cu - c**2 / cv
    kl = kl_gaussian(
        sp.Matrix([c / cv * v]), sp.Matrix([schur]), sp.Matrix([a * v / p]), sp.Matrix([1 / p])
    )
    return gaussian_expectation(kl, v, cv)


@register(
    "thm-5.3",
    "The one-sided loss (lambda_u, lambda_v) = (2, 0) with the quadratic tilting is stationary "
    "with a positive definite Hessian at A* = C_{u|v}^-1 Cuv Cvv^-1 (49a), "
    "B* = Cuu^-1 Cuv C_{v|u}^-1 Cvu Cuu^-1 (49b); (49b) equals C_{u|v}^-1 - Cuu^-1.",
    SCALAR,
    twin="B* with Cvv in place of C_{v|u}",
)
def thm_5_3(twin):
    cu, cv, c = scalar_model()
    a, b = sp.symbols("a b", real=True)

    def stationary_point(cu, cv, c):
        cu, cv = sp.S(cu), sp.S(cv)
        schur_u, schur_v = cu - c**2 / cv, cv - c**2 / cu
        return {a: c / (schur_u * cv), b: c**2 / (cu**2 * (cv if twin else schur_v))}

    loss = _scalar_one_sided(a, b, cu, cv, c)
    point = stationary_point(cu, cv, c)
    for x in (a, b):
        require(is_zero(sp.diff(loss, x).subs(point)), f"d/d{x} does not vanish at (A*, B*)")
    # positive definite Hessian, shown for a whitened pair (cu = cv = 1, c = sigma in (0, 1))
    s, _ = unit_interval()
    pair = _scalar_one_sided(a, b, 1, 1, s)
    hess = sp.hessian(pair, [a, b]).subs(stationary_point(1, 1, s))
    hess = hess.applyfunc(lambda entry: sp.cancel(sp.together(entry)))
    require_positive(sp.factor(hess[0, 0]), "the Hessian's first entry")
    require_positive(sp.factor(hess.det()), "the Hessian's determinant")
    # (49b) = C_{u|v}^-1 - Cuu^-1 for symbolic 2x2 blocks (Woodbury)
    Cuu, Cvv, Cuv = _blocks()
    schur_uv = Cuu - Cuv * Cvv.inv() * Cuv.T
    schur_vu = Cvv - Cuv.T * Cuu.inv() * Cuv
    B_star = Cuu.inv() * Cuv * schur_vu.inv() * Cuv.T * Cuu.inv()
    require_equal(B_star, schur_uv.inv() - Cuu.inv(), "(49b) and C_{u|v}^-1 - Cuu^-1")


@register(
    "eq-70",
    "E_v KL(mu_{u|v} || nu_{u|v}) = 1/2 [Tr(P C_{u|v}) - d - log|P C_{u|v}| + Delta(A, B)] with "
    "P = B + Cuu^-1 (the corrected (70): minus the log-determinant, and Delta inside the 1/2).",
    SCALAR,
    twin="(70) as printed: +log|P C_{u|v}| and Delta outside the bracket",
)
def eq_70(twin):
    cu, cv, c = scalar_model()
    a, b = sp.symbols("a b", real=True)
    p = b + 1 / cu
    schur = cu - c**2 / cv
    delta = cv * p * (a / p - c / cv) ** 2  # E_v |P^-1 A v - Cuv Cvv^-1 v|^2_{P^-1}
    sign, outside = (1, 1) if twin else (-1, 0)
    stated = HALF * (p * schur - 1 + sign * sp.log(p * schur) + (1 - outside) * delta)
    stated += outside * delta
    require(is_zero(_scalar_one_sided(a, b, cu, cv, c) - stated), "(70) does not hold")


@register(
    "cor-5.4",
    "With (A*, B*) of Theorem 5.3, nu_{u|v} = N(Cuv Cvv^-1 v, Cuu - Cuv Cvv^-1 Cvu) = mu_{u|v} "
    "(51): (B* + Cuu^-1)^-1 = C_{u|v} and (B* + Cuu^-1)^-1 A* = Cuv Cvv^-1, in any dimension.",
    MATRIX_EXPRESSION,
    twin="the proof's (B* + Cuu)^-1 in place of (B* + Cuu^-1)^-1",
)
def cor_5_4(twin):
    n_u, n_v = sp.symbols("n_u n_v", integer=True, positive=True)
    Cuu, Cvv = sp.MatrixSymbol("C_uu", n_u, n_u), sp.MatrixSymbol("C_vv", n_v, n_v)
    Cuv = sp.MatrixSymbol("C_uv", n_u, n_v)
    schur_uv = sp.MatrixSymbol("C_u|v", n_u, n_u)  # Cuu - Cuv Cvv^-1 Cvu, invertible
    B_star = schur_uv.I - Cuu.I  # (49b) in the form checked by thm-5.3
    A_star = schur_uv.I * Cuv * Cvv.I  # (49a)
    precision = B_star + (Cuu if twin else Cuu.I)  # of nu_{u|v}, (48a)
    require_equal(precision.I, schur_uv, "conditional covariance")
    require_equal(precision.I * A_star, Cuv * Cvv.I, "conditional mean gain")


# ------------------------------------------------------------------ Section 5.3: the joint loss
@register(
    "def-5.5",
    "h(sigma) = (sqrt(1 + 4 sigma^2) - 1) / (2 sigma) takes values in [0, sigma), "
    "h(sigma)/sigma -> 1 as sigma -> 0, h(1) = (sqrt5 - 1)/2, and D = h(sigma) solves "
    "D^2 sigma + D - sigma = 0.",
    WHITENED,
    twin="h replaced by the identity, h(sigma) = sigma",
)
def def_5_5(twin):
    s = sp.Symbol("sigma", positive=True)
    h = s if twin else h_definition(s)
    require(is_zero(h**2 * s + h - s), "h is not a root of D^2 sigma + D - sigma = 0")
    require(sp.limit(h / s, s, 0) == 1, "h(sigma)/sigma does not tend to 1")
    require(is_zero(h.subs(s, 1) - (sp.sqrt(5) - 1) / 2), "h(1) != (sqrt5 - 1)/2")
    # 0 <= h < sigma: parametrize sigma = k / (1 - k^2), k in (0, 1), so that
    # sqrt(1 + 4 sigma^2) = (1 + k^2) / (1 - k^2) and h(sigma) = k (when h is Definition 5.5)
    sigma, h_of_sigma, _ = _h_rational()
    h = sigma if twin else h_of_sigma
    require_positive(sigma - h, "sigma - h(sigma)")
    require_positive(h, "h(sigma)")


def _h_rational():
    """``(sigma, h(sigma), k)`` with sigma = k / (1 - k^2) for k = 1/(1 + w) in (0, 1), every
    sigma > 0 once: the positive root sqrt(1 + 4 sigma^2) is the rational (1 + k^2)/(1 - k^2),
    so h(sigma) of Definition 5.5 is the rational function k (checked here)."""
    k, _ = unit_interval("k")
    sigma = k / (1 - k**2)
    root = (1 + k**2) / (1 - k**2)
    require(is_zero(root**2 - (1 + 4 * sigma**2)), "root^2 = 1 + 4 sigma^2")
    require_positive(root, "the square root")
    h = (root - 1) / (2 * sigma)  # Definition 5.5 with the square root written out
    require(is_zero(h - k), "h(k / (1 - k^2)) = k")
    return sigma, h, k


@register(
    "thm-5.6",
    "Joint loss (52) with the inner tilting: per canonical pair it is -d sigma - 1/2 log(1 - d^2),"
    " strictly convex on |d| < 1 with its minimum at d = h(sigma) (53); in the scalar model "
    "L_joint(a) = -a c - 1/2 log(1 - a^2 cu cv) is stationary at a = h(sigma)/sqrt(cu cv).",
    WHITENED,
    twin="d = sigma (the conditional loss's answer)",
)
def thm_5_6(twin):
    s, _ = unit_interval()
    d = sp.Symbol("d", real=True)
    pair = -d * s - HALF * sp.log(1 - d**2)
    d_star = s if twin else h_definition(s)
    require(is_zero(sp.diff(pair, d).subs(d, d_star)), "the pair loss is not stationary")
    require_equal(sp.diff(pair, d, 2), (1 + d**2) / (1 - d**2) ** 2, "the pair loss's curvature")
    cu, cv = sp.symbols("c_u c_v", positive=True)
    a = sp.Symbol("a", real=True)
    scalar = -a * s * sp.sqrt(cu * cv) - HALF * sp.log(1 - a**2 * cu * cv)
    require(
        is_zero(sp.diff(scalar, a).subs(a, d_star / sp.sqrt(cu * cv))),
        "the scalar joint loss is not stationary",
    )


@register(
    "cor-5.7",
    "Marginal of u under the inner tilting: Cuu + Cuu A (Cvv^-1 - A^T Cuu A)^-1 A^T Cuu (Schur "
    "complement); for a whitened pair with A = d it is 1/(1 - d^2), so "
    "1 < 1/(1 - h(sigma)^2) < 1/(1 - sigma^2) (55).",
    SCALAR,
    twin="the proof's A^T Cuv A in place of A^T Cuu A",
)
def cor_5_7(twin):
    cu, cv, c = scalar_model()
    a = sp.Symbol("a", real=True)
    precision = sp.Matrix([[1 / cu, -a], [-a, 1 / cv]])  # (40), checked by eq-40
    middle = a * c * a if twin else a * cu * a
    stated = cu + cu * a * (1 / cv - middle) ** -1 * a * cu
    require(is_zero(precision.inv()[0, 0] - stated), "marginal covariance of u")
    s, _ = unit_interval()
    d = sp.Symbol("d", real=True)
    whitened = sp.Matrix([[1, -d], [-d, 1]]).inv()[0, 0]
    require(is_zero(whitened - 1 / (1 - d**2)), "whitened marginal variance")
    # (55): 1/(1 - s^2) - 1/(1 - h^2) = (s^2 - h^2) / ((1 - s^2)(1 - h^2)), whose denominator is
    # positive for 0 <= h < s < 1; the numerator and 1/(1 - h^2) - 1 = h^2 / (1 - h^2) with
    # s = k / (1 - k^2), h(s) = k (def-5.5)
    gap = 1 / (1 - s**2) - 1 / (1 - d**2)
    require(is_zero(gap - (s**2 - d**2) / ((1 - s**2) * (1 - d**2))), "(55) as one fraction")
    sigma, h, _ = _h_rational()
    require_positive(sigma**2 - h**2, "s^2 - h(s)^2: cond minus joint marginal variance")
    require_positive(1 / (1 - h**2) - 1, "joint minus true marginal variance")


# ------------------------------------------------------------------ Appendix D remarks
@register(
    "rem-D.1",
    "J_cond(A) = 1/2 Tr(Cvv^-1 Cvu Cuu^-1 Cuv) + 1/2 L(A) with L(A) = Tr(A^T Cuu A Cvv) - "
    "2 Tr(A^T Cuv); this L is twice the loss (42), so J_cond = const + (42) (Theorem 3.2).",
    SMALL_MATRIX,
    twin="L of Remark D.1 taken equal to (42), as the remark says",
)
def rem_d_1(twin):
    Cuu, Cvv, Cuv = _blocks()
    A = general2("A")
    # J_cond with equal covariances: 1/4 E|mean error|^2 in each direction (Lemma E.1)
    err_u = Cuu * A - Cuv * Cvv.inv()
    err_v = Cvv * A.T - Cuv.T * Cuu.inv()
    J = (err_u.T * Cuu.inv() * err_u * Cvv).trace() / 4
    J += (err_v.T * Cvv.inv() * err_v * Cuu).trace() / 4
    remark_L = (A.T * Cuu * A * Cvv).trace() - 2 * (A.T * Cuv).trace()
    constant = HALF * (Cvv.inv() * Cuv.T * Cuu.inv() * Cuv).trace()
    require(is_zero(J - constant - HALF * remark_L), "J_cond != const + L/2")
    loss_42 = _cond_inner_loss(A, Cuu, Cvv, Cuv)
    require(is_zero(remark_L - (1 if twin else 2) * loss_42), "L of Remark D.1 vs (42)")


@register(
    "rem-D.2",
    "For centred samples the empirical loss (12) with the inner tilting is "
    "-a C_uv + 1/2 a^2 C_uu C_vv + O(a^3) in the sample moments, i.e. Theorem 5.1's quadratic "
    "with empirical covariances only to second order (the a^4 term does not vanish).",
    FINITE,
    twin="the quadratic as printed, without the factor 1/2",
)
def rem_d_2(twin):
    a = sp.Symbol("a", real=True)
    u1, u2, v1, v2 = sp.symbols("u1 u2 v1 v2", real=True)
    us, vs = [u1, u2, -u1 - u2], [v1, v2, -v1 - v2]  # three centred samples
    n = len(us)
    loss = -sum(a * x * y for x, y in zip(us, vs, strict=True)) / n
    loss += sum(log_mean_exp([a * x * y for x in us]) for y in vs) / (2 * n)
    loss += sum(log_mean_exp([a * x * y for y in vs]) for x in us) / (2 * n)
    # Taylor coefficients at a = 0 by differentiation (much faster than sp.series here)
    coefficients = [sp.expand(sp.diff(loss, a, k).subs(a, 0) / sp.factorial(k)) for k in range(5)]
    series = sum(c * a**k for k, c in enumerate(coefficients))
    c_uu = sum(x * x for x in us) / n
    c_vv = sum(y * y for y in vs) / n
    c_uv = sum(x * y for x, y in zip(us, vs, strict=True)) / n
    quadratic = -a * c_uv + (1 if twin else HALF) * a**2 * c_uu * c_vv
    low = sum(series.coeff(a, k) * a**k for k in range(3))
    require(is_zero(low - quadratic), "the second-order expansion differs")
    require(not is_zero(series.coeff(a, 4)), "the a^4 term vanishes (the loss would be exact)")


@register(
    "rem-D.3",
    "Encoders from (A, B): with G^T G = B (e.g. a Cholesky factor) and H = G^-T A, G^T H = A "
    "and H^T H = A^T B^-1 A (the smallest C one embedding realizes).",
    SMALL_MATRIX,
    twin="H = G^-1 A",
)
def rem_d_3(twin):
    g11, g22 = sp.symbols("g11 g22", positive=True)
    G = sp.Matrix([[g11, sp.Symbol("g12", real=True)], [0, g22]])
    A = general2("A")
    B = G.T * G
    H = (G.inv() if twin else G.T.inv()) * A
    require_equal(G.T * H, A, "G^T H")
    require_equal(H.T * H, A.T * B.inv() * A, "H^T H")


# ------------------------------------------------------------------ Appendix E identities
@register(
    "lem-E.1",
    "KL(N(m1, C1) || N(m2, C2)) = 1/2 [Tr(C2^-1 C1) - d + log(|C2|/|C1|) + |m2 - m1|^2_{C2}], "
    "from the defining integral in one dimension.",
    INTEGRAL,
    twin="log(|C1|/|C2|) (the sign of the log-determinant flipped)",
)
def lem_e_1(twin):
    x, m1, m2 = sp.symbols("x m1 m2", real=True)
    c1, c2 = sp.symbols("C1 C2", positive=True)

    def log_density(m, c):
        return -((x - m) ** 2) / (2 * c) - sp.log(2 * sp.pi * c) / 2

    density = sp.exp(log_density(m1, c1))
    integral = sp.integrate(
        sp.expand(density * (log_density(m1, c1) - log_density(m2, c2))), (x, -sp.oo, sp.oo)
    )
    log_ratio = sp.log(c1 / c2) if twin else sp.log(c2 / c1)
    stated = HALF * (c1 / c2 - 1 + log_ratio + (m2 - m1) ** 2 / c2)
    require(is_zero(sp.expand_log(integral - stated, force=True)), "KL integral differs")


@register(
    "lem-E.2",
    "For z ~ N(m, L) and B < L^-1: E exp(z^T B z / 2 + c^T z) = |I - L B|^-1/2 "
    "exp((c + L^-1 m)^T (L^-1 - B)^-1 (c + L^-1 m)/2 - m^T L^-1 m / 2), from the integral in one "
    "dimension (the printed lemma has -m^T L^-1 m: wrong unless m = 0).",
    INTEGRAL,
    twin="the lemma as printed, with -m^T L^-1 m",
)
def lem_e_2(twin):
    z, m, c = sp.symbols("z m c", real=True)
    lam, p = sp.symbols("Lambda p", positive=True)  # p = 1/Lambda - B > 0
    B = 1 / lam - p
    density = sp.exp(-((z - m) ** 2) / (2 * lam)) / sp.sqrt(2 * sp.pi * lam)
    integral = sp.integrate(density * sp.exp(B * z**2 / 2 + c * z), (z, -sp.oo, sp.oo))
    shift = m**2 / lam if twin else m**2 / (2 * lam)
    stated = sp.exp((c + m / lam) ** 2 / (2 * p) - shift) / sp.sqrt(1 - lam * B)
    require(is_zero(sp.simplify(integral / stated) - 1), "the moment generating function differs")
