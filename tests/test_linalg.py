"""The SPD helper, sign conventions, low-rank truncation and h (gaussclip.linalg)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import orthogonal, spd_from_spectrum

from gaussclip import SPD, CovarianceError, DomainError, ShapeError, h, low_rank
from gaussclip.linalg import flip_signs

#: Relative accuracy of eigh-based functions of a matrix with condition number kappa is about
#: kappa * eps; with kappa <= 1e6 that is ~2e-10, so 1e-8 leaves a margin.
FUNCTION_RTOL = 1e-8


@given(st.integers(1, 6), st.floats(0.0, 6.0), st.integers(0, 2**32 - 1))
def test_spd_functions_match_direct_linear_algebra(n, log_cond, seed):
    rng = np.random.default_rng(seed)
    m = spd_from_spectrum(rng, n, 10.0**log_cond)
    s = SPD(m)
    assert np.allclose(s.sqrt @ s.sqrt, m, rtol=FUNCTION_RTOL, atol=FUNCTION_RTOL * np.abs(m).max())
    assert np.allclose(s.inv_sqrt @ m @ s.inv_sqrt, np.eye(n), atol=1e-6)
    b = rng.standard_normal((n, 2))
    assert np.allclose(m @ s.solve(b), b, atol=1e-6 * np.abs(b).max())
    assert np.isclose(s.logdet, np.linalg.slogdet(m)[1], rtol=FUNCTION_RTOL, atol=1e-9)
    assert np.allclose(s.quad(b.T), np.einsum("ij,ij->j", b, s.solve(b)), rtol=1e-7)
    inv = s.inverted()
    assert np.allclose(inv.matrix @ m, np.eye(n), atol=1e-6)
    assert np.all(np.diff(inv.eigvals) >= 0)


def test_spd_rejects_bad_matrices_with_named_messages():
    with pytest.raises(CovarianceError, match="`cov` must be symmetric"):
        SPD([[1.0, 0.5], [0.0, 1.0]], "cov")
    with pytest.raises(CovarianceError, match="indefinite"):
        SPD([[1.0, 2.0], [2.0, 1.0]], "cov")
    with pytest.raises(CovarianceError, match="singular"):
        SPD([[1.0, 1.0], [1.0, 1.0]], "cov")
    with pytest.raises(DomainError, match="finite"):
        SPD([[1.0, np.nan], [np.nan, 1.0]], "cov")
    with pytest.raises(ShapeError, match="square"):
        SPD(np.ones((2, 3)), "cov")


def test_flip_signs_is_deterministic_and_preserves_products():
    rng = np.random.default_rng(0)
    u = orthogonal(rng, 4)[:, :3]
    v = orthogonal(rng, 3)
    s = np.array([3.0, 2.0, 1.0])
    fu, fv = flip_signs(-u, -v)
    gu, gv = flip_signs(u, v)
    assert np.array_equal(fu, gu) and np.array_equal(fv, gv)
    assert np.allclose((fu * s) @ fv.T, (u * s) @ v.T)
    assert np.all(fu[np.argmax(np.abs(fu), axis=0), np.arange(3)] > 0)


@given(st.integers(1, 5), st.integers(1, 5), st.integers(0, 2**32 - 1))
def test_low_rank_is_the_best_frobenius_approximation(m, n, seed):
    """Eckart-Young: the error of M_r is the norm of the discarded singular values."""
    rng = np.random.default_rng(seed)
    matrix = rng.standard_normal((m, n))
    singular = np.linalg.svd(matrix, compute_uv=False)
    for r in range(min(m, n) + 1):
        approx = low_rank(matrix, r)
        assert np.linalg.matrix_rank(approx, tol=1e-10) <= r
        assert np.isclose(np.linalg.norm(matrix - approx), np.linalg.norm(singular[r:]), atol=1e-10)


def test_h_properties_of_definition_5_5():
    sigma = np.linspace(1e-6, 1.0, 2001)
    values = h(sigma)
    assert np.all(values >= 0) and np.all(values < sigma)
    assert np.allclose(values**2 * sigma + values - sigma, 0.0, atol=1e-15)  # the quadratic
    assert np.isclose(h(1.0), (np.sqrt(5.0) - 1.0) / 2.0)
    assert np.isclose(h(1e-8) / 1e-8, 1.0)
    assert h(0.0) == 0.0
    # the textbook form agrees away from 0, where it does not cancel
    mid = sigma[sigma > 1e-3]
    assert np.allclose(h(mid), (0.5 * np.sqrt(1 + 4 * mid**2) - 0.5) / mid, rtol=1e-12)
