"""Linear algebra shared by the whole engine.

* :class:`SPD` -- a symmetric positive definite matrix factorized *once* by ``eigh``; powers,
  solves and the log-determinant all come from that one factorization (the pattern of SciPy's
  ``_PSD``), with one shared cutoff for "numerically singular".
* :func:`flip_signs` -- deterministic signs for singular vectors, so figures and tests repeat.
* :func:`low_rank` -- the rank-r SVD truncation written :math:`M_r` in the paper (Section 1.5).
* :func:`block_2x2` -- a symmetric 2 x 2 block matrix (``np.block`` without its overhead).
* :func:`h` -- the map of Definition 5.5 that gives the joint-loss minimizer (Theorem 5.6).
* :func:`eigh` and :func:`svd` -- SciPy's ``scipy.linalg.eigh`` / ``scipy.linalg.svd`` for
  float64 matrices, calling the same LAPACK routines with the same workspace directly;
  :func:`cholesky` and :func:`solve_lower` likewise call ``dpotrf`` and ``dtrtrs``.
"""

import functools
from functools import cached_property

import numpy as np
import scipy.linalg
from scipy.linalg.lapack import dpotrf, dtrtrs

from ._checks import finite_array, integer, square_matrix
from ._validation import Array, fail, validate_params
from .errors import CovarianceError, DomainError, RankError

#: Eigenvalues below ``SPD_CUTOFF_FACTOR * eps * max|lambda|`` count as zero. This is SciPy's
#: default for float64 in ``scipy.stats._multivariate._PSD``: it accepts condition numbers up to
#: about 4.5e9 and rejects matrices whose smallest eigenvalue is lost in rounding.
SPD_CUTOFF_FACTOR = 1e6

#: A matrix counts as symmetric when ``max|M - M^T| <= SYMMETRY_RTOL * max|M|``. Covariances
#: assembled in floating point (sums taken in different orders) differ from their transpose by a
#: few ulps; anything beyond 1e-8 relative is a real asymmetry (a wrong block, a typo).
SYMMETRY_RTOL = 1e-8


def _workspace_query():
    """SciPy's workspace-size helper, or None if this SciPy has moved it (then :func:`eigh` and
    :func:`svd` simply call SciPy's public functions)."""
    try:
        from scipy.linalg.lapack import _compute_lwork
    except ImportError:  # pragma: no cover - depends on the SciPy version
        return None
    return _compute_lwork


_COMPUTE_LWORK = _workspace_query()
_FLOAT64 = np.empty((1, 1))


@functools.cache
def _routine(name, ilp64=False):
    """The float64 LAPACK routine ``name`` and its workspace query (looked up once)."""
    if ilp64:
        return scipy.linalg.get_lapack_funcs(
            (name, name + "_lwork"), (_FLOAT64,), ilp64="preferred"
        )
    return scipy.linalg.get_lapack_funcs((name, name + "_lwork"), (_FLOAT64,))


@functools.cache
def _workspace(name, *args, **kwargs):
    """Workspace sizes of a LAPACK call (they depend only on the shape), as SciPy computes them."""
    return _COMPUTE_LWORK(_routine(name, name == "gesdd")[1], *args, **kwargs)


#: ``{(driver, shape, full_matrices): (routine, positional arguments after the matrix)}``: the
#: LAPACK routine and its complete argument list for one shape, assembled on first use, so a
#: call costs one dictionary lookup on top of the routine itself.
_CALLS = {}


def _call(kind, shape, full_matrices=True):
    """The routine and the arguments after the matrix for :func:`eigh` (``kind`` ``"evr"`` or
    ``"evd"``), :func:`svd` (``"gesdd"``) or :func:`singular_values` (``"gesdd-values"``) of a
    matrix of ``shape``: the arguments SciPy's
    ``eigh``/``svd`` pass (the f2py wrappers' defaults spelled out, positionally)."""
    key = (kind, shape, full_matrices)
    found = _CALLS.get(key)
    if found is not None:
        return found
    if kind == "gesdd-values":
        lwork = _workspace("gesdd", *shape, compute_uv=False, full_matrices=False)
        found = (_routine("gesdd", True)[0], (0, 0, lwork))
    elif kind == "gesdd":
        m, n = shape
        lwork = _workspace("gesdd", m, n, compute_uv=True, full_matrices=full_matrices)
        # (a, compute_uv, full_matrices, lwork)
        found = (_routine("gesdd", True)[0], (1, int(full_matrices), lwork))
    elif kind == "evd":
        lwork, liwork = _workspace("syevd", n=shape[0], lower=True, compute_v=1)
        # (a, compute_v, lower, lwork, liwork)
        found = (_routine("syevd")[0], (1, 1, lwork, liwork))
    else:
        n = shape[0]
        lwork, liwork = _workspace("syevr", n=n, lower=True)
        # (a, compute_v, range, lower, vl, vu, il, iu, abstol, lwork, liwork): every value the
        # wrapper's default except lower, as scipy.linalg.eigh(driver="evr") passes them
        found = (_routine("syevr")[0], (1, "A", 1, 0.0, 1.0, 1, n, 0.0, lwork, liwork))
    _CALLS[key] = found
    return found


def _plain(a):
    """True for the float64 2-D non-empty arrays the direct LAPACK calls handle exactly as SciPy."""
    return (
        _COMPUTE_LWORK is not None
        and type(a) is np.ndarray
        and a.dtype == np.float64
        and a.ndim == 2
        and a.size > 0
    )


def eigh(a, driver="evr"):
    """``scipy.linalg.eigh(a, check_finite=False, driver=driver)`` of a symmetric float64
    matrix: eigenvalues ascending and eigenvectors, from LAPACK ``dsyevr`` (SciPy's default) or
    ``dsyevd`` (``driver="evd"``).

    The same routine, arguments and workspace as SciPy's function, so the results are identical
    bit for bit; calling it directly skips SciPy's per-call argument handling, which costs more
    than the decomposition of the small blocks the engine factorizes thousands of times (e.g. in
    ``gaussclip check``). Anything unusual (another dtype, an empty matrix, a LAPACK failure) goes
    to SciPy's function, which also raises SciPy's errors.
    """
    if (driver == "evd" or driver == "evr") and _plain(a) and a.shape[0] == a.shape[1]:
        drv, args = _call(driver, a.shape)
        out = drv(a, *args)
        if out[-1] == 0:  # info
            return out[0], out[1]
    return scipy.linalg.eigh(a, check_finite=False, driver=driver)


def svd(a, full_matrices=True):
    """``scipy.linalg.svd(a, full_matrices, check_finite=False)`` of a float64 matrix (LAPACK
    ``dgesdd``): ``(u, s, vt)``, computed like :func:`eigh`: identical results, without SciPy's
    per-call overhead; anything unusual goes to SciPy's function."""
    if _plain(a):
        drv, args = _call("gesdd", a.shape, bool(full_matrices))
        u, s, vt, info = drv(a, *args)
        if info == 0:
            return u, s, vt
    return scipy.linalg.svd(a, full_matrices=full_matrices, check_finite=False)


def cholesky(a):
    r"""The lower Cholesky factor :math:`L` of a finite symmetric float64 matrix
    :math:`a = LL^\top` (its lower triangle is read), or ``None`` when LAPACK ``dpotrf`` finds
    it not positive definite. Called directly: at the engine's sizes (n <= ~10) SciPy's and
    NumPy's wrappers cost several times the factorization."""
    factor, info = dpotrf(a, lower=1, clean=1)
    return factor if info == 0 else None


def solve_lower(factor, b):
    r""":math:`L^{-1}b` for a lower-triangular :math:`L` with nonzero diagonal (a factor from
    :func:`cholesky`) and ``b`` of shape (n,) or (n, k), by LAPACK ``dtrtrs``."""
    x, info = dtrtrs(factor, b, lower=1)
    if info != 0:  # pragma: no cover - a Cholesky factor has a positive diagonal
        raise np.linalg.LinAlgError(f"dtrtrs failed with info = {info}")
    return x


def singular_values(a):
    """``scipy.linalg.svdvals(a, check_finite=False)``: the singular values of a float64
    matrix, descending (LAPACK ``dgesdd`` without singular vectors), computed like :func:`svd`."""
    if _plain(a):
        drv, args = _call("gesdd-values", a.shape)
        s, info = drv(a, *args)[1::2]
        if info == 0:
            return s
    return scipy.linalg.svdvals(a, check_finite=False)


def spd_cutoff(eigenvalues):
    """The shared threshold under which an eigenvalue is treated as zero."""
    return SPD_CUTOFF_FACTOR * np.finfo(np.float64).eps * np.max(np.abs(eigenvalues))


def symmetric_matrix(value, name):
    """Check that ``value`` is a finite symmetric matrix and return its symmetric part."""
    matrix = square_matrix(value, name)
    scale = np.max(np.abs(matrix))
    half_gap = np.abs(0.5 * matrix - 0.5 * matrix.T)  # halves: no overflow near 1.8e308
    asymmetry = float(np.max(half_gap)) / scale * 2.0 if scale else 0.0
    if asymmetry > SYMMETRY_RTOL:
        i, j = np.unravel_index(np.argmax(half_gap), matrix.shape)
        raise CovarianceError(
            f"`{name}` must be symmetric; got entries [{i}, {j}] = {matrix[i, j]:.6g} and "
            f"[{j}, {i}] = {matrix[j, i]:.6g} (relative asymmetry {asymmetry:.2e} > "
            f"{SYMMETRY_RTOL:g}). Pass (M + M.T) / 2 if the difference is rounding."
        )
    return 0.5 * matrix + 0.5 * matrix.T  # not (M + M^T)/2: no overflow near 1.8e308


class SPD:
    r"""A symmetric positive definite matrix with its eigendecomposition.

    Parameters
    ----------
    matrix : (n, n) array_like
        Symmetric positive definite matrix (a covariance or a precision).
    name : str
        Name used in error messages.

    Raises
    ------
    CovarianceError
        If ``matrix`` is not symmetric, or is indefinite or numerically singular.

    Notes
    -----
    With :math:`M = Q \operatorname{diag}(\lambda) Q^\top` every function of :math:`M` is
    :math:`Q f(\lambda) Q^\top`; the factorization is computed once and reused.

    Examples
    --------
    >>> s = SPD([[4.0, 0.0], [0.0, 9.0]])
    >>> s.power(0.5)
    array([[2., 0.],
           [0., 3.]])
    >>> bool(np.isclose(s.logdet, np.log(36.0)))
    True
    """

    def __init__(self, matrix, name="matrix"):
        self._factor(symmetric_matrix(matrix, name), name)

    @classmethod
    def from_symmetric(cls, matrix, name="matrix"):
        """Factorize a matrix already known to be finite and exactly symmetric (e.g. a block of
        a checked covariance); positive definiteness is still checked."""
        self = cls.__new__(cls)
        self._factor(matrix, name)
        return self

    def _factor(self, matrix, name):
        # "evd" (divide and conquer) is LAPACK's fastest symmetric eigensolver here, ~2x SciPy's
        # default driver at n = 1000 (benchmarks/bench_engine.py uses the same for its floor).
        # Factor M / max|M| (entries <= 1), so matrices with entries near 1.8e308 do not overflow
        # inside LAPACK; the eigenvalues are scaled back and must be representable.
        scale = float(np.max(np.abs(matrix))) or 1.0
        eigvals, eigvecs = eigh(matrix / scale, driver="evd")
        with np.errstate(over="ignore"):
            eigvals = eigvals * scale
        if not np.isfinite(eigvals).all():
            raise DomainError(
                f"`{name}` is too large: its eigenvalues overflow float64 (largest entry "
                f"{scale:.3e}). Rescale it."
            )
        cutoff = spd_cutoff(eigvals)
        smallest = eigvals[0]
        if smallest <= cutoff:
            kind = "indefinite" if smallest < -cutoff else "singular (to working precision)"
            raise CovarianceError(
                f"`{name}` must be positive definite; got a {kind} matrix with smallest "
                f"eigenvalue {smallest:.3e} and largest {eigvals[-1]:.3e} (cutoff {cutoff:.1e}). "
                "Check the blocks; if some variables are (nearly) collinear, drop or combine those "
                "columns."
            )
        self.matrix = matrix
        self.eigvals = eigvals
        self.eigvecs = eigvecs

    @classmethod
    def from_eigh(cls, matrix, eigvals, eigvecs):
        """Build from a trusted, already computed eigendecomposition (no checks)."""
        self = cls.__new__(cls)
        self.matrix, self.eigvals, self.eigvecs = matrix, eigvals, eigvecs
        return self

    @property
    def dim(self):
        return self.matrix.shape[0]

    @cached_property
    def logdet(self):
        r""":math:`\log|M|`."""
        return float(np.sum(np.log(self.eigvals)))

    @property
    def condition_number(self):
        return float(self.eigvals[-1] / self.eigvals[0])

    def power(self, p):
        """:math:`M^p` for real ``p`` (symmetric square roots for ``p = +-1/2``)."""
        q = self.eigvecs
        return (q * self.eigvals**p) @ q.T

    @cached_property
    def sqrt(self):
        """Symmetric square root :math:`M^{1/2}`."""
        return self.power(0.5)

    @cached_property
    def inv_sqrt(self):
        """:math:`M^{-1/2}`."""
        return self.power(-0.5)

    @cached_property
    def inverse(self):
        """:math:`M^{-1}` from the eigendecomposition (never ``np.linalg.inv``)."""
        return self.power(-1.0)

    def inverted(self):
        """The factorization of :math:`M^{-1}` (same eigenvectors, reciprocal eigenvalues)."""
        return SPD.from_eigh(self.inverse, 1.0 / self.eigvals[::-1], self.eigvecs[:, ::-1])

    def solve(self, rhs):
        """:math:`M^{-1} b` for ``rhs`` of shape (n,) or (n, k)."""
        q = self.eigvecs
        coeffs = q.T @ rhs
        coeffs = coeffs / (self.eigvals if coeffs.ndim == 1 else self.eigvals[:, None])
        return q @ coeffs

    def quad(self, x):
        r""":math:`x^\top M^{-1} x` for each row of ``x`` (shape (..., n)) -> (...)."""
        y = np.asarray(x) @ self.eigvecs
        return np.sum(y * y / self.eigvals, axis=-1)


def block_2x2(top, off, bottom):
    r"""The (m + n, m + n) matrix :math:`\begin{bmatrix}T & X \\ X^\top & B\end{bmatrix}` from
    ``top`` (m, m), ``off`` (m, n) and ``bottom`` (n, n): what ``np.block`` returns, by four slice
    assignments (``np.block``'s generic nesting checks cost more than the copy at these sizes)."""
    m = top.shape[0]
    out = np.empty((m + bottom.shape[0],) * 2)
    out[:m, :m] = top
    out[:m, m:] = off
    out[m:, :m] = off.T
    out[m:, m:] = bottom
    return out


def column_signs(matrix):
    """Signs (+-1) that make the largest-magnitude entry of each column of ``matrix`` positive."""
    matrix = np.asarray(matrix)
    idx = np.argmax(np.abs(matrix), axis=0)
    signs = np.sign(matrix[idx, np.arange(matrix.shape[1])])
    signs[signs == 0] = 1.0
    return signs


def flip_signs(left, right=None):
    """Deterministic signs for paired singular (or eigen) vectors.

    Each column of ``left`` is flipped so that its entry of largest absolute value is positive;
    the same columns of ``right`` are flipped with it, so ``left @ diag(s) @ right.T`` is
    unchanged (scikit-learn's ``svd_flip`` convention).

    Parameters
    ----------
    left : (m, k) array
    right : (n, k) array, optional

    Returns
    -------
    left, right : arrays with flipped columns (new arrays); only ``left`` if ``right`` is None.
    """
    signs = column_signs(left)
    left = np.asarray(left, dtype=np.float64) * signs
    if right is None:
        return left
    return left, np.asarray(right, dtype=np.float64) * signs


def low_rank(matrix, rank):
    """The best rank-``rank`` approximation in the Frobenius norm, :math:`M_r` (Section 1.5).

    Parameters
    ----------
    matrix : (m, n) array_like
    rank : int, ``0 <= rank <= min(m, n)``

    Examples
    --------
    >>> low_rank(np.diag([3.0, 2.0, 1.0]), 2)
    array([[3., 0., 0.],
           [0., 2., 0.],
           [0., 0., 0.]])
    """
    matrix = finite_array(matrix, "matrix", ndim=2)
    rank = integer(rank, "rank", 0, min(matrix.shape), error=RankError)
    u, s, vt = svd(matrix, full_matrices=False)
    u, v = flip_signs(u, vt.T)
    return (u[:, :rank] * s[:rank]) @ v[:, :rank].T


@validate_params(sigma=Array(nonempty=False))
def h(sigma):
    r"""The map :math:`h(\sigma) = \sigma^{-1}(\tfrac12\sqrt{1+4\sigma^2} - \tfrac12)`
    of Definition 5.5.

    :math:`D = h(\sigma)` is the positive root of :math:`D^2\sigma + D - \sigma = 0`, the
    stationarity condition of the per-pair joint loss (proof of Theorem 5.6). It is evaluated
    in the cancellation-free form :math:`2\sigma / (1 + \sqrt{1 + 4\sigma^2})`, which also
    extends it continuously to :math:`h(0) = 0`.

    Parameters
    ----------
    sigma : array_like
        Canonical correlations in ``[0, 1]``; anything else (negative, above 1, NaN, complex)
        raises :class:`~gaussclip.errors.DomainError` or
        :class:`~gaussclip.errors.ArgumentTypeError`.

    Examples
    --------
    >>> bool(np.isclose(h(1.0), (5**0.5 - 1) / 2))
    True
    >>> float(h(0.0))
    0.0
    """
    if np.any((sigma < 0.0) | (sigma > 1.0)):
        fail(
            DomainError,
            "sigma",
            "canonical correlations in [0, 1]",
            sigma.item() if sigma.ndim == 0 else sigma,
        )
    return 2.0 * sigma / (1.0 + np.sqrt(1.0 + 4.0 * sigma * sigma))
