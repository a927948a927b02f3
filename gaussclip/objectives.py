r"""Exact population objectives J for every loss x tilting pair.

All objectives are written as divergences, so :math:`J \ge 0` with equality exactly when the
distributions it compares match:

* ``loss="cond"`` (Optimization Problems 3.1, 3.4 with the KL divergence),

  .. math:: J_{cond} = \tfrac{\lambda_u}{2} E_{v\sim\mu_v} D_{KL}(\mu_{u|v}\|\nu_{u|v})
            + \tfrac{\lambda_v}{2} E_{u\sim\mu_u} D_{KL}(\mu_{v|u}\|\nu_{v|u});

* ``loss="joint"`` (Optimization Problem 3.6): :math:`J_{joint} = D_{KL}(\mu\|\nu)`.

They differ from the paper's losses L by constants (Theorems 3.2, 3.8): with weights (1, 1),
:math:`J = L + I(u; v)`. For the Gaussian tiltings they are computed in closed form in the
original coordinates (Lemma E.1 and the Schur complements (37)); for the cosine tilting see
:mod:`gaussclip.cosine`.
"""

import numpy as np

from ._checks import choice, weights_pair
from .cosine import DEFAULT_SAMPLES, cosine_population_loss
from .errors import OptionError
from .gaussian import check_joint
from .tilting import TILTINGS, check_parameters, conditional_precision, precision_spd

LOSSES = ("cond", "joint")


class Estimate(float):
    """A loss value that also says how it was computed: a ``float`` with ``stderr`` (0 for
    exact values) and ``method`` (``"exact"`` or ``"quasi-monte-carlo"``)."""

    def __new__(cls, value, stderr=0.0, method="exact"):
        obj = super().__new__(cls, value)
        obj.stderr = float(stderr)
        obj.method = method
        return obj

    def __reduce__(self):
        return (Estimate, (float(self), self.stderr, self.method))

    def __repr__(self):
        if self.method == "exact":
            return float.__repr__(self)
        return f"Estimate({float(self)!r}, stderr={self.stderr:.2g}, method={self.method!r})"


def loss_weights(loss, weights):
    """Validated ``(lambda_u, lambda_v)``; the joint loss accepts only the default (1, 1)."""
    lam = weights_pair(weights)
    if loss == "joint" and lam != (1.0, 1.0):
        raise OptionError(
            f"`weights` apply to loss='cond' only (the joint loss KL(mu || nu) has none); got "
            f"{lam} with loss='joint'. Drop `weights`."
        )
    return lam


def expected_conditional_kl(mu, side, A, B=None, C=None):
    r"""Expected KL between the data and model conditionals of one side.

    For ``side="u"``: :math:`E_{v\sim\mu_v} D_{KL}(\mu_{u|v}(\cdot|v)\|\nu_{u|v}(\cdot|v))`.
    With :math:`\nu_{u|v} = N(m_u + P^{-1}A(v - m_v), P^{-1})`, :math:`P = \mathcal C_{uu}^{-1}+B`
    (eqs. 41a, 48a), the gain error :math:`D = P^{-1}A - \mathcal C_{uv}\mathcal C_{vv}^{-1}` and
    Lemma E.1,

    .. math:: \tfrac12\bigl[\operatorname{Tr}(P\mathcal C_{u|v}) - n_u - \log|P|
              - \log|\mathcal C_{u|v}| + \operatorname{Tr}(D^\top P D\,\mathcal C_{vv})\bigr].
    """
    gain, spd_p = conditional_precision(mu, side, A, B, C)
    schur = mu._conditional_spd(side)
    error = gain - mu.gain(side)
    other_cov = mu.Cvv if side == "u" else mu.Cuu
    p = spd_p.matrix
    mean_term = float(np.sum((p @ error) * (error @ other_cov)))
    trace = float(np.sum(p * schur.matrix))
    return 0.5 * (trace - spd_p.dim + mean_term - spd_p.logdet - schur.logdet)


def joint_kl(mu, A, B=None, C=None):
    r""":math:`D_{KL}(\mu\|\nu)` for the Gaussian tilted model with precision :math:`\Theta`
    (eq. 40 or 47), equal means: :math:`\tfrac12[\operatorname{Tr}(\Theta\mathcal C) - d -
    \log|\Theta| - \log|\mathcal C|]`, with :math:`\log|\mathcal C| = \log|\mathcal C_{uu}| +
    \log|\mathcal C_{v|u}|`.

    Raises :class:`~gaussclip.errors.DomainError` outside the domain of the joint loss.
    """
    theta = precision_spd(mu, A, B, C)
    logdet_data = mu.spd("u").logdet + mu._conditional_spd("v").logdet
    trace = float(np.sum(theta.matrix * mu.cov))
    return 0.5 * (trace - mu.dim - theta.logdet - logdet_data)


def population_loss(
    mu,
    loss,
    tilting,
    *,
    A=None,
    B=None,
    C=None,
    G=None,
    H=None,
    weights=(1.0, 1.0),
    temperature=1.0,
    n_samples=DEFAULT_SAMPLES,
    rng=None,
):
    r"""The exact population objective :math:`J \ge 0` of a loss at given parameters.

    Parameters
    ----------
    mu : JointGaussian
        Data distribution.
    loss : {"cond", "joint"}
        Conditional (with ``weights``) or joint KL loss.
    tilting : {"inner", "quadratic", "cosine"}
        ``"inner"``: :math:`\exp\langle Gu, Hv\rangle` (parameters ``A``, or ``G`` and ``H``);
        ``"quadratic"``: :math:`\exp(-\tfrac12|Gu - Hv|^2)` (``A``, ``B``, ``C``, or ``G``,
        ``H``); ``"cosine"``: normalized encoders, :math:`\exp(\langle \bar g_u, \bar g_v
        \rangle/\tau)` (``G`` and ``H`` only).
    A : (n_u, n_v) array_like, optional
    B : (n_u, n_u) array_like, optional
    C : (n_v, n_v) array_like, optional
    G : (n_e, n_u) array_like, optional
    H : (n_e, n_v) array_like, optional
    weights : (float, float)
        :math:`(\lambda_u, \lambda_v)` of the conditional loss; ``(1, 1)`` is CLIP.
    temperature : float
        :math:`\tau` of the cosine tilting (ignored otherwise).
    n_samples : int
        Joint draws (a power of two) of the cosine tilting's quasi-Monte Carlo estimator, used
        unless it is exact (one embedding dimension, or n_u = n_v = 1).
    rng : int, numpy.random.Generator or None
        Scrambles the estimator's point sets: the estimate is a deterministic function of an
        int seed; None draws fresh OS entropy (a new, independent estimate per call).

    Returns
    -------
    Estimate
        A float; ``.stderr`` is 0 except for quasi-Monte Carlo estimates (the cosine tilting
        beyond rank one) and ``.method`` says how it was computed (``"exact"`` or
        ``"quasi-monte-carlo"``).

    Examples
    --------
    >>> import gaussclip as gc
    >>> mu = gc.JointGaussian([[1.5, 1.0], [1.0, 1.5]], n_u=1)
    >>> sol = gc.minimize(mu, "cond", "inner")
    >>> J = gc.population_loss(mu, "cond", "inner", A=sol.A)
    >>> bool(abs(J - sol.objective) < 1e-12)
    True
    """
    mu = check_joint(mu)
    loss = choice(loss, "loss", LOSSES)
    tilting = choice(tilting, "tilting", TILTINGS)
    lam_u, lam_v = loss_weights(loss, weights)
    if tilting == "cosine":
        if A is not None or B is not None or C is not None:
            raise OptionError(
                "the cosine tilting is parametrized by the encoders `G` and `H` (normalization "
                "makes it depend on more than A = G^T H); pass G and H instead of A, B, C."
            )
        value, stderr, method = cosine_population_loss(
            mu, loss, G, H, (lam_u, lam_v), temperature=temperature, n_samples=n_samples, rng=rng
        )
        return Estimate(value, stderr=stderr, method=method)
    A, B, C = check_parameters(mu, tilting, A=A, B=B, C=C, G=G, H=H)
    if loss == "joint":
        return Estimate(joint_kl(mu, A, B, C))
    value = 0.0
    if lam_u:
        value += 0.5 * lam_u * expected_conditional_kl(mu, "u", A, B, C)
    if lam_v:
        value += 0.5 * lam_v * expected_conditional_kl(mu, "v", A, B, C)
    return Estimate(value)
