"""Minimizers: every closed form against the numerical minimizer of the exact objective, the
paper's corollaries, and invariance under linear changes of variables."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import canonical_joints, joint_covariances, orthogonal

import gaussclip as gc
from gaussclip.closed_forms import pair_objective, pair_solution

#: Closed form vs numerical minimum value. L-BFGS stops at gradient 1e-9, which leaves the
#: objective (O(1), with a quadratic minimum) exact to ~1e-15; rounding in the O(10) terms of
#: the KL formulas adds ~1e-13.
OBJECTIVE_ATOL = 1e-9
#: Closed form vs numerical parameters in whitened coordinates. With sigma <= 0.95 and gaps
#: >= 0.025 the Hessian of the objective (modulo the rotation of the encoders, which does not
#: change A, B, C) has eigenvalues >~ 1e-3, so a gradient of 1e-9 means parameter errors
#: <~ 1e-6.
PARAMETER_ATOL = 2e-6

#: (loss, tilting, weights) with a closed form.
CLOSED = [
    ("cond", "inner", (1.0, 1.0)),
    ("cond", "inner", (2.0, 0.0)),
    ("cond", "inner", (0.3, 1.7)),
    ("joint", "inner", (1.0, 1.0)),
    ("cond", "quadratic", (1.0, 1.0)),
    ("cond", "quadratic", (3.0, 3.0)),
    ("cond", "quadratic", (2.0, 0.0)),
    ("cond", "quadratic", (0.0, 2.0)),
    ("joint", "quadratic", (1.0, 1.0)),
]


def _whiten(mu, sol):
    """Identifiable parameters in whitened coordinates (A~, B~ or None, C~ or None)."""
    ru, rv = mu.spd("u").sqrt, mu.spd("v").sqrt
    a = ru @ sol.A @ rv
    b = None if sol.B is None else ru @ sol.B @ ru
    c = None if sol.C is None else rv @ sol.C @ rv
    if sol.weights[1] == 0.0 and sol.tilting == "quadratic":
        c = None  # the (2, 0) loss does not see C
    if sol.weights[0] == 0.0 and sol.tilting == "quadratic":
        b = None
    return a, b, c


@settings(max_examples=12)
@given(canonical_joints(max_dim=3), st.sampled_from(CLOSED), st.data())
def test_closed_forms_equal_numerical_minimizers(case, problem, data):
    cov, n_u, _ = case
    loss, tilting, weights = problem
    mu = gc.JointGaussian(cov, n_u)
    k = min(n_u, cov.shape[0] - n_u)
    rank = data.draw(st.sampled_from([None, *range(1, k + 1)]))
    closed = gc.minimize(mu, loss, tilting, weights=weights, rank=rank)
    numeric = gc.minimize(
        mu, loss, tilting, weights=weights, rank=rank, method="numerical", n_starts=2
    )
    assert closed.method == "closed-form" and numeric.method == "numerical"
    assert numeric.certificate.grad_norm < 1e-6
    assert abs(closed.objective - numeric.objective) < OBJECTIVE_ATOL
    exact = gc.population_loss(
        mu, loss, tilting, A=closed.A, B=closed.B, C=closed.C, weights=weights
    )
    assert abs(exact - closed.objective) < OBJECTIVE_ATOL
    for x, y in zip(_whiten(mu, closed), _whiten(mu, numeric), strict=True):
        if x is not None:
            assert np.allclose(x, y, atol=PARAMETER_ATOL)


@given(joint_covariances(max_dim=4), st.sampled_from(CLOSED), st.data())
def test_encoders_factor_the_parameters(case, problem, data):
    """Remark D.3: G, H have at most `rank` rows and reproduce A (and B, C)."""
    cov, n_u = case
    loss, tilting, weights = problem
    mu = gc.JointGaussian(cov, n_u)
    k = min(n_u, cov.shape[0] - n_u)
    rank = data.draw(st.sampled_from([None, *range(1, k + 1)]))
    sol = gc.minimize(mu, loss, tilting, weights=weights, rank=rank)
    assert sol.G.shape[0] <= (rank or k) and sol.G.shape[0] == sol.H.shape[0]
    A, B, C = gc.encoder_products(sol.G, sol.H)
    scale = 1.0 + np.abs(sol.A).max()
    assert np.allclose(A, sol.A, atol=1e-9 * scale)
    if tilting == "quadratic":
        assert np.allclose(B, sol.B, atol=1e-9 * (1 + np.abs(B).max()))
        assert np.allclose(C, sol.C, atol=1e-9 * (1 + np.abs(C).max()))
    assert np.linalg.matrix_rank(sol.A, tol=1e-8 * scale) <= (rank or k)


@given(canonical_joints(max_dim=4, max_condition=1e4))
def test_paper_formulas_theorems_5_1_5_3_5_6(case):
    """The engine's canonical-pair answers equal the paper's matrix formulas (43), (44), (49),
    (53), (54), written here directly from the covariance blocks."""
    cov, n_u, _ = case
    mu = gc.JointGaussian(cov, n_u)
    cuu, cuv, cvv = mu.Cuu, mu.Cuv, mu.Cvv
    ru_inv, rv_inv = mu.spd("u").inv_sqrt, mu.spd("v").inv_sqrt
    omega = ru_inv @ cuv @ rv_inv
    tol = (
        1e-6 * (1 + np.abs(np.linalg.solve(cuu, cuv)).max()) * (1 + np.abs(1 / np.diag(cvv)).max())
    )
    a_star = np.linalg.solve(cuu, np.linalg.solve(cvv, cuv.T).T)  # (43)
    assert np.allclose(gc.minimize(mu, "cond", "inner").A, a_star, atol=tol)
    for r in range(1, min(mu.n_u, mu.n_v) + 1):  # (44)
        expected = ru_inv @ gc.low_rank(omega, r) @ rv_inv
        assert np.allclose(gc.minimize(mu, "cond", "inner", rank=r).A, expected, atol=tol)
    u, s, vt = np.linalg.svd(omega, full_matrices=False)
    for r in range(1, min(mu.n_u, mu.n_v) + 1):  # (53), (54)
        expected = ru_inv @ gc.low_rank((u * gc.h(s)) @ vt, r) @ rv_inv
        assert np.allclose(gc.minimize(mu, "joint", "inner", rank=r).A, expected, atol=tol)
    s_uv = mu.conditional_cov("u")  # (49a), (49b)
    s_vu = mu.conditional_cov("v")
    sol = gc.minimize(mu, "cond", "quadratic", weights=(2, 0))
    expected_a = np.linalg.solve(s_uv, np.linalg.solve(cvv, cuv.T).T)
    k_u = np.linalg.solve(cuu, cuv)
    expected_b = k_u @ np.linalg.solve(s_vu, k_u.T)
    big = 1 + np.abs(expected_a).max() + np.abs(expected_b).max()
    assert np.allclose(sol.A, expected_a, atol=1e-6 * big)
    assert np.allclose(sol.B, expected_b, atol=1e-6 * big)


@given(canonical_joints(max_dim=4))
def test_corollary_5_2_means_match_covariances_inflate(case):
    cov, n_u, sigma = case
    mu = gc.JointGaussian(cov, n_u, mean=np.arange(cov.shape[0], dtype=float))
    nu = gc.minimize(mu, "cond", "inner").model
    v = np.linspace(-1.0, 1.0, mu.n_v)
    assert np.allclose(
        nu.conditional_mean("u", v),
        mu.conditional_mean("u", v),
        atol=1e-6 * (1 + np.abs(v).max()) * np.abs(mu.gain("u")).max() + 1e-8,
    )
    assert np.allclose(nu.conditional_cov("u"), mu.Cuu, rtol=1e-6, atol=1e-9 * np.abs(mu.Cuu).max())
    assert np.allclose(nu.conditional_cov("v"), mu.Cvv, rtol=1e-6, atol=1e-9 * np.abs(mu.Cvv).max())
    # strictly larger than C_{u|v} in the cone: C_uu - C_{u|v} = C_uv C_vv^-1 C_vu >= 0, with
    # as many positive eigenvalues as non-zero canonical correlations
    gap = np.linalg.eigvalsh(
        mu.spd("u").inv_sqrt
        @ (nu.conditional_cov("u") - mu.conditional_cov("u"))
        @ mu.spd("u").inv_sqrt
    )
    assert np.all(gap > -1e-8)
    assert np.sum(gap > 1e-8) == np.sum(sigma > 0)
    assert np.allclose(np.sort(gap)[::-1][: sigma.size], sigma**2, atol=1e-6)


@given(canonical_joints(max_dim=4))
def test_corollary_5_4_one_sided_quadratic_matches_u_given_v(case):
    cov, n_u, _ = case
    mu = gc.JointGaussian(cov, n_u, mean=np.ones(cov.shape[0]))
    nu = gc.minimize(mu, "cond", "quadratic", weights=(2, 0)).model
    v = np.linspace(-1.0, 2.0, mu.n_v)
    scale = np.abs(mu.conditional_cov("u")).max()
    assert np.allclose(
        nu.conditional_cov("u"), mu.conditional_cov("u"), rtol=1e-6, atol=1e-8 * scale
    )
    expected = mu.conditional_mean("u", v)
    assert np.allclose(
        nu.conditional_mean("u", v), expected, atol=1e-6 * (1 + np.abs(expected).max())
    )
    mirror = gc.minimize(mu, "cond", "quadratic", weights=(0, 2)).model
    scale_v = np.abs(mu.conditional_cov("v")).max()
    assert np.allclose(
        mirror.conditional_cov("v"), mu.conditional_cov("v"), rtol=1e-6, atol=1e-8 * scale_v
    )


@given(canonical_joints(max_dim=4))
def test_corollary_5_7_joint_loss_marginals_are_closer(case):
    """C_uu <= nu_u(joint) <= nu_u(cond) in the Loewner order, strictly on the span of the
    canonical directions with sigma > 0, and the formulas (55a), (55b)."""
    cov, n_u, sigma = case
    mu = gc.JointGaussian(cov, n_u)
    cond_u = gc.minimize(mu, "cond", "inner").model.marginal("u").cov
    joint_u = gc.minimize(mu, "joint", "inner").model.marginal("u").cov
    w = mu.spd("u").inv_sqrt
    lower = np.linalg.eigvalsh(w @ (joint_u - mu.Cuu) @ w)
    upper = np.linalg.eigvalsh(w @ (cond_u - joint_u) @ w)
    assert np.all(lower > -1e-8) and np.all(upper > -1e-8)
    assert np.sum(lower > 1e-10) == np.sum(upper > 1e-10) == np.sum(sigma > 0)
    can = mu.canonical()
    ru = mu.spd("u").sqrt
    for d, model in ((sigma, cond_u), (gc.h(sigma), joint_u)):
        u_full = np.linalg.qr(np.hstack([can.U, np.eye(mu.n_u)]))[0][:, : mu.n_u]
        u_full[:, : sigma.size] = can.U
        scale = np.ones(mu.n_u)
        scale[: sigma.size] = 1.0 / (1.0 - d**2)
        expected = ru @ (u_full * scale) @ u_full.T @ ru
        assert np.allclose(model, expected, rtol=1e-6, atol=1e-8 * np.abs(expected).max())


@given(canonical_joints(max_dim=3), st.sampled_from(CLOSED), st.integers(0, 2**32 - 1))
def test_minimizers_transform_under_linear_changes_of_variables(case, problem, seed):
    """u -> M_u u + c_u, v -> M_v v + c_v maps the minimizer to M_u^{-T} A M_v^{-1} etc. and
    leaves the objective unchanged."""
    cov, n_u, _ = case
    loss, tilting, weights = problem
    rng = np.random.default_rng(seed)
    n_v = cov.shape[0] - n_u
    m_u = orthogonal(rng, n_u) * rng.uniform(0.5, 2.0, n_u)
    m_v = orthogonal(rng, n_v) * rng.uniform(0.5, 2.0, n_v)
    t = np.block([[m_u, np.zeros((n_u, n_v))], [np.zeros((n_v, n_u)), m_v]])
    mu = gc.JointGaussian(cov, n_u)
    moved = gc.JointGaussian(t @ cov @ t.T, n_u, mean=rng.standard_normal(n_u + n_v))
    a = gc.minimize(mu, loss, tilting, weights=weights)
    b = gc.minimize(moved, loss, tilting, weights=weights)
    assert np.isclose(a.objective, b.objective, rtol=1e-7, atol=1e-9)
    scale = 1 + np.abs(a.A).max()
    assert np.allclose(m_u.T @ b.A @ m_v, a.A, atol=1e-6 * scale)
    if tilting == "quadratic" and weights[0] > 0:
        assert np.allclose(m_u.T @ b.B @ m_u, a.B, atol=1e-6 * (1 + np.abs(a.B).max()))


@given(canonical_joints(max_dim=4), st.sampled_from(CLOSED))
def test_objective_decreases_with_rank(case, problem):
    cov, n_u, _ = case
    loss, tilting, weights = problem
    mu = gc.JointGaussian(cov, n_u)
    k = min(n_u, cov.shape[0] - n_u)
    values = [
        gc.minimize(mu, loss, tilting, weights=weights, rank=r).objective for r in range(1, k + 1)
    ]
    assert np.all(np.diff(values) <= 1e-12)
    assert np.isclose(values[-1], gc.minimize(mu, loss, tilting, weights=weights).objective)


@pytest.mark.parametrize("problem", CLOSED)
def test_pair_gain_increases_with_sigma(problem):
    """Keeping the pairs with the largest sigma is optimal only if each pair's gain over zero
    parameters increases with sigma; check that on a fine grid."""
    loss, tilting, weights = problem
    sigma = np.linspace(0.0, 0.999, 4000)
    alpha, beta, gamma = pair_solution(loss, tilting, weights, sigma)
    zero = np.zeros_like(sigma)
    at_zero = pair_objective(
        loss, weights, sigma, zero, None if beta is None else zero, None if gamma is None else zero
    )
    gain = at_zero - pair_objective(loss, weights, sigma, alpha, beta, gamma)
    assert np.all(gain >= -1e-15) and np.all(np.diff(gain) > 0)


def test_numerical_path_for_other_weights_and_its_certificate():
    """Unequal two-sided weights with the quadratic tilting: the forced numerical path (the
    cross-check of the scalar-root closed form, tests/test_cond_quadratic_weights.py) is
    certified and beats both one-sided and the equal-weight closed forms on their own loss."""
    mu = gc.JointGaussian([[1.5, 1.0], [1.0, 1.5]], 1)
    sol = gc.minimize(mu, "cond", "quadratic", weights=(1.5, 0.5), method="numerical", n_starts=3)
    assert sol.method == "numerical"
    cert = sol.certificate
    assert cert.converged and cert.grad_norm < 1e-8 and cert.spread < 1e-10
    for other in ((1.0, 1.0), (2.0, 0.0)):
        ref = gc.minimize(mu, "cond", "quadratic", weights=other)
        j = gc.population_loss(
            mu, "cond", "quadratic", A=ref.A, B=ref.B, C=ref.C, weights=(1.5, 0.5)
        )
        assert sol.objective <= j + 1e-12


def test_two_sided_quadratic_beats_both_one_sided_on_the_example():
    """The new cond (1,1) x quadratic closed form on the 2-D example (sigma = 2/3): per pair
    x = sigma (1 + s) / ((3 + s)(1 - sigma)), s = sqrt(9 - 8 sigma)."""
    mu = gc.JointGaussian([[1.5, 1.0], [1.0, 1.5]], 1)
    sol = gc.minimize(mu, "cond", "quadratic")
    s = np.sqrt(9 - 8 * 2 / 3)
    x = (2 / 3) * (1 + s) / ((3 + s) * (1 / 3))
    assert np.isclose(sol.pairs.alpha[0], x) and np.isclose(sol.pairs.beta[0], x)
    assert np.isclose(sol.A[0, 0], x / 1.5)  # A = C_uu^{-1/2} x C_vv^{-1/2}
