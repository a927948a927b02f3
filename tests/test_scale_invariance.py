"""Units never matter: the engine is invariant under u -> M_u u, v -> M_v v (issue 14, items 1-2).

The quoted cases of the issue (a covariance mixing 1e10 and 1, the Longley data in raw units, a
canonical correlation of 0.99994) and a property test over random positive diagonal scalings
spanning many decades composed with random invertible block maps.
"""

import numpy as np
import pytest
import scipy.stats
from hypothesis import find, given
from hypothesis import strategies as st

import gaussclip as gc
from gaussclip.closed_forms import one_sided_quadratic
from gaussclip.testing.strategies import (
    canonical_correlations,
    joint_gaussians,
    orthogonal_matrices,
)

#: Agreement of invariant quantities between a covariance and its transformed copy. Both are
#: computed from correlation matrices whose blocks have condition numbers <= 1e6 (strategies)
#: times <= 1e2 (the random block map), so rounding is ~ eps * 1e8 ~ 2e-8 relative; 1e-6 leaves a
#: margin and still catches any unit dependence (which shows up at O(1)).
INVARIANCE_RTOL = 1e-6
#: The numerical minimizer stops at gradient 1e-9 (gaussclip.numerical.NUMERICAL_GTOL), so its
#: objective is exact to ~1e-12; two runs in different units agree to this.
NUMERICAL_RTOL = 1e-8
#: statsmodels' CanCorr on the Longley data, as quoted (8 significant digits) in issue 14.
LONGLEY_SIGMA = (0.99849348, 0.8982385)

# The Longley (1967) macroeconomic data, as shipped by statsmodels (public domain): TOTEMP,
# GNPDEFL, GNP, UNEMP, ARMED, POP, YEAR for 1947-1962.
LONGLEY = np.array(
    [
        [60323, 83.0, 234289, 2356, 1590, 107608, 1947],
        [61122, 88.5, 259426, 2325, 1456, 108632, 1948],
        [60171, 88.2, 258054, 3682, 1616, 109773, 1949],
        [61187, 89.5, 284599, 3351, 1650, 110929, 1950],
        [63221, 96.2, 328975, 2099, 3099, 112075, 1951],
        [63639, 98.1, 346999, 1932, 3594, 113270, 1952],
        [64989, 99.0, 365385, 1870, 3547, 115094, 1953],
        [63761, 100.0, 363112, 3578, 3350, 116219, 1954],
        [66019, 101.2, 397469, 2904, 3048, 117388, 1955],
        [67857, 104.6, 419180, 2822, 2857, 118734, 1956],
        [68169, 108.4, 442769, 2936, 2798, 120445, 1957],
        [66513, 110.8, 444546, 4681, 2637, 121950, 1958],
        [68655, 112.6, 482704, 3813, 2552, 123366, 1959],
        [69564, 114.2, 502601, 3931, 2514, 125368, 1960],
        [69331, 115.7, 518173, 4806, 2572, 127852, 1961],
        [70551, 116.9, 554894, 4007, 2827, 130081, 1962],
    ]
)

GAUSSIAN_PROBLEMS = [
    ("cond", "inner", (1.0, 1.0)),
    ("cond", "inner", (1.0, 3.0)),
    ("joint", "inner", (1.0, 1.0)),
    ("cond", "quadratic", (1.0, 1.0)),
    ("cond", "quadratic", (2.0, 0.0)),
    ("cond", "quadratic", (0.0, 2.0)),
    ("joint", "quadratic", (1.0, 1.0)),
]


def _whitened_norm(mu, A):
    """||C_uu^(1/2) A C_vv^(1/2)||_2 (any whitening gives the same singular values)."""
    return float(np.linalg.norm(mu.canonical().to_canonical(A)[0], 2))


def test_units_mixing_1e10_and_1():
    mu = gc.JointGaussian([[1e10, 5e4], [5e4, 1.0]], n_u=1)
    same = gc.JointGaussian([[1.0, 0.5], [0.5, 1.0]], n_u=1)  # the same data in standard units
    assert np.allclose(mu.canonical_correlations(), [0.5], rtol=1e-15)
    assert gc.kl_divergence(mu, mu) == 0.0
    u, v = mu.sample(1000, np.random.default_rng(0))
    assert np.all(np.isfinite(u)) and abs(np.corrcoef(u[:, 0], v[:, 0])[0, 1] - 0.5) < 0.1
    expected = scipy.stats.multivariate_normal(np.zeros(2), same.cov).logpdf(
        np.hstack([u[:5] / 1e5, v[:5]])
    ) - np.log(1e5)  # the density of u = 1e5 z picks up the Jacobian 1/1e5
    assert np.allclose(mu.logpdf(u[:5], v[:5]), expected, rtol=1e-12)
    A = np.array([[0.5 / 1e5]])  # ||C_uu^1/2 A C_vv^1/2|| = 0.5
    nu = gc.tilted(mu, A)
    assert np.isclose(_whitened_norm(mu, A), 0.5)
    assert np.allclose(
        nu.canonical_correlations(), gc.tilted(same, [[0.5]]).canonical_correlations()
    )
    for loss, tilting, weights in GAUSSIAN_PROBLEMS:
        sol = gc.minimize(mu, loss, tilting, weights=weights)
        ref = gc.minimize(same, loss, tilting, weights=weights)
        assert np.isclose(sol.objective, ref.objective, rtol=NUMERICAL_RTOL, atol=1e-14)
        assert np.allclose(
            sol.model.canonical_correlations(),
            ref.model.canonical_correlations(),
            rtol=INVARIANCE_RTOL,
        )
        assert np.all(np.isfinite(sol.model.cov))


def _qr_canonical_correlations(u, v):
    """CCA through QR of the centred data (independent of gaussclip's covariance route)."""
    qu = np.linalg.qr(u - u.mean(0))[0]
    qv = np.linalg.qr(v - v.mean(0))[0]
    return np.linalg.svd(qu.T @ qv, compute_uv=False)


def test_longley_in_raw_units():
    u, v = LONGLEY[:, :2], LONGLEY[:, 2:]
    cov = np.cov(LONGLEY.T)
    assert np.linalg.cond(cov[2:, 2:]) > 1e11  # what a unit-dependent criterion refused
    mu = gc.JointGaussian(cov, n_u=2)
    sigma = mu.canonical_correlations()
    assert np.allclose(sigma, LONGLEY_SIGMA, atol=5e-9)  # the quoted 8 digits
    # The QR route loses ~cond(data) * eps ~ 1e-9 on these collinear columns.
    assert np.allclose(sigma, _qr_canonical_correlations(u, v), rtol=1e-8)
    assert mu.whitening("v").condition < 1e4  # scale-free: the correlation matrix of v
    for loss, tilting, weights in GAUSSIAN_PROBLEMS:
        sol = gc.minimize(mu, loss, tilting, weights=weights)
        assert sol.objective >= 0.0 and np.all(np.isfinite(sol.model.cov))


def test_collinear_columns_are_refused_with_scale_free_advice():
    x = LONGLEY[:, 2:].copy()
    data = np.hstack([LONGLEY[:, :2], x, x[:, :1] * 3.0])  # a duplicated (rescaled) column
    with pytest.raises(gc.CovarianceError, match="drop collinear columns") as info:
        gc.JointGaussian(np.cov(data.T), n_u=2)
    assert "multiple of the identity" not in str(info.value)


@given(joint_gaussians(3, 3, sigma=[0.99994, 0.5, 0.1], max_condition=1e3))
def test_sigma_near_one_models_exist(mu):
    """sigma = 0.99994: every closed form's model exists (by construction) and tilted() agrees."""
    assert np.isclose(mu.canonical_correlations()[0], 0.99994, rtol=1e-10)
    for loss, tilting, weights in GAUSSIAN_PROBLEMS:
        if (loss, tilting, weights) == ("cond", "inner", (1.0, 3.0)):
            continue  # same model as (1, 1)
        sol = gc.minimize(mu, loss, tilting, weights=weights)
        model = sol.model
        again = gc.tilted(mu, sol.A, sol.B, sol.C, tilting=tilting)
        assert np.allclose(
            model.canonical_correlations(), again.canonical_correlations(), rtol=1e-8
        )
        assert model.canonical_correlations()[0] < 1.0
    sol = gc.minimize(mu, "cond", "inner")
    assert np.allclose(sol.model.canonical_correlations(), mu.canonical_correlations())
    assert np.isclose(_whitened_norm(mu, sol.A), 0.99994, rtol=1e-10)


def test_objective_never_below_zero():
    mu = gc.JointGaussian([[1e10, 5e4], [5e4, 1.0]], n_u=1)
    for weights in ((2.0, 0.0), (0.0, 2.0)):  # Theorem 5.3: J = 0 exactly at the optimum
        sol = gc.minimize(mu, "cond", "quadratic", weights=weights)
        assert 0.0 <= sol.objective < 1e-12
        J = gc.population_loss(mu, "cond", "quadratic", A=sol.A, B=sol.B, C=sol.C, weights=weights)
        assert 0.0 <= J < 1e-12
    assert gc.kl_divergence(mu.marginal("u"), mu.marginal("u")) == 0.0


def _block_map(data, n, log_scales):
    """A random invertible map: positive diagonal over many decades times a rotation and a
    well-conditioned stretch (condition number <= 10)."""
    stretch = np.geomspace(1.0, 10.0, n)
    left, right = data.draw(orthogonal_matrices(n)), data.draw(orthogonal_matrices(n))
    return np.diag(10.0**log_scales) @ left @ np.diag(stretch) @ right


@given(
    joint_gaussians(
        st.integers(1, 3), st.integers(1, 3), sigma=canonical_correlations(max_sigma=0.95)
    ),
    st.lists(st.floats(-8.0, 8.0), min_size=6, max_size=6),
    st.data(),
)
def test_everything_is_invariant_under_block_maps(mu, log_scales, data):
    cov, n_u, n_v = mu.cov, mu.n_u, mu.n_v
    rng = np.random.default_rng(0)  # only the conditioning point of the last check
    log_scales = np.asarray(log_scales)
    m_u = _block_map(data, n_u, log_scales[:n_u])
    m_v = _block_map(data, n_v, log_scales[3 : 3 + n_v])
    m = np.block([[m_u, np.zeros((n_u, n_v))], [np.zeros((n_v, n_u)), m_v]])
    moved = gc.JointGaussian(m @ cov @ m.T, n_u)
    assert np.allclose(
        moved.canonical_correlations(), mu.canonical_correlations(), atol=INVARIANCE_RTOL
    )
    inv_u, inv_v = np.linalg.inv(m_u), np.linalg.inv(m_v)  # test-side reference maps

    def move(A, B=None, C=None):
        # parameters of a quadratic form transform contravariantly: A -> M_u^-T A M_v^-1
        out = [inv_u.T @ A @ inv_v]
        out += [
            None if B is None else inv_u.T @ B @ inv_u,
            None if C is None else inv_v.T @ C @ inv_v,
        ]
        return out

    for loss, tilting, weights in GAUSSIAN_PROBLEMS:
        sol = gc.minimize(mu, loss, tilting, weights=weights, method="auto")
        if sol.method != "closed-form":
            continue  # the numerical route is checked in test_numerical_minimizer_is_invariant
        other = gc.minimize(moved, loss, tilting, weights=weights)
        assert np.isclose(other.objective, sol.objective, rtol=INVARIANCE_RTOL, atol=1e-10)
        A, B, C = move(sol.A, sol.B, sol.C)
        J = gc.population_loss(moved, loss, tilting, A=A, B=B, C=C, weights=weights)
        assert np.isclose(J, sol.objective, rtol=INVARIANCE_RTOL, atol=1e-10)
        # the minimizer itself transforms (compared in moved's canonical coordinates)
        diff = moved.canonical().to_canonical(other.A - A)[0]
        assert np.linalg.norm(diff) <= INVARIANCE_RTOL * (1.0 + np.abs(sol.pairs.alpha).max())
        # and so does the learned model: same correlations, same divergence from the data
        assert np.allclose(
            other.model.canonical_correlations(),
            sol.model.canonical_correlations(),
            atol=INVARIANCE_RTOL,
        )
        assert np.isclose(
            gc.kl_divergence(moved, other.model),
            gc.kl_divergence(mu, sol.model),
            rtol=INVARIANCE_RTOL,
            atol=1e-10,
        )
    # a tilted model that is not a minimizer, and a conditional of it
    A = 0.5 * sol.A / max(_whitened_norm(mu, sol.A), 1e-300) if np.any(sol.A) else sol.A
    nu, nu_moved = gc.tilted(mu, A), gc.tilted(moved, move(A)[0])
    assert np.allclose(
        nu_moved.canonical_correlations(), nu.canonical_correlations(), atol=INVARIANCE_RTOL
    )
    given_v = rng.standard_normal(n_v)
    cond = gc.tilted_conditional(mu, "u", given_v, A)
    cond_moved = gc.tilted_conditional(moved, "u", m_v @ given_v, move(A)[0])
    assert gc.kl_divergence(cond_moved, gc.Gaussian(m_u @ cond.mean, m_u @ cond.cov @ m_u.T)) < 1e-8


@pytest.mark.parametrize("weights", [(2.0, 0.0), (0.0, 2.0)])
def test_one_sided_quadratic_model_is_invariant_at_a_zero_correlation(weights):
    """A rank-one cross-covariance: its second canonical correlation is 0 up to rounding, exactly 0
    in one coordinate system and ~1e-17 in the other. The one-sided loss leaves the unmatched
    side's gamma free when sigma = 0; the engine used to take 0 there and 1/(1 - sigma^2) -> 1 for
    any sigma > 0, so the two systems learned different models (KL 0.153 vs 0.307) with the same
    objective. Found by a property search (propspeed3)."""
    cov = np.array(
        [
            [1.0, 0.0, 0.3749771125148822, -0.0029295533929597876],
            [0.0, 1.0, -0.0029295533929597876, 2.2887485117805925e-05],
            [0.3749771125148822, -0.0029295533929597876, 1.0, 0.0],
            [-0.0029295533929597876, 2.2887485117805925e-05, 0.0, 1.0],
        ]
    )
    stretch = np.diag([1.0, 10.0])
    swap = np.array([[0.0, -1.0], [-1.0, 0.0]])
    m = np.block([[stretch, np.zeros((2, 2))], [np.zeros((2, 2)), swap @ stretch @ swap]])
    mu, moved = gc.JointGaussian(cov, 2), gc.JointGaussian(m @ cov @ m.T, 2)
    sol = gc.minimize(mu, "cond", "quadratic", weights=weights, rank=2)
    other = gc.minimize(moved, "cond", "quadratic", weights=weights, rank=2)
    assert np.isclose(
        gc.kl_divergence(moved, other.model),
        gc.kl_divergence(mu, sol.model),
        rtol=INVARIANCE_RTOL,
    )
    # the chosen minimizer is continuous at sigma = 0
    assert np.allclose(one_sided_quadratic(0.0), one_sided_quadratic(1e-12), rtol=0, atol=1e-11)


def test_numerical_minimizer_is_invariant():
    mu = find(joint_gaussians(2, 2, sigma=[0.8, 0.3], max_condition=10.0), lambda mu: True)
    d = np.diag([1e6, 1e-3, 1e4, 1e-5])
    moved = gc.JointGaussian(d @ mu.cov @ d, 2)
    sol = gc.minimize(mu, "cond", "quadratic", weights=(1.0, 3.0), method="numerical", seed=0)
    other = gc.minimize(moved, "cond", "quadratic", weights=(1.0, 3.0), method="numerical", seed=0)
    assert sol.method == other.method == "numerical"
    assert other.certificate.converged
    assert np.isclose(other.objective, sol.objective, rtol=NUMERICAL_RTOL)
