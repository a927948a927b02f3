r"""Plotting-free summaries of distributions, for figures, notebooks and tests.

A figure shows a curve; its JSON companion should state the numbers *of that curve*. These
helpers compute them from the very arrays that are plotted, so a figure that plots the wrong
thing is caught by comparing them with the engine's exact values:

* :func:`moments_1d` / :func:`moments_2d` -- mass, mean and (co)variance of a density sampled
  on a grid (trapezoidal rule); exact Gaussian values come from the engine, non-Gaussian models
  (the cosine tilting) have no other route;
* :func:`gaussian_band` -- pointwise central intervals :math:`m_i \pm z\sqrt{C_{ii}}` of a
  Gaussian vector (the shaded 95% bands of Figure 7);
* :func:`band_coverage` -- the fraction of sampled values inside such a band;
* :func:`conditional_mean_error` / :func:`conditional_mean_errors` -- how far a learned model's
  conditional mean :math:`E_\nu[u|v]` is from the truth :math:`E_\mu[u|v]`, exactly (averaged
  over :math:`v \sim \mu_v`) and at given conditioning values (Figures 8-10).
"""

from dataclasses import dataclass

import numpy as np
import scipy.integrate
import scipy.stats

from ._validation import Array, Choice, InstanceOf, Optional, Real, validate_params
from .errors import DomainError, ShapeError
from .gaussian import Gaussian, JointGaussian
from .tilting import (
    GAUSSIAN_TILTINGS,
    check_parameters,
    conditional_parameters,
    resolve_tilting,
    to_canonical,
)

_MU = InstanceOf((JointGaussian,), hint="E.g. gc.JointGaussian(cov, n_u).")
_MATRIX = Optional(Array(ndim=2))
_SIDE = Choice(("u", "v"))
_TILTING = Optional(Choice(GAUSSIAN_TILTINGS))
_GRID = Array(ndim=1)


@dataclass(frozen=True)
class GridMoments:
    """Moments of a density known on a grid.

    Attributes
    ----------
    mass : float
        :math:`\\int p`, close to 1 when the grid covers the bulk of the density.
    mean : float or (2,) array
        :math:`\\int x\\,p / \\int p`.
    var : float or (2, 2) array
        Variance (1-D) or covariance matrix (2-D) of the normalized density.
    """

    mass: float
    mean: object
    var: object


def _grid(x, name):
    if x.size < 3 or np.any(np.diff(x) <= 0):
        raise ShapeError(f"`{name}` must be an increasing grid of at least 3 points.")
    return x


def _density(values, shape, name):
    values = Array(shape=shape)(values, name)
    if np.any(values < 0):
        raise DomainError(f"`{name}` must be non-negative (a density); got a negative value.")
    return values


def _finite(value, name, what="the moments of"):
    if not np.all(np.isfinite(value)):
        fix = "rescale the grid or the density" if what == "the moments of" else f"rescale `{name}`"
        raise DomainError(f"{what} `{name}` overflow float64; {fix}.")
    return value


@validate_params(x=_GRID, density=Array())
def moments_1d(x, density):
    r"""Mass, mean and variance of a 1-D density sampled on a grid (trapezoidal rule).

    Parameters
    ----------
    x : (m,) array_like
        Increasing grid.
    density : (m,) array_like
        Non-negative density values :math:`p(x_i)`.

    Returns
    -------
    GridMoments
        With float ``mean`` and ``var`` of the normalized density :math:`p/\int p`.

    Examples
    --------
    >>> x = np.linspace(-10.0, 10.0, 2001)
    >>> m = moments_1d(x, Gaussian([1.0], [[2.0]]).pdf(x[:, None]))
    >>> round(m.mass, 6), round(m.mean, 6), round(m.var, 6)
    (1.0, 1.0, 2.0)
    """
    x = _grid(x, "x")
    p = _density(density, (x.size,), "density")
    with np.errstate(over="ignore", invalid="ignore"):
        mass = _finite(float(scipy.integrate.trapezoid(p, x)), "density")
        if mass <= 0:
            raise DomainError(
                "`density` must have positive mass on the grid; it is zero everywhere."
            )
        mean = _finite(float(scipy.integrate.trapezoid(x * p, x) / mass), "density")
        var = _finite(float(scipy.integrate.trapezoid((x - mean) ** 2 * p, x) / mass), "density")
    return GridMoments(mass, mean, var)


@validate_params(x=_GRID, y=_GRID, density=Array())
def moments_2d(x, y, density):
    r"""Mass, mean and covariance of a 2-D density on the grid ``x`` by ``y``.

    Parameters
    ----------
    x : (m,) array_like
    y : (k,) array_like
        Increasing grids of the first and second coordinate.
    density : (k, m) array_like
        :math:`p(x_j, y_i)` at row i, column j (the ``meshgrid(x, y)`` layout that
        ``contourf(x, y, density)`` draws).

    Returns
    -------
    GridMoments
        With (2,) ``mean`` and (2, 2) ``var``.

    Examples
    --------
    >>> x = np.linspace(-8.0, 8.0, 321)
    >>> xx, yy = np.meshgrid(x, x)
    >>> g = Gaussian([0.0, 0.0], [[1.5, 1.0], [1.0, 1.5]])
    >>> p = g.pdf(np.stack([xx.ravel(), yy.ravel()], axis=1)).reshape(xx.shape)
    >>> moments_2d(x, x, p).var.round(6)
    array([[1.5, 1. ],
           [1. , 1.5]])
    """
    x, y = _grid(x, "x"), _grid(y, "y")
    p = _density(density, (y.size, x.size), "density")
    xx, yy = np.meshgrid(x, y)

    def integral(values):
        return float(scipy.integrate.trapezoid(scipy.integrate.trapezoid(values, x, axis=1), y))

    with np.errstate(over="ignore", invalid="ignore"):
        mass = _finite(integral(p), "density")
        if mass <= 0:
            raise DomainError(
                "`density` must have positive mass on the grid; it is zero everywhere."
            )
        mean = _finite(np.array([integral(xx * p), integral(yy * p)]) / mass, "density")
        dx, dy = xx - mean[0], yy - mean[1]
        cxy = integral(dx * dy * p) / mass
        cov = np.array([[integral(dx * dx * p) / mass, cxy], [cxy, integral(dy * dy * p) / mass]])
    return GridMoments(mass, mean, _finite(cov, "density"))


@validate_params(
    gaussian=InstanceOf((Gaussian,), hint="E.g. mu.conditional('u', v)."),
    level=Real(low=0.0, high=1.0, low_open=True, high_open=True),
)
def gaussian_band(gaussian, level=0.95):
    r"""Pointwise central intervals of a Gaussian vector.

    .. math:: m_i \pm z\,\sqrt{C_{ii}},\qquad z = \Phi^{-1}\bigl(\tfrac{1 + level}{2}\bigr)

    (z = 1.96 for 95%). Each coordinate lies in its interval with probability ``level``; the
    band as a whole does not (it is not a simultaneous band).

    Parameters
    ----------
    gaussian : Gaussian
    level : float in (0, 1)

    Returns
    -------
    lower, upper : (d,) arrays

    Examples
    --------
    >>> lower, upper = gaussian_band(Gaussian([0.0, 1.0], [[1.0, 0.0], [0.0, 4.0]]))
    >>> lower.round(3), upper.round(3)
    (array([-1.96, -2.92]), array([1.96, 4.92]))
    """
    z = float(scipy.stats.norm.ppf(0.5 + 0.5 * level))
    half_width = z * np.sqrt(np.diag(gaussian.cov))
    return gaussian.mean - half_width, gaussian.mean + half_width


@validate_params(samples=Array(ndim=2), lower=Array(ndim=1), upper=Array(ndim=1))
def band_coverage(samples, lower, upper):
    """Fraction of the entries of ``samples`` (n, d) inside ``[lower, upper]`` (each (d,)),
    averaged over samples and coordinates; about ``level`` for draws from the Gaussian of
    :func:`gaussian_band`.

    Examples
    --------
    >>> band_coverage([[0.0, 5.0], [1.0, 1.0]], [-1.0, 0.0], [1.0, 2.0])
    0.75
    """
    upper = Array(shape=lower.shape)(upper, "upper")
    samples = Array(shape=(None, lower.size))(samples, "samples")
    inside = (samples >= lower) & (samples <= upper)
    return float(np.mean(inside))


def _mean_gap(mu, side, A, B, C, tilting):
    r"""The gain difference in canonical coordinates, :math:`M = K'_\nu - \Sigma`, with
    :math:`E_\nu[a|b] - E_\mu[a|b] = M b` (``side="u"``; transposed roles for ``"v"``)."""
    tilting = resolve_tilting(tilting, B, C)
    A, B, C = check_parameters(mu, tilting, A=A, B=B, C=C)
    params = to_canonical(mu, A, B, C)
    gain, _, _ = conditional_parameters(params, side)
    sig = params.canonical.sigma_matrix
    return params.canonical, gain - (sig if side == "u" else sig.T)


_GAP_TABLE = {"mu": _MU, "side": _SIDE, "A": _MATRIX, "B": _MATRIX, "C": _MATRIX,
              "tilting": _TILTING}  # fmt: skip


@validate_params(_GAP_TABLE)
def conditional_mean_error(mu, side, A, B=None, C=None, *, tilting=None):
    r"""Mean squared error of a tilted model's conditional mean, averaged over the data.

    The model :math:`\nu` tilts :math:`\mu_u\otimes\mu_v` by the parameters (``tilting``
    ``"inner"``, eq. 40, or ``"quadratic"``, eq. 47; when omitted, inner if ``B`` and ``C`` are
    None and quadratic otherwise). Both conditional means are
    affine in the conditioning value x, :math:`E[u|v] = m_u + K(v - m_v)` (eqs. 37, 41, 48), so
    with :math:`D = K_\nu - K_\mu`

    .. math:: e_u = \mathbb E_{v\sim\mu_v}\,\lvert E_\nu[u|v] - E_\mu[u|v]\rvert^2
              = \operatorname{tr}(D\,\mathcal C_{vv} D^\top)

    (``side="u"``; ``"v"`` swaps the roles). Zero exactly at the two-sided conditional minimizer
    of Theorem 5.1 (Corollary 5.2).

    Parameters
    ----------
    mu : JointGaussian
        The data distribution; its marginals are the model's reference measure.
    side : {"u", "v"}
        ``"u"`` for :math:`E[u|v]`, ``"v"`` for :math:`E[v|u]`.
    A : (n_u, n_v) array_like
    B : (n_u, n_u) array_like, optional
    C : (n_v, n_v) array_like, optional

    Returns
    -------
    float
        The squared error summed over the components of ``side``.

    Examples
    --------
    >>> import gaussclip as gc
    >>> mu = gc.JointGaussian([[1.5, 1.0], [1.0, 1.5]], n_u=1)
    >>> round(conditional_mean_error(mu, "u", gc.minimize(mu).A), 12)
    0.0
    >>> round(conditional_mean_error(mu, "u", [[0.0]]), 4)  # E[u|v] = v/1.5 missed entirely
    0.6667
    """
    can, gap = _mean_gap(mu, side, A, B, C, tilting)
    with np.errstate(over="ignore", invalid="ignore"):
        # D = F_side^-1 M F_other and C_other = F_other^-1 F_other^-T: tr(D C D^T) = |F^-1 M|_F^2
        error = can.frame(side).colour(gap.T).T
        value = float(np.sum(error * error))
    return _finite(value, "A", "the conditional-mean errors at")


@validate_params(_GAP_TABLE, given=Array(ndim=2))
def conditional_mean_errors(mu, side, A, given, B=None, C=None, *, tilting=None):
    r"""Squared errors :math:`\lvert E_\nu[u|v_i] - E_\mu[u|v_i]\rvert^2` at given values.

    The Monte Carlo counterpart of :func:`conditional_mean_error`: for ``given`` drawn from the
    data's marginal (the paper averages over :math:`10^4` realizations) their mean estimates it.

    Parameters
    ----------
    mu, side, A, B, C
        As in :func:`conditional_mean_error`.
    given : (n, n_v) array_like (``side="u"``) or (n, n_u) (``side="v"``)
        Conditioning values.

    Returns
    -------
    (n,) array
    """
    can, gap = _mean_gap(mu, side, A, B, C, tilting)
    other, other_mean = ("v", mu.mean_v) if side == "u" else ("u", mu.mean_u)
    given = Array(shape=(None, gap.shape[1]))(given, "given")
    with np.errstate(over="ignore", invalid="ignore"):
        b = can.frame(other).whiten(given - other_mean)
        out = np.sum(can.frame(side).colour(b @ gap.T) ** 2, axis=1)
    return _finite(out, "given", "the conditional-mean errors at")
