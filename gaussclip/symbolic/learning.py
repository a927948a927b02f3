r"""Checks of Sections 2-4 and 6 and Appendix B: losses, their probabilistic meaning, retrieval
and classification. Finite batches and finite spaces are written out with symbolic entries;
population statements use the scalar Gaussian model (variances ``cu``, ``cv``, covariance
``c``) with the inner tilting of parameter ``a``."""

import sympy as sp

from ._core import (
    FINITE,
    HALF,
    SCALAR,
    gaussian_expectation,
    is_zero,
    kl_gaussian,
    log_mean_exp,
    register,
    require,
    require_positive,
    scalar_model,
)

N_BATCH = 3


def _similarities(n=N_BATCH):
    """``S[i, j]`` = <g_u(u^i), g_v(v^j)> / tau as free real symbols."""
    return sp.Matrix(n, n, lambda i, j: sp.Symbol(f"S_{i}{j}", real=True))


def _cond_loss(S, weights=(1, 1)):
    """L^N_cond of eq. (12) with weights (Opt. 3.13): the u|v term normalizes over the u's
    (column i of S), the v|u term over the v's (row i)."""
    n = S.shape[0]
    lam_u, lam_v = weights
    u_given_v = sum(S[i, i] - log_mean_exp([S[j, i] for j in range(n)]) for i in range(n))
    v_given_u = sum(S[i, i] - log_mean_exp([S[i, j] for j in range(n)]) for i in range(n))
    return -(sp.Rational(lam_u, 2) * u_given_v + sp.Rational(lam_v, 2) * v_given_u) / n


def _same_up_to_logs(a, b):
    return is_zero(sp.expand_log(sp.expand(a - b), force=True))


@register(
    "thm-2.8",
    "On any batch of N pairs, L^N_clip = L^N_cond + log N (N = 3, every similarity a symbol).",
    FINITE,
    twin="L^N_clip = L^N_cond (the log N dropped)",
)
def thm_2_8(twin):
    S = _similarities()
    n = S.shape[0]
    # (7): -1/2N sum_i [log p(u^i|v^i) + log p(v^i|u^i)], probabilities (5a), (6a)
    log_p_u = [S[i, i] - sp.log(sum(sp.exp(S[j, i]) for j in range(n))) for i in range(n)]
    log_p_v = [S[i, i] - sp.log(sum(sp.exp(S[i, j]) for j in range(n))) for i in range(n)]
    clip = -sum(a + b for a, b in zip(log_p_u, log_p_v, strict=True)) / (2 * n)
    shift = 0 if twin else sp.log(n)
    require(_same_up_to_logs(clip, _cond_loss(S) + shift), "L_clip - L_cond != log N")


# ------------------------------------------------------------------ the scalar Gaussian model
def _scalar():
    """The scalar model's symbols and the inner tilting's parameter ``a``."""
    return (*scalar_model(), sp.Symbol("a", real=True))


def _scalar_losses(cu, cv, c, a):
    """L_cond (11) and L_joint (Opt. 3.7) for the inner tilting exp(a u v): Gaussian moment
    generating functions give E_u exp(a u v) = exp(a^2 cu v^2 / 2) and
    E_{mu_u x mu_v} exp(a u v) = (1 - a^2 cu cv)^-1/2."""
    u_side = gaussian_expectation(a**2 * cu * sp.Symbol("v") ** 2 / 2, sp.Symbol("v"), cv)
    v_side = gaussian_expectation(a**2 * cv * sp.Symbol("u") ** 2 / 2, sp.Symbol("u"), cu)
    cond = -a * c + HALF * u_side + HALF * v_side
    joint = -a * c - HALF * sp.log(1 - a**2 * cu * cv)
    return cond, joint


@register(
    "thm-3.2",
    "J_cond(theta) - L_cond(theta) does not depend on theta: checked for the scalar Gaussian model"
    " with the inner tilting, J_cond from the KL divergences of the conditionals (41).",
    SCALAR,
    twin="L_cond with weight 1 (not 1/2) on each log-normalizer",
)
def thm_3_2(twin):
    cu, cv, c, a = _scalar()
    u, v = sp.symbols("u v", real=True)
    kl_u = kl_gaussian(
        sp.Matrix([c / cv * v]), sp.Matrix([cu - c**2 / cv]), sp.Matrix([cu * a * v]),
        sp.Matrix([cu]),
    )  # fmt: skip
    kl_v = kl_gaussian(
        sp.Matrix([c / cu * u]), sp.Matrix([cv - c**2 / cu]), sp.Matrix([cv * a * u]),
        sp.Matrix([cv]),
    )  # fmt: skip
    J = HALF * gaussian_expectation(kl_u, v, cv) + HALF * gaussian_expectation(kl_v, u, cu)
    cond, _ = _scalar_losses(cu, cv, c, a)
    if twin:
        cond = 2 * cond + a * c  # log-normalizers weighted 1 instead of 1/2
    require(is_zero(sp.diff(J - cond, a)), "J_cond - L_cond depends on the parameter")


@register(
    "thm-3.8",
    "J_joint(theta) = KL(mu || nu) and L_joint differ by a constant: scalar Gaussian model, inner "
    "tilting, nu from the precision (40).",
    SCALAR,
    twin="L_joint with +1/2 log(1 - a^2 cu cv)",
)
def thm_3_8(twin):
    cu, cv, c, a = _scalar()
    data = sp.Matrix([[cu, c], [c, cv]])
    model = sp.Matrix([[1 / cu, -a], [-a, 1 / cv]]).inv()
    zero = sp.zeros(2, 1)
    J = kl_gaussian(zero, data, zero, model)
    _, joint = _scalar_losses(cu, cv, c, a)
    if twin:
        joint = -a * c + HALF * sp.log(1 - a**2 * cu * cv)
    require(is_zero(sp.diff(sp.expand_log(J - joint, force=True), a)), "J - L depends on a")


@register(
    "thm-3.10",
    "L_cond <= L_joint: in the scalar Gaussian model L_joint - L_cond = f(x) = -log(1 - x)/2 - x/2"
    " with x = a^2 cu cv in [0, 1), and f(0) = 0, f' = x / (2 (1 - x)) >= 0.",
    SCALAR,
    twin="the reverse inequality, L_joint <= L_cond",
)
def thm_3_10(twin):
    cu, cv, c, a = _scalar()
    cond, joint = _scalar_losses(cu, cv, c, a)
    x, w = sp.symbols("x w", positive=True)
    gap = (joint - cond).subs(a**2, x / (cu * cv))
    gap = sp.simplify(gap.subs(a, sp.sqrt(x / (cu * cv))))
    if twin:
        gap = -gap
    require(is_zero(gap.subs(x, 0)), "the gap is not 0 at a = 0")
    slope = sp.diff(gap, x)
    # x in (0, 1): x = w / (1 + w), w > 0
    require_positive(sp.factor(slope.subs(x, w / (1 + w))), "d(L_joint - L_cond)/dx")


@register(
    "thm-4.2",
    "Retrieval with K = 1 returns a mode of nu^N_{u|v}: the weights w_i = exp(s_i/tau)/sum_l "
    "exp(s_l/tau) increase with their own similarity and decrease with the others' (N = 3).",
    FINITE,
    twin="weights exp(-s_i/tau)",
)
def thm_4_2(twin):
    s = sp.symbols("s0:3", real=True)
    tau = sp.Symbol("tau", positive=True)
    sign = -1 if twin else 1
    omega = [sp.exp(sign * x / tau) for x in s]
    w0 = omega[0] / sum(omega)
    require_positive(sp.simplify(sp.diff(w0, s[0])), "dw_0/ds_0")
    require_positive(sp.simplify(-sp.diff(w0, s[1])), "-dw_0/ds_1")


@register(
    "eq-35",
    "The fine-tuned classifier (35) picks argmax_i (G_i^T g_u(u)/tau + F_i), the mode of the "
    "weights (33) (the paper prints argmin).",
    FINITE,
    twin="argmin, as printed",
)
def eq_35(twin):
    ell, q = sp.Symbol("ell", real=True), sp.Symbol("q", positive=True)
    other = sp.Symbol("ell_other", real=True)
    # class 0 scores log(1 + q) > 0 more than class 1 (scores G_i^T g / tau + F_i)
    logits = [ell + sp.log(1 + q), ell, other]
    weights = [sp.exp(x) / sum(sp.exp(y) for y in logits) for x in logits]
    chosen, runner_up = (1, 0) if twin else (0, 1)
    require_positive(sp.simplify(weights[chosen] - weights[runner_up]), "the chosen weight gap")


@register(
    "prop-6.1",
    "With one-hot g_v and unnormalized g_u, the labels-given-image conditional loss (weights "
    "(lambda_u, lambda_v) = (0, 2) in the convention of Opt. 3.4) on a batch equals the "
    "cross-entropy of the logits shifted by the log label counts, minus log N (N = 3, K = 2).",
    FINITE,
    twin="weights (2, 0), as the proposition states",
)
def prop_6_1(twin):
    labels = (0, 1, 1)
    n, k = len(labels), 2
    logits = sp.Matrix(n, k, lambda i, j: sp.Symbol(f"l_{i}{j}", real=True))
    S = sp.Matrix(n, n, lambda i, j: logits[i, labels[j]])  # <g_u(u^i), e_{v^j}>
    loss = _cond_loss(S, (2, 0) if twin else (0, 2))
    counts = [labels.count(j) for j in range(k)]
    ce = -sum(
        logits[i, labels[i]] - sp.log(sum(counts[j] * sp.exp(logits[i, j]) for j in range(k)))
        for i in range(n)
    ) / n - sp.log(n)  # fmt: skip
    require(_same_up_to_logs(loss, ce), "the conditional loss is not the shifted cross-entropy")


@register(
    "app-B",
    "The u|v MMD objective J_cond,mmd(theta; 1, 0) equals a constant plus "
    "L = 1/2 E k(u, u') rho(u|v) rho(u'|v) - E_{((v,u),u') ~ mu x mu_u} k(u, u') rho(u'|v) "
    "(signs opposite to the printed loss), on a two-point space with symbolic kernel and weights.",
    FINITE,
    twin="the printed signs, -1/2 E k rho rho + E k rho",
)
def app_b(twin):
    p = sp.Symbol("p", positive=True)  # mu_u = p delta_x1 + (1 - p) delta_x2
    mass = [p, 1 - p]
    k = sp.Matrix(2, 2, lambda i, j: sp.Symbol(f"k_{min(i, j)}{max(i, j)}", real=True))
    r1, rho1 = sp.symbols("r1 rho1", positive=True)
    r = [r1, (1 - p * r1) / (1 - p)]  # density of mu_{u|v} w.r.t. mu_u (integrates to 1)
    rho = [rho1, (1 - p * rho1) / (1 - p)]  # the model's density rho(u|v; theta)

    def pair_sum(f, g):
        return sum(k[i, j] * f[i] * g[j] * mass[i] * mass[j] for i in range(2) for j in range(2))

    J = HALF * (pair_sum(r, r) - 2 * pair_sum(r, rho) + pair_sum(rho, rho))
    sign = -1 if twin else 1
    loss = sign * (HALF * pair_sum(rho, rho) - pair_sum(r, rho))
    require(is_zero(sp.diff(J - loss, rho1)), "J - L depends on the model")
