"""The SPD helper, sign conventions, low-rank truncation and h (gaussclip.linalg)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gaussclip import SPD, CovarianceError, DomainError, ShapeError, h, low_rank
from gaussclip.linalg import block_2x2, flip_signs
from gaussclip.testing.strategies import orthogonal_matrices, spd_matrices

#: Relative accuracy of eigh-based functions of a matrix with condition number kappa is about
#: kappa * eps; with kappa <= 1e6 that is ~2e-10, so 1e-8 leaves a margin.
FUNCTION_RTOL = 1e-8
#: Products with the inverse square root / inverse of a matrix of condition <= 1e6: errors
#: ~cond * eps ~ 2e-10 relative to the identity, 1e-6 leaves a margin.
INVERSE_ATOL = 1e-6
#: Quadratic forms b^T M^-1 b by two routes (eigen and solve): ~cond * eps.
QUAD_RTOL = 1e-7
#: Eckart-Young: the truncation error norm against the discarded singular values, rounding.
EY_ATOL = 1e-10
#: Numerical rank cutoff for matrices with O(1)-O(10) entries.
RANK_TOL = 1e-10
#: h on a grid: its defining quadratic h^2 sigma + h - sigma = 0 holds to rounding of O(1).
H_ATOL = 1e-15
#: h against closed-form values and the textbook formula away from 0: rounding only.
H_RTOL = 1e-12
#: The textbook form of h cancels: its relative error is ~eps / sigma^2 <= 2e-10 for
#: sigma >= 1e-3.
TEXTBOOK_RTOL = 1e-9


@given(spd_matrices(st.integers(1, 6)), st.data())
def test_spd_functions_match_direct_linear_algebra(m, data):
    n = m.shape[0]
    s = SPD(m)
    assert np.allclose(s.sqrt @ s.sqrt, m, rtol=FUNCTION_RTOL, atol=FUNCTION_RTOL * np.abs(m).max())
    assert np.allclose(s.inv_sqrt @ m @ s.inv_sqrt, np.eye(n), rtol=0.0, atol=INVERSE_ATOL)
    b = data.draw(hnp.arrays(np.float64, (n, 2), elements=st.floats(-1.0, 1.0)))
    assert np.allclose(m @ s.solve(b), b, rtol=0.0, atol=INVERSE_ATOL * (1 + np.abs(b).max()))
    assert np.isclose(s.logdet, np.linalg.slogdet(m)[1], rtol=FUNCTION_RTOL, atol=FUNCTION_RTOL)
    assert np.allclose(
        s.quad(b.T), np.einsum("ij,ij->j", b, s.solve(b)), rtol=QUAD_RTOL, atol=QUAD_RTOL
    )
    inv = s.inverted()
    assert np.allclose(inv.matrix @ m, np.eye(n), rtol=0.0, atol=INVERSE_ATOL)
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


@given(orthogonal_matrices(4), orthogonal_matrices(3))
def test_flip_signs_is_deterministic_and_preserves_products(u4, v):
    u = u4[:, :3]
    s = np.array([3.0, 2.0, 1.0])
    fu, fv = flip_signs(-u, -v)
    gu, gv = flip_signs(u, v)
    assert np.array_equal(fu, gu) and np.array_equal(fv, gv)
    assert np.allclose((fu * s) @ fv.T, (u * s) @ v.T, rtol=0.0, atol=H_RTOL)
    assert np.all(fu[np.argmax(np.abs(fu), axis=0), np.arange(3)] > 0)


@given(
    hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=5),
        elements=st.floats(-3.0, 3.0),
    )
)
def test_low_rank_is_the_best_frobenius_approximation(matrix):
    """Eckart-Young: the error of M_r is the norm of the discarded singular values."""
    m, n = matrix.shape
    singular = np.linalg.svd(matrix, compute_uv=False)
    for r in range(min(m, n) + 1):
        approx = low_rank(matrix, r)
        assert np.linalg.matrix_rank(approx, tol=RANK_TOL) <= r
        assert np.isclose(
            np.linalg.norm(matrix - approx), np.linalg.norm(singular[r:]), rtol=0.0, atol=EY_ATOL
        )


def test_h_properties_of_definition_5_5():
    sigma = np.linspace(1e-6, 1.0, 2001)
    values = h(sigma)
    assert np.all(values >= 0) and np.all(values < sigma)
    assert np.allclose(values**2 * sigma + values - sigma, 0.0, atol=H_ATOL)  # the quadratic
    assert np.isclose(h(1.0), (np.sqrt(5.0) - 1.0) / 2.0, rtol=H_RTOL, atol=0.0)
    assert np.isclose(h(1e-8) / 1e-8, 1.0, rtol=H_RTOL, atol=0.0)
    assert h(0.0) == 0.0
    # the textbook form agrees away from 0, where it does not cancel
    mid = sigma[sigma > 1e-3]
    textbook = (0.5 * np.sqrt(1 + 4 * mid**2) - 0.5) / mid
    assert np.allclose(h(mid), textbook, rtol=TEXTBOOK_RTOL, atol=0.0)


def test_direct_lapack_calls_equal_scipy_bit_for_bit():
    """linalg.eigh / svd / singular_values / cholesky / solve_lower call SciPy's LAPACK routines
    directly (no per-call wrapper cost): on symmetric, SPD, rectangular, Fortran-ordered and
    strided inputs of the sizes the engine factorizes, every output equals SciPy's public
    function exactly, and the input is left untouched; cholesky returns None exactly when SciPy
    refuses the matrix."""
    import scipy.linalg

    from gaussclip.linalg import cholesky, eigh, singular_values, solve_lower, svd

    rng = np.random.default_rng(7)
    for trial in range(300):
        n, m = (int(x) for x in rng.integers(1, 13, size=2))
        x = rng.standard_normal((n, n)) * 10.0 ** rng.uniform(-3, 3)
        a = x @ x.T if trial % 2 else x + x.T
        before = a.copy()
        for driver in ("evr", "evd"):
            ours, theirs = eigh(a, driver), scipy.linalg.eigh(a, check_finite=False, driver=driver)
            assert all(np.array_equal(p, q) for p, q in zip(ours, theirs, strict=True))
        b = rng.standard_normal((n, m))
        b = np.asfortranarray(b) if trial % 3 == 0 else (b[:, ::-1] if trial % 3 == 1 else b)
        for full in (True, False):
            ours = svd(b, full_matrices=full)
            theirs = scipy.linalg.svd(b, full_matrices=full, check_finite=False)
            assert all(np.array_equal(p, q) for p, q in zip(ours, theirs, strict=True))
        assert np.array_equal(singular_values(b), scipy.linalg.svdvals(b, check_finite=False))
        try:
            reference = scipy.linalg.cholesky(a, lower=True, check_finite=False)
        except np.linalg.LinAlgError:
            reference = None
        factor = cholesky(a)
        if reference is None:
            assert factor is None
        else:
            assert np.array_equal(factor, reference)
            expected = scipy.linalg.solve_triangular(reference, b, lower=True, check_finite=False)
            assert np.array_equal(solve_lower(factor, b), expected)
        assert np.array_equal(a, before)
    # anything else goes to SciPy itself: float32, empty
    small = np.eye(2, dtype=np.float32)
    assert eigh(small)[0].dtype == scipy.linalg.eigh(small)[0].dtype
    assert svd(np.zeros((0, 3)))[1].shape == (0,)


@given(st.integers(1, 6), st.integers(1, 6), st.integers(0, 2**32 - 1))
def test_block_2x2_is_np_block(m, n, seed):
    rng = np.random.default_rng(seed)
    top, off, bottom = rng.normal(size=(m, m)), rng.normal(size=(m, n)), rng.normal(size=(n, n))
    np.testing.assert_array_equal(
        block_2x2(top, off, bottom), np.block([[top, off], [off.T, bottom]])
    )
