r"""The Gaussian-process example of Section 6.1 (Figures 7-10), as exact joint Gaussians.

**The process.** On :math:`D = (0, 1)` let :math:`\mathcal C = (-\Delta + \tau^2 I)^{-\alpha}`
with homogeneous Neumann conditions, acting on mean-zero functions. Its eigenpairs are

.. math:: \psi_j(x) = \sqrt2\cos(j\pi x),\qquad \lambda_j = (j^2\pi^2 + \tau^2)^{-\alpha},
          \qquad j = 1, 2, \dots

and :math:`w = \sum_{j\le J}\sqrt{\lambda_j}\,\xi_j\psi_j` with :math:`\xi_j` i.i.d.
:math:`N(0, 1)` is the Karhunen-Loeve expansion (56) truncated to :math:`J` modes
(``n_modes``, 1000 in the paper). The constant mode :math:`j = 0` is left out, so w has mean
zero over D.

**Normalization.** The paper writes :math:`\psi_j = \cos(j\pi x)` but uses the :math:`\psi_j` as
an orthonormal basis: eq. (57b) divides the coefficient :math:`\int w\psi_j` by
:math:`\sqrt{\lambda_j}` and calls the result normalized. Only the unit-norm eigenfunctions
:math:`\sqrt2\cos(j\pi x)` make both statements true: then :math:`\int w\psi_j = \sqrt{\lambda_j}
\xi_j`, so :math:`v_j = \xi_j` and :math:`v \sim N(0, I_{n_v})`, and (56) has covariance
operator exactly :math:`\mathcal C`. (With the bare cosine, (56) would have covariance
:math:`\mathcal C/2` and (57b) would give :math:`v_j = \xi_j/2`.) We use :math:`\sqrt2\cos`.

**The two modalities** (eq. 57), with :math:`\eta \sim N(0, s^2 I_{n_u})`, :math:`s` =
``noise_std`` = 0.05:

.. math:: u_i = w(x_i) + \eta_i\ (i = 1..n_u),\qquad v_k = \xi_k\ (k = 1..n_v),

so with :math:`\Phi_{ij} = \psi_j(x_i)` and :math:`\Lambda = \operatorname{diag}(\lambda_j)`,

.. math:: \mathcal C_{uu} = \Phi\Lambda\Phi^\top + s^2 I,\qquad
          (\mathcal C_{uv})_{ik} = \sqrt{\lambda_k}\,\psi_k(x_i),\qquad \mathcal C_{vv} = I.

**Uniform points.** The paper says "uniformly-spaced grid locations in D" without formula. We
use cell midpoints :math:`x_i = (i - \tfrac12)/n_u` (``layout="midpoint"``, the default): they
lie in the open interval D, are symmetric about 1/2 with spacing :math:`1/n_u`, and at them the
cosines :math:`\cos(j\pi x_i)`, :math:`j < n_u`, are mutually orthogonal (the DCT-II grid), so
the first modes are seen without aliasing among themselves. ``layout="interior"`` gives
:math:`x_i = i/(n_u + 1)` instead.

:func:`joint_uv` returns the exact :class:`~gaussclip.JointGaussian` of (u, v);
:func:`joint_wv` the one of (w on a plot grid, v), for the :math:`w|v` panel of Figure 7.
"""

import numbers
from dataclasses import dataclass

import numpy as np

from .._checks import choice, finite_array, integer
from ..errors import CovarianceError, OptionError, ShapeError
from ..gaussian import JointGaussian

#: Layouts of the observation points (see the module docstring).
LAYOUTS = ("midpoint", "interior")

#: Points of the default plot grid for w (endpoints included). Finer grids make (w, v)
#: numerically singular: a noiseless w sampled densely determines its first KL coefficients
#: up to aliasing of very high modes (for the defaults, 1 - sigma_1 ~ 1e-9 at 130 points).
PLOT_POINTS = 101


@dataclass(frozen=True)
class GPConfig:
    """Parameters of the Section 6.1 experiment (defaults: the paper's values)."""

    tau: float = 3.0  # inverse length scale of C = (-Laplacian + tau^2)^(-alpha)
    alpha: float = 2.0  # regularity exponent
    n_modes: int = 1000  # Karhunen-Loeve modes kept, j = 1..n_modes
    n_u: int = 12  # observation points of u
    n_v: int = 5  # normalized KL coefficients in v
    noise_std: float = 0.05  # standard deviation of the observation noise eta_u
    layout: str = "midpoint"  # x_i = (i - 1/2) / n_u; "interior": x_i = i / (n_u + 1)

    def __post_init__(self):
        for name in ("tau", "alpha", "noise_std"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, numbers.Real)
                or not np.isfinite(value)
                or value <= 0
            ):
                raise OptionError(
                    f"GPConfig.{name} must be a positive finite number; got {value!r}."
                )
        integer(self.n_modes, "GPConfig.n_modes", 1, 10**6)
        integer(self.n_u, "GPConfig.n_u", 1, 10**5)
        integer(
            self.n_v,
            "GPConfig.n_v",
            1,
            self.n_modes,
            hint=" (at most n_modes; reduce `n_v` or raise `n_modes`)",
        )
        choice(self.layout, "GPConfig.layout", LAYOUTS)


def _config(config):
    if config is None:
        return GPConfig()
    if not isinstance(config, GPConfig):
        raise OptionError(
            f"`config` must be a gaussclip.data.gp.GPConfig (or None for the paper's values); "
            f"got {type(config).__name__}."
        )
    return config


def eigenvalues(config=None):
    r""":math:`\lambda_j = (j^2\pi^2 + \tau^2)^{-\alpha}` for :math:`j = 1..n_{modes}`.

    Returns
    -------
    (n_modes,) array, decreasing.

    Examples
    --------
    >>> lam = eigenvalues()
    >>> lam.shape, bool(np.isclose(lam[0], (np.pi**2 + 9.0) ** -2))
    ((1000,), True)
    """
    config = _config(config)
    j = np.arange(1, config.n_modes + 1, dtype=np.float64)
    return (j * j * np.pi**2 + config.tau**2) ** (-config.alpha)


def eigenfunctions(x, n_modes):
    r"""The orthonormal Neumann eigenfunctions :math:`\psi_j(x) = \sqrt2\cos(j\pi x)`.

    Parameters
    ----------
    x : (m,) array_like
        Points in [0, 1].
    n_modes : int
        Modes :math:`j = 1..n_{modes}`.

    Returns
    -------
    (m, n_modes) array :math:`\Phi_{ij} = \psi_j(x_i)`.

    Examples
    --------
    >>> eigenfunctions([0.0, 0.5], 2).round(6)
    array([[ 1.414214,  1.414214],
           [ 0.      , -1.414214]])
    """
    x = finite_array(x, "x", ndim=1)
    if np.any((x < 0.0) | (x > 1.0)):
        raise ShapeError(
            f"`x` must lie in the domain [0, 1] of the process; got values in "
            f"[{x.min():.6g}, {x.max():.6g}]."
        )
    n_modes = integer(n_modes, "n_modes", 1, 10**6)
    j = np.arange(1, n_modes + 1, dtype=np.float64)
    return np.sqrt(2.0) * np.cos(np.pi * np.outer(x, j))


def observation_points(n_u=12, layout="midpoint"):
    """The ``n_u`` uniformly spaced observation points :math:`x_i` of u (eq. 57a).

    ``"midpoint"``: :math:`x_i = (i - 1/2)/n_u`; ``"interior"``: :math:`x_i = i/(n_u + 1)`.

    Examples
    --------
    >>> observation_points(4)
    array([0.125, 0.375, 0.625, 0.875])
    >>> observation_points(4, "interior")
    array([0.2, 0.4, 0.6, 0.8])
    """
    n_u = integer(n_u, "n_u", 1, 10**5)
    i = np.arange(1, n_u + 1, dtype=np.float64)
    if choice(layout, "layout", LAYOUTS) == "midpoint":
        return (i - 0.5) / n_u
    return i / (n_u + 1.0)


def plot_grid(n_points=PLOT_POINTS):
    """``n_points`` equally spaced points of [0, 1], endpoints included (for plotting w)."""
    n_points = integer(n_points, "n_points", 2, 10**5)
    return np.linspace(0.0, 1.0, n_points)


def _cross_v(phi, lam, n_v):
    # Cov(w(x_i), v_k) = Cov(sum_j sqrt(lam_j) xi_j psi_j(x_i), xi_k) = sqrt(lam_k) psi_k(x_i)
    return phi[:, :n_v] * np.sqrt(lam[:n_v])


def _point_covariance(phi, lam):
    # Cov(w(x_i), w(x_l)) = sum_j lam_j psi_j(x_i) psi_j(x_l), the truncated kernel of C
    cov = (phi * lam) @ phi.T
    return 0.5 * (cov + cov.T)


def joint_uv(config=None):
    r"""The exact joint Gaussian of (u, v) of eq. (57): ``n_u`` noisy point values of w and
    the first ``n_v`` normalized KL coefficients.

    Parameters
    ----------
    config : GPConfig, optional
        Defaults to the paper: tau = 3, alpha = 2, 1000 modes, n_u = 12, n_v = 5, noise 0.05.

    Returns
    -------
    JointGaussian
        Zero mean, blocks :math:`\Phi\Lambda\Phi^\top + s^2 I`,
        :math:`\Phi_{:, :n_v}\Lambda_{:n_v}^{1/2}` and :math:`I_{n_v}`.

    Examples
    --------
    >>> mu = joint_uv()
    >>> mu.n_u, mu.n_v, bool(np.allclose(mu.Cvv, np.eye(5)))
    (12, 5, True)
    """
    config = _config(config)
    lam = eigenvalues(config)
    x = observation_points(config.n_u, config.layout)
    phi = eigenfunctions(x, config.n_modes)
    cuu = _point_covariance(phi, lam) + config.noise_std**2 * np.eye(config.n_u)
    cuv = _cross_v(phi, lam, config.n_v)
    cov = np.block([[cuu, cuv], [cuv.T, np.eye(config.n_v)]])
    return JointGaussian(cov, n_u=config.n_u)


def joint_wv(grid=None, config=None):
    r"""The exact joint Gaussian of (w on ``grid``, v), without observation noise.

    Its conditional :math:`w|v` is the left panel of Figure 7:
    mean :math:`\sum_{k\le n_v}\sqrt{\lambda_k}\,v_k\psi_k(x)`, covariance
    :math:`\sum_{j>n_v}\lambda_j\psi_j(x)\psi_j(y)`.

    Parameters
    ----------
    grid : (m,) array_like, optional
        Points of [0, 1]; defaults to :func:`plot_grid` (101 points). At most about 120
        distinct points for the default parameters (see :data:`PLOT_POINTS`).
    config : GPConfig, optional

    Returns
    -------
    JointGaussian
        With ``n_u = m`` (the "u" block is w on the grid) and ``n_v = config.n_v``.

    Raises
    ------
    CovarianceError
        When the grid is so fine (or has repeated points) that (w, v) is numerically singular.
    """
    config = _config(config)
    grid = plot_grid() if grid is None else finite_array(grid, "grid", ndim=1)
    lam = eigenvalues(config)
    phi = eigenfunctions(grid, config.n_modes)
    cww = _point_covariance(phi, lam)
    cwv = _cross_v(phi, lam, config.n_v)
    cov = np.block([[cww, cwv], [cwv.T, np.eye(config.n_v)]])
    try:
        return JointGaussian(cov, n_u=grid.size)
    except CovarianceError as exc:
        raise CovarianceError(
            f"(w on a grid of {grid.size} points, v) is numerically singular: a noiseless w on "
            f"a fine grid nearly determines its KL coefficients (or the grid repeats a point). "
            f"Use fewer distinct points (the default is {PLOT_POINTS}). Details: {exc}"
        ) from None
