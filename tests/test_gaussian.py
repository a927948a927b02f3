"""Gaussian, JointGaussian and the KL divergence (gaussclip.gaussian)."""

import numpy as np
import pytest
import scipy.linalg
import scipy.stats
from hypothesis import given
from hypothesis import strategies as st
from strategies import joint_covariances, spd_from_spectrum

import gaussclip as gc

#: Agreement with SciPy's independent implementations: both are eigen/Cholesky based with
#: relative error ~ condition * eps <= 1e6 * 2e-16; 1e-7 leaves a margin.
SCIPY_RTOL = 1e-7
#: Monte Carlo comparisons flag a mismatch beyond this many standard errors.
MC_Z = 5.0


@given(st.integers(1, 5), st.floats(0.0, 6.0), st.integers(0, 2**32 - 1))
def test_gaussian_logpdf_matches_scipy(d, log_cond, seed):
    rng = np.random.default_rng(seed)
    cov = spd_from_spectrum(rng, d, 10.0**log_cond)
    mean = rng.standard_normal(d)
    g = gc.Gaussian(mean, cov)
    x = mean + rng.standard_normal((7, d)) @ np.linalg.cholesky(cov).T
    expected = scipy.stats.multivariate_normal(mean, cov).logpdf(x)
    assert np.allclose(g.logpdf(x), expected, rtol=SCIPY_RTOL, atol=1e-8)
    assert np.isclose(g.logpdf(x[0]), expected[0], rtol=SCIPY_RTOL)


def test_gaussian_sample_moments_and_reproducibility():
    cov = np.array([[2.0, 0.6], [0.6, 0.5]])
    g = gc.Gaussian([1.0, -1.0], cov)
    x = g.sample(200_000, np.random.default_rng(1))
    assert np.array_equal(x, g.sample(200_000, np.random.default_rng(1)))
    se_mean = np.sqrt(np.diag(cov) / len(x))
    assert np.all(np.abs(x.mean(0) - g.mean) < MC_Z * se_mean)
    assert np.allclose(np.cov(x.T), cov, atol=0.02)
    with pytest.raises(gc.ArgumentTypeError, match=r"np\.random\.default_rng"):
        g.sample(3, 0)


@given(joint_covariances(max_dim=4))
def test_joint_blocks_marginals_and_conditionals(case):
    cov, n_u = case
    rng = np.random.default_rng(0)
    mean = rng.standard_normal(cov.shape[0])
    mu = gc.JointGaussian(cov, n_u, mean=mean)
    cuu, cuv, cvv = cov[:n_u, :n_u], cov[:n_u, n_u:], cov[n_u:, n_u:]
    assert np.array_equal(mu.Cuv, cuv) and np.array_equal(mu.Cvu, cuv.T)
    assert np.allclose(mu.marginal("v").cov, cvv)
    # eq. (37) by an independent route: conditioning through the joint precision
    precision = np.linalg.inv(cov)
    schur_u = np.linalg.inv(precision[:n_u, :n_u])
    v = rng.standard_normal(mu.n_v)
    cond = mu.conditional("u", v)
    expected_mean = mean[:n_u] - schur_u @ precision[:n_u, n_u:] @ (v - mean[n_u:])
    scale = np.abs(schur_u).max()
    assert np.allclose(cond.cov, schur_u, rtol=1e-5, atol=1e-8 * scale)
    assert np.allclose(cond.mean, expected_mean, atol=1e-5 * (1 + np.abs(expected_mean).max()))
    assert np.allclose(
        mu.conditional_cov("u"), cuu - cuv @ np.linalg.solve(cvv, cuv.T), atol=1e-8 * scale
    )
    many = rng.standard_normal((3, mu.n_u))
    assert mu.conditional_mean("v", many).shape == (3, mu.n_v)


@given(joint_covariances(max_dim=4))
def test_canonical_decomposition(case):
    cov, n_u = case
    mu = gc.JointGaussian(cov, n_u)
    can = mu.canonical()
    k = min(n_u, cov.shape[0] - n_u)
    xu, xv, sigma = can.weights_u, can.weights_v, can.sigma
    assert sigma.shape == (k,) and np.all(np.diff(sigma) <= 1e-12)
    assert np.all((sigma >= 0) & (sigma < 1))
    assert np.allclose(xu.T @ mu.Cuu @ xu, np.eye(k), atol=1e-6)
    assert np.allclose(xv.T @ mu.Cvv @ xv, np.eye(k), atol=1e-6)
    assert np.allclose(xu.T @ mu.Cuv @ xv, np.diag(sigma), atol=1e-6)
    # the paper's Omega through SciPy's symmetric square roots (independent of our eigh route)
    ru = np.real(scipy.linalg.sqrtm(mu.Cuu))
    rv = np.real(scipy.linalg.sqrtm(mu.Cvv))
    omega = np.linalg.solve(ru, np.linalg.solve(rv, mu.Cuv.T).T)
    assert np.allclose(np.linalg.svd(omega, compute_uv=False), sigma, atol=1e-6)
    assert np.allclose((can.U * sigma) @ can.V.T, omega, atol=1e-6)
    assert mu.canonical() is can  # computed once and cached
    assert np.isclose(
        mu.mutual_information(),
        0.5 * (np.linalg.slogdet(mu.Cuu)[1] + np.linalg.slogdet(mu.Cvv)[1])
        - 0.5 * np.linalg.slogdet(cov)[1],
        rtol=1e-6,
        atol=1e-8,
    )


def test_canonical_signs_are_deterministic():
    rng = np.random.default_rng(3)
    cov = spd_from_spectrum(rng, 5, 30.0)
    a = gc.JointGaussian(cov, 2).canonical()
    b = gc.JointGaussian(cov.copy(), 2).canonical()
    assert np.array_equal(a.weights_u, b.weights_u) and np.array_equal(a.weights_v, b.weights_v)
    assert np.all(a.weights_u[np.argmax(np.abs(a.weights_u), axis=0), np.arange(2)] > 0)


def test_joint_sampling_logpdf_and_mean():
    mu = gc.JointGaussian([[1.5, 1.0], [1.0, 1.5]], 1, mean=[1.0, -2.0])
    u, v = mu.sample(100_000, np.random.default_rng(0))
    assert u.shape == (100_000, 1) and v.shape == (100_000, 1)
    assert abs(u.mean() - 1.0) < MC_Z * np.sqrt(1.5 / len(u))
    assert abs(np.corrcoef(u[:, 0], v[:, 0])[0, 1] - 1.0 / 1.5) < 0.01
    expected = scipy.stats.multivariate_normal([1.0, -2.0], mu.cov).logpdf(
        np.hstack([u[:5], v[:5]])
    )
    assert np.allclose(mu.logpdf(u[:5], v[:5]), expected)


@given(st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_kl_divergence_lemma_e1(d, seed):
    """Lemma E.1 against a Monte Carlo average of log-density ratios, and KL(p || p) = 0."""
    rng = np.random.default_rng(seed)
    p = gc.Gaussian(rng.standard_normal(d), spd_from_spectrum(rng, d, 10.0))
    q = gc.Gaussian(rng.standard_normal(d), spd_from_spectrum(rng, d, 10.0))
    kl = gc.kl_divergence(p, q)
    x = p.sample(40_000, rng)
    ratio = p.logpdf(x) - q.logpdf(x)
    assert abs(kl - ratio.mean()) < MC_Z * ratio.std() / np.sqrt(len(x))
    assert kl >= 0
    assert abs(gc.kl_divergence(p, p)) < 1e-12


def test_kl_divergence_rejects_mismatched_inputs():
    p = gc.Gaussian([0.0], [[1.0]])
    with pytest.raises(gc.ShapeError, match="same dimension"):
        gc.kl_divergence(p, gc.Gaussian([0.0, 0.0], np.eye(2)))
    with pytest.raises(gc.ArgumentTypeError, match="`q` must be a gaussclip Gaussian"):
        gc.kl_divergence(p, np.eye(1))
