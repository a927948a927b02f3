"""Exact population objectives J (gaussclip.objectives)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import joint_covariances

import gaussclip as gc
from gaussclip.objectives import expected_conditional_kl, joint_kl
from gaussclip.tilting import to_canonical

#: A Monte Carlo estimate must land within this many standard errors of the exact value.
MC_Z = 5.0
#: Samples for the Monte Carlo cross-checks (standard errors ~ 1e-2 of an O(1) divergence).
MC_SAMPLES = 20_000


def _encoders(rng, mu, n_e, scale):
    G = rng.standard_normal((n_e, mu.n_u)) @ mu.spd("u").inv_sqrt
    H = rng.standard_normal((n_e, mu.n_v)) @ mu.spd("v").inv_sqrt
    norm = np.linalg.norm(mu.spd("u").sqrt @ G.T @ H @ mu.spd("v").sqrt, 2)
    factor = np.sqrt(scale / max(norm, 1e-12))
    return G * factor, H * factor


def _conditional_log_ratio(mu, nu, u, v):
    """log mu_{u|v}(u|v) - log nu_{u|v}(u|v) per sample, both from JointGaussian conditioning."""
    res_mu = u - mu.conditional_mean("u", v)
    res_nu = u - nu.conditional_mean("u", v)
    g_mu = gc.Gaussian(np.zeros(mu.n_u), mu.conditional_cov("u"))
    g_nu = gc.Gaussian(np.zeros(mu.n_u), nu.conditional_cov("u"))
    return g_mu.logpdf(res_mu) - g_nu.logpdf(res_nu)


@given(joint_covariances(max_dim=3, max_condition=1e4), st.booleans(), st.integers(0, 2**32 - 1))
def test_objectives_agree_with_monte_carlo(case, quadratic, seed):
    """J_cond(u-side) and J_joint against averages of log-density ratios over samples of mu."""
    cov, n_u = case
    rng = np.random.default_rng(seed)
    mu = gc.JointGaussian(cov, n_u, mean=rng.standard_normal(cov.shape[0]))
    G, H = _encoders(rng, mu, 2, scale=0.6)
    tilting = "quadratic" if quadratic else "inner"
    A, B, C = gc.encoder_products(G, H)
    if not quadratic:
        B = C = None
    nu = gc.tilted(mu, A, B, C)
    u, v = mu.sample(MC_SAMPLES, rng)
    ratio_u = _conditional_log_ratio(mu, nu, u, v)
    exact_u = gc.population_loss(mu, "cond", tilting, G=G, H=H, weights=(2.0, 0.0))
    assert abs(exact_u - ratio_u.mean()) <= MC_Z * ratio_u.std() / np.sqrt(MC_SAMPLES) + 1e-12
    ratio = mu.logpdf(u, v) - nu.logpdf(u, v)
    exact = gc.population_loss(mu, "joint", tilting, G=G, H=H)
    assert abs(exact - ratio.mean()) <= MC_Z * ratio.std() / np.sqrt(MC_SAMPLES) + 1e-12


@given(joint_covariances(max_dim=3), st.booleans(), st.integers(0, 2**32 - 1))
def test_chain_rule_and_theorem_3_10(case, quadratic, seed):
    """KL(mu||nu) = KL(mu_v||nu_v) + E KL(mu_u|v || nu_u|v) (chain rule), and Theorem 3.10:
    L_cond <= L_joint, i.e. J_cond(1,1) <= J_joint since both equal L + I(u; v)."""
    cov, n_u = case
    rng = np.random.default_rng(seed)
    mu = gc.JointGaussian(cov, n_u)
    G, H = _encoders(rng, mu, 2, scale=0.8)
    A, B, C = gc.encoder_products(G, H)
    if not quadratic:
        B = C = None
    nu = gc.tilted(mu, A, B, C)
    params = to_canonical(mu, A, B, C)
    total = joint_kl(params, "quadratic" if quadratic else "inner")
    for side, other in (("u", "v"), ("v", "u")):
        split = gc.kl_divergence(mu.marginal(other), nu.marginal(other))
        split += expected_conditional_kl(params, side)
        assert np.isclose(total, split, rtol=1e-6, atol=1e-8)
    tilting = "quadratic" if quadratic else "inner"
    j_cond = gc.population_loss(mu, "cond", tilting, A=A, B=B, C=C)
    j_joint = gc.population_loss(mu, "joint", tilting, A=A, B=B, C=C)
    assert j_cond <= j_joint + 1e-10 * (1 + j_joint)


@given(joint_covariances(max_dim=3), st.integers(0, 2**32 - 1))
def test_objectives_are_divergences(case, seed):
    """J >= 0, and J = 0 exactly when the compared distributions match: A = 0 for independent
    data; the one-sided quadratic optimum matches mu_{u|v} (Corollary 5.4)."""
    cov, n_u = case
    rng = np.random.default_rng(seed)
    mu = gc.JointGaussian(cov, n_u)
    G, H = _encoders(rng, mu, 2, scale=0.9)
    for loss in ("cond", "joint"):
        for tilting in ("inner", "quadratic"):
            assert gc.population_loss(mu, loss, tilting, G=G, H=H) >= -1e-12
    blocks = np.zeros_like(cov)
    blocks[:n_u, :n_u], blocks[n_u:, n_u:] = cov[:n_u, :n_u], cov[n_u:, n_u:]
    independent = gc.JointGaussian(blocks, n_u)
    zero = np.zeros((n_u, cov.shape[0] - n_u))
    assert abs(gc.population_loss(independent, "joint", "inner", A=zero)) < 1e-10
    sol = gc.minimize(mu, "cond", "quadratic", weights=(2.0, 0.0))
    assert abs(gc.population_loss(mu, "cond", "quadratic", A=sol.A, B=sol.B, weights=(2, 0))) < 1e-8


def test_losses_differ_from_objectives_by_the_mutual_information():
    """Theorems 3.2 / 3.8 on the 2-D example: with B = C = 0 the paper's L_cond(A) of eq. (42)
    is -Tr(A C_vu) + 1/2 Tr(A^T C_uu A C_vv) and J_cond = L_cond + I(u; v)."""
    mu = gc.JointGaussian([[1.5, 1.0], [1.0, 1.5]], 1)
    for a in (-0.3, 0.0, 0.2, 0.5):
        A = np.array([[a]])
        loss = -np.trace(A @ mu.Cvu) + 0.5 * np.trace(A.T @ mu.Cuu @ A @ mu.Cvv)
        assert np.isclose(
            gc.population_loss(mu, "cond", "inner", A=A), loss + mu.mutual_information()
        )


def test_population_loss_value_metadata():
    mu = gc.JointGaussian([[1.5, 1.0], [1.0, 1.5]], 1)
    value = gc.population_loss(mu, "cond", "inner", A=[[0.1]])
    assert isinstance(value, float) and value.stderr == 0.0 and value.method == "exact"
    with pytest.raises(gc.OptionError, match="encoders `G` and `H`"):
        gc.population_loss(mu, "cond", "cosine", A=[[0.1]])
