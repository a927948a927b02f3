"""Gaussian, JointGaussian and the KL divergence (gaussclip.gaussian)."""

import numpy as np
import pytest
import scipy.linalg
import scipy.stats
from hypothesis import given
from hypothesis import strategies as st

import gaussclip as gc
from gaussclip.testing import as_test
from gaussclip.testing.strategies import joint_gaussians, spd_matrices

#: Agreement with SciPy's independent implementations: both are eigen/Cholesky based with
#: relative error ~ condition * eps <= 1e6 * 2e-16; 1e-7 leaves a margin.
SCIPY_RTOL = 1e-7
#: Monte Carlo comparisons flag a mismatch beyond this many standard errors.
MC_Z = 5.0

#: A covariance rebuilt from its eigendecomposition: ~ n eps of its largest entry.
MARGINAL_RTOL = 1e-12


#: Log-densities near 0 are compared absolutely: rounding of O(d log cond) terms.
LOGPDF_ATOL = 1e-8
#: Two routes to a conditional (Schur complement of the inverted joint precision vs solve):
#: each loses ~cond(C) * eps with joint conditions beyond 1e6 / (1 - sigma_1).
ROUTE_RTOL = 1e-5
ROUTE_ATOL = 1e-8
#: CCA identities (X_u^T C_uu X_u = I, ...) and SciPy's sqrtm route: ~sqrt(cond) * eps per
#: whitening plus sqrtm's own error (Schur method, ~cond * eps).
CCA_ATOL = 1e-6
#: Mutual information from the canonical correlations vs from three log-determinants.
MI_RTOL, MI_ATOL = 1e-6, 1e-8
#: Sorted canonical correlations: non-increasing up to rounding.
ORDER_ATOL = 1e-12
#: Sample covariance of 200,000 draws: standard error ~ sqrt(2 / 200000) * |C| ~ 0.004 |C|.
SAMPLE_COV_ATOL = 0.02
#: Sample correlation of 100,000 draws: standard error (1 - rho^2) / sqrt(n) ~ 0.002.
SAMPLE_CORR_ATOL = 0.01
#: KL(p || p) = 0: rounding of O(d) terms.
KL_SELF_ATOL = 1e-12


@given(spd_matrices(st.integers(1, 5)), st.data())
def test_gaussian_logpdf_matches_scipy(cov, data):
    d = cov.shape[0]
    mean = data.draw(joint_gaussians(d, 1, mean=True)).mean_u
    g = gc.Gaussian(mean, cov)
    x = mean + np.linspace(-2.0, 2.0, 7 * d).reshape(7, d) @ np.linalg.cholesky(cov).T
    expected = scipy.stats.multivariate_normal(mean, cov).logpdf(x)
    assert np.allclose(g.logpdf(x), expected, rtol=SCIPY_RTOL, atol=LOGPDF_ATOL)
    assert np.isclose(g.logpdf(x[0]), expected[0], rtol=SCIPY_RTOL, atol=LOGPDF_ATOL)


def test_gaussian_sample_moments_and_reproducibility():
    cov = np.array([[2.0, 0.6], [0.6, 0.5]])
    g = gc.Gaussian([1.0, -1.0], cov)
    x = g.sample(200_000, np.random.default_rng(1))
    assert np.array_equal(x, g.sample(200_000, np.random.default_rng(1)))
    se_mean = np.sqrt(np.diag(cov) / len(x))
    assert np.all(np.abs(x.mean(0) - g.mean) < MC_Z * se_mean)
    assert np.allclose(np.cov(x.T), cov, rtol=0.0, atol=SAMPLE_COV_ATOL)
    with pytest.raises(gc.ArgumentTypeError, match=r"np\.random\.default_rng"):
        g.sample(3, 0)


@given(joint_gaussians(mean=True))
def test_joint_blocks_marginals_and_conditionals(mu):
    cov, n_u, mean = mu.cov, mu.n_u, mu.mean
    cuu, cuv, cvv = cov[:n_u, :n_u], cov[:n_u, n_u:], cov[n_u:, n_u:]
    assert np.array_equal(mu.Cuv, cuv) and np.array_equal(mu.Cvu, cuv.T)
    # the marginal is rebuilt from the block's whitening (Q diag(lam) Q^T in standardized units):
    # equal to the block up to rounding relative to its largest entry
    assert np.allclose(mu.marginal("v").cov, cvv, rtol=0.0, atol=MARGINAL_RTOL * np.abs(cvv).max())
    # eq. (37) by an independent route: conditioning through the joint precision
    precision = np.linalg.inv(cov)
    schur_u = np.linalg.inv(precision[:n_u, :n_u])
    v = mean[n_u:] + np.linspace(-1.0, 1.0, mu.n_v) * np.sqrt(np.diag(cvv))
    cond = mu.conditional("u", v)
    expected_mean = mean[:n_u] - schur_u @ precision[:n_u, n_u:] @ (v - mean[n_u:])
    scale = np.abs(schur_u).max()
    assert np.allclose(cond.cov, schur_u, rtol=ROUTE_RTOL, atol=ROUTE_ATOL * scale)
    assert np.allclose(
        cond.mean, expected_mean, rtol=0.0, atol=ROUTE_RTOL * (1 + np.abs(expected_mean).max())
    )
    assert np.allclose(
        mu.conditional_cov("u"),
        cuu - cuv @ np.linalg.solve(cvv, cuv.T),
        rtol=0.0,
        atol=ROUTE_ATOL * scale,
    )
    many = np.ones((3, mu.n_u))
    assert mu.conditional_mean("v", many).shape == (3, mu.n_v)


@given(joint_gaussians())
def test_canonical_decomposition(mu):
    cov, n_u = mu.cov, mu.n_u
    can = mu.canonical()
    k = min(n_u, mu.n_v)
    xu, xv, sigma = can.basis_u, can.basis_v, can.sigma
    assert sigma.shape == (k,) and np.all(np.diff(sigma) <= ORDER_ATOL)
    assert np.all((sigma >= 0) & (sigma < 1))
    assert np.allclose(xu.T @ mu.Cuu @ xu, np.eye(k), rtol=0.0, atol=CCA_ATOL)
    assert np.allclose(xv.T @ mu.Cvv @ xv, np.eye(k), rtol=0.0, atol=CCA_ATOL)
    assert np.allclose(xu.T @ mu.Cuv @ xv, np.diag(sigma), rtol=0.0, atol=CCA_ATOL)
    # the paper's Omega through SciPy's symmetric square roots (independent of our eigh route)
    ru = np.real(scipy.linalg.sqrtm(mu.Cuu))
    rv = np.real(scipy.linalg.sqrtm(mu.Cvv))
    omega = np.linalg.solve(ru, np.linalg.solve(rv, mu.Cuv.T).T)
    assert np.allclose(np.linalg.svd(omega, compute_uv=False), sigma, rtol=0.0, atol=CCA_ATOL)
    assert np.allclose((can.U * sigma) @ can.V.T, omega, rtol=0.0, atol=CCA_ATOL)
    assert mu.canonical() is can  # computed once and cached
    assert np.isclose(
        mu.mutual_information(),
        0.5 * (np.linalg.slogdet(mu.Cuu)[1] + np.linalg.slogdet(mu.Cvv)[1])
        - 0.5 * np.linalg.slogdet(cov)[1],
        rtol=MI_RTOL,
        atol=MI_ATOL,
    )


def test_canonical_signs_are_deterministic():
    x = np.random.default_rng(3).standard_normal((40, 5))
    cov = x.T @ x / 40  # a sample covariance: generic, well conditioned
    a = gc.JointGaussian(cov, 2).canonical()
    b = gc.JointGaussian(cov.copy(), 2).canonical()
    assert np.array_equal(a.basis_u, b.basis_u) and np.array_equal(a.basis_v, b.basis_v)
    assert np.all(a.basis_u[np.argmax(np.abs(a.basis_u), axis=0), np.arange(2)] > 0)


def test_joint_sampling_logpdf_and_mean():
    mu = gc.JointGaussian([[1.5, 1.0], [1.0, 1.5]], 1, mean=[1.0, -2.0])
    u, v = mu.sample(100_000, np.random.default_rng(0))
    assert u.shape == (100_000, 1) and v.shape == (100_000, 1)
    assert abs(u.mean() - 1.0) < MC_Z * np.sqrt(1.5 / len(u))
    assert abs(np.corrcoef(u[:, 0], v[:, 0])[0, 1] - 1.0 / 1.5) < SAMPLE_CORR_ATOL
    expected = scipy.stats.multivariate_normal([1.0, -2.0], mu.cov).logpdf(
        np.hstack([u[:5], v[:5]])
    )
    assert np.allclose(mu.logpdf(u[:5], v[:5]), expected, rtol=SCIPY_RTOL, atol=LOGPDF_ATOL)


# Lemma E.1 against the generalized eigenvalues of the two covariances, and the canonical
# correlations of joints with prescribed sigma (values within 1e-6 of 0 and 1 included), are
# public properties of gaussclip.testing.
test_lemma_e1 = as_test("lem-E.1")
test_prescribed_canonical_correlations = as_test("canonical-correlations")


@given(spd_matrices(st.integers(1, 4), max_condition=10.0), st.data())
def test_kl_divergence_lemma_e1_against_monte_carlo(cov_p, data):
    """Lemma E.1 against a Monte Carlo average of log-density ratios, and KL(p || p) = 0."""
    d = cov_p.shape[0]
    cov_q = data.draw(spd_matrices(d, max_condition=10.0))
    means = data.draw(joint_gaussians(d, d, mean=True)).mean
    p, q = gc.Gaussian(means[:d], cov_p), gc.Gaussian(means[d:], cov_q)
    kl = gc.kl_divergence(p, q)
    x = p.sample(40_000, np.random.default_rng(0))
    ratio = p.logpdf(x) - q.logpdf(x)
    assert abs(kl - ratio.mean()) <= MC_Z * ratio.std() / np.sqrt(len(x)) + KL_SELF_ATOL
    assert kl >= 0  # a divergence: rounding below 0 is clamped (gc.kl_divergence docstring)
    assert abs(gc.kl_divergence(p, p)) < KL_SELF_ATOL


def test_kl_divergence_rejects_mismatched_inputs():
    p = gc.Gaussian([0.0], [[1.0]])
    with pytest.raises(gc.ShapeError, match="same dimension"):
        gc.kl_divergence(p, gc.Gaussian([0.0, 0.0], np.eye(2)))
    with pytest.raises(gc.ArgumentTypeError, match="`q` must be a Gaussian or JointGaussian"):
        gc.kl_divergence(p, np.eye(1))
