"""The cosine tilting (normalized encoders): exact 1-D objective, Monte Carlo beyond, the model."""

import numpy as np
import pytest
import scipy.integrate
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

import gaussclip as gc
from gaussclip.cosine import exact_objective_1d, orthant_correlation

#: Quadrature of the KL definition: Gauss-Legendre on each quadrant (where the integrand is
#: smooth) truncated at 12 standard deviations; 200 nodes per half-line resolve a Gaussian of
#: width >= 0.4 to ~1e-13.
QUADRATURE_ATOL = 1e-9
MC_Z = 5.0


def _kl_by_quadrature(rho, kappa, side_weight=2.0):
    """E_v KL(mu_{u|v} || nu_{u|v}) from the definition, for standard (u, v) with correlation
    rho and nu_{u|v}(u|v) ~ exp(kappa sign(u) sign(v)) phi(u), by 2-D quadrature split at the
    discontinuities u = 0 and v = 0."""
    t, w = np.polynomial.legendre.leggauss(200)
    half = 6.0 * (t + 1.0)  # nodes on [0, 12]
    nodes = np.concatenate([-half, half])
    weights = np.concatenate([6.0 * w, 6.0 * w])
    u, v = np.meshgrid(nodes, nodes, indexing="ij")
    cond_sd = np.sqrt(1.0 - rho * rho)
    log_p = scipy.stats.norm.logpdf(u, rho * v, cond_sd)
    log_q = scipy.stats.norm.logpdf(u) + kappa * np.sign(u) * np.sign(v) - np.log(np.cosh(kappa))
    integrand = np.exp(log_p) * (log_p - log_q) * scipy.stats.norm.pdf(v)
    return 0.5 * side_weight * float(weights @ integrand @ weights)


@settings(max_examples=10)
@given(st.floats(-0.9, 0.9), st.floats(-2.0, 2.0))
def test_exact_1d_objective_matches_quadrature_of_the_kl_definition(rho, kappa):
    expected = _kl_by_quadrature(rho, kappa)
    assert abs(exact_objective_1d("cond", (2.0, 0.0), rho, kappa) - expected) < QUADRATURE_ATOL


def test_orthant_correlation_sheppard():
    rng = np.random.default_rng(0)
    z = rng.multivariate_normal([0, 0], [[1, 0.6], [0.6, 1]], size=400_000)
    est = np.mean(np.sign(z[:, 0]) * np.sign(z[:, 1]))
    assert abs(est - orthant_correlation(0.6)) < MC_Z / np.sqrt(len(z))


def test_monte_carlo_path_reproduces_the_exact_1d_value():
    """Embed the 1-D problem in n_v = 2 with an independent extra coordinate that H ignores:
    the similarity and I(u; v) are unchanged, so the Monte Carlo estimate must agree with the
    exact 1-D value within its standard error (plus its O(1/n) bias)."""
    mu1 = gc.JointGaussian([[1.5, 1.0], [1.0, 1.5]], 1)
    mu2 = gc.JointGaussian([[1.5, 1.0, 0.0], [1.0, 1.5, 0.0], [0.0, 0.0, 2.0]], 1)
    G, H1, H2 = np.array([[1.0]]), np.array([[0.7]]), np.array([[0.7, 0.0]])
    for loss, weights in (("cond", (1.0, 1.0)), ("cond", (2.0, 0.0)), ("joint", (1.0, 1.0))):
        exact = gc.population_loss(mu1, loss, "cosine", G=G, H=H1, weights=weights)
        est = gc.population_loss(mu2, loss, "cosine", G=G, H=H2, weights=weights, n_samples=4000)
        assert exact.method == "exact" and est.method == "monte-carlo" and est.stderr > 0
        assert abs(est - exact) < MC_Z * est.stderr + 5.0 / 4000


def test_minimize_cosine_in_1d_is_figure_6():
    """n_e = 1: cos(G, H) = +-1, so the learned tilting is exp(sign(u) sign(v) / tau) for
    positively correlated data; its marginals equal the data marginals (Section 5.4)."""
    mu = gc.JointGaussian([[1.5, 1.0], [1.0, 1.5]], 1)
    sol = gc.minimize(mu, "cond", "cosine", rank=1)
    assert sol.method == "numerical" and sol.A is None
    assert np.sign(sol.G[0, 0] * sol.H[0, 0]) == 1.0
    rho = 1.0 / 1.5
    assert np.isclose(sol.objective, exact_objective_1d("cond", (1.0, 1.0), rho, 1.0))
    model = sol.model
    x = np.linspace(-6, 6, 4001)[:, None]
    assert np.allclose(model.marginal_logpdf("u", x), mu.marginal("u").logpdf(x))
    half = np.linspace(1e-12, 9.0, 20001)[
        :, None
    ]  # the density jumps at u = 0: integrate each side
    for v in (-1.0, 0.3, 2.0):
        given = np.full((len(half), 1), v)
        mass = sum(
            np.trapezoid(np.exp(model.conditional_logpdf("u", side * half, given)), half[:, 0])
            for side in (-1.0, 1.0)
        )
        assert abs(mass - 1.0) < 1e-4
    uu, vv = np.meshgrid(np.linspace(-7, 7, 801), np.linspace(-7, 7, 801))
    joint = np.exp(model.logpdf(uu.reshape(-1, 1), vv.reshape(-1, 1))).reshape(uu.shape)
    assert abs(np.trapezoid(np.trapezoid(joint, uu[0]), vv[:, 0]) - 1.0) < 1e-3
    # a higher temperature gives a weaker tilt and a larger objective than the optimum kappa
    hot = gc.population_loss(mu, "cond", "cosine", G=sol.G, H=sol.H, temperature=4.0)
    best_kappa = np.arctanh(orthant_correlation(rho))
    assert exact_objective_1d("cond", (1.0, 1.0), rho, best_kappa) < min(sol.objective, hot)


def test_cosine_rejects_bad_input():
    mu = gc.JointGaussian([[1.5, 1.0], [1.0, 1.5]], 1)
    with pytest.raises(gc.DomainError, match="temperature"):
        gc.population_loss(mu, "cond", "cosine", G=[[1.0]], H=[[1.0]], temperature=0.0)
    with pytest.raises(gc.DomainError, match="non-zero encoders"):
        gc.population_loss(mu, "cond", "cosine", G=[[0.0]], H=[[1.0]])
    with pytest.raises(gc.ShapeError, match="shapes"):
        gc.population_loss(mu, "cond", "cosine", G=[[1.0, 2.0]], H=[[1.0]])
