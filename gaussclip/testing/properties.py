r"""The paper's numerical statements as named, runnable properties (``gaussclip check``).

Each property draws its arguments with :mod:`gaussclip.testing.strategies`, calls only the public
API (``gc.minimize``, ``gc.population_loss``, ``gc.tilted``, ``gc.kl_divergence``,
``JointGaussian`` methods) and compares the result with an *independent* route written here with
NumPy from the covariance blocks: the paper's matrix formulas, a generalized eigenvalue problem,
Monte Carlo, perturbed or random competitors. A failure raises :class:`AssertionError` printing
the quantities compared. Ids shared with ``gaussclip verify`` name the same result (``symbolic``
on each :class:`~gaussclip.testing.runner.Property`).

Comparisons of matrices are made in whitened coordinates, :math:`L_u^\top A L_v` with the
Cholesky factors :math:`\mathcal C_{uu} = L_u L_u^\top`, :math:`\mathcal C_{vv} = L_v L_v^\top`,
where the closed forms are O(1) to O(100) whatever the scale and conditioning of the data.

>>> from gaussclip.testing import get, search
>>> [search(get(i), examples=10).status for i in ("thm-5.1", "cor-5.7")]
['ok', 'ok']
"""

import functools
import math

import numpy as np
from hypothesis import strategies as st

import gaussclip as gc

from . import registry
from .strategies import (
    _blob,
    _cholesky,
    _cholesky_factors,
    _draw_encoders,
    _draw_joint,
    _draw_parameters,
    _eigvalsh,
    _invertible,
    _invertible_count,
    _joint_count,
    _log_condition,
    _not_both_zero,
    _Numbers,
    _solve_triangular,
)

#: The built-in properties draw every number through Hypothesis, never from NumPy's global random
#: state, so a search need not reseed that state for each example (``global_random=False``).
property = functools.partial(registry.property, global_random=False)

#: Largest n_u and n_v in the built-in properties.
MAX_SIZE = 6
#: Sizes of u and v in the built-in properties (Hypothesis shrinks them to 1).
SIZES = st.integers(1, MAX_SIZE)
#: The pair (n_u, n_v) of a built-in property's example, drawn as *one* choice: every pair
#: equally likely, as with two draws from ``SIZES``, and shrinking towards (1, 1) in the same
#: order (n_u first, then n_v). Two draws with the same label invite Hypothesis's generation-time
#: mutator to copy one size over the other, which here changes the length of the blob drawn next
#: and so almost always yields an already-seen or invalid choice sequence: measured, those
#: attempts cost ~0.5 ms per example, and one draw avoids them.
SIZE_PAIRS = st.sampled_from(
    tuple((a, b) for a in range(1, MAX_SIZE + 1) for b in range(1, MAX_SIZE + 1))
)
#: Condition numbers of C_uu and C_vv in the built-in properties.
MAX_CONDITION = 1e6

#: Whitened matrices (closed form vs formula). Both routes are backward stable: each loses
#: ~eps * sqrt(cond(C_uu) cond(C_vv)) <= 2e-10 in whitened coordinates, times the growth
#: 1 / (1 - sigma^2) <= 50 of the one-sided closed forms at sigma <= 0.99, times n <= 12.
WHITENED_ATOL = 1e-6
#: Objectives (O(1)-O(10) sums of traces and log-determinants of whitened matrices): equal up
#: to rounding of those terms, ~1e-13 at the conditioning above; relative to 1 + |J|.
OBJECTIVE_RTOL = 1e-9
#: Rounding unit of population_loss's sums (see _objective_tol): float64 eps times 100. The
#: current (unwhitened) population_loss was measured up to ~13 eps * cond * dim^2 away from the
#: per-pair closed-form objective (new-joint-quadratic, cond(C_uu) ~ 5e5, 500 examples).
ROUNDING = 100 * np.finfo(float).eps
#: Gaussian KL divergences: terms lambda - 1 - log(lambda) of generalized eigenvalues up to
#: cond^2 = 1e12 lose ~eps * 1e12 relative; relative to 1 + KL.
KL_RTOL = 1e-6
#: Truncating to rank r is well posed only with a gap sigma_r - sigma_{r+1}; below this gap only
#: objectives (not matrices) are compared, above it the matrix tolerance is divided by the gap.
RANK_GAP = 1e-3
#: Monte Carlo sample size and the number of standard errors allowed (a false alarm has
#: probability ~2e-9 per example under the central limit theorem).
MC_SAMPLES = 4000
MC_Z = 6.0
#: Steps of the perturbations of a minimizer's encoders (local optimality at three scales).
STEPS = (1e-3, 1e-1, 1.0)


# ----------------------------------------------------------------------------------- helpers
def _report(what, **quantities):
    lines = [what]
    for name, value in quantities.items():
        text = np.array2string(np.asarray(value, dtype=float), precision=12, max_line_width=100)
        lines.append(f"  {name} = {text}")
    return "\n".join(lines)


def _assert_close(what, actual, expected, atol, **context):
    actual, expected = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    error = float(np.max(np.abs(actual - expected), initial=0.0))
    if not error <= atol:
        raise AssertionError(
            _report(
                f"{what}: max |actual - expected| = {error:.3g} > {atol:.3g}",
                actual=actual,
                expected=expected,
                **context,
            )
        )


def _assert_le(what, small, large, atol, **context):
    if not float(small) <= float(large) + atol:
        raise AssertionError(
            _report(f"{what}: {float(small)!r} > {float(large)!r} + {atol:.3g}", **context)
        )


@functools.lru_cache(maxsize=8)
def _blocks(mu):
    """Cholesky factors and condition numbers of C_uu and C_vv, computed once per drawn ``mu``
    (several comparisons of one example use them; keyed by identity, a few kept). The factors
    are those the strategies whitened the example's encoders with (computed once for both); the
    condition numbers, of symmetric positive definite blocks, are their eigenvalue ratios."""
    factor_u, factor_v = _cholesky_factors(mu)
    return {
        "u": factor_u,
        "v": factor_v,
        "cond": max(_spd_condition(mu.Cuu), _spd_condition(mu.Cvv)),
    }


def _spd_condition(matrix):
    """2-norm condition number of a symmetric positive definite matrix: lambda_max / lambda_min."""
    lam = _eigvalsh(matrix)
    return float(lam[-1] / lam[0])


def _factor(mu, side):
    """L with C_side,side = L L^T."""
    return _blocks(mu)[side]


def _white(mu, a, left="u", right="v"):
    """L_left^T a L_right."""
    return _factor(mu, left).T @ a @ _factor(mu, right)


def _white_cov(mu, cov, side="u"):
    """L^{-1} cov L^{-T}: a covariance of ``side`` relative to the data marginal."""
    factor = _factor(mu, side)
    x = _solve_triangular(factor, cov, lower=True)
    return _solve_triangular(factor, x.T, lower=True).T


def _omega(mu):
    """Whitened cross-covariance L_u^{-1} C_uv L_v^{-T} (an orthogonal rotation of the paper's
    C_uu^{-1/2} C_uv C_vv^{-1/2}: same singular values, Theorem 5.6)."""
    x = _solve_triangular(_factor(mu, "u"), mu.Cuv, lower=True)
    return _solve_triangular(_factor(mu, "v"), x.T, lower=True).T


def _h(s):
    """Definition 5.5 in the cancellation-free form 2 s / (1 + sqrt(1 + 4 s^2))."""
    return 2.0 * s / (1.0 + np.sqrt(1.0 + 4.0 * s**2))


def _truncate(matrix, r):
    u, s, vt = np.linalg.svd(matrix, full_matrices=False)
    return (u[:, :r] * s[:r]) @ vt[:r], s


def _objective_tol(mu, value):
    """OBJECTIVE_RTOL relative to 1 + |J|, plus the rounding of ``population_loss``: it sums
    traces of products of the (unwhitened) blocks and their inverses, terms of size up to
    cond(C_uu), cond(C_vv) that cancel down to J, so it is exact to ~eps * cond * dim^2."""
    cond = _blocks(mu)["cond"]
    return OBJECTIVE_RTOL * (1.0 + abs(float(value))) + ROUNDING * cond * mu.dim**2


def _loss(mu, loss, tilting, params, w=(1.0, 1.0)):
    return float(gc.population_loss(mu, loss, tilting, weights=w, **params))


def _zero(mu, tilting):
    a = np.zeros((mu.n_u, mu.n_v))
    if tilting == "inner":
        return {"A": a, "B": None, "C": None}
    return {"A": a, "B": np.zeros((mu.n_u, mu.n_u)), "C": np.zeros((mu.n_v, mu.n_v))}


def _pad(x, rows):
    out = np.zeros((rows, x.shape[1]))
    out[: x.shape[0]] = x
    return out


def _assert_no_better(mu, sol, loss, tilting, w, direction, competitor, rows):
    """The minimizer's objective is <= the objective at perturbed encoders (three step sizes)
    and at a drawn competitor; parameters outside the model's domain count as +inf."""
    value = float(sol.objective)
    d_g, d_h = direction
    g0, h0 = _pad(sol.G, rows), _pad(sol.H, rows)
    candidates = [
        (f"step {t}", {"G": g0 + t * d_g[:rows], "H": h0 + t * d_h[:rows]}) for t in STEPS
    ]
    candidates.append(("random competitor", competitor))
    for name, params in candidates:
        try:
            other = float(gc.population_loss(mu, loss, tilting, weights=w, **params))
        except gc.DomainError:
            continue
        _assert_le(
            f"{loss} x {tilting} {w}: minimizer objective vs {name}",
            value,
            other,
            _objective_tol(mu, value),
            minimizer=value,
            other=other,
        )


# Strategies are built once: Hypothesis describes every new strategy (reading lambdas' source),
# which would cost more than an example. Composites below draw through the strategies module's
# plain drawing functions instead of building per-example strategies.
_TOP = _log_condition(MAX_CONDITION)
_TILTINGS = ("inner", "quadratic")
#: Largest free loss weight (as ``weights()``).
MAX_WEIGHT = 4.0
_FREE_WEIGHT = st.floats(0.0, MAX_WEIGHT, allow_subnormal=False)
#: Kinds of loss weights with their multiplicities: the paper's presets (CLIP first, the shrink
#: target) as likely together as a free pair, as in ``weights()``.
_WEIGHT_KINDS = (((1.0, 1.0), 1), ((2.0, 0.0), 1), ((0.0, 2.0), 1), ("free", 3))
#: Ranks r in [1, k] are drawn uniformly for each pair of sizes: a pair with k = min(n_u, n_v)
#: lists each rank _RANK_SLOTS / k times (_RANK_SLOTS = lcm(1, ..., MAX_SIZE)).
_RANK_SLOTS = math.lcm(*range(1, MAX_SIZE + 1))


def _choices(rank=False, options=((None, 1),)):
    """Every discrete choice of an example as *one* ``sampled_from``: the pair of sizes, a rank
    (when ``rank``) and one of ``options`` ((value, multiplicity) pairs), as likely as separate
    draws would make them (pairs uniform, then the rank uniform in [1, min(n_u, n_v)], then the
    option by multiplicity), listed in the order separate shrinking draws prefer (sizes, rank,
    option). Each separate draw would cost Hypothesis about as much as an engine call (measured
    40-100 us; the ``weights()`` strategy's one_of/map ~0.3 ms) and invite its mutator (see
    :data:`SIZE_PAIRS`)."""
    table = []
    for a, b in SIZE_PAIRS.elements:
        k = min(a, b)
        ranks = [(r, _RANK_SLOTS // k) for r in range(1, k + 1)] if rank else [(k, 1)]
        for r, rank_count in ranks:
            for option, count in options:
                table += [(a, b, r, option)] * (rank_count * count)
    return st.sampled_from(tuple(table))


def _weights(draw, kind):
    """Loss weights of a drawn kind: a preset, or a free pair (each in [0, MAX_WEIGHT], not both
    zero: then CLIP's (1, 1))."""
    if kind != "free":
        return kind
    return _not_both_zero((draw(_FREE_WEIGHT), draw(_FREE_WEIGHT)))


def _numbers(draw, count):
    """The numbers of one example, drawn by Hypothesis in one blob.

    Sizes (and other discrete choices) are drawn first, then a single blob holding every number
    the example needs (the joint Gaussian's spectra and rotations, encoders, points, ...),
    decoded in order by the strategies module's drawing functions. One blob instead of one per
    object saves Hypothesis's per-draw bookkeeping, and shrinking is unchanged: zero bytes are
    still identity blocks, zero correlations and zero encoders."""
    return _Numbers(draw(_blob(count)))


def _sizes(draw):
    return draw(SIZE_PAIRS)


@st.composite
def _joint(draw):
    """A joint Gaussian (what ``joint_gaussians(SIZES, SIZES)`` draws, sizes as one pair)."""
    a, b = _sizes(draw)
    return {"mu": _draw_joint(draw, a, b, None, _TOP)}


def _draw_case(draw, choices, tilting="inner", *, mean=False, perturb=False, extra=0):
    """An example's discrete choices (one draw from ``choices``, see :func:`_choices`; an
    option's ``tilting`` overrides the argument), then one blob: mu, a competitor of the tilting
    (``params``: realizable A, B, C) and optionally (``perturb``) a perturbation direction of
    the encoders, the competitor then being rank-r encoders G, H themselves. Returns the dict,
    the rank, the option (a dict) and the blob's numbers, ``extra`` of them left for the
    caller."""
    a, b, r, option = draw(choices)
    option = dict(option or ())
    tilting = option.get("tilting", tilting)
    k = min(a, b)
    count = _joint_count(a, b, mean=mean) + (r + (k if perturb else 0)) * (a + b) + extra
    numbers = _numbers(draw, count)
    mu = _draw_joint(draw, a, b, None, _TOP, mean, numbers=numbers)
    if perturb:  # random rank-r encoders (the same numbers _draw_parameters would use)
        params = dict(zip("GH", _draw_encoders(draw, mu, r, numbers=numbers), strict=True))
        out = {"mu": mu, "params": params}
        out["direction"] = _draw_encoders(draw, mu, k, numbers=numbers)
    else:
        out = {"mu": mu, "params": _draw_parameters(draw, mu, tilting, r, numbers=numbers)}
    return out, r, option, numbers


@st.composite
def _drawn_case(draw, choices, tilting, rank, perturb):
    out, r, option, _ = _draw_case(draw, choices, tilting, perturb=perturb)
    if rank:
        out["rank"] = r
    if "tilting" in option:
        out["tilting"] = option["tilting"]
    if "w" in option:
        out["w"] = _weights(draw, option["w"])
    return out


def _case(*, tilting="inner", rank=False, perturb=False, w=False):
    """mu, a competitor of the tilting (``params``), optionally a drawn tilting
    (``tilting=None``), a rank, weights and a perturbation direction of the encoders."""
    options = ((None, 1),)
    if tilting is None:
        options = tuple(((("tilting", t),), 1) for t in _TILTINGS)
    elif w:
        options = tuple(((("w", kind),), count) for kind, count in _WEIGHT_KINDS)
    return _drawn_case(_choices(rank, options), tilting, rank, perturb)


def _check_rank_r(mu, sol, r, what):
    """The whitened A of a rank-r solution has rank <= r."""
    s = np.linalg.svd(_white(mu, sol.A), compute_uv=False)
    _assert_close(f"{what}: singular values beyond rank {r}", s[r:], 0.0, WHITENED_ATOL, all=s)


def _compare_truncated(mu, sol, expected, sigma, r, what):
    """Rank-r answers: matrices when the gap sigma_r - sigma_{r+1} allows, objectives always."""
    gap = sigma[r - 1] - sigma[r] if r < sigma.size else np.inf
    if gap >= RANK_GAP and sigma[r - 1] > 0:
        _assert_close(what, _white(mu, sol.A), expected, WHITENED_ATOL / min(gap, 1.0))


# ----------------------------------------------------------------------- Section 3 (losses)
@property(
    "thm-3.10",
    "L_cond(theta) <= L_joint(theta) for every theta (inner and quadratic tiltings).",
    example=_case(tilting=None),
    symbolic="thm-3.10",
)
def thm_3_10(mu, tilting, params):
    # L = J - J(0): the losses of Problems 2.7 and 3.7 vanish at theta = 0 and differ from the
    # divergences J by constants (Theorems 3.2 and 3.8)
    zero = _zero(mu, tilting)
    cond = _loss(mu, "cond", tilting, params) - _loss(mu, "cond", tilting, zero)
    joint = _loss(mu, "joint", tilting, params) - _loss(mu, "joint", tilting, zero)
    _assert_le(
        "L_cond <= L_joint", cond, joint, _objective_tol(mu, joint), L_cond=cond, L_joint=joint
    )


# --------------------------------------------------------------------- Section 5.1 (CLIP)
@property(
    "thm-5.1",
    "minimize(cond, inner) returns A* = C_uu^-1 C_uv C_vv^-1 (43), no competitor does better.",
    example=_case(),
    symbolic="thm-5.1",
)
def thm_5_1(mu, params):
    sol = gc.minimize(mu, "cond", "inner")
    _assert_close("whitened A vs (43)", _white(mu, sol.A), _omega(mu), WHITENED_ATOL)
    _assert_le(
        "J(A*) <= J(competitor)",
        sol.objective,
        _loss(mu, "cond", "inner", params),
        _objective_tol(mu, sol.objective),
    )


@property(
    "thm-5.1-rank",
    "minimize(cond, inner, rank=r) returns (44), the rank-r truncation in whitened "
    "coordinates, and no rank-r competitor does better.",
    example=_case(rank=True),
    symbolic="thm-5.1-rank",
)
def thm_5_1_rank(mu, rank, params):
    sol = gc.minimize(mu, "cond", "inner", rank=rank)
    expected, sigma = _truncate(_omega(mu), rank)
    _check_rank_r(mu, sol, rank, "A*(r)")
    _compare_truncated(mu, sol, expected, sigma, rank, "whitened A*(r) vs (44)")
    at_formula = _loss(mu, "cond", "inner", {"A": _white_inverse(mu, expected)})
    _assert_close("J(A*(r)) vs J((44))", sol.objective, at_formula, _objective_tol(mu, at_formula))
    _assert_le(
        "J(A*(r)) <= J(rank-r competitor)",
        sol.objective,
        _loss(mu, "cond", "inner", params),
        _objective_tol(mu, sol.objective),
    )


def _white_inverse(mu, x, left="u", right="v"):
    """The matrix whose whitened form is ``x``: L_left^{-T} x L_right^{-1}."""
    fl, fr = _factor(mu, left), _factor(mu, right)
    y = _solve_triangular(fl, x, lower=True, trans="T")
    return _solve_triangular(fr, y.T, lower=True, trans="T").T


@st.composite
def _with_points(draw, mean=True):
    """mu and conditioning points u = m_u + L_u z_u, v = m_v + L_v z_v with |z| <= 3."""
    a, b = _sizes(draw)
    numbers = _numbers(draw, _joint_count(a, b, mean=mean) + a + b)
    mu = _draw_joint(draw, a, b, None, _TOP, mean, numbers=numbers)
    z = 3.0 * numbers.signed(a + b)
    return {
        "mu": mu,
        "u": mu.mean_u + _factor(mu, "u") @ z[: mu.n_u],
        "v": mu.mean_v + _factor(mu, "v") @ z[mu.n_u :],
    }


def _point_scale(mu, side, given):
    """1 + |L^{-1}(x - m)|_1 for a conditioning point x of ``side``: whitened conditional-mean
    errors grow with it."""
    centre = mu.mean_u if side == "u" else mu.mean_v
    return 1.0 + float(
        np.abs(_solve_triangular(_factor(mu, side), given - centre, lower=True)).sum()
    )


@property(
    "cor-5.2",
    "At A*, nu_{u|v} = N(C_uv C_vv^-1 v, C_uu) and nu_{v|u} = N(C_vu C_uu^-1 u, C_vv) (45): "
    "the means match mu's, the covariances exceed mu's by a PSD matrix with eigenvalues "
    "sigma_i^2 relative to C_uu.",
    example=_with_points(),
    symbolic="cor-5.2",
)
def cor_5_2(mu, u, v):
    nu = gc.minimize(mu, "cond", "inner").model
    for side, given, other in (("u", v, "v"), ("v", u, "u")):
        block = mu.Cuu if side == "u" else mu.Cvv
        factor = _factor(mu, side)
        diff = nu.conditional_mean(side, given) - mu.conditional_mean(side, given)
        scale = _point_scale(mu, other, given)
        _assert_close(
            f"whitened E_nu[{side}|{other}] - E_mu[{side}|{other}] (45)",
            _solve_triangular(factor, diff, lower=True),
            0.0,
            WHITENED_ATOL * scale,
        )
        n = block.shape[0]
        _assert_close(
            f"whitened Cov_nu[{side}|{other}] vs C_{side}{side} (45)",
            _white_cov(mu, nu.conditional_cov(side), side),
            np.eye(n),
            WHITENED_ATOL,
        )
    excess = _eigvalsh(_white_cov(mu, mu.Cuu - mu.conditional_cov("u"), "u"))[::-1]
    sigma = mu.canonical_correlations()
    expected = np.zeros(mu.n_u)
    expected[: sigma.size] = sigma**2
    _assert_close(
        "eigenvalues of the whitened excess C_uu - C_{u|v}", excess, expected, WHITENED_ATOL
    )


# -------------------------------------------------------------- Section 5.2 (one-sided)
def _schur(mu, side):
    """C_{u|v} = C_uu - C_uv C_vv^-1 C_vu from the blocks (solve, not inverse)."""
    if side == "u":
        return mu.Cuu - mu.Cuv @ np.linalg.solve(mu.Cvv, mu.Cvu)
    return mu.Cvv - mu.Cvu @ np.linalg.solve(mu.Cuu, mu.Cuv)


@property(
    "thm-5.3",
    "minimize(cond, quadratic, weights=(2, 0)) returns (49a) A* = C_{u|v}^-1 C_uv C_vv^-1 and "
    "(49b) B* = C_uu^-1 C_uv C_{v|u}^-1 C_vu C_uu^-1, and no competitor does better.",
    example=_case(tilting="quadratic"),
    symbolic="thm-5.3",
)
def thm_5_3(mu, params):
    sol = gc.minimize(mu, "cond", "quadratic", weights=(2.0, 0.0))
    a_star = np.linalg.solve(_schur(mu, "u"), np.linalg.solve(mu.Cvv, mu.Cvu).T)
    gain = np.linalg.solve(mu.Cuu, mu.Cuv)
    b_star = gain @ np.linalg.solve(_schur(mu, "v"), gain.T)
    _assert_close("whitened A vs (49a)", _white(mu, sol.A), _white(mu, a_star), WHITENED_ATOL)
    _assert_close(
        "whitened B vs (49b)",
        _white(mu, sol.B, "u", "u"),
        _white(mu, b_star, "u", "u"),
        WHITENED_ATOL,
    )
    _assert_le(
        "J(A*, B*) <= J(competitor)",
        sol.objective,
        _loss(mu, "cond", "quadratic", params, (2.0, 0.0)),
        _objective_tol(mu, sol.objective),
    )


@property(
    "thm-5.3-rank",
    "minimize(cond, quadratic, (2, 0), rank=r) solves (50): A and B of rank <= r, no rank-r "
    "competitor or perturbation does better, J decreases with r to the unconstrained J.",
    example=_case(tilting="quadratic", rank=True, perturb=True),
    symbolic="new-one-sided-rank",
)
def thm_5_3_rank(mu, rank, params, direction):
    w = (2.0, 0.0)
    sol = gc.minimize(mu, "cond", "quadratic", weights=w, rank=rank)
    _check_rank_r(mu, sol, rank, "A*(r)")
    s = np.linalg.svd(_white(mu, sol.B, "u", "u"), compute_uv=False)
    _assert_close(f"singular values of B*(r) beyond rank {rank}", s[rank:], 0.0, WHITENED_ATOL)
    _assert_no_better(mu, sol, "cond", "quadratic", w, direction, params, rank)
    full = gc.minimize(mu, "cond", "quadratic", weights=w)
    _assert_le(
        "J(full) <= J(rank r)", full.objective, sol.objective, _objective_tol(mu, sol.objective)
    )
    if rank == min(mu.n_u, mu.n_v):
        _assert_close(
            "J(rank k) vs J(full)",
            sol.objective,
            full.objective,
            _objective_tol(mu, full.objective),
        )


@property(
    "cor-5.4",
    "At (A*, B*) of the (2, 0) loss, nu_{u|v} = mu_{u|v} exactly (51); at the (0, 2) mirror, "
    "nu_{v|u} = mu_{v|u}.",
    example=_with_points(),
    symbolic="cor-5.4",
)
def cor_5_4(mu, u, v):
    for w, side, given, other in (((2.0, 0.0), "u", v, "v"), ((0.0, 2.0), "v", u, "u")):
        nu = gc.minimize(mu, "cond", "quadratic", weights=w).model
        factor = _factor(mu, side)
        diff = nu.conditional_mean(side, given) - mu.conditional_mean(side, given)
        scale = _point_scale(mu, other, given)
        _assert_close(
            f"whitened E_nu[{side}|{other}] - E_mu[{side}|{other}] (51), weights {w}",
            _solve_triangular(factor, diff, lower=True),
            0.0,
            WHITENED_ATOL * scale,
        )
        _assert_close(
            f"whitened Cov_nu[{side}|{other}] vs C_{side}|{other} (51), weights {w}",
            _white_cov(mu, nu.conditional_cov(side), side),
            _white_cov(mu, _schur(mu, side), side),
            WHITENED_ATOL,
        )


# ----------------------------------------------------------------- Section 5.3 (joint loss)
def _joint_formula(mu):
    """(53) in whitened coordinates: P h(S) R^T for the SVD P S R^T of the whitened C_uv."""
    p, s, rt = np.linalg.svd(_omega(mu), full_matrices=False)
    return (p * _h(s)) @ rt, s


@property(
    "thm-5.6",
    "minimize(joint, inner) returns A* = C_uu^-1/2 U h(Sigma) V^T C_vv^-1/2 (53), and no "
    "competitor does better.",
    example=_case(),
    symbolic="thm-5.6",
)
def thm_5_6(mu, params):
    sol = gc.minimize(mu, "joint", "inner")
    expected, _ = _joint_formula(mu)
    _assert_close("whitened A vs (53)", _white(mu, sol.A), expected, WHITENED_ATOL)
    _assert_le(
        "J(A*) <= J(competitor)",
        sol.objective,
        _loss(mu, "joint", "inner", params),
        _objective_tol(mu, sol.objective),
    )


@property(
    "thm-5.6-rank",
    "minimize(joint, inner, rank=r) returns (54), the rank-r truncation of U h(Sigma) V^T, and "
    "no rank-r competitor does better.",
    example=_case(rank=True),
    symbolic="thm-5.6",
)
def thm_5_6_rank(mu, rank, params):
    sol = gc.minimize(mu, "joint", "inner", rank=rank)
    full, sigma = _joint_formula(mu)
    expected, _ = _truncate(full, rank)
    _check_rank_r(mu, sol, rank, "A*(r)")
    _compare_truncated(mu, sol, expected, sigma, rank, "whitened A*(r) vs (54)")
    at_formula = _loss(mu, "joint", "inner", {"A": _white_inverse(mu, expected)})
    _assert_close("J(A*(r)) vs J((54))", sol.objective, at_formula, _objective_tol(mu, at_formula))
    _assert_le(
        "J(A*(r)) <= J(rank-r competitor)",
        sol.objective,
        _loss(mu, "joint", "inner", params),
        _objective_tol(mu, sol.objective),
    )


@property(
    "cor-5.7",
    "The u-marginals of the cond and joint minimizers are (55a), (55b): relative to C_uu their "
    "eigenvalues are 1/(1 - sigma^2) and 1/(1 - h(sigma)^2), so C_uu <= nu_u(joint) <= "
    "nu_u(cond) in the Loewner order.",
    example=_joint(),
    symbolic="cor-5.7",
)
def cor_5_7(mu):
    sigma = mu.canonical_correlations()
    cond = _white_cov(mu, gc.minimize(mu, "cond", "inner").model.marginal("u").cov)
    joint = _white_cov(mu, gc.minimize(mu, "joint", "inner").model.marginal("u").cov)
    for name, model, d in (("(55a)", cond, sigma), ("(55b)", joint, _h(sigma))):
        expected = np.ones(mu.n_u)
        expected[: d.size] = 1.0 / (1.0 - d**2)
        got = np.sort(_eigvalsh(model))
        _assert_close(
            f"whitened eigenvalues of nu_u {name}",
            got,
            np.sort(expected),
            WHITENED_ATOL * expected.max(),
        )
    for name, diff in (
        ("nu_u(joint) - C_uu", joint - np.eye(mu.n_u)),
        ("nu_u(cond) - nu_u(joint)", cond - joint),
    ):
        low = float(_eigvalsh(diff).min())
        _assert_le(f"0 <= {name} (Loewner)", 0.0, low, WHITENED_ATOL * np.abs(cond).max())


# ------------------------------------------------------------- Appendix E (KL divergences)
@st.composite
def _gaussian_pair(draw):
    a, b = _sizes(draw)
    numbers = _numbers(draw, 2 * _joint_count(a, b, mean=True))
    mu = _draw_joint(draw, a, b, None, _TOP, mean=True, numbers=numbers)
    nu = _draw_joint(draw, a, b, None, _TOP, mean=True, numbers=numbers)
    return {"mu": mu, "nu": nu}


def _pencil(cov, factor):
    """Eigenvalues (ascending) of L^-1 cov L^-T: those of the pencil (cov, L L^T)."""
    x = _solve_triangular(factor, cov, lower=True)
    return _eigvalsh(_solve_triangular(factor, x.T, lower=True).T)


def _kl_generalized(mean_p, cov_p, mean_q, cov_q):
    """KL(N_p || N_q) from the generalized eigenvalues lam of (C_p, C_q): an independent route.

    ``eigvalsh`` resolves eigenvalues only to ~eps times the largest one, and lam can span 16
    orders of magnitude here (two joint covariances of condition up to ~1e8), where the smallest
    came out as rounding noise, even negative (a NaN log). So each lam is read from the pencil
    in which it is large: lam >= 1 from (C_p, C_q), lam < 1 as 1 / (the eigenvalue of (C_q, C_p)),
    each to a relative error of ~eps * max(lam_max, 1 / lam_min) at most."""
    factor = _cholesky(cov_q)
    lam = _pencil(cov_p, factor)
    lam = np.where(lam >= 1.0, lam, 1.0 / _pencil(cov_q, _cholesky(cov_p))[::-1])
    d = _solve_triangular(factor, mean_p - mean_q, lower=True)
    return 0.5 * float(np.sum(lam - 1.0 - np.log(lam)) + d @ d)


@property(
    "lem-E.1",
    "gc.kl_divergence equals Lemma E.1 computed from the generalized eigenvalues of the two "
    "covariances; KL(p || p) = 0.",
    example=_gaussian_pair(),
    symbolic="lem-E.1",
)
def lem_e_1(mu, nu):
    p, q = gc.Gaussian(mu.mean, mu.cov), gc.Gaussian(nu.mean, nu.cov)
    got = float(gc.kl_divergence(p, q))
    expected = _kl_generalized(p.mean, p.cov, q.mean, q.cov)
    _assert_close("KL(p || q) vs generalized eigenvalues", got, expected, KL_RTOL * (1 + expected))
    _assert_close("KL(p || p)", float(gc.kl_divergence(p, p)), 0.0, KL_RTOL)


@property(
    "kl-chain-rule",
    "KL(mu || nu) = KL(mu_v || nu_v) + E_{v ~ mu_v} KL(mu_{u|v} || nu_{u|v}) for joint Gaussians "
    "(the decomposition behind the conditional losses, Lemma E.1 in expectation).",
    example=_gaussian_pair(),
    symbolic="lem-E.1",
)
def kl_chain_rule(mu, nu):
    total = float(gc.kl_divergence(mu, nu))
    marginal = float(gc.kl_divergence(mu.marginal("v"), nu.marginal("v")))
    # the conditional means are affine in v: m(v) = m(m_v) + K (v - m_v); the KL at v is the KL
    # at v = m_v plus 1/2 d^T S_nu^-1 d with d = (K_mu - K_nu)(v - m_v), whose mean over
    # v ~ N(m_v, C_vv) is 1/2 Tr(D^T S_nu^-1 D C_vv)
    m_v = mu.mean_v
    at_mean = float(gc.kl_divergence(mu.conditional("u", m_v), nu.conditional("u", m_v)))
    basis = m_v + np.eye(mu.n_v)
    d = (mu.conditional_mean("u", basis) - nu.conditional_mean("u", basis)).T
    d -= (mu.conditional_mean("u", m_v) - nu.conditional_mean("u", m_v))[:, None]
    spread = 0.5 * float(np.sum(d * np.linalg.solve(nu.conditional_cov("u"), d @ mu.Cvv)))
    chain = marginal + at_mean + spread
    _assert_close(
        "KL(mu || nu) vs chain rule",
        total,
        chain,
        KL_RTOL * (1 + abs(total)),
        marginal=marginal,
        conditional=at_mean + spread,
    )


# ------------------------------------------------------------------------------ invariance
#: (loss, tilting, weights) with a closed form.
CLOSED_FORMS = (
    ("cond", "inner", (1.0, 1.0)),
    ("cond", "inner", (2.0, 0.0)),
    ("cond", "inner", (0.3, 1.7)),
    ("joint", "inner", (1.0, 1.0)),
    ("cond", "quadratic", (1.0, 1.0)),
    ("cond", "quadratic", (3.0, 3.0)),
    ("cond", "quadratic", (2.0, 0.0)),
    ("cond", "quadratic", (0.0, 2.0)),
    ("joint", "quadratic", (1.0, 1.0)),
)


#: Condition number of the changes of variables M_u, M_v.
CHANGE_CONDITION = 10.0


_CHANGE_TOP = np.log10(CHANGE_CONDITION)
_CHANGE_CHOICES = _choices(options=tuple((problem, 1) for problem in CLOSED_FORMS))


@st.composite
def _changes(draw):
    a, b, _, problem = draw(_CHANGE_CHOICES)
    count = _joint_count(a, b) + _invertible_count(a) + _invertible_count(b) + a + b
    numbers = _numbers(draw, count)
    return {
        "mu": _draw_joint(draw, a, b, None, _TOP, numbers=numbers),
        "m_u": _invertible(numbers, a, _CHANGE_TOP),
        "m_v": _invertible(numbers, b, _CHANGE_TOP),
        "shift": 10.0 * numbers.signed(a + b),
        "problem": problem,
    }


@property(
    "invariance-uv",
    "Under u -> M_u u + c_u, v -> M_v v + c_v (M invertible) canonical correlations and minimal "
    "objectives are unchanged and the minimizer maps to A' = M_u^-T A M_v^-1 (B' likewise).",
    example=_changes(),
)
def invariance_uv(mu, m_u, m_v, shift, problem):
    loss, tilting, w = problem
    t = np.block([[m_u, np.zeros((mu.n_u, mu.n_v))], [np.zeros((mu.n_v, mu.n_u)), m_v]])
    moved = gc.JointGaussian(t @ mu.cov @ t.T, mu.n_u, mean=shift)
    _assert_close(
        "canonical correlations",
        moved.canonical_correlations(),
        mu.canonical_correlations(),
        WHITENED_ATOL,
    )
    a = gc.minimize(mu, loss, tilting, weights=w)
    b = gc.minimize(moved, loss, tilting, weights=w)
    _assert_close(
        f"minimal objective {problem}", b.objective, a.objective, _objective_tol(mu, a.objective)
    )
    _assert_close(
        f"whitened M_u^T A' M_v vs A {problem}",
        _white(mu, m_u.T @ b.A @ m_v),
        _white(mu, a.A),
        WHITENED_ATOL,
    )
    if tilting == "quadratic" and w[0] > 0:
        _assert_close(
            f"whitened M_u^T B' M_u vs B {problem}",
            _white(mu, m_u.T @ b.B @ m_u, "u", "u"),
            _white(mu, a.B, "u", "u"),
            WHITENED_ATOL,
        )


# ------------------------------------------------------------------------------ Monte Carlo
#: The Monte Carlo property's options: the loss, the tilting and (for the conditional loss) the
#: kind of weights, each loss as likely as the other.
_MC_OPTIONS = tuple(
    ((("loss", loss), ("tilting", tilting), ("w", kind)), count)
    for loss in ("cond", "joint")
    for tilting in _TILTINGS
    for kind, count in (_WEIGHT_KINDS if loss == "cond" else (((1.0, 1.0), 6),))
)
_MC_CHOICES = _choices(rank=True, options=_MC_OPTIONS)


@st.composite
def _mc_case(draw):
    out, _, option, _ = _draw_case(draw, _MC_CHOICES, mean=True)
    return {
        "mu": out["mu"],
        "loss": option["loss"],
        "tilting": option["tilting"],
        "w": _weights(draw, option["w"]),
        "params": out["params"],
    }


_LOG_2PI = float(np.log(2.0 * np.pi))


def _log_density(white, factor):
    """log N(x; m, L L^T) at points given by their whitened coordinates L^{-1}(x - m), the
    rows of ``white`` (N, n)."""
    n = factor.shape[0]
    return (
        -0.5 * (np.einsum("ij,ij->i", white, white) + n * _LOG_2PI)
        - np.log(factor.diagonal()).sum()
    )


@functools.cache
def _mc_normals(d):
    """The (MC_SAMPLES, d) standard normal draws z of :func:`_mc_terms` (seed 0: the same for
    every example of dimension d, so drawn once per d and kept read-only)."""
    z = np.random.default_rng(0).standard_normal((MC_SAMPLES, d))
    z.flags.writeable = False
    return z


def _mc_terms(mu, nu, loss, w):
    """The Monte Carlo summands of J at MC_SAMPLES draws of mu: log-density ratios of mu and
    nu (joint loss) or their weighted conditional ratios (cond loss).

    The draws are x = m + L z (z standard normal from seed 0, L the Cholesky factor of mu's
    covariance), and every density is evaluated from whitened coordinates computed here with
    NumPy (independently of gaussclip's ``logpdf``): z itself for mu; K z + c for a Gaussian
    N(m', L' L'^T), with K = L'^-1 L and c = L'^-1 (m - m') from small triangular solves; the
    v-marginals likewise with the factors of the v-blocks, applied to the v-rows of L z. All of
    them come from one product of z with the stacked K's. The u-marginals need nothing more:
    the leading n_u x n_u block of a Cholesky factor is the factor of the u-block, so u's
    whitened coordinates are the first n_u joint ones."""
    n_u, d = mu.n_u, mu.dim
    factor = _cholesky(mu.cov)
    factor_nu = _cholesky(nu.cov)
    v_rows = factor[n_u:]  # v - m_v = (L z)[n_u:]
    shift = mu.mean - nu.mean
    maps = [(factor_nu, factor, shift)]  # nu, joint
    if loss == "cond":
        maps += [
            (_cholesky(mu.Cvv), v_rows, np.zeros(d - n_u)),
            (_cholesky(nu.Cvv), v_rows, shift[n_u:]),
        ]
    k = np.vstack([_solve_triangular(f, rows, lower=True) for f, rows, _ in maps])
    c = np.concatenate([_solve_triangular(f, m, lower=True) for f, _, m in maps])
    z = _mc_normals(d)
    white = z @ k.T + c
    ratio = _log_density(z, factor) - _log_density(white[:, :d], factor_nu)
    if loss == "joint":
        return ratio
    # log mu(u|v) - log nu(u|v) = ratio - (log mu_v(v) - log nu_v(v)), likewise for v|u
    ratio_u = _log_density(z[:, :n_u], factor[:n_u, :n_u]) - _log_density(
        white[:, :n_u], factor_nu[:n_u, :n_u]
    )
    ratio_v = _log_density(white[:, d : 2 * d - n_u], maps[1][0]) - _log_density(
        white[:, 2 * d - n_u :], maps[2][0]
    )
    return 0.5 * w[0] * (ratio - ratio_v) + 0.5 * w[1] * (ratio - ratio_u)


@property(
    "objective-monte-carlo",
    "population_loss equals the Monte Carlo average of the log-density ratios of mu and the "
    "tilted model nu (KL(mu || nu), or the weighted expected conditional KLs) within 6 "
    "standard errors.",
    example=_mc_case(),
)
def objective_monte_carlo(mu, loss, tilting, w, params):
    exact = _loss(mu, loss, tilting, params, w)
    nu = gc.tilted(mu, params["A"], params["B"], params["C"])
    terms = _mc_terms(mu, nu, loss, w)
    estimate = float(terms.mean())
    stderr = float(terms.std(ddof=1) / np.sqrt(MC_SAMPLES))
    _assert_close(
        f"J ({loss} x {tilting}, weights {w}) vs Monte Carlo",
        exact,
        estimate,
        MC_Z * stderr + _objective_tol(mu, exact),
        stderr=stderr,
    )


# ----------------------------------------------------------- gaussclip's own closed forms
@property(
    "new-cond-inner-weights",
    "For every weights (lambda_u, lambda_v), minimize(cond, inner) returns the same A* (43), "
    "and no competitor does better under those weights.",
    example=_case(w=True),
    symbolic="new-cond-inner-weights",
)
def new_cond_inner_weights(mu, w, params):
    sol = gc.minimize(mu, "cond", "inner", weights=w)
    _assert_close(
        f"whitened A at weights {w} vs (43)", _white(mu, sol.A), _omega(mu), WHITENED_ATOL
    )
    _assert_le(
        "J(A*) <= J(competitor)",
        sol.objective,
        _loss(mu, "cond", "inner", params, w),
        _objective_tol(mu, sol.objective),
    )


def _quadratic_property(loss):
    def check(mu, rank, params, direction, **kw):
        w = (kw["scale"], kw["scale"]) if loss == "cond" else (1.0, 1.0)
        sol = gc.minimize(mu, loss, "quadratic", weights=w, rank=rank)
        exact = _loss(mu, loss, "quadratic", {"A": sol.A, "B": sol.B, "C": sol.C}, w)
        _assert_close(
            "Solution.objective vs population_loss", sol.objective, exact, _objective_tol(mu, exact)
        )
        _assert_no_better(mu, sol, loss, "quadratic", w, direction, params, rank)

    return check


_QUADRATIC_RANK_CASE = _case(tilting="quadratic", rank=True, perturb=True)
_QUADRATIC_RANK_CHOICES = _choices(rank=True)


@st.composite
def _two_sided_case(draw):
    """The quadratic rank case and a scale s of the weights (s, s), log-uniform in [1/4, 4)
    (shrinking to CLIP's s = 1), from the same blob."""
    out, r, _, numbers = _draw_case(
        draw, _QUADRATIC_RANK_CHOICES, "quadratic", perturb=True, extra=1
    )
    return {**out, "rank": r, "scale": float(4.0 ** numbers.signed(1)[0])}


_TWO_SIDED_CASE = _two_sided_case()

new_cond_quadratic_two_sided = property(
    "new-cond-quadratic-two-sided",
    "minimize(cond, quadratic, weights=(s, s), rank=r) (gaussclip's closed form): no perturbed "
    "or random rank-r encoders do better.",
    example=_TWO_SIDED_CASE,
    symbolic="new-cond-quadratic-two-sided",
)(_quadratic_property("cond"))

new_joint_quadratic = property(
    "new-joint-quadratic",
    "minimize(joint, quadratic, rank=r) (gaussclip's closed form): no perturbed or random "
    "rank-r encoders do better.",
    example=_QUADRATIC_RANK_CASE,
    symbolic="new-joint-quadratic",
)(_quadratic_property("joint"))


#: Canonical correlations drawn by the ``canonical-correlations`` property: 0, values within
#: 1e-6 of 0 and of 1, and ordinary ones.
SIGMA_GRID = (0.0, 1e-12, 1e-7, 0.3, 0.9, 1.0 - 1e-7, 1.0 - 1e-9)
#: Canonical correlations are singular values of a whitened matrix with entries O(1): backward
#: stable whitening at cond(C_uu), cond(C_vv) <= 1e6 leaves ~eps * sqrt(cond_u cond_v) ~ 2e-10.
CCA_ATOL = 1e-8


@st.composite
def _prescribed(draw):
    """Sizes, then one blob: an index into SIGMA_GRID per canonical correlation (zero bytes:
    sigma = 0) and the joint Gaussian's numbers."""
    n_u, n_v = _sizes(draw)
    k = min(n_u, n_v)
    numbers = _numbers(draw, k + _joint_count(n_u, n_v, drawn_sigma=False))
    index = np.minimum((numbers.unit(k) * len(SIGMA_GRID)).astype(int), len(SIGMA_GRID) - 1)
    sigma = np.sort(np.take(SIGMA_GRID, index))[::-1]
    return {"mu": _draw_joint(draw, n_u, n_v, sigma, _TOP, numbers=numbers), "sigma": sigma}


@property(
    "canonical-correlations",
    "JointGaussian.canonical_correlations() returns the prescribed sigma, including values "
    "within 1e-6 of 0 and of 1.",
    example=_prescribed(),
)
def canonical_correlations(mu, sigma):
    _assert_close(
        "canonical correlations vs prescribed", mu.canonical_correlations(), sigma, CCA_ATOL
    )
