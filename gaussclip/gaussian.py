r"""Gaussian distributions: a single Gaussian, a joint Gaussian on (u, v), and the KL divergence.

The joint Gaussian :math:`\mu = N(m, \mathcal C)` of Section 5 carries its blocks, marginals
(36), conditionals and Schur complements (37), and its *canonical decomposition*

.. math:: \mathcal C_{uu}^{-1/2}\mathcal C_{uv}\mathcal C_{vv}^{-1/2} = U\Sigma V^\top ,

computed once when the object is built (it is also how the covariance is validated: ``C`` is
positive definite exactly when both diagonal blocks are and every canonical correlation is < 1).
"""

from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import scipy.linalg

from ._checks import choice, finite_array, generator, integer
from .errors import ArgumentTypeError, CovarianceError, RankError, ShapeError
from .linalg import SPD, column_signs, spd_cutoff, symmetric_matrix

_LOG_2PI = float(np.log(2.0 * np.pi))

#: Products X diag(d) X^T kept per canonical decomposition (least recently used dropped first).
#: Several minimizers share them (e.g. every weighting of cond x inner has the same A), and 16
#: covers all eight closed forms of one rank while bounding memory in rank sweeps.
PRODUCT_CACHE_SIZE = 16


def _readonly(array):
    array = np.asarray(array, dtype=np.float64)
    array.flags.writeable = False
    return array


def _sample_count(n):
    return integer(n, "n", 0, np.iinfo(np.int64).max)


class Gaussian:
    """A multivariate Gaussian :math:`N(m, C)`.

    Parameters
    ----------
    mean : (d,) array_like
    cov : (d, d) array_like
        Symmetric positive definite.

    Examples
    --------
    >>> g = Gaussian([0.0, 1.0], [[2.0, 0.0], [0.0, 0.5]])
    >>> g.dim
    2
    >>> round(float(g.logpdf([0.0, 1.0])), 6)
    -1.837877
    """

    def __init__(self, mean, cov):
        spd = SPD(cov, "cov")
        mean = finite_array(mean, "mean", shape=(spd.dim,))
        self._set(mean, spd)

    @classmethod
    def _trusted(cls, mean, spd):
        """Build without validation from a mean and an :class:`SPD` (internal use)."""
        self = cls.__new__(cls)
        self._set(mean, spd)
        return self

    def _set(self, mean, spd):
        self._mean = _readonly(mean)
        self._spd = spd
        self._cov = _readonly(spd.matrix)

    @property
    def mean(self):
        """(d,) mean vector."""
        return self._mean

    @property
    def cov(self):
        """(d, d) covariance matrix."""
        return self._cov

    @property
    def dim(self):
        return self._mean.shape[0]

    @property
    def spd(self):
        """The :class:`~gaussclip.linalg.SPD` factorization of the covariance."""
        return self._spd

    def _points(self, x, name="x"):
        x = finite_array(x, name)
        if x.ndim not in (1, 2) or x.shape[-1] != self.dim:
            raise ShapeError(
                f"`{name}` must have shape ({self.dim},) or (n, {self.dim}); got {x.shape}."
            )
        return x

    def logpdf(self, x):
        """Log density at ``x`` of shape (d,) or (n, d); returns a float or an (n,) array."""
        x = self._points(x)
        return self._logpdf(x)

    def _logpdf(self, x):
        quad = self._spd.quad(x - self._mean)
        return -0.5 * (quad + self._spd.logdet + self.dim * _LOG_2PI)

    def pdf(self, x):
        """Density at ``x`` (see :meth:`logpdf`)."""
        return np.exp(self.logpdf(x))

    def sample(self, n, rng):
        """``n`` independent draws, shape (n, d), from the generator ``rng``."""
        n, rng = _sample_count(n), generator(rng)
        z = rng.standard_normal((n, self.dim))
        factor = self._spd.eigvecs * np.sqrt(self._spd.eigvals)  # Q diag(sqrt(lambda))
        return self._mean + z @ factor.T

    def __repr__(self):
        return f"Gaussian(dim={self.dim})"


@dataclass(frozen=True)
class Canonical:
    r"""Canonical (CCA) decomposition of a joint Gaussian.

    With :math:`k = \min(n_u, n_v)`:

    Attributes
    ----------
    sigma : (k,) array
        Canonical correlations, descending, in ``[0, 1)``: the singular values of
        :math:`\Omega = \mathcal C_{uu}^{-1/2}\mathcal C_{uv}\mathcal C_{vv}^{-1/2}`.
    weights_u : (n_u, k) array
        :math:`X_u = \mathcal C_{uu}^{-1/2} U`; the canonical variates are
        :math:`a = X_u^\top (u - m_u)`, with :math:`X_u^\top \mathcal C_{uu} X_u = I`.
    weights_v : (n_v, k) array
        :math:`X_v = \mathcal C_{vv}^{-1/2} V`, likewise, and
        :math:`X_u^\top \mathcal C_{uv} X_v = \operatorname{diag}(\sigma)`.

    Signs are deterministic: the largest-magnitude entry of each column of ``weights_u`` is
    positive.
    """

    sigma: np.ndarray
    weights_u: np.ndarray
    weights_v: np.ndarray
    _eigvecs_u: np.ndarray
    _eigvecs_v: np.ndarray
    _left: np.ndarray
    _right: np.ndarray
    _products: OrderedDict = field(default_factory=OrderedDict, repr=False, compare=False)

    def product(self, left, right, diagonal):
        r""":math:`X_{left}[:, :r]\operatorname{diag}(d)X_{right}[:, :r]^\top` with
        ``r = len(diagonal)`` and ``left``, ``right`` in ``{"u", "v"}`` -- how every closed-form
        parameter (A, B, C) maps back from canonical coordinates. Symmetric products with
        ``d >= 0`` are formed as :math:`YY^\top` (a rank-r update, half the flops of a general
        product). Results are read-only and memoized (:data:`PRODUCT_CACHE_SIZE`)."""
        d = np.ascontiguousarray(diagonal, dtype=np.float64)
        key = (left, right, d.tobytes())
        if key in self._products:
            self._products.move_to_end(key)
            return self._products[key]
        xl = (self.weights_u if left == "u" else self.weights_v)[:, : d.size]
        if left == right and np.all(d >= 0.0):
            scaled = xl * np.sqrt(d)
            out = scaled @ scaled.T  # NumPy recognizes Y Y^T: BLAS syrk, exactly symmetric
        else:
            xr = (self.weights_u if right == "u" else self.weights_v)[:, : d.size]
            out = (xl * d) @ xr.T
        out = _readonly(out)
        self._products[key] = out
        if len(self._products) > PRODUCT_CACHE_SIZE:
            self._products.popitem(last=False)
        return out

    @cached_property
    def U(self):
        r"""(n_u, k) left singular vectors of :math:`\Omega` (Theorem 5.6)."""
        return _readonly(self._eigvecs_u @ self._left)

    @cached_property
    def V(self):
        r"""(n_v, k) right singular vectors of :math:`\Omega`."""
        return _readonly(self._eigvecs_v @ self._right)


def _canonical(spd_u, spd_v, cuv):
    r"""Canonical decomposition through the eigenbases of C_uu and C_vv.

    With :math:`\mathcal C_{uu} = Q_u\Lambda_u Q_u^\top` (likewise for v), the matrix
    :math:`\Omega' = \Lambda_u^{-1/2} Q_u^\top \mathcal C_{uv} Q_v \Lambda_v^{-1/2}
    = Q_u^\top \Omega Q_v` has the same singular values as :math:`\Omega`, and
    :math:`X_u = Q_u\Lambda_u^{-1/2} U'` equals :math:`\mathcal C_{uu}^{-1/2} U`. This costs
    two matrix products fewer than forming :math:`\Omega` with symmetric square roots.
    """
    root_u, root_v = np.sqrt(spd_u.eigvals), np.sqrt(spd_v.eigvals)
    omega = (spd_u.eigvecs.T @ cuv @ spd_v.eigvecs) / root_u[:, None] / root_v[None, :]
    left, sigma, right_t = scipy.linalg.svd(
        omega, full_matrices=False, check_finite=False, lapack_driver="gesdd"
    )
    right = right_t.T
    weights_u = spd_u.eigvecs @ (left / root_u[:, None])
    weights_v = spd_v.eigvecs @ (right / root_v[:, None])
    signs = column_signs(weights_u)
    return Canonical(
        sigma=_readonly(sigma),
        weights_u=_readonly(weights_u * signs),
        weights_v=_readonly(weights_v * signs),
        _eigvecs_u=spd_u.eigvecs,
        _eigvecs_v=spd_v.eigvecs,
        _left=left * signs,
        _right=right * signs,
    )


class JointGaussian:
    r"""The data distribution :math:`\mu = N(m, \mathcal C)` of a pair (u, v) (Section 5).

    Parameters
    ----------
    cov : (n_u + n_v, n_u + n_v) array_like
        Symmetric positive definite covariance with blocks
        :math:`[[\mathcal C_{uu}, \mathcal C_{uv}], [\mathcal C_{vu}, \mathcal C_{vv}]]`.
    n_u : int
        Dimension of u, in ``[1, n_u + n_v - 1]``.
    mean : (n_u + n_v,) array_like, optional
        Defaults to zero. Non-zero means correspond to affine encoders (footnote 4).

    Raises
    ------
    CovarianceError
        Non-finite, non-symmetric, indefinite or singular ``cov``.
    RankError
        ``n_u`` out of range.

    Examples
    --------
    The two-dimensional example of Section 5.4:

    >>> mu = JointGaussian([[1.5, 1.0], [1.0, 1.5]], n_u=1)
    >>> mu.canonical_correlations()
    array([0.66666667])
    >>> mu.conditional_cov("u")
    array([[0.83333333]])
    """

    def __init__(self, cov, n_u, mean=None):
        cov = symmetric_matrix(cov, "cov")
        dim = cov.shape[0]
        if dim < 2:
            raise ShapeError(
                f"`cov` must be at least 2x2 (u and v each need a dimension); got {cov.shape}."
            )
        n_u = integer(
            n_u,
            "n_u",
            1,
            dim - 1,
            hint=f" for a {dim}x{dim} `cov` (n_v = {dim} - n_u >= 1)",
            error=RankError,
        )
        mean = np.zeros(dim) if mean is None else finite_array(mean, "mean", shape=(dim,))
        spd_u = SPD.from_symmetric(cov[:n_u, :n_u], "cov[:n_u, :n_u] (the block C_uu)")
        spd_v = SPD.from_symmetric(cov[n_u:, n_u:], "cov[n_u:, n_u:] (the block C_vv)")
        canonical = _canonical(spd_u, spd_v, cov[:n_u, n_u:])
        top = float(canonical.sigma[0]) if canonical.sigma.size else 0.0
        # In whitened coordinates cov has eigenvalues 1 +- sigma_i: it is positive definite
        # iff every canonical correlation is < 1.
        if 1.0 - top <= spd_cutoff(np.array([1.0 + top])):
            kind = "indefinite" if top > 1.0 + spd_cutoff(np.array([2.0])) else "singular"
            raise CovarianceError(
                f"`cov` must be positive definite; got a {kind} matrix: its largest canonical "
                f"correlation between u and v is {top:.12g} (must be < 1), so some combination "
                "of u is (at least) perfectly correlated with one of v. Add noise to u or v, or "
                "check the off-diagonal block."
            )
        self._set(cov, n_u, mean, spd_u, spd_v, canonical)

    @classmethod
    def _trusted(cls, cov, n_u, mean):
        """Build without validation (internal: covariances known to be SPD). The blocks and
        the canonical decomposition are computed on first use."""
        self = cls.__new__(cls)
        self._set(cov, n_u, mean, None, None, None)
        return self

    def _set(self, cov, n_u, mean, spd_u, spd_v, canonical):
        self._cov = _readonly(cov)
        self._mean = _readonly(mean)
        self._n_u = n_u
        self._spd_u, self._spd_v, self._canonical = spd_u, spd_v, canonical

    # ----------------------------------------------------------------- blocks and sizes
    @property
    def n_u(self):
        return self._n_u

    @property
    def n_v(self):
        return self._cov.shape[0] - self._n_u

    @property
    def dim(self):
        return self._cov.shape[0]

    @property
    def cov(self):
        return self._cov

    @property
    def mean(self):
        return self._mean

    @property
    def mean_u(self):
        return self._mean[: self._n_u]

    @property
    def mean_v(self):
        return self._mean[self._n_u :]

    @property
    def Cuu(self):
        return self._cov[: self._n_u, : self._n_u]

    @property
    def Cuv(self):
        return self._cov[: self._n_u, self._n_u :]

    @property
    def Cvu(self):
        return self._cov[self._n_u :, : self._n_u]

    @property
    def Cvv(self):
        return self._cov[self._n_u :, self._n_u :]

    def spd(self, side):
        """The :class:`~gaussclip.linalg.SPD` factorization of ``C_uu`` (``"u"``) or ``C_vv``."""
        choice(side, "side", ("u", "v"))
        if side == "u":
            if self._spd_u is None:
                self._spd_u = SPD(self.Cuu, "C_uu")
            return self._spd_u
        if self._spd_v is None:
            self._spd_v = SPD(self.Cvv, "C_vv")
        return self._spd_v

    # ----------------------------------------------------------------- marginals, conditionals
    def marginal(self, side):
        r"""The marginal :math:`\mu_u` (``"u"``) or :math:`\mu_v` (``"v"``), eq. (36)."""
        mean = self.mean_u if choice(side, "side", ("u", "v")) == "u" else self.mean_v
        return Gaussian._trusted(mean, self.spd(side))

    def gain(self, side):
        r"""Regression matrix of the conditional mean: :math:`\mathcal C_{uv}\mathcal
        C_{vv}^{-1}` for ``"u"`` (shape (n_u, n_v)), :math:`\mathcal C_{vu}\mathcal
        C_{uu}^{-1}` for ``"v"``, eq. (37)."""
        return self._gain[choice(side, "side", ("u", "v"))]

    @cached_property
    def _gain(self):
        return {
            "u": _readonly(self.spd("v").solve(self.Cvu).T),
            "v": _readonly(self.spd("u").solve(self.Cuv).T),
        }

    def conditional_cov(self, side):
        r"""Schur complement :math:`\mathcal C_{u|v} = \mathcal C_{uu} - \mathcal C_{uv}
        \mathcal C_{vv}^{-1}\mathcal C_{vu}` (``"u"``, eq. 37a) or :math:`\mathcal C_{v|u}`
        (``"v"``, eq. 37b)."""
        return self._conditional_spd(side).matrix

    def _conditional_spd(self, side):
        side = choice(side, "side", ("u", "v"))
        cache = self.__dict__.setdefault("_schur", {})
        if side not in cache:
            if side == "u":
                schur = self.Cuu - self.gain("u") @ self.Cvu
            else:
                schur = self.Cvv - self.gain("v") @ self.Cuv
            cache[side] = SPD(0.5 * (schur + schur.T), f"C_{side}|{'v' if side == 'u' else 'u'}")
            cache[side].matrix.flags.writeable = False
        return cache[side]

    def conditional_mean(self, side, given):
        """:math:`E[u|v]` for ``side="u"`` (``given`` = v of shape (n_v,) or (n, n_v)), or
        :math:`E[v|u]` for ``side="v"``; eq. (37)."""
        side = choice(side, "side", ("u", "v"))
        other, n_other = ("v", self.n_v) if side == "u" else ("u", self.n_u)
        x = finite_array(given, other)
        if x.ndim not in (1, 2) or x.shape[-1] != n_other:
            raise ShapeError(
                f"`{other}` must have shape ({n_other},) or (n, {n_other}); got {x.shape}."
            )
        m_side, m_other = (self.mean_u, self.mean_v) if side == "u" else (self.mean_v, self.mean_u)
        return m_side + (x - m_other) @ self.gain(side).T

    def conditional(self, side, given):
        r"""The conditional :math:`\mu_{u|v}(\cdot|v)` (``side="u"``, ``given`` = v) or
        :math:`\mu_{v|u}(\cdot|u)` as a :class:`Gaussian`, eq. (37)."""
        mean = self.conditional_mean(side, given)
        if mean.ndim != 1:
            raise ShapeError(
                f"`given` must be a single point for `conditional`; got shape "
                f"{np.shape(given)}. Use `conditional_mean` for many points."
            )
        return Gaussian._trusted(mean, self._conditional_spd(side))

    # ----------------------------------------------------------------- canonical decomposition
    def canonical(self):
        """The cached :class:`Canonical` decomposition (sigma, weights, U, V)."""
        if self._canonical is None:
            self._canonical = _canonical(self.spd("u"), self.spd("v"), self.Cuv)
        return self._canonical

    def canonical_correlations(self):
        r"""Canonical correlations :math:`\sigma_1 \ge \dots \ge \sigma_k`, in [0, 1)."""
        return self.canonical().sigma

    def mutual_information(self):
        r""":math:`I(u; v) = -\tfrac12\sum_i \log(1 - \sigma_i^2)`, the constant relating
        the losses L to the divergences J (Theorems 3.2 and 3.8)."""
        return float(-0.5 * np.sum(np.log1p(-(self.canonical_correlations() ** 2))))

    # ----------------------------------------------------------------- densities and samples
    @cached_property
    def gaussian(self):
        """The distribution of the stacked vector (u, v) as a :class:`Gaussian`."""
        return Gaussian(self._mean, self._cov)

    def _stack(self, u, v):
        u = finite_array(u, "u")
        v = finite_array(v, "v")
        if u.shape[-1:] != (self.n_u,) or v.shape[-1:] != (self.n_v,) or u.ndim != v.ndim:
            raise ShapeError(
                f"`u` and `v` must have shapes (n, {self.n_u}) and (n, {self.n_v}) (or be single "
                f"points); got {u.shape} and {v.shape}."
            )
        if u.shape[:-1] != v.shape[:-1]:
            raise ShapeError(f"`u` and `v` must hold as many points; got {u.shape}, {v.shape}.")
        return np.concatenate([u, v], axis=-1)

    def logpdf(self, u, v):
        """Joint log density at points ``u`` (n, n_u) and ``v`` (n, n_v)."""
        return self.gaussian._logpdf(self._stack(u, v))

    def pdf(self, u, v):
        return np.exp(self.logpdf(u, v))

    def sample(self, n, rng):
        r"""``n`` draws from :math:`\mu`: arrays u (n, n_u) and v (n, n_v)."""
        x = self.gaussian.sample(n, rng)
        return x[:, : self.n_u], x[:, self.n_u :]

    def __repr__(self):
        return f"JointGaussian(n_u={self.n_u}, n_v={self.n_v})"


def as_gaussian(dist, name):
    """A :class:`Gaussian` view of a :class:`Gaussian` or :class:`JointGaussian`."""
    if isinstance(dist, JointGaussian):
        return dist.gaussian
    if isinstance(dist, Gaussian):
        return dist
    raise ArgumentTypeError(
        f"`{name}` must be a gaussclip Gaussian or JointGaussian; got {type(dist).__name__}."
    )


def kl_divergence(p, q):
    r""":math:`D_{KL}(p \| q)` between two Gaussians (Lemma E.1).

    .. math:: \tfrac12\bigl[\operatorname{Tr}(C_q^{-1}C_p) - d + \log\tfrac{|C_q|}{|C_p|}
              + \|m_q - m_p\|^2_{C_q}\bigr]

    Parameters
    ----------
    p, q : Gaussian or JointGaussian of the same dimension.

    Examples
    --------
    >>> p = Gaussian([0.0], [[1.0]])
    >>> q = Gaussian([1.0], [[1.0]])
    >>> kl_divergence(p, q)
    0.5
    """
    gp, gq = as_gaussian(p, "p"), as_gaussian(q, "q")
    if gp.dim != gq.dim:
        raise ShapeError(f"`p` and `q` must have the same dimension; got {gp.dim} and {gq.dim}.")
    sq = gq.spd
    rotated = sq.eigvecs.T @ gp.cov @ sq.eigvecs
    trace = float(np.sum(np.diag(rotated) / sq.eigvals))
    mahalanobis = float(sq.quad(gq.mean - gp.mean))
    return 0.5 * (trace - gp.dim + sq.logdet - gp.spd.logdet + mahalanobis)


def check_joint(mu, name="mu"):
    """Check that ``mu`` is a :class:`JointGaussian`."""
    if not isinstance(mu, JointGaussian):
        raise ArgumentTypeError(
            f"`{name}` must be a gaussclip.JointGaussian (e.g. gc.JointGaussian(cov, n_u)); "
            f"got {type(mu).__name__}."
        )
    return mu
