"""cond x quadratic with any weights: the per-pair scalar root (docs/derivations.md, Section 5b)
against the numerical minimizer, its bracketing certificate, and its limits."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gaussclip as gc
from gaussclip.closed_forms import (
    ROOT_RTOL,
    SCALAR_ROOT_METHOD,
    cond_quadratic_two_sided,
    cond_quadratic_weighted,
    one_sided_quadratic,
    pair_objective,
)
from gaussclip.testing.strategies import canonical_correlations, joint_gaussians

#: Closed form vs numerical minimum, relative. L-BFGS stops at gradient 1e-9 on a minimum with
#: Hessian eigenvalues >~ 1e-3 (sigma <= 0.95, gaps >= 0.025), so the numerical objective is
#: above the true minimum by <~ 1e-15 absolute; rounding in the O(10) log-determinant and trace
#: terms of each objective adds ~1e-14 absolute. With J >~ 1e-4 (sigma >= 0.025) both stay
#: below 1e-10 relative.
OBJECTIVE_RTOL = 1e-10
#: Slack for "never loses": the closed form may exceed the numerical value only by the
#: rounding of the two objective evaluations (~1e-14 absolute on O(1) objectives).
ROUNDING_ATOL = 1e-13
#: gc.population_loss evaluates J from the raw covariance blocks (condition numbers up to 1e6
#: in these tests), so its rounding is ~cond * eps ~ 1e-10 absolute, independent of J's size.
POPULATION_LOSS_ATOL = 1e-9
#: The numerical route stops once its gradient norm is ~1e-6, so its objective sits above the
#: minimum by O(|grad|^2 / curvature) ~ 1e-12 in absolute terms at unit weights: where J* = 0
#: (sigma = 0) no relative tolerance can hold. The curvature scales with the weights, so the
#: test divides this by the smaller weight when it is below 1 (a thorough-profile run found
#: 1.09e-12 at weights (0.01, 0.018)).
NUMERICAL_STOP_ATOL = 1e-12
#: Weights drawn log-uniformly over four decades each (ratios up to 1e4 either way).
WEIGHTS = st.tuples(st.floats(-2.0, 2.0), st.floats(-2.0, 2.0)).map(
    lambda e: (10.0 ** e[0], 10.0 ** e[1])
)


#: Joint Gaussians of sizes 1-3 with canonical correlations up to 0.95 (the numerical route's
#: conditioning stays moderate) and blocks conditioned up to 1e6.
JOINTS = joint_gaussians(
    n_u=st.integers(1, 3), n_v=st.integers(1, 3), sigma=canonical_correlations(max_sigma=0.95)
)


@given(JOINTS, WEIGHTS, st.data())
def test_scalar_root_equals_the_numerical_minimizer(mu, weights, data):
    """The exact per-pair solution (top-r pairs under a rank) equals, and never loses to, the
    numerical minimizer over rank-r encoders, which makes no use of canonical coordinates."""
    k = min(mu.n_u, mu.n_v)
    rank = data.draw(st.sampled_from([None, *range(1, k + 1)]))
    closed = gc.minimize(mu, "cond", "quadratic", weights=weights, rank=rank)
    numeric = gc.minimize(
        mu, "cond", "quadratic", weights=weights, rank=rank, method="numerical", n_starts=2, seed=0
    )
    expected = "closed-form" if weights[0] == weights[1] else SCALAR_ROOT_METHOD
    assert closed.method == expected and numeric.method == "numerical"
    assert numeric.certificate.grad_norm < 1e-6
    stop_atol = NUMERICAL_STOP_ATOL / min(1.0, *weights)
    assert abs(closed.objective - numeric.objective) <= (
        OBJECTIVE_RTOL * numeric.objective + stop_atol
    )
    assert closed.objective <= numeric.objective + ROUNDING_ATOL
    exact = gc.population_loss(
        mu, "cond", "quadratic", A=closed.A, B=closed.B, C=closed.C, weights=weights
    )
    assert abs(exact - closed.objective) <= POPULATION_LOSS_ATOL
    A, B, C = gc.encoder_products(closed.G, closed.H)  # Remark D.3: one row per kept pair
    assert closed.G.shape[0] == (rank or k)
    for product, stored in ((A, closed.A), (B, closed.B), (C, closed.C)):
        assert np.allclose(product, stored, rtol=1e-12, atol=1e-12 * np.abs(stored).max())


SIGMAS = np.concatenate(
    [np.linspace(0.0, 1.0 - 1e-6, 201), [1e-320, 1e-300, 1e-20, 1e-8, 1 - 1e-12, 1 - 2.0**-52]]
)
EXTREME_WEIGHTS = [
    (1.0, 3.0),
    (3.0, 1.0),
    (1.0, 1.0 + 1e-12),
    (1e-300, 1.0),
    (1.0, 1e-12),
    (1e308, 1e307),
    (5e-324, 1.0),
]


@pytest.mark.parametrize("weights", EXTREME_WEIGHTS)
def test_every_root_is_bracketed_to_machine_precision(weights):
    alpha, beta, gamma, cert = cond_quadratic_weighted(SIGMAS, weights, certificate=True)
    assert cert.certified
    assert np.all(cert.relative_width <= ROOT_RTOL)
    assert np.all(np.isfinite(beta)) and np.all(np.isfinite(gamma))
    assert np.all(alpha >= 0.0) and np.all(beta >= 0.0) and np.all(gamma >= 0.0)
    assert np.all(alpha[SIGMAS == 0.0] == 0.0)
    assert np.all(alpha[SIGMAS >= 1e-20] > 0.0)  # below, alpha ~ sigma^2 / weight may underflow
    # the pair objective is finite and not above the zero-parameter value
    zero = np.zeros_like(SIGMAS)
    ok = SIGMAS < 1.0 - 1e-9  # log(1 - sigma^2) is exact enough to compare there
    unit = tuple(x / max(weights) for x in weights)  # J scales with the weights
    best = pair_objective("cond", unit, SIGMAS, alpha, beta, gamma)
    at_zero = pair_objective("cond", unit, SIGMAS, zero, zero, zero)
    assert np.all(best[ok] <= at_zero[ok] * (1 + 1e-15) + 1e-300)


def _kkt_residual(sigma, weights, alpha, beta, gamma):
    """Largest violation of the KKT conditions over W = [[beta, -alpha], [-alpha, gamma]] >= 0
    (gradient M >= 0 with M W = 0), from the per-pair objective's analytic gradient."""
    lam_u, lam_v = weights
    p, q = 1.0 + beta, 1.0 + gamma
    d_beta = lam_u / 4 * (1 - 1 / p - alpha**2 / p**2)
    d_gamma = lam_v / 4 * (1 - 1 / q - alpha**2 / q**2)
    d_alpha = lam_u / 4 * (2 * alpha / p - 2 * sigma) + lam_v / 4 * (2 * alpha / q - 2 * sigma)
    g, h = np.sqrt(beta), np.sqrt(gamma)  # W = (g, -h)(g, -h)^T
    null_1 = d_beta * g + d_alpha / 2 * h  # (M (g, -h))_1
    null_2 = -d_alpha / 2 * g - d_gamma * h
    return np.max(np.abs([null_1, null_2])), min(d_beta.min(), d_gamma.min())


@pytest.mark.parametrize("weights", [(1.0, 3.0), (0.2, 1.0), (5.0, 0.01)])
def test_kkt_conditions_hold(weights):
    """Each pair is a KKT point of a convex problem, hence its global minimizer."""
    sigma = np.linspace(0.01, 0.99, 99)
    alpha, beta, gamma = cond_quadratic_weighted(sigma, weights)
    null, diagonal = _kkt_residual(sigma, weights, alpha, beta, gamma)
    scale = sum(weights) * (1 + beta.max())
    assert null <= 1e-13 * scale and diagonal >= -1e-15


@pytest.mark.parametrize("sigma", [0.1, 0.5, 0.9])
def test_limits_reproduce_the_existing_closed_forms(sigma):
    """w -> 1/2 gives Section 5's alpha = beta = gamma; w -> 1 (or 0) gives Theorem 5.3 with
    gamma (or beta) at its smallest compatible value. The deviation is O((1 - w) / sigma^2)."""
    x = cond_quadratic_two_sided(sigma)
    for weights in ((1.0, 1.0 + 1e-9), (1.0 + 1e-9, 1.0)):
        got = cond_quadratic_weighted([sigma], weights)
        assert np.allclose([g[0] for g in got], [x, x, x], rtol=1e-8)
    a1, b1, c1 = one_sided_quadratic(sigma)
    a, b, c = cond_quadratic_weighted([sigma], (2.0, 2e-14))
    assert np.allclose([a[0], b[0], c[0]], [a1, b1, c1], rtol=1e-8)
    a, b, c = cond_quadratic_weighted([sigma], (2e-14, 2.0))
    assert np.allclose([a[0], b[0], c[0]], [a1, c1, b1], rtol=1e-8)


def test_weights_scale_out():
    """Only lambda_u / (lambda_u + lambda_v) matters; J scales with lambda_u + lambda_v."""
    sigma = np.array([0.3, 0.7])
    one = cond_quadratic_weighted(sigma, (1.0, 3.0))
    scaled = cond_quadratic_weighted(sigma, (2.5, 7.5))
    assert all(np.array_equal(x, y) for x, y in zip(one, scaled, strict=True))
    j1 = pair_objective("cond", (1.0, 3.0), sigma, *one)
    j2 = pair_objective("cond", (2.5, 7.5), sigma, *one)
    assert np.allclose(j2, 2.5 * j1, rtol=1e-14)


@pytest.mark.parametrize("weights", [(1.0, 3.0), (3.0, 1.0), (1.0, 100.0)])
def test_gain_increases_with_sigma(weights):
    """Rank r keeps the top-r pairs among pair-diagonal solutions: the gain over zero
    parameters, d gain / d sigma = (lambda_u + lambda_v) alpha / 2 > 0, increases."""
    sigma = np.linspace(0.0, 0.999, 2000)
    alpha, beta, gamma = cond_quadratic_weighted(sigma, weights)
    zero = np.zeros_like(sigma)
    gain = pair_objective("cond", weights, sigma, zero, zero, zero) - pair_objective(
        "cond", weights, sigma, alpha, beta, gamma
    )
    assert np.all(gain >= -1e-15) and np.all(np.diff(gain) > 0)
    # the envelope formula, to central-difference accuracy where the gain is smooth (below 0.9;
    # near 1 it grows like -log(1 - sigma) and the step 5e-4 no longer resolves it)
    inner = (sigma > 0.0) & (sigma < 0.9)
    slope = np.gradient(gain, sigma)[inner]
    assert np.allclose(slope, sum(weights) * alpha[inner] / 2, rtol=1e-3, atol=1e-6)


def test_the_example_of_the_brief_is_exact_and_fast():
    """`gc.minimize(mu, "cond", "quadratic", weights=(1, 3))` used to take seconds of numerics;
    now it is the per-pair root, certified, and agrees with the numerical minimizer."""
    mu = gc.JointGaussian([[1.5, 1.0], [1.0, 1.5]], 1)
    sol = gc.minimize(mu, "cond", "quadratic", weights=(1, 3))
    assert sol.method == SCALAR_ROOT_METHOD
    ref = gc.minimize(
        mu, "cond", "quadratic", weights=(1, 3), method="numerical", n_starts=2, seed=0
    )
    assert abs(sol.objective - ref.objective) <= OBJECTIVE_RTOL * ref.objective
    forced = gc.minimize(mu, "cond", "quadratic", weights=(1, 3), method="closed-form")
    assert forced.method == sol.method
