r"""One house for the canonical decomposition: standardizing, whitening, colouring, Omega, its SVD
and the map back to the original coordinates.

Every Gaussian problem of the engine is solved in *canonical coordinates*

.. math:: a = F_u(u - m_u),\qquad b = F_v(v - m_v),\qquad
          F_u = U^\top T_u,\quad T_u = W_u D_u^{-1},

where :math:`D_u = \operatorname{diag}(\mathcal C_{uu})^{1/2}` holds the standard deviations
(the units), :math:`W_u` whitens the *correlation* block :math:`R_{uu} = D_u^{-1}\mathcal C_{uu}
D_u^{-1}` (:math:`W_u R_{uu} W_u^\top = I`), and :math:`U \Sigma V^\top` is the full SVD of the
whitened cross-covariance

.. math:: \Omega = T_u\,\mathcal C_{uv}\,T_v^\top = W_u R_{uv} W_v^\top .

In those coordinates the data covariance is :math:`\begin{bmatrix} I & \Sigma \\ \Sigma^\top & I
\end{bmatrix}` and the pairs :math:`(a_i, b_i)` are independent with correlation
:math:`\sigma_i`. Because the map :math:`F_u` is computed from the *correlation* matrix, nothing
depends on the units of u and v: multiplying u by any positive diagonal :math:`D` changes only
:math:`D_u`, and the decomposition, the acceptance of a covariance (the condition numbers of the
correlation blocks and :math:`\sigma_1 < 1`) and every derived quantity are unchanged. Parameters
map between the frames as

.. math:: A' = F_u^{-\top} A F_v^{-1},\quad B' = F_u^{-\top} B F_u^{-1},\quad
          C' = F_v^{-\top} C F_v^{-1},

and back (``A = F_u^\top A' F_v``); with a diagonal :math:`A'` the map back is
:math:`X_u \operatorname{diag}(\alpha) X_v^\top` with the CCA bases
:math:`X_u = F_u^\top[:, :k]`, :math:`X_v = F_v^\top[:, :k]` (:meth:`Canonical.product`).
"""

from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from .errors import CovarianceError, DomainError
from .linalg import SPD, eigh, svd

#: Eigenvalues of a *correlation* matrix below ``CUTOFF_FACTOR * eps * max(lambda)`` count as
#: zero (SciPy's ``_PSD`` default for float64). Applied to correlation matrices this is a
#: scale-free criterion: the units of the variables do not enter, only their collinearity. It
#: accepts correlation matrices with condition numbers up to about 4.5e9.
CUTOFF_FACTOR = 1e6

#: Correlation matrices count as symmetric when ``max|R - R^T| <= SYMMETRY_ATOL``: a covariance
#: assembled in floating point differs from its transpose by a few ulps of each entry, i.e. by
#: ~1e-16 in correlation units; 1e-8 flags real asymmetry (a wrong block, a typo) at any scale.
SYMMETRY_ATOL = 1e-8

_EPS = np.finfo(np.float64).eps


def cutoff(eigvals):
    """The threshold under which an eigenvalue of a correlation matrix counts as zero."""
    return CUTOFF_FACTOR * _EPS * float(np.abs(eigvals).max())


def _sorted_cutoff(lowest, highest):
    """:func:`cutoff` of ascending eigenvalues from their ends (the largest magnitude is at one
    of them): the same number, from two Python floats instead of two array reductions."""
    return CUTOFF_FACTOR * _EPS * max(abs(lowest), abs(highest))


def symmetrize(matrix):
    """``M/2 + M^T/2`` (never ``(M + M^T)/2``, which overflows for entries near 1.8e308)."""
    return 0.5 * matrix + 0.5 * matrix.T


def standardize(matrix, name):
    r"""Split a covariance into standard deviations and a correlation matrix.

    Parameters
    ----------
    matrix : (n, n) float64 array
        Finite and square (checked by the caller).
    name : str
        The user's name of the argument, for error messages.

    Returns
    -------
    scale : (n,) array
        :math:`\sqrt{\mathcal C_{ii}}`.
    corr : (n, n) array
        :math:`R = D^{-1}\mathcal C D^{-1}`, exactly symmetric with unit diagonal.

    Raises
    ------
    CovarianceError
        A variance <= 0, a correlation beyond 1 in absolute value, or an asymmetric matrix.
    """
    diag = matrix.diagonal()
    if diag.min() <= 0.0:  # finite entries (checked by the caller): no NaN to miss
        i = int(np.argmin(diag))
        raise CovarianceError(
            f"`{name}` must be positive definite; got variance {name}[{i}, {i}] = {diag[i]:.6g} "
            "<= 0. Every coordinate needs a positive variance: drop constant columns."
        )
    scale = np.sqrt(diag)
    with np.errstate(over="ignore", invalid="ignore"):
        corr = (matrix / scale[:, None]) / scale[None, :]
    # A finite entry over a positive scale is finite or inf, never NaN, and inf fails the test.
    if not np.abs(corr).max() <= 1.0 + SYMMETRY_ATOL:
        bad = np.where(np.isfinite(corr), np.abs(corr), np.inf)
        i, j = np.unravel_index(np.argmax(bad), bad.shape)
        raise CovarianceError(
            f"`{name}` must be positive definite; got an indefinite matrix: entries [{i}, {j}] "
            f"= {matrix[i, j]:.6g} exceed the geometric mean of the variances (a correlation "
            "larger than 1). Check the blocks."
        )
    # symmetrize(corr) from its halves, which also give the asymmetry: halving is exact (down to
    # subnormal entries, whose differences are far below the tolerance), so max|H - H^T| is
    # exactly half of max|R - R^T| and the test below decides as max|R - R^T| > SYMMETRY_ATOL.
    half = 0.5 * corr
    half_t = half.T
    if np.abs(half - half_t).max() > 0.5 * SYMMETRY_ATOL:
        asymmetry = np.abs(corr - corr.T)
        i, j = np.unravel_index(np.argmax(asymmetry), asymmetry.shape)
        raise CovarianceError(
            f"`{name}` must be symmetric; got entries [{i}, {j}] = {matrix[i, j]:.6g} and "
            f"[{j}, {i}] = {matrix[j, i]:.6g} (they differ by {asymmetry[i, j]:.2e} in "
            f"correlation units, > {SYMMETRY_ATOL:g}). Pass M/2 + M.T/2 if it is rounding."
        )
    corr = half + half_t  # = symmetrize(corr), a fresh C-contiguous array
    corr.flat[:: corr.shape[0] + 1] = 1.0  # the unit diagonal, as np.fill_diagonal sets it
    return scale, corr


@dataclass(frozen=True, eq=False)
class Whitening:
    r"""An invertible linear map :math:`T = W D^{-1}` with :math:`T\,\mathcal C\,T^\top = I`.

    ``scale`` (:math:`D`, the standard deviations) and the ``core`` :math:`W` are kept apart so
    that no product mixes the units of different coordinates.

    Attributes
    ----------
    scale : (n,) array
    core : (n, n) array
        :math:`W`, with :math:`W R W^\top = I` for the correlation matrix :math:`R`.
    core_inv : (n, n) array
        :math:`W^{-1}`.
    logdet : float
        :math:`\log|\mathcal C|`.
    condition : float
        Condition number of the correlation matrix (scale-free; 1 for uncorrelated variables).
    """

    scale: np.ndarray
    core: np.ndarray
    core_inv: np.ndarray
    logdet: float
    condition: float = 1.0

    @classmethod
    def of_correlation(cls, scale, corr, name, advice=""):
        r"""The whitening :math:`W = \Lambda^{-1/2}Q^\top` of a correlation matrix
        :math:`R = Q\Lambda Q^\top` (no product beyond the one ``eigh``).

        Raises :class:`~gaussclip.errors.CovarianceError` when ``corr`` is indefinite or singular
        to working precision (condition number beyond :data:`CUTOFF_FACTOR`)."""
        eigvals, eigvecs = eigh(corr, driver="evd")
        lowest, highest = float(eigvals[0]), float(eigvals[-1])
        limit = _sorted_cutoff(lowest, highest)  # = cutoff(eigvals)
        if lowest <= limit:
            if lowest < -limit:
                what = "indefinite"
            else:
                what = "singular to working precision"
            raise CovarianceError(
                f"`{name}` must be positive definite; got a {what} matrix: its correlation "
                f"matrix has eigenvalues from {eigvals[0]:.3e} to {eigvals[-1]:.3e} (condition "
                f"number {eigvals[-1] / max(eigvals[0], 1e-300):.2e}; the limit is "
                f"{eigvals[-1] / limit:.1e}). {advice or 'Some variables are (nearly) collinear'}"
                ": drop collinear columns or combine them (e.g. keep the leading principal "
                "components). Rescaling does not help: the check is scale-free."
            )
        root = np.sqrt(eigvals)
        core = (eigvecs / root).T
        core_inv = eigvecs * root
        logdet = float(np.log(eigvals).sum() + 2.0 * np.log(scale).sum())
        return cls(scale, core, core_inv, logdet, highest / lowest)

    @classmethod
    def of_covariance(cls, matrix, name):
        """Standardize, then whiten (see :func:`standardize`)."""
        scale, corr = standardize(matrix, name)
        return cls.of_correlation(scale, corr, name)

    @property
    def dim(self):
        return self.scale.size

    def compose(self, left, left_inv, logdet_left):
        r"""The whitening :math:`L T` of the covariance :math:`T^{-1}L^{-1}L^{-\top}T^{-\top}`
        (``logdet_left`` is :math:`\log|\det L|`)."""
        return Whitening(
            self.scale,
            left @ self.core,
            self.core_inv @ left_inv,
            self.logdet - 2.0 * float(logdet_left),
        )

    def whiten(self, x):
        """:math:`T x` for rows ``x`` of shape (..., n)."""
        return (x / self.scale) @ self.core.T

    def colour(self, z):
        """:math:`T^{-1} z` for rows ``z`` of shape (..., n)."""
        return (z @ self.core_inv.T) * self.scale

    def pull_back(self, M):
        """:math:`M T` for ``M`` of shape (m, n): a row map on whitened coordinates as one on
        the original ones (e.g. an encoder :math:`G = \\tilde G T`)."""
        return (M @ self.core) / self.scale

    def push_forward(self, M):
        """:math:`M T^{-1}` for ``M`` of shape (m, n) (e.g. :math:`\\tilde G = G T^{-1}`)."""
        return (M * self.scale) @ self.core_inv

    def congruence(self, M):
        r""":math:`T^{-\top} M\,T^{-1}`: a quadratic form (a precision-like matrix) in whitened
        coordinates. Raises :class:`~gaussclip.errors.DomainError` on overflow."""
        with np.errstate(over="ignore", invalid="ignore"):
            scaled = (M * self.scale[:, None]) * self.scale[None, :]
            out = self.core_inv.T @ scaled @ self.core_inv
        return out

    @cached_property
    def scaled_core_inv(self):
        r""":math:`T^{-1} = D W^{-1}` as one (n, n) matrix (the rows of :math:`W^{-1}` scaled
        by the standard deviations; computed once), for :func:`bilinear`. Read-only."""
        out = self.core_inv * self.scale[:, None]
        out.flags.writeable = False
        return out

    @cached_property
    def matrix(self):
        r"""The covariance :math:`T^{-1}T^{-\top}` in original units."""
        corr = self.core_inv @ self.core_inv.T
        return symmetrize((corr * self.scale[:, None]) * self.scale[None, :])


def bilinear(white_left, M, white_right):
    r""":math:`T_l^{-\top} M\,T_r^{-1}`, the whitened form of a bilinear coupling ``M`` (two
    products with the cached :attr:`Whitening.scaled_core_inv`; each term of a sum is the
    product of one entry of ``M`` with standard deviations and whitening entries, as when
    ``M`` is scaled first, so no new cancellation). Overflow gives inf, for the caller to
    check."""
    with np.errstate(over="ignore", invalid="ignore"):  # np.dot: `@`'s BLAS call, less overhead
        return np.dot(np.dot(white_left.scaled_core_inv.T, M), white_right.scaled_core_inv)


@dataclass(frozen=True, eq=False)
class Canonical:
    r"""The canonical (CCA) decomposition of a joint Gaussian.

    With :math:`k = \min(n_u, n_v)`:

    Attributes
    ----------
    sigma : (k,) array
        Canonical correlations, descending, in ``[0, 1)``: the singular values of
        :math:`\Omega`.
    basis_u : (n_u, k) array
        :math:`X_u = F_u^\top[:, :k]`; the canonical variates are :math:`a = X_u^\top(u - m_u)`,
        with :math:`X_u^\top\mathcal C_{uu}X_u = I` (CCA weights; named *basis* so as not to be
        confused with the loss weights :math:`(\lambda_u, \lambda_v)`).
    basis_v : (n_v, k) array
        :math:`X_v`, likewise, and :math:`X_u^\top\mathcal C_{uv}X_v = \operatorname{diag}(\sigma)`.
    white_u, white_v : Whitening
        The block whitenings :math:`T_u`, :math:`T_v`.
    rot_u : (n_u, n_u) array
        Full orthogonal :math:`U` (the first k columns pair with ``rot_v``'s).
    rot_v : (n_v, n_v) array

    Signs are deterministic: the largest-magnitude entry of each column of ``basis_u`` is
    positive.
    """

    sigma: np.ndarray
    white_u: Whitening
    white_v: Whitening
    rot_u: np.ndarray
    rot_v: np.ndarray
    _products: OrderedDict = field(default_factory=OrderedDict, repr=False, compare=False)

    @classmethod
    def build(cls, white_u, white_v, sigma, rot_u, rot_v):
        """Assemble with deterministic signs (each column of ``basis_u`` gets its largest entry
        positive; the paired column of ``rot_v`` flips with it)."""
        k = sigma.size
        rot_u, rot_v = rot_u.copy(), rot_v.copy()
        basis = white_u.pull_back(rot_u[:, :k].T).T
        idx = np.argmax(np.abs(basis), axis=0)
        # +1 where the largest entry is positive or 0, -1 where it is negative (entries are
        # finite): np.sign with its zeros set to 1
        signs = np.where(basis[idx, np.arange(k)] < 0.0, -1.0, 1.0)
        rot_u[:, :k] *= signs
        rot_v[:, :k] *= signs
        for array in (sigma, rot_u, rot_v):
            array.flags.writeable = False
        return cls(sigma, white_u, white_v, rot_u, rot_v)

    @classmethod
    def from_cross(cls, white_u, white_v, corr_uv):
        r"""Decompose :math:`\Omega = W_u R_{uv} W_v^\top` (``corr_uv`` is :math:`R_{uv}`)."""
        # np.dot: the same BLAS call as `@` (identical results), with less overhead on small blocks
        omega = np.dot(np.dot(white_u.core, corr_uv), white_v.core.T)
        left, sigma, right_t = svd(omega, full_matrices=True)  # LAPACK gesdd
        return cls.build(white_u, white_v, sigma, left, right_t.T)  # sigma: a fresh array

    @property
    def k(self):
        return self.sigma.size

    @cached_property
    def frame_u(self):
        """:math:`F_u = U^\\top T_u` as a :class:`Whitening` (canonical coordinates of u)."""
        return self.white_u.compose(self.rot_u.T, self.rot_u, 0.0)

    @cached_property
    def frame_v(self):
        """:math:`F_v = V^\\top T_v`."""
        return self.white_v.compose(self.rot_v.T, self.rot_v, 0.0)

    def frame(self, side):
        return self.frame_u if side == "u" else self.frame_v

    @cached_property
    def basis_u(self):
        frame = self.frame_u
        out = (frame.core[: self.k] / frame.scale).T
        out.flags.writeable = False
        return out

    @cached_property
    def basis_v(self):
        frame = self.frame_v
        out = (frame.core[: self.k] / frame.scale).T
        out.flags.writeable = False
        return out

    def basis(self, side):
        return self.basis_u if side == "u" else self.basis_v

    @cached_property
    def sigma_matrix(self):
        r""":math:`\Sigma`, the (n_u, n_v) data cross-covariance in canonical coordinates."""
        out = np.zeros((self.white_u.dim, self.white_v.dim))
        out[np.arange(self.k), np.arange(self.k)] = self.sigma
        return out

    @cached_property
    def omega(self):
        r""":math:`\Omega = U\Sigma V^\top` in the block-whitened frame (:func:`whitened_cross`)."""
        return (self.rot_u[:, : self.k] * self.sigma) @ self.rot_v[:, : self.k].T

    @cached_property
    def one_minus_sigma_sq(self):
        r""":math:`1 - \sigma_i^2`, computed as :math:`(1 - \sigma)(1 + \sigma)`."""
        return (1.0 - self.sigma) * (1.0 + self.sigma)

    @cached_property
    def residual_variances(self):
        r"""The diagonals of the data conditional covariances in canonical coordinates,
        :math:`S = I - \Sigma\Sigma^\top`: ``{"u": (n_u,), "v": (n_v,)}``, :math:`1 -
        \sigma_i^2` then ones. Read-only."""
        out = {}
        for side, dim in (("u", self.white_u.dim), ("v", self.white_v.dim)):
            diag = np.ones(dim)
            diag[: self.k] = self.one_minus_sigma_sq
            diag.flags.writeable = False
            out[side] = diag
        return out

    @cached_property
    def log_one_minus_sigma_sq(self):
        r""":math:`\sum_i\log(1 - \sigma_i^2) = \log|I - \Sigma\Sigma^\top|`, computed once."""
        return float(np.log(self.one_minus_sigma_sq).sum())

    @cached_property
    def conditional_information(self):
        r""":math:`\sum_i(-\sigma_i^2 - \log(1 - \sigma_i^2))`, the data's share of every
        expected conditional KL (:func:`gaussclip.objectives.expected_conditional_kl`)."""
        return float((-self.sigma * self.sigma - np.log(self.one_minus_sigma_sq)).sum())

    def product(self, left, right, diagonal):
        r""":math:`X_{left}[:, :r]\operatorname{diag}(d)X_{right}[:, :r]^\top` with
        ``r = len(diagonal)`` and ``left``, ``right`` in ``{"u", "v"}``: how every per-pair
        parameter (A, B, C) maps back from canonical coordinates. Symmetric products with
        ``d >= 0`` are formed as :math:`YY^\top` (exactly symmetric). Results are read-only and
        memoized (:data:`PRODUCT_CACHE_SIZE`)."""
        d = np.ascontiguousarray(diagonal, dtype=np.float64)
        key = (left, right, d.tobytes())
        if key in self._products:
            self._products.move_to_end(key)
            return self._products[key]
        xl = self.basis(left)[:, : d.size]
        if left == right and (d >= 0.0).all():
            scaled = xl * np.sqrt(d)
            out = scaled @ scaled.T
        else:
            out = (xl * d) @ self.basis(right)[:, : d.size].T
        out.flags.writeable = False
        self._products[key] = out
        if len(self._products) > PRODUCT_CACHE_SIZE:
            self._products.popitem(last=False)
        return out

    @cached_property
    def U(self):
        r"""(n_u, k) left singular vectors of the paper's :math:`\Omega = \mathcal C_{uu}^{-1/2}
        \mathcal C_{uv}\mathcal C_{vv}^{-1/2}` (symmetric square roots of the raw blocks, so
        these depend on the units): :math:`\mathcal C_{uu}^{1/2}X_u`."""
        out = SPD.from_symmetric(self.white_u.matrix, "C_uu").sqrt @ self.basis_u
        out.flags.writeable = False
        return out

    @cached_property
    def V(self):
        r"""(n_v, k) right singular vectors of the paper's :math:`\Omega`."""
        out = SPD.from_symmetric(self.white_v.matrix, "C_vv").sqrt @ self.basis_v
        out.flags.writeable = False
        return out

    def clear_products(self):
        """Forget the memoized products of :meth:`product` (for benchmarks that time them)."""
        self._products.clear()

    def to_canonical(self, A=None, B=None, C=None):
        r"""Parameters in canonical coordinates: :math:`A' = F_u^{-\top}AF_v^{-1}`,
        :math:`B' = F_u^{-\top}BF_u^{-1}`, :math:`C' = F_v^{-\top}CF_v^{-1}` (None stays None).

        Raises :class:`~gaussclip.errors.DomainError` when a result overflows float64."""
        out = []
        for name, M, lw, rw in (
            ("A", A, self.frame_u, self.frame_v),
            ("B", B, self.frame_u, self.frame_u),
            ("C", C, self.frame_v, self.frame_v),
        ):
            if M is None:
                out.append(None)
                continue
            value = bilinear(lw, M, rw)
            if not np.isfinite(value).all():
                raise DomainError(
                    f"`{name}` is too large for float64: in standardized coordinates "
                    f"(C^(1/2) {name} C^(1/2)) its entries overflow. Rescale `{name}`."
                )
            out.append(value if name == "A" else 0.5 * value + 0.5 * value.T)
        return tuple(out)

    def from_canonical(self, side_left, side_right, M):
        r""":math:`F_{l}^\top M F_{r}` (a whitened coupling back in original units)."""
        return self.frame(side_right).pull_back(self.frame(side_left).pull_back(M.T).T)


#: Products X diag(d) X^T kept per canonical decomposition (least recently used dropped first).
#: Several minimizers share them (every weighting of cond x inner has the same A), and 16 covers
#: all eight closed forms of one rank while bounding memory in rank sweeps.
PRODUCT_CACHE_SIZE = 16


def pair_correlation_frame(sigma, dim_u, dim_v):
    r"""Whitening of the joint covariance of independent canonical pairs with correlations
    ``sigma``: :math:`c_i = (a_i + b_i)/\sqrt{2(1+\sigma_i)}`,
    :math:`e_i = (a_i - b_i)/\sqrt{2(1-\sigma_i)}`; the unpaired coordinates are already white.

    Returns ``(P, P_inv, logdet)`` with ``P`` of shape (dim_u + dim_v, dim_u + dim_v) acting on
    the stacked ``(a, b)`` and ``logdet`` :math:`= \sum_i\log(1 - \sigma_i^2)`, the
    log-determinant of the pair covariance.
    """
    k = sigma.size
    d = dim_u + dim_v
    plus = np.sqrt(2.0 * (1.0 + sigma))
    minus = np.sqrt(2.0 * (1.0 - sigma))
    P = np.zeros((d, d))
    P_inv = np.zeros((d, d))
    idx = np.arange(k)
    a, b = idx, dim_u + idx
    c, e = idx, k + idx
    P[c, a], P[c, b] = 1.0 / plus, 1.0 / plus
    P[e, a], P[e, b] = 1.0 / minus, -1.0 / minus
    P_inv[a, c], P_inv[b, c] = plus / 2.0, plus / 2.0
    P_inv[a, e], P_inv[b, e] = minus / 2.0, -minus / 2.0
    rest_u = np.arange(k, dim_u)
    rest_v = np.arange(dim_u + k, d)
    rest_out = np.arange(2 * k, d)
    rest_in = np.concatenate([rest_u, rest_v])
    P[rest_out, rest_in] = 1.0
    P_inv[rest_in, rest_out] = 1.0
    logdet = float((np.log1p(-sigma) + np.log1p(sigma)).sum())
    return P, P_inv, logdet


def whitened_cross(mu):
    r""":math:`\Omega = T_u\,\mathcal C_{uv}\,T_v^\top` in the block-whitened (standardized)
    frame of ``mu``; its singular values are the canonical correlations. Use it
    with :func:`whitened_encoders`, which maps encoders into the same frame."""
    return mu.canonical().omega


def whitened_encoders(mu, G, H):
    r""":math:`\tilde G = G\,T_u^{-1}`, :math:`\tilde H = H\,T_v^{-1}`, so that
    :math:`G(u - m_u) = \tilde G\tilde u` for the whitened :math:`\tilde u = T_u(u - m_u)`."""
    can = mu.canonical()
    return can.white_u.push_forward(G), can.white_v.push_forward(H)


def encoders_from_whitened(mu, Gt, Ht):
    r"""The inverse of :func:`whitened_encoders`: :math:`G = \tilde G T_u`, :math:`H = \tilde H
    T_v`."""
    can = mu.canonical()
    return can.white_u.pull_back(Gt), can.white_v.pull_back(Ht)
