"""The two-dimensional example of Section 5.4, checked by hand and by Monte Carlo."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gaussclip as gc
from gaussclip.data import toy

#: Monte Carlo samples; the sample variance then has relative standard error sqrt(2/n) ~ 0.6%.
MC_SAMPLES = 50_000
#: Five standard errors.
Z_MAX = 5.0


#: Hand-computed values of the 2-D example: rounding only.
HAND_RTOL = 1e-12


def test_paper_example():
    mu = toy.joint()
    np.testing.assert_array_equal(mu.cov, [[1.5, 1.0], [1.0, 1.5]])
    assert (mu.n_u, mu.n_v) == (1, 1)
    np.testing.assert_array_equal(mu.mean, [0.0, 0.0])
    # by hand: correlation 1 / 1.5, conditional variance 1.5 - 1 / 1.5 (eq. 37a), gain 1 / 1.5
    np.testing.assert_allclose(mu.canonical_correlations(), [2.0 / 3.0], rtol=HAND_RTOL)
    np.testing.assert_allclose(mu.conditional_cov("u"), [[1.5 - 1.0 / 1.5]], rtol=HAND_RTOL)
    np.testing.assert_allclose(mu.conditional_cov("v"), [[1.5 - 1.0 / 1.5]], rtol=HAND_RTOL)
    np.testing.assert_allclose(mu.conditional("v", [3.0]).mean, [2.0], rtol=HAND_RTOL)


def test_paper_example_by_monte_carlo():
    mu = toy.joint()
    u, v = mu.sample(MC_SAMPLES, np.random.default_rng(54))
    # regression of u on v: slope Cov(u, v) / Var(v) and residual variance C_{u|v}
    slope = np.sum(u * v) / np.sum(v * v)
    residual = np.mean((u - slope * v) ** 2)
    assert abs(slope - 2.0 / 3.0) < Z_MAX * np.sqrt((1.5 - 1.0 / 1.5) / 1.5 / MC_SAMPLES)
    assert abs(residual - (1.5 - 1.0 / 1.5)) < Z_MAX * (1.5 - 1.0 / 1.5) * np.sqrt(2 / MC_SAMPLES)


@given(
    var_u=st.floats(0.1, 10.0),
    var_v=st.floats(0.1, 10.0),
    rho=st.floats(-0.95, 0.95),
)
def test_variants_have_the_requested_correlation(var_u, var_v, rho):
    mu = toy.joint(var_u, var_v, rho * np.sqrt(var_u * var_v))
    np.testing.assert_allclose(mu.canonical_correlations(), [abs(rho)], atol=1e-12)
    np.testing.assert_allclose(mu.conditional_cov("u"), [[var_u * (1 - rho**2)]], rtol=1e-10)


def test_invalid_variant_is_rejected():
    with pytest.raises(gc.CovarianceError, match="positive definite"):
        toy.joint(1.0, 1.0, 1.0)
    with pytest.raises(gc.CovarianceError):
        toy.joint(-1.0, 1.0, 0.0)
