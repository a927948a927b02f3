"""The learned models nu of the inner (eq. 40-41) and quadratic (eq. 47-48) tiltings."""

import inspect

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gaussclip as gc
from gaussclip import objectives, summaries, tilting
from gaussclip._validation import Array, Optional
from gaussclip.testing.strategies import encoders, joint_gaussians
from gaussclip.tilting import precision

#: Comparing two routes to the same conditional (Schur complement of the inverted precision vs
#: the conditional precision of eq. 48) loses ~condition(C) * eps; conditions reach 1e6.
ROUTE_RTOL = 1e-6


#: Eq. (41a) computed directly (C_uu A (v - m_v)): rounding of one product, relative to the
#: size of the mean.
DIRECT_RTOL = 1e-8
#: Whitened norm bound of the drawn inner-tilting parameters (the joint model (40) exists
#: below 1).
MAX_NORM = 0.3
#: Closed-form values on small examples: rounding only.
EXAMPLE_RTOL = 1e-12


@given(joint_gaussians(mean=True), st.booleans(), st.data())
def test_model_conditionals_agree_with_joint_model(mu, quadratic, data):
    """Eqs. (41)/(48) (conditional precision route) agree with conditioning the joint nu of
    eqs. (40)/(47) (Schur complement of its covariance)."""
    G, H = data.draw(encoders(mu, rank=st.integers(1, 3), max_norm=MAX_NORM))
    A, B, C = gc.encoder_products(G, H)
    if not quadratic:
        B = C = None
    nu = gc.tilted(mu, A, B, C)
    assert np.array_equal(nu.mean, mu.mean)
    v = mu.mean_v + data.draw(st.floats(-3.0, 3.0)) * np.sqrt(np.diag(mu.Cvv))
    direct = gc.tilted_conditional(mu, "u", v, A, B, C)
    via_joint = nu.conditional("u", v)
    scale = np.abs(direct.cov).max()
    assert np.allclose(direct.cov, via_joint.cov, rtol=ROUTE_RTOL, atol=ROUTE_RTOL * scale)
    assert np.allclose(direct.mean, via_joint.mean, rtol=ROUTE_RTOL, atol=ROUTE_RTOL * (1 + scale))
    if not quadratic:  # eq. (41a): nu_{u|v} = N(m_u + C_uu A (v - m_v), C_uu)
        assert np.allclose(direct.cov, mu.Cuu, rtol=ROUTE_RTOL, atol=ROUTE_RTOL * scale)
        expected = mu.mean_u + mu.Cuu @ A @ (v - mu.mean_v)
        assert np.allclose(direct.mean, expected, atol=DIRECT_RTOL * (1 + np.abs(expected).max()))


#: Encoders mapped to canonical coordinates before their products (G' = G F_u^-1, ...) against
#: the products mapped by congruences (F_u^-T G^T G F_u^-1, ...): the whitened numbers are O(1),
#: but both routes pass through original units, where the entries of G and F_u^-1 are as large
#: as sqrt(cond(C_uu)) each: rounding ~eps * cond <= 2e-10 at the strategies' cond <= 1e6
#: (measured 8e-12 in a thorough-profile search).
ENCODER_ROUTE_ATOL = 1e-9


@given(joint_gaussians(mean=True), st.sampled_from(["inner", "quadratic"]), st.data())
def test_encoders_in_canonical_coordinates_equal_their_products_there(mu, kind, data):
    """population_loss with encoders maps G and H to canonical coordinates first
    (tilting.encoders_to_canonical); it equals the products route (to_canonical of
    encoder_products), parameters and objectives alike."""
    G, H = data.draw(encoders(mu, rank=st.integers(1, 4), max_norm=MAX_NORM))
    via_encoders = tilting.encoders_to_canonical(mu, kind, G, H)
    A, B, C = gc.encoder_products(G, H)
    if kind == "inner":
        B = C = None
    via_products = tilting.to_canonical(mu, A, B, C)
    pairs = {name: (getattr(via_encoders, name), getattr(via_products, name)) for name in "ABC"}
    pairs["factor of P"] = via_encoders.factor_p, via_products.factor_p
    pairs["factor of Q"] = via_encoders.factor_q, via_products.factor_q
    for side in "uv":
        pairs[f"spectrum {side}"] = via_encoders.spectrum(side)[0], via_products.spectrum(side)[0]
    for name, (x, y) in pairs.items():
        if y is None:
            assert x is None, name
            continue
        assert np.allclose(x, y, rtol=0.0, atol=ENCODER_ROUTE_ATOL * (1.0 + np.abs(y).max())), name
    for loss in ("cond", "joint"):
        from_encoders = gc.population_loss(mu, loss, kind, G=G, H=H)
        from_products = gc.population_loss(mu, loss, kind, A=A, B=B, C=C)
        assert abs(from_encoders - from_products) <= ENCODER_ROUTE_ATOL * (1.0 + from_products)


def test_precision_blocks_eq_40_and_47():
    mu = gc.JointGaussian([[2.0, 0.5, 0.3], [0.5, 1.0, 0.2], [0.3, 0.2, 1.0]], 2)
    A = np.array([[0.1], [0.2]])
    B = np.array([[0.3, 0.1], [0.1, 0.2]])
    C = np.array([[0.4]])
    theta = precision(mu, A, B, C)
    # np.linalg.inv here is the independent route (a 2 x 2 test matrix, condition ~3)
    inv_cuu = np.linalg.inv(mu.Cuu)
    assert np.allclose(theta[:2, :2], inv_cuu + B, rtol=EXAMPLE_RTOL, atol=EXAMPLE_RTOL)
    assert np.array_equal(theta[:2, 2:], -A) and np.array_equal(theta[2:, :2], -A.T)
    assert np.allclose(theta[2:, 2:], 1.0 / mu.Cvv + C, rtol=EXAMPLE_RTOL, atol=0.0)
    assert np.allclose(precision(mu, A)[:2, :2], inv_cuu, rtol=EXAMPLE_RTOL, atol=EXAMPLE_RTOL)


def test_inner_model_exists_iff_whitened_norm_below_one():
    mu = gc.JointGaussian([[1.5, 1.0], [1.0, 1.5]], 1)
    # whitened norm of A is 1.5 * |a|; the boundary is |a| = 2/3
    gc.tilted(mu, [[0.66]])
    with pytest.raises(gc.DomainError, match=r"\|\|C_uu\^\(1/2\) A C_vv\^\(1/2\)\|\|_2 >= 1"):
        gc.tilted(mu, [[0.7]])
    # its conditionals exist for every A (eq. 41)
    g = gc.tilted_conditional(mu, "v", [1.0], [[5.0]])
    assert np.isclose(g.mean[0], 1.5 * 5.0, rtol=EXAMPLE_RTOL, atol=0.0)
    assert np.isclose(g.cov[0, 0], 1.5, rtol=EXAMPLE_RTOL, atol=0.0)


def test_quadratic_model_always_exists_for_realizable_parameters():
    rng = np.random.default_rng(0)
    mu = gc.JointGaussian([[1.5, 1.0], [1.0, 1.5]], 1)
    G, H = 50.0 * rng.standard_normal((1, 1)), 50.0 * rng.standard_normal((1, 1))
    nu = gc.tilted(mu, *gc.encoder_products(G, H))
    assert np.all(np.linalg.eigvalsh(nu.cov) > 0)
    with pytest.raises(gc.DomainError, match="does not exist"):
        gc.tilted(mu, [[10.0]], [[0.0]], [[0.0]])


def _callers_of_check_parameters():
    """The public functions whose bodies reach ``tilting.check_parameters`` or
    ``tilting.canonical_parameters`` (directly, or through
    ``summaries._mean_gap``), found in the source so a new caller cannot be missed."""
    out = []
    for module in (objectives, summaries, tilting):
        for name, func in vars(module).items():
            if name.startswith("_") or not hasattr(func, "constraints"):
                continue
            source = inspect.getsource(func)
            if (
                "check_parameters(" in source
                or "canonical_parameters(" in source
                or "_mean_gap(" in source
            ):
                out.append(func)
    return out


def test_check_parameters_callers_validate_the_arrays():
    # check_parameters does not convert A, B, C, G, H again: every caller's constraint table must
    # (float64, finite, 2-D), or bad input would reach it unchecked
    callers = _callers_of_check_parameters()
    assert {f.__name__ for f in callers} >= {
        "population_loss",
        "tilted",
        "tilted_conditional",
        "conditional_mean_error",
        "conditional_mean_errors",
    }
    for func in callers:
        for name in ("A", "B", "C", "G", "H"):
            if name in inspect.signature(func).parameters:
                constraint = func.constraints[name]
                assert isinstance(constraint, Optional), (func.__name__, name)
                assert constraint.inner == Array(ndim=2), (func.__name__, name)
