r"""The physics reference of Figure 14: trajectories embedded by Bayesian linear regression.

The flow of Section 6.3 is *linear* in its coefficients: with :math:`c_k = a_k + i b_k` and the
phase :math:`\varphi_k(x, t) = \omega_k t + 2\pi k\cdot x`, eqs. (58)-(59) give

.. math::

    w_1(x, t) = \sum_k 2\pi k_2 (a_k \sin\varphi_k + b_k \cos\varphi_k), \qquad
    w_2(x, t) = -\sum_k 2\pi k_1 (a_k \sin\varphi_k + b_k \cos\varphi_k),

i.e. :math:`w(x, t) = A(x, t)\, c` with a (2, 2K) matrix :math:`A` (:func:`velocity_matrix`)
acting on the real coefficient vector :math:`c = [\mathrm{Re}\, c_k, \mathrm{Im}\, c_k]` (the
fixed embedding :math:`g_u`). A trajectory observes the velocity along its path: from the
positions :math:`P_0 = x_0, P_1, \dots, P_M` at times :math:`\tau_0 = 0 < \tau_1 < \dots`
(every ``every``-th recorded point), the finite differences

.. math::

    y_m = \frac{P_{m+1} - P_m}{\tau_{m+1} - \tau_m} \approx
    A\Big(\frac{P_m + P_{m+1}}2, \frac{\tau_m + \tau_{m+1}}2\Big)\, c + \varepsilon_m,
    \qquad \varepsilon_m \sim N(0, \sigma^2 I_2)

(midpoint rule, second order in the spacing). With the coefficients' own law as prior,
:math:`c \sim N(0, S^2)`, :math:`S = \mathrm{diag}(s)`, the posterior mean is

.. math::

    \hat c = S\,(S \mathbf A^\top \mathbf A S + \sigma^2 I)^{-1} S \mathbf A^\top \mathbf y,

with :math:`\mathbf A` the stacked (2M, 2K) matrix and :math:`\mathbf y` the stacked velocities
(:func:`posterior_mean_embedding`; the form with :math:`S` on both sides stays well defined
when an entry of :math:`s` is 0, as for the k = 0 mode). Used as :math:`g_v(v) = \hat c` with
the cosine retrieval of Figure 14 (:func:`reference_metrics`), it shows what an encoder of the
trajectory can reach with this similarity: it knows the flow law exactly and only lacks the
noise-free velocity field off the path.
"""

import numpy as np

from .._validation import Array, Integer, Optional, Real, validate_params
from ..data import lagrangian as lag
from ..errors import DomainError, ShapeError
from .lagrangian_metrics import retrieval_metrics

#: Default standard deviation of the velocity observation noise (speeds are ~ lag.RMS_SPEED = 6,
#: and the midpoint finite differences of every 10th point are accurate to ~1e-3 of that).
NOISE = 1e-2
#: Default spacing: every 10th recorded point (every 1e-3 time units, 100 velocities per path).
EVERY = 10
#: Trajectories per batched solve (a (chunk, 2M, 2K) design array in memory).
CHUNK = 128
_TWO_PI = 2.0 * np.pi
_POINTS = Array(shape=(None, 2))
_FREQS = Array(ndim=1)


@validate_params(x=_POINTS, t=Array(), freqs=_FREQS, wavevectors=_POINTS)
def velocity_matrix(x, t, freqs, wavevectors):
    r"""The (n, 2, 2K) matrices :math:`A(x_i, t_i)` with :math:`w(x_i, t_i) = A(x_i, t_i)\,c`.

    Parameters
    ----------
    x : (n, 2) array_like
        Positions.
    t : float or (n,) array_like
        Times (one per position, or one for all).
    freqs : (K,) array_like
        Temporal frequencies :math:`\omega_k`.
    wavevectors : (K, 2) int array_like

    Returns
    -------
    (n, 2, 2K) float64 array
        Columns ``0..K-1`` multiply :math:`\mathrm{Re}\, c_k`, columns ``K..2K-1``
        :math:`\mathrm{Im}\, c_k` (the layout of :func:`gaussclip.data.lagrangian.to_real`).

    Examples
    --------
    >>> kv = lag.wavevectors()
    >>> c = lag.sample_coefficients(1, np.random.default_rng(0), kv)
    >>> f = lag.frequencies(kv)
    >>> x = np.array([[0.3, 0.6]])
    >>> w = velocity_matrix(x, 0.01, f, kv) @ lag.to_real(c)[0]
    >>> bool(np.allclose(w, lag.velocity(x, 0.01, c, f, kv)))
    True
    """
    _same_length(freqs, wavevectors)
    if t.ndim > 1 or (t.ndim == 1 and t.shape[0] != x.shape[0]):
        raise ShapeError(
            f"`t` must be a number or one time per position, shape ({x.shape[0]},); got shape "
            f"{t.shape}."
        )
    return _velocity_matrix(x, np.broadcast_to(t, x.shape[:1]), freqs, wavevectors)


def _same_length(freqs, wavevectors):
    if freqs.shape[0] != wavevectors.shape[0]:
        raise ShapeError(
            f"`freqs` must hold one frequency per wavevector ({wavevectors.shape[0]}); got "
            f"{freqs.shape[0]}."
        )


def _velocity_matrix(x, t, freqs, kv):
    """Unchecked kernel of :func:`velocity_matrix`; ``x`` (..., 2), ``t`` (...)."""
    phase = t[..., None] * freqs + _TWO_PI * (x @ kv.T)  # (..., K)
    sin, cos = np.sin(phase), np.cos(phase)
    k1, k2 = _TWO_PI * kv[:, 0], _TWO_PI * kv[:, 1]
    # w1 = -d psi/dx2 = sum 2 pi k2 (a sin + b cos); w2 = d psi/dx1 = -sum 2 pi k1 (a sin + b cos)
    row1 = np.concatenate([k2 * sin, k2 * cos], axis=-1)
    row2 = np.concatenate([-k1 * sin, -k1 * cos], axis=-1)
    return np.stack([row1, row2], axis=-2)


def prior_std(wavevectors, decay=lag.DECAY, rms_speed=lag.RMS_SPEED):
    """(2K,) standard deviations of the real coefficients ``[Re c, Im c]``: each is
    ``coefficient_std / sqrt(2)`` (circular complex Gaussians), 0 for k = 0."""
    std = lag.coefficient_std(wavevectors, decay, rms_speed) / np.sqrt(2.0)
    return np.concatenate([std, std])


@validate_params(
    trajectories=Array(shape=(None, None, 2)),
    times=Array(ndim=1),
    every=Integer(low=1),
    x0=Array(shape=(2,)),
)
def observations(trajectories, times, *, every=EVERY, x0=lag.X0):
    """Midpoint finite-difference velocities along trajectories (module docstring).

    Parameters
    ----------
    trajectories : (n, J, 2) array_like
        Unwrapped positions at ``times`` (the release point is not included).
    times : (J,) array_like
        Increasing recording times, all > 0.
    every : int
        Use every ``every``-th recorded point (indices ``every - 1, 2 every - 1, ...``),
        preceded by the release point ``x0`` at time 0.
    x0 : (2,) array_like

    Returns
    -------
    midpoints : (n, M, 2) array
    mid_times : (M,) array
    velocities : (n, M, 2) array
    """
    paths = trajectories
    if times.shape[0] != paths.shape[1]:
        raise ShapeError(
            f"`times` must hold one time per recorded point ({paths.shape[1]}); got "
            f"{times.shape[0]}."
        )
    if every > paths.shape[1]:
        raise DomainError(f"`every` must be at most J = {paths.shape[1]}; got {every}.")
    if not (times[0] > 0 and np.all(np.diff(times) > 0)):
        raise DomainError("`times` must be increasing and positive (the release is at t = 0).")
    keep = np.arange(every - 1, paths.shape[1], every)
    points = np.concatenate([np.broadcast_to(x0, (paths.shape[0], 1, 2)), paths[:, keep]], 1)
    tau = np.concatenate([[0.0], times[keep]])
    velocities = np.diff(points, axis=1) / np.diff(tau)[None, :, None]
    return 0.5 * (points[:, 1:] + points[:, :-1]), 0.5 * (tau[1:] + tau[:-1]), velocities


@validate_params(
    freqs=_FREQS,
    wavevectors=_POINTS,
    noise=Real(low=0.0, low_open=True),
    std=Optional(Array(ndim=1)),
)
def posterior_mean_embedding(
    trajectories, times, freqs, wavevectors, *, noise=NOISE, every=EVERY, x0=lag.X0, std=None
):
    r"""Posterior mean of the real coefficients given each trajectory (module docstring).

    Parameters
    ----------
    trajectories : (n, J, 2) array_like
        Unwrapped positions at ``times``.
    times : (J,) array_like
    freqs : (K,) array_like
    wavevectors : (K, 2) int array_like
        The flow law of the data set (``data.freqs``, ``data.wavevectors``).
    noise : float
        Standard deviation :math:`\sigma > 0` of each finite-difference velocity component.
    every : int
        Spacing of the points used, in recorded points (default 10: 100 velocities per path).
    x0 : (2,) array_like
        Release point (default (0.75, 0.75)).
    std : (2K,) array_like, optional
        Prior standard deviations of ``[Re c, Im c]``; default :func:`prior_std` of the
        simulator's law (decay 2, RMS speed 6).

    Returns
    -------
    (n, 2K) float64 array
        :math:`\hat c` per trajectory, in the layout of ``data.coefficients``.
    """
    kv = wavevectors
    _same_length(freqs, kv)
    s = prior_std(kv) if std is None else std
    if s.shape != (2 * kv.shape[0],):
        raise ShapeError(f"`std` must have shape ({2 * kv.shape[0]},) (2K); got {s.shape}.")
    if np.any(s < 0):
        raise DomainError("`std` must be non-negative (prior standard deviations).")
    mid, mid_t, y = observations(trajectories, times, every=every, x0=x0)
    out = np.empty((mid.shape[0], 2 * kv.shape[0]))
    eye = noise**2 * np.eye(2 * kv.shape[0])
    for start in range(0, mid.shape[0], CHUNK):
        sl = slice(start, start + CHUNK)
        design = _velocity_matrix(mid[sl], np.broadcast_to(mid_t, mid[sl].shape[:2]), freqs, kv)
        design = design.reshape(design.shape[0], -1, design.shape[-1]) * s  # A S: (c, 2M, 2K)
        gram = np.einsum("nmi,nmj->nij", design, design) + eye  # S A^T A S + sigma^2 I
        rhs = np.einsum("nmi,nm->ni", design, y[sl].reshape(design.shape[0], -1))
        out[sl] = s * np.linalg.solve(gram, rhs[..., None])[..., 0]
    return out


def reference_metrics(data, rng, *, noise=NOISE, every=EVERY):
    """R@1 and R@5 of the posterior-mean embedding against the coefficients of ``data`` (a
    :class:`~gaussclip.data.lagrangian.LagrangianData`), in the format of
    :func:`gaussclip.experiments.lagrangian_metrics.retrieval_metrics` (full set and batches of
    128), plus the settings used."""
    params = data.params
    std = prior_std(data.wavevectors, params.get("decay", lag.DECAY),
                    params.get("rms_speed", lag.RMS_SPEED))  # fmt: skip
    embedding = posterior_mean_embedding(
        data.trajectories, data.times, data.freqs, data.wavevectors,
        noise=noise, every=every, x0=params.get("x0", lag.X0), std=std,
    )  # fmt: skip
    out = retrieval_metrics(data.coefficients, embedding, rng)
    out["settings"] = {"noise": noise, "every": every, "n_velocities": len(data.times) // every}
    return out
