"""The learned models nu of the inner (eq. 40-41) and quadratic (eq. 47-48) tiltings."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import joint_covariances

import gaussclip as gc
from gaussclip.tilting import precision

#: Comparing two routes to the same conditional (Schur complement of the inverted precision vs
#: the conditional precision of eq. 48) loses ~condition(C) * eps; conditions reach 1e6.
ROUTE_RTOL = 1e-6


def _realizable(rng, mu, n_e, scale=0.3):
    """Encoders scaled so the inner-tilting joint model exists (whitened norm < 1)."""
    G = rng.standard_normal((n_e, mu.n_u)) @ mu.spd("u").inv_sqrt
    H = rng.standard_normal((n_e, mu.n_v)) @ mu.spd("v").inv_sqrt
    A = G.T @ H
    norm = np.linalg.norm(mu.spd("u").sqrt @ A @ mu.spd("v").sqrt, 2)
    factor = np.sqrt(scale / max(norm, 1e-12))
    return G * factor, H * factor


@given(joint_covariances(max_dim=3), st.integers(1, 3), st.booleans(), st.integers(0, 2**32 - 1))
def test_model_conditionals_agree_with_joint_model(case, n_e, quadratic, seed):
    """Eqs. (41)/(48) (conditional precision route) agree with conditioning the joint nu of
    eqs. (40)/(47) (Schur complement of its covariance)."""
    cov, n_u = case
    rng = np.random.default_rng(seed)
    mu = gc.JointGaussian(cov, n_u, mean=rng.standard_normal(cov.shape[0]))
    G, H = _realizable(rng, mu, n_e)
    A, B, C = gc.encoder_products(G, H)
    if not quadratic:
        B = C = None
    nu = gc.tilted(mu, A, B, C)
    assert np.allclose(nu.mean, mu.mean)
    v = rng.standard_normal(mu.n_v)
    direct = gc.tilted_conditional(mu, "u", v, A, B, C)
    via_joint = nu.conditional("u", v)
    scale = np.abs(direct.cov).max()
    assert np.allclose(direct.cov, via_joint.cov, rtol=ROUTE_RTOL, atol=ROUTE_RTOL * scale)
    assert np.allclose(direct.mean, via_joint.mean, rtol=ROUTE_RTOL, atol=ROUTE_RTOL * (1 + scale))
    if not quadratic:  # eq. (41a): nu_{u|v} = N(m_u + C_uu A (v - m_v), C_uu)
        assert np.allclose(direct.cov, mu.Cuu)
        expected = mu.mean_u + mu.Cuu @ A @ (v - mu.mean_v)
        assert np.allclose(direct.mean, expected, atol=1e-8 * (1 + np.abs(expected).max()))


def test_precision_blocks_eq_40_and_47():
    mu = gc.JointGaussian([[2.0, 0.5, 0.3], [0.5, 1.0, 0.2], [0.3, 0.2, 1.0]], 2)
    A = np.array([[0.1], [0.2]])
    B = np.array([[0.3, 0.1], [0.1, 0.2]])
    C = np.array([[0.4]])
    theta = precision(mu, A, B, C)
    assert np.allclose(theta[:2, :2], np.linalg.inv(mu.Cuu) + B)
    assert np.allclose(theta[:2, 2:], -A) and np.allclose(theta[2:, :2], -A.T)
    assert np.allclose(theta[2:, 2:], 1.0 / mu.Cvv + C)
    assert np.allclose(precision(mu, A)[:2, :2], np.linalg.inv(mu.Cuu))


def test_inner_model_exists_iff_whitened_norm_below_one():
    mu = gc.JointGaussian([[1.5, 1.0], [1.0, 1.5]], 1)
    # whitened norm of A is 1.5 * |a|; the boundary is |a| = 2/3
    gc.tilted(mu, [[0.66]])
    with pytest.raises(gc.DomainError, match=r"\|\|C_uu\^\(1/2\) A C_vv\^\(1/2\)\|\|_2 >= 1"):
        gc.tilted(mu, [[0.7]])
    # its conditionals exist for every A (eq. 41)
    g = gc.tilted_conditional(mu, "v", [1.0], [[5.0]])
    assert np.isclose(g.mean[0], 1.5 * 5.0) and np.isclose(g.cov[0, 0], 1.5)


def test_quadratic_model_always_exists_for_realizable_parameters():
    rng = np.random.default_rng(0)
    mu = gc.JointGaussian([[1.5, 1.0], [1.0, 1.5]], 1)
    G, H = 50.0 * rng.standard_normal((1, 1)), 50.0 * rng.standard_normal((1, 1))
    nu = gc.tilted(mu, *gc.encoder_products(G, H))
    assert np.all(np.linalg.eigvalsh(nu.cov) > 0)
    with pytest.raises(gc.DomainError, match="does not exist"):
        gc.tilted(mu, [[10.0]], [[0.0]], [[0.0]])
