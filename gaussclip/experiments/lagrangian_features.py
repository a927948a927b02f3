r"""Physics-informed tokens for the Section 6.3 trajectory encoder.

The velocity of the flow is linear in its real coefficient vector :math:`c` (eqs. 58-59):
:math:`w(x, t) = A(x, t)\,c` with the (2, 2K) matrix of
:func:`gaussclip.experiments.lagrangian_reference.velocity_matrix`. A trajectory observes
velocities :math:`y_m \approx A_m c` (midpoint finite differences of every ``every``-th recorded
point, :func:`~gaussclip.experiments.lagrangian_reference.observations`), so the flow law turns
each observation into a statement about :math:`c`. The tokens of this module put that statement
into the transformer's input; they use the data set's frequencies :math:`\omega_k` and
wavevectors (the flow law, known to the experimenter and shared by every pair), never the
coefficients. With the prior scales :math:`S = \mathrm{diag}(s)`
(:func:`~gaussclip.experiments.lagrangian_reference.prior_std`) and :math:`B_m = A_m S`:

* ``"matched"`` (:func:`matched_filter_tokens`): a token of ``per_token`` consecutive
  observations carries the prior-whitened matched filter :math:`\sum_m B_m^\top y_m / (6 n)`
  (98 numbers; ``n = per_token``, 6 the RMS speed): a correlation of the observed velocities with
  every Fourier mode at the observed place and time.
* ``"local_posterior"`` (:func:`local_posterior_tokens`): a token carries the whitened Gaussian
  posterior mean :math:`S^{-1}\hat c_p = B_p^\top (B_p B_p^\top + \sigma^2 I)^{-1} y_p` of the
  coefficients given **only its own** observations :math:`y_p` (prior :math:`N(0, S^2)`, noise
  :math:`\sigma`): a Bayesian inversion of one piece of the path. The posterior given the whole
  path (the physics reference of Figure 14) is *not* a function the transformer is handed: the
  pieces' estimates have to be fused, and their fusion depends on the path (each piece
  constrains different modes).

Both are ``(n, J / (every per_token), 2K)`` arrays: one token per ``every * per_token``
recorded points, 98 features each (entries of the k = 0 mode, whose prior scale is 0, are 0).
"""

import numpy as np

from .._validation import Array, Integer, Real, validate_params
from ..data import lagrangian as lag
from ..errors import ShapeError
from . import lagrangian_reference as ref

#: Trajectories per vectorized piece of work (keeps the (chunk, M, 2, 2K) design in ~16 MB).
CHUNK = 128
_PATHS = Array(shape=(None, None, 2))
_POINTS = Array(shape=(None, 2))


def _designs(trajectories, times, freqs, wavevectors, every, x0):
    """Whitened designs B (n, M, 2, 2K) and velocities y (n, M, 2) of a chunk."""
    mid, mid_t, y = ref.observations(trajectories, times, every=every, x0=x0)
    design = ref._velocity_matrix(mid, np.broadcast_to(mid_t, mid.shape[:2]), freqs, wavevectors)
    return design * ref.prior_std(wavevectors), y


def _check(trajectories, times, freqs, wavevectors, every, per_token):
    if freqs.shape[0] != wavevectors.shape[0]:
        raise ShapeError(
            f"`freqs` must hold one frequency per wavevector ({wavevectors.shape[0]}); got "
            f"{freqs.shape[0]}."
        )
    n_obs = trajectories.shape[1] // every
    if n_obs % per_token:
        raise ShapeError(
            f"`per_token` must divide the {n_obs} observations (J = {trajectories.shape[1]} "
            f"points, every {every}); got {per_token}."
        )


def _tokens(trajectories, times, freqs, wavevectors, every, per_token, x0, reduce):
    n = trajectories.shape[0]
    n_tokens = trajectories.shape[1] // every // per_token
    out = np.empty((n, n_tokens, 2 * wavevectors.shape[0]), dtype=np.float32)
    for start in range(0, n, CHUNK):
        paths = np.asarray(trajectories[start : start + CHUNK], dtype=np.float64)
        design, y = _designs(paths, times, freqs, wavevectors, every, x0)
        c = design.shape[0]
        # (c, tokens, 2 per_token, 2K) and (c, tokens, 2 per_token): a token's observations
        design = design.reshape(c, n_tokens, 2 * per_token, design.shape[-1])
        out[start : start + c] = reduce(design, y.reshape(c, n_tokens, 2 * per_token))
    return out


#: Constraints shared by the token functions: the paths, the flow law and the tokenization.
_TOKEN_CONSTRAINTS = {
    "trajectories": _PATHS,
    "times": Array(ndim=1),
    "freqs": Array(ndim=1),
    "wavevectors": _POINTS,
    "every": Integer(low=1),
    "per_token": Integer(low=1),
    "x0": Array(shape=(2,)),
}


@validate_params(_TOKEN_CONSTRAINTS)
def matched_filter_tokens(
    trajectories, times, freqs, wavevectors, *, every=ref.EVERY, per_token=10, x0=lag.X0
):
    r"""Tokens of whitened matched filters :math:`\sum_{m \in p} B_m^\top y_m / (6 n)`.

    Parameters
    ----------
    trajectories : (n, J, 2) array_like
        Unwrapped positions at ``times``.
    times : (J,) array_like
    freqs : (K,) array_like
    wavevectors : (K, 2) int array_like
        The flow law (``data.freqs``, ``data.wavevectors``).
    every : int
        Spacing of the observations in recorded points (default 10: 100 velocities per path).
    per_token : int
        Consecutive observations summed into one token (must divide ``J // every``).
    x0 : (2,) array_like
        Release point.

    Returns
    -------
    (n, J // (every per_token), 2K) float32 array
    """
    _check(trajectories, times, freqs, wavevectors, every, per_token)
    scale = 1.0 / (lag.RMS_SPEED * per_token)

    def reduce(design, y):
        return scale * np.einsum("ctmk,ctm->ctk", design, y)

    return _tokens(trajectories, times, freqs, wavevectors, every, per_token, x0, reduce)


@validate_params(_TOKEN_CONSTRAINTS, noise=Real(low=0.0, low_open=True))
def local_posterior_tokens(
    trajectories,
    times,
    freqs,
    wavevectors,
    *,
    every=ref.EVERY,
    per_token=10,
    noise=ref.NOISE,
    x0=lag.X0,
):
    r"""Tokens of whitened posterior means given each token's own observations.

    Token p holds :math:`S^{-1}\hat c_p = B_p^\top (B_p B_p^\top + \sigma^2 I)^{-1} y_p`, the
    posterior mean of the coefficients (prior :math:`N(0, S^2)`) given the ``per_token``
    velocities :math:`y_p` of its piece of path with noise ``sigma`` (the dual form of
    :func:`~gaussclip.experiments.lagrangian_reference.posterior_mean_embedding`, solved in the
    2 ``per_token`` dimensions of the observations). Parameters as in
    :func:`matched_filter_tokens`, plus ``noise`` (:math:`\sigma > 0`).

    Returns
    -------
    (n, J // (every per_token), 2K) float32 array
    """
    _check(trajectories, times, freqs, wavevectors, every, per_token)
    eye = noise**2 * np.eye(2 * per_token)

    def reduce(design, y):
        gram = design @ np.swapaxes(design, -1, -2) + eye  # B_p B_p^T + sigma^2 I
        alpha = np.linalg.solve(gram, y[..., None])[..., 0]
        return np.einsum("ctmk,ctm->ctk", design, alpha)

    return _tokens(trajectories, times, freqs, wavevectors, every, per_token, x0, reduce)
