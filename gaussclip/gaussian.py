r"""Gaussian distributions: a single Gaussian, a joint Gaussian on (u, v), and the KL divergence.

The joint Gaussian :math:`\mu = N(m, \mathcal C)` of Section 5 carries its blocks, marginals
(36), conditionals and Schur complements (37), and its *canonical decomposition*
(:mod:`gaussclip.canonical`): the SVD :math:`\Omega = U\Sigma V^\top` of the whitened
cross-covariance, computed once, from the *correlation* matrix, when the object is built. It is
also how the covariance is validated, by scale-free criteria: ``C`` is positive definite exactly
when both diagonal blocks are (their correlation matrices are checked) and every canonical
correlation is < 1. Every other quantity (conditionals, densities, samples, divergences) is
computed in those canonical coordinates, so none depends on the units of u and v.
"""

from functools import cached_property

import numpy as np

from ._validation import Array, Choice, InstanceOf, Integer, Optional, fail, validate_params
from .canonical import (
    Canonical,
    Whitening,
    pair_correlation_frame,
    standardize,
)
from .errors import ArgumentTypeError, CovarianceError, DomainError, RankError, ShapeError
from .linalg import SPD, block_2x2

_LOG_2PI = float(np.log(2.0 * np.pi))
_EPS = float(np.finfo(np.float64).eps)

#: The largest canonical correlation must satisfy ``1 - sigma_1 > SIGMA_CUTOFF_FACTOR * eps``:
#: in whitened coordinates the joint covariance has eigenvalues ``1 +- sigma_i``, so this is the
#: shared cutoff of :mod:`gaussclip.canonical` applied to that (scale-free) spectrum.
SIGMA_CUTOFF_FACTOR = 2e6

_MATRIX = Array(ndim=2)
_SIDE = Choice(("u", "v"))
_GENERATOR = InstanceOf((np.random.Generator,), hint="Pass e.g. np.random.default_rng(0).")
_COUNT = Integer(low=0)


def readonly(array):
    """A read-only float64 view of ``array`` (the engine never hands out writable internals)."""
    array = np.asarray(array, dtype=np.float64)
    array.flags.writeable = False
    return array


def _square(matrix, name):
    if matrix.shape[0] != matrix.shape[1]:
        fail(ShapeError, name, "a non-empty square matrix", matrix)
    return matrix


def _finite_output(value, what, fix):
    if not np.isfinite(value).all():
        raise DomainError(f"{what} is not representable in float64 (it overflows). {fix}")
    return value


class Gaussian:
    r"""A multivariate Gaussian :math:`N(m, C)`.

    The covariance is kept as a :class:`~gaussclip.canonical.Whitening` computed from its
    *correlation* matrix, so densities, samples and divergences do not depend on the units of
    the coordinates (a variance of 1e10 next to one of 1 is no harder than two of 1).

    Parameters
    ----------
    mean : (d,) array_like
    cov : (d, d) array_like
        Symmetric positive definite (acceptance is decided on the correlation matrix, a
        scale-free criterion).

    Examples
    --------
    >>> g = Gaussian([0.0, 1.0], [[2.0, 0.0], [0.0, 0.5]])
    >>> g.dim
    2
    >>> round(float(g.logpdf([0.0, 1.0])), 6)
    -1.837877
    """

    @validate_params(mean=Array(ndim=1), cov=_MATRIX)
    def __init__(self, mean, cov):
        cov = _square(cov, "cov")
        if mean.shape != (cov.shape[0],):
            fail(ShapeError, "mean", f"a real array of shape ({cov.shape[0]},)", mean)
        white = Whitening.of_covariance(cov, "cov")
        self._set(mean, white, cov)

    @classmethod
    def from_whitening(cls, mean, whitening):
        """The Gaussian with the covariance that ``whitening`` whitens (no checks: for the
        engine's own derived distributions, whose whitening is exact by construction)."""
        self = cls.__new__(cls)
        self._set(np.asarray(mean, dtype=np.float64), whitening, None)
        return self

    def _set(self, mean, whitening, cov):
        self._mean = readonly(mean)
        self._white = whitening
        if cov is not None:
            self.__dict__["cov"] = readonly(0.5 * cov + 0.5 * cov.T)

    @property
    def mean(self):
        """(d,) mean vector."""
        return self._mean

    @cached_property
    def cov(self):
        """(d, d) covariance matrix."""
        return readonly(self._white.matrix)

    @property
    def whitening(self):
        """The :class:`~gaussclip.canonical.Whitening` of the covariance."""
        return self._white

    @property
    def dim(self):
        return self._mean.shape[0]

    @property
    def logdet(self):
        r""":math:`\log|C|`."""
        return self._white.logdet

    @cached_property
    def spd(self):
        """The :class:`~gaussclip.linalg.SPD` factorization of the raw covariance (units
        included: prefer :attr:`whitening`, which is exact for badly scaled covariances)."""
        return SPD.from_symmetric(np.array(self.cov), "cov")

    def _points(self, x, name="x"):
        x = Array()(x, name)
        if x.ndim not in (1, 2) or x.shape[-1] != self.dim:
            raise ShapeError(
                f"`{name}` must have shape ({self.dim},) or (n, {self.dim}); got {x.shape}."
            )
        return x

    def logpdf(self, x):
        """Log density at ``x`` of shape (d,) or (n, d); returns a float or an (n,) array.

        Raises :class:`~gaussclip.errors.DomainError` when a point is so far out that its log
        density is not representable."""
        return self._logpdf(self._points(x))

    def _logpdf(self, x):
        with np.errstate(over="ignore", invalid="ignore"):
            z = self._white.whiten(x - self._mean)
            out = -0.5 * (np.sum(z * z, axis=-1) + self._white.logdet + self.dim * _LOG_2PI)
        return _finite_output(
            out,
            "the log density at the given point",
            "The point is too far from the mean (in standard deviations) for float64.",
        )

    def pdf(self, x):
        """Density at ``x`` (see :meth:`logpdf`)."""
        return np.exp(self.logpdf(x))

    @validate_params(n=_COUNT, rng=_GENERATOR)
    def sample(self, n, rng):
        """``n`` independent draws, shape (n, d), from the generator ``rng``."""
        z = rng.standard_normal((n, self.dim))
        with np.errstate(over="ignore", invalid="ignore"):
            out = self._mean + self._white.colour(z)
        return _finite_output(out, "a draw", "Rescale the mean or the covariance.")

    def __repr__(self):
        return f"Gaussian(dim={self.dim})"


class JointGaussian:
    r"""The data distribution :math:`\mu = N(m, \mathcal C)` of a pair (u, v) (Section 5).

    All numerics run in the standardized, block-whitened canonical coordinates of
    :mod:`gaussclip.canonical`, so every result is invariant under u -> D_u u, v -> D_v v
    (positive diagonal: units) and the covariance is accepted or refused by scale-free
    criteria: the correlation matrices of u and of v must be positive definite to working
    precision (condition numbers below about 4.5e9) and every canonical correlation < 1.

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
        Non-symmetric, indefinite or singular ``cov``; the message says which block and what to
        do (drop or combine collinear columns; rescaling does not matter).
    DomainError
        NaN or inf entries.
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

    Units do not matter:

    >>> JointGaussian([[1e10, 5e4], [5e4, 1.0]], n_u=1).canonical_correlations()
    array([0.5])
    """

    @validate_params(cov=_MATRIX, n_u=Integer(low=1, error=RankError), mean=Optional(Array()))
    def __init__(self, cov, n_u, mean=None):
        cov = _square(cov, "cov")
        dim = cov.shape[0]
        if dim < 2:
            raise ShapeError(
                f"`cov` must be at least 2x2 (u and v each need a dimension); got {cov.shape}."
            )
        if n_u > dim - 1:
            fail(RankError, "n_u", f"an integer in [1, {dim - 1}] for a {dim}x{dim} `cov`", n_u)
        if mean is None:
            mean = np.zeros(dim)
        elif mean.shape != (dim,):
            fail(ShapeError, "mean", f"a real array of shape ({dim},)", mean)
        scale, corr = standardize(cov, "cov")
        white_u = Whitening.of_correlation(
            scale[:n_u], corr[:n_u, :n_u], "cov[:n_u, :n_u] (the block C_uu of u)"
        )
        white_v = Whitening.of_correlation(
            scale[n_u:], corr[n_u:, n_u:], "cov[n_u:, n_u:] (the block C_vv of v)"
        )
        canonical = Canonical.from_cross(white_u, white_v, corr[:n_u, n_u:])
        top = float(canonical.sigma[0])
        # In whitened coordinates cov has eigenvalues 1 +- sigma_i: it is positive definite
        # iff every canonical correlation is < 1 (a scale-free criterion).
        if 1.0 - top <= SIGMA_CUTOFF_FACTOR * _EPS:
            kind = "indefinite" if top > 1.0 + 1e-8 else "singular"
            raise CovarianceError(
                f"`cov` must be positive definite; got a {kind} matrix: its largest canonical "
                f"correlation between u and v is {top:.12g} (must be < 1), so some combination "
                "of u is (at least) perfectly correlated with one of v. Drop the duplicated "
                "columns, or check the off-diagonal block."
            )
        self._set(n_u, mean, canonical, 0.5 * cov + 0.5 * cov.T)

    @classmethod
    def from_canonical(cls, mean, canonical):
        """The joint Gaussian with the given :class:`~gaussclip.canonical.Canonical`
        decomposition (no checks: for models the engine builds in canonical coordinates, whose
        correlations are < 1 by construction)."""
        self = cls.__new__(cls)
        self._set(canonical.white_u.dim, np.asarray(mean, dtype=np.float64), canonical, None)
        return self

    def _set(self, n_u, mean, canonical, cov):
        self._n_u = n_u
        self._mean = readonly(mean)
        self._canonical = canonical
        if cov is not None:
            self.__dict__["cov"] = readonly(cov)

    # ----------------------------------------------------------------- blocks and sizes
    @property
    def n_u(self):
        return self._n_u

    @property
    def n_v(self):
        return self._mean.shape[0] - self._n_u

    @property
    def dim(self):
        return self._mean.shape[0]

    @cached_property
    def cov(self):
        """(n_u + n_v, n_u + n_v) covariance."""
        can = self._canonical
        cuv = can.frame_u.colour(can.frame_v.colour(can.sigma_matrix).T).T  # F_u^-1 S F_v^-T
        return readonly(block_2x2(can.white_u.matrix, cuv, can.white_v.matrix))

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
        return self.cov[: self._n_u, : self._n_u]

    @property
    def Cuv(self):
        return self.cov[: self._n_u, self._n_u :]

    @property
    def Cvu(self):
        return self.cov[self._n_u :, : self._n_u]

    @property
    def Cvv(self):
        return self.cov[self._n_u :, self._n_u :]

    def whitening(self, side):
        """The :class:`~gaussclip.canonical.Whitening` of ``C_uu`` (``"u"``) or ``C_vv``."""
        side = _SIDE(side, "side")
        return self._canonical.white_u if side == "u" else self._canonical.white_v

    def spd(self, side):
        """The :class:`~gaussclip.linalg.SPD` factorization of the raw block ``C_uu`` (``"u"``)
        or ``C_vv`` (units included; the engine itself uses :meth:`whitening`)."""
        return self.marginal(side).spd

    # ----------------------------------------------------------------- marginals, conditionals
    def marginal(self, side):
        r"""The marginal :math:`\mu_u` (``"u"``) or :math:`\mu_v` (``"v"``), eq. (36)."""
        return self._marginals[_SIDE(side, "side")]

    @cached_property
    def _marginals(self):
        return {
            "u": Gaussian.from_whitening(self.mean_u, self._canonical.white_u),
            "v": Gaussian.from_whitening(self.mean_v, self._canonical.white_v),
        }

    def gain(self, side):
        r"""Regression matrix of the conditional mean: :math:`\mathcal C_{uv}\mathcal
        C_{vv}^{-1} = T_u^{-1}\Omega T_v` for ``"u"`` (shape (n_u, n_v)),
        :math:`\mathcal C_{vu}\mathcal C_{uu}^{-1}` for ``"v"``, eq. (37)."""
        return self._gain[_SIDE(side, "side")]

    @cached_property
    def _gain(self):
        can = self._canonical
        to_u = can.frame_u.colour(can.frame_v.pull_back(can.sigma_matrix).T).T
        to_v = can.frame_v.colour(can.frame_u.pull_back(can.sigma_matrix.T).T).T
        return {"u": readonly(to_u), "v": readonly(to_v)}

    def conditional_cov(self, side):
        r"""Schur complement :math:`\mathcal C_{u|v} = \mathcal C_{uu} - \mathcal C_{uv}
        \mathcal C_{vv}^{-1}\mathcal C_{vu}` (``"u"``, eq. 37a) or :math:`\mathcal C_{v|u}`
        (``"v"``, eq. 37b)."""
        return self._conditional_white(_SIDE(side, "side"))[1].cov

    def conditional_whitening(self, side):
        r"""The :class:`~gaussclip.canonical.Whitening` of the Schur complement: in canonical
        coordinates it is :math:`\operatorname{diag}(1 - \sigma_i^2)` (1 beyond k), so its
        whitening is exact."""
        return self._conditional_white(_SIDE(side, "side"))[0]

    def _conditional_white(self, side):
        """``(whitening, Gaussian)`` of the conditional of ``side``, built on first use for
        that side only (a model is often asked about one side)."""
        cache = self.__dict__.setdefault("_conditional_cache", {})
        found = cache.get(side)
        if found is None:
            can = self._canonical
            frame = can.frame(side)
            diag = np.ones(frame.dim)
            diag[: can.k] = can.one_minus_sigma_sq
            root = np.sqrt(diag)
            white = frame.compose(np.diag(1.0 / root), np.diag(root), -0.5 * np.log(diag).sum())
            m = self.mean_u if side == "u" else self.mean_v
            found = cache[side] = (white, Gaussian.from_whitening(m, white))
        return found

    def conditional_mean(self, side, given):
        """:math:`E[u|v]` for ``side="u"`` (``given`` = v of shape (n_v,) or (n, n_v)), or
        :math:`E[v|u]` for ``side="v"``; eq. (37)."""
        side = _SIDE(side, "side")
        other, n_other = ("v", self.n_v) if side == "u" else ("u", self.n_u)
        x = Array()(given, "given")
        if x.ndim not in (1, 2) or x.shape[-1] != n_other:
            raise ShapeError(
                f"`given` ({other}) must have shape ({n_other},) or (n, {n_other}); got {x.shape}."
            )
        can = self._canonical
        m_side, m_other = (self.mean_u, self.mean_v) if side == "u" else (self.mean_v, self.mean_u)
        sig = can.sigma_matrix if side == "u" else can.sigma_matrix.T
        with np.errstate(over="ignore", invalid="ignore"):
            b = can.frame(other).whiten(x - m_other)
            out = m_side + can.frame(side).colour(b @ sig.T)
        return _finite_output(out, "the conditional mean", "Rescale `given`.")

    def conditional(self, side, given):
        r"""The conditional :math:`\mu_{u|v}(\cdot|v)` (``side="u"``, ``given`` = v) or
        :math:`\mu_{v|u}(\cdot|u)` as a :class:`Gaussian`, eq. (37)."""
        mean = self.conditional_mean(side, given)
        if mean.ndim != 1:
            raise ShapeError(
                f"`given` must be a single point for `conditional`; got shape "
                f"{np.shape(given)}. Use `conditional_mean` for many points."
            )
        return Gaussian.from_whitening(mean, self.conditional_whitening(side))

    # ----------------------------------------------------------------- canonical decomposition
    def canonical(self):
        """The cached :class:`~gaussclip.canonical.Canonical` decomposition (sigma, the CCA
        bases ``basis_u``, ``basis_v``, the whitenings and rotations, U, V)."""
        return self._canonical

    def canonical_correlations(self):
        r"""Canonical correlations :math:`\sigma_1 \ge \dots \ge \sigma_k`, in [0, 1)."""
        return self._canonical.sigma

    def mutual_information(self):
        r""":math:`I(u; v) = -\tfrac12\sum_i \log(1 - \sigma_i^2)`, the constant relating
        the losses L to the divergences J (Theorems 3.2 and 3.8)."""
        return float(-0.5 * np.log(self._canonical.one_minus_sigma_sq).sum())

    # ----------------------------------------------------------------- densities and samples
    @cached_property
    def gaussian(self):
        """The distribution of the stacked vector (u, v) as a :class:`Gaussian`, whitened
        through the canonical pairs (exact for any units)."""
        can = self._canonical
        fu, fv = can.frame_u, can.frame_v
        P, P_inv, logdet_pairs = pair_correlation_frame(can.sigma, self.n_u, self.n_v)
        core = P @ scipy_block_diag(fu.core, fv.core)
        core_inv = scipy_block_diag(fu.core_inv, fv.core_inv) @ P_inv
        white = Whitening(
            np.concatenate([fu.scale, fv.scale]),
            core,
            core_inv,
            fu.logdet + fv.logdet + logdet_pairs,
        )
        return Gaussian.from_whitening(self._mean, white)

    def _stack(self, u, v):
        u = Array()(u, "u")
        v = Array()(v, "v")
        if u.shape[-1:] != (self.n_u,) or v.shape[-1:] != (self.n_v,) or u.ndim != v.ndim:
            raise ShapeError(
                f"`u` and `v` must have shapes (n, {self.n_u}) and (n, {self.n_v}) (or be single "
                f"points); got {u.shape} and {v.shape}."
            )
        if u.ndim > 2 or u.shape[:-1] != v.shape[:-1]:
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


def scipy_block_diag(a, b):
    """The block-diagonal matrix ``[[a, 0], [0, b]]`` (rectangular blocks allowed)."""
    out = np.zeros((a.shape[0] + b.shape[0], a.shape[1] + b.shape[1]))
    out[: a.shape[0], : a.shape[1]] = a
    out[a.shape[0] :, a.shape[1] :] = b
    return out


def as_gaussian(dist, name):
    """A :class:`Gaussian` view of a :class:`Gaussian` or :class:`JointGaussian`."""
    if isinstance(dist, JointGaussian):
        return dist.gaussian
    if isinstance(dist, Gaussian):
        return dist
    raise ArgumentTypeError(
        f"`{name}` must be a gaussclip Gaussian or JointGaussian; got {type(dist).__name__}."
    )


_DIST = InstanceOf((Gaussian, JointGaussian))


@validate_params(p=_DIST, q=_DIST)
def kl_divergence(p, q):
    r""":math:`D_{KL}(p \| q)` between two Gaussians (Lemma E.1).

    .. math:: \tfrac12\bigl[\operatorname{Tr}(C_q^{-1}C_p) - d + \log\tfrac{|C_q|}{|C_p|}
              + \|m_q - m_p\|^2_{C_q}\bigr]

    computed in the whitened coordinates of ``q``: with whitenings :math:`T_p`, :math:`T_q`
    (:math:`T C T^\top = I`), the trace is :math:`\|T_q T_p^{-1}\|_F^2`, so the result does not
    depend on the units of the coordinates. Rounding can make the exact value 0 (``p == q``)
    come out a few ulps negative; the result is clamped at 0 (a divergence is never negative).

    Parameters
    ----------
    p, q : Gaussian or JointGaussian of the same dimension.

    Raises
    ------
    DomainError
        When the divergence is too large to be represented in float64.

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
    wp, wq = gp.whitening, gq.whitening
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        ratio = wp.scale / wq.scale
        cross = (wq.core * ratio[None, :]) @ wp.core_inv  # T_q T_p^{-1}
        trace = float((cross * cross).sum())
        shift = wq.core @ (gp.mean / wq.scale - gq.mean / wq.scale)
        mahalanobis = float(shift @ shift)
        value = 0.5 * (trace - gp.dim + (wq.logdet - wp.logdet) + mahalanobis)
    if not np.isfinite(value):
        raise DomainError(
            "the KL divergence of `p` from `q` overflows float64 (the covariances or means differ "
            "by more than ~1e150 in standardized units). Rescale the distributions."
        )
    return max(value, 0.0)


def check_joint(mu, name="mu"):
    """Check that ``mu`` is a :class:`JointGaussian`."""
    if not isinstance(mu, JointGaussian):
        raise ArgumentTypeError(
            f"`{name}` must be a gaussclip.JointGaussian (e.g. gc.JointGaussian(cov, n_u)); "
            f"got {type(mu).__name__}."
        )
    return mu
