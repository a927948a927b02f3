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

import numbers

import numpy as np

from ._checks import plain_pair, weights_pair
from ._validation import (
    Array,
    Choice,
    Constraint,
    InstanceOf,
    Integer,
    Optional,
    Real,
    Seed,
    fail,
    validate_params,
)
from .errors import ArgumentTypeError, DomainError, OptionError
from .gaussian import JointGaussian
from .linalg import solve_lower
from .tilting import (
    TILTINGS,
    canonical_parameters,
    domain_error,
    model_correlation_values,
)

LOSSES = ("cond", "joint")

#: Named weightings of the conditional loss (Optimization Problem 3.4): ``"u|v"`` matches
#: :math:`\mu_{u|v}` only, ``"v|u"`` matches :math:`\mu_{v|u}` only, ``"both"`` is CLIP. Section
#: 6.2 of the paper swaps the tuple names of the first two; the presets say what is matched.
WEIGHT_PRESETS = {"u|v": (2.0, 0.0), "v|u": (0.0, 2.0), "both": (1.0, 1.0)}


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


class Weights(Constraint):
    """``(lambda_u, lambda_v)``: a pair of finite non-negative numbers, not both zero, or one of
    the presets of :data:`WEIGHT_PRESETS`; returns a tuple of two floats."""

    def describe(self):
        """What a valid value is, as the phrase after "must be"."""
        return (
            "a pair (lambda_u, lambda_v) of finite non-negative numbers, not both zero, or one "
            "of the presets 'u|v' (= (2, 0)), 'v|u' (= (0, 2)), 'both' (= (1, 1))"
        )

    def __call__(self, value, name):
        plain = plain_pair(value)
        if plain is not None:
            return plain
        if isinstance(value, str):
            if value not in WEIGHT_PRESETS:
                fail(OptionError, name, self.describe(), value)
            return WEIGHT_PRESETS[value]
        if isinstance(value, numbers.Number) or value is None:
            fail(OptionError, name, self.describe(), value)
        if np.iscomplexobj(value):
            fail(
                ArgumentTypeError,
                name,
                self.describe(),
                value,
                "Complex weights are not supported.",
            )
        return weights_pair(value, name)


def loss_weights(loss, weights):
    """Validated ``(lambda_u, lambda_v)``; the joint loss accepts only the default (1, 1)."""
    lam = Weights()(weights, "weights")
    if loss == "joint" and lam != (1.0, 1.0):
        raise OptionError(
            f"`weights` apply to loss='cond' only (the joint loss KL(mu || nu) has none); got "
            f"{lam} with loss='joint'. Drop `weights`."
        )
    return lam


def expected_conditional_kl(params, side):
    r"""Expected KL between the data and model conditionals of one side, in canonical
    coordinates.

    For ``side="u"``: :math:`E_{v\sim\mu_v} D_{KL}(\mu_{u|v}(\cdot|v)\|\nu_{u|v}(\cdot|v))`.
    In canonical coordinates :math:`\mu_{a|b} = N(\Sigma b, S)` with
    :math:`S = I - \Sigma\Sigma^\top` diagonal and :math:`\nu_{a|b} = N(P^{-1}A'b, P^{-1})`
    (eqs. 41a, 48a), :math:`P = I + B' = LL^\top`; Lemma E.1 and :math:`E[bb^\top] = I` give

    .. math:: \tfrac12\bigl[\operatorname{Tr}(B'S) - \log|P|
              + \textstyle\sum_i(-\sigma_i^2 - \log(1 - \sigma_i^2))
              + \|L^{-1}E\|_F^2\bigr],\qquad E = A' - P\Sigma ,

    with :math:`\log|P| = 2\sum_i\log L_{ii}` and :math:`\|L^{-1}E\|_F^2 =
    \operatorname{Tr}(E^\top P^{-1}E)`: every term written without cancellation of large numbers.
    """
    can = params.canonical
    extra, coupling, factor = params.side(side)
    sig = can.sigma_matrix if side == "u" else can.sigma_matrix.T
    value = can.conditional_information  # the sum over sigma, computed once per mu
    error = coupling - sig
    if extra is not None:
        trace = extra.diagonal() @ can.residual_variances[side]
        value += float(trace - 2.0 * np.log(factor.diagonal()).sum())
        error = solve_lower(factor, error - np.dot(extra, sig))
    flat = error.ravel(order="K")  # the squared Frobenius norm as one dot product
    return 0.5 * (value + float(np.dot(flat, flat)))


def joint_kl(params, tilting):
    r""":math:`D_{KL}(\mu\|\nu)` in canonical coordinates: with :math:`a_i` the singular values
    of :math:`L_P^{-1}A'L_Q^{-\top}` (those of :math:`P^{-1/2}A'Q^{-1/2}`, the model's canonical
    correlations; :math:`P = L_PL_P^\top`, :math:`Q = L_QL_Q^\top`),

    .. math:: \tfrac12\bigl[\operatorname{Tr}B' + \operatorname{Tr}C' - 2\sum_i A'_{ii}\sigma_i
              - \log|P| - \log|Q| - \sum_i\log(1 - a_i^2) - \sum_i\log(1 - \sigma_i^2)\bigr].

    Raises :class:`~gaussclip.errors.DomainError` outside the domain of the joint loss (some
    :math:`a_i \ge 1`, decided exactly).
    """
    can = params.canonical
    a = model_correlation_values(params)
    top = float(a[0]) if a.size else 0.0
    if not top < 1.0:
        raise domain_error(tilting, top)
    value = -2.0 * float(params.A.diagonal() @ can.sigma)  # the diagonal has k entries
    value -= float((np.log((1.0 - a) * (1.0 + a))).sum())
    value -= can.log_one_minus_sigma_sq
    if params.B is not None:
        value += float(params.B.trace() - 2.0 * np.log(params.factor_p.diagonal()).sum())
        value += float(params.C.trace() - 2.0 * np.log(params.factor_q.diagonal()).sum())
    return 0.5 * value


def finite_objective(value, what="the objective"):
    """``value`` clamped at 0 (J is a divergence: a negative value is rounding), or a
    :class:`~gaussclip.errors.DomainError` when it overflowed."""
    if not np.isfinite(value):
        raise DomainError(
            f"{what} is not representable in float64 at these parameters (it overflows): the "
            "parameters are too large for the data's scale. Rescale `A` (or `G`, `H`)."
        )
    return max(float(value), 0.0)


def gaussian_objective(loss, tilting, weights, params):
    """J of a Gaussian tilting at :class:`~gaussclip.tilting.CanonicalParameters` (see
    :func:`population_loss`)."""
    with np.errstate(over="ignore", invalid="ignore"):
        if loss == "joint":
            value = joint_kl(params, tilting)
        else:
            lam_u, lam_v = weights
            value = 0.0
            if lam_u:
                value += 0.5 * lam_u * expected_conditional_kl(params, "u")
            if lam_v:
                value += 0.5 * lam_v * expected_conditional_kl(params, "v")
    return finite_objective(value)


_MU = InstanceOf((JointGaussian,), hint="E.g. gc.JointGaussian(cov, n_u).")
_MATRIX = Optional(Array(ndim=2))


@validate_params(
    mu=_MU,
    loss=Choice(LOSSES),
    tilting=Choice(TILTINGS),
    A=_MATRIX,
    B=_MATRIX,
    C=_MATRIX,
    G=_MATRIX,
    H=_MATRIX,
    weights=Weights(),
    temperature=Real(low=0.0, low_open=True),
    n_samples=Integer(low=1),
    rng=Seed(allow_none=True),
)
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
    n_samples=2**16,  # gaussclip.cosine.DEFAULT_SAMPLES (tests/test_cosine.py keeps them equal)
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
    weights : (float, float) or {"u|v", "v|u", "both"}
        :math:`(\lambda_u, \lambda_v)` of the conditional loss; ``(1, 1)`` (``"both"``) is
        CLIP, ``"u|v"`` = (2, 0) matches :math:`\mu_{u|v}` only, ``"v|u"`` = (0, 2).
    temperature : float
        :math:`\tau` of the cosine tilting (ignored otherwise), at least
        :data:`gaussclip.cosine.MIN_TEMPERATURE`.
    n_samples : int
        Joint draws (a power of two) of the cosine tilting's quasi-Monte Carlo estimator, used
        unless it is exact (one embedding dimension, or n_u = n_v = 1).
    rng : int, numpy.random.Generator or None
        Scrambles the estimator's point sets: the estimate is a deterministic function of an
        int seed; None draws fresh OS entropy (a new, independent estimate per call).

    Returns
    -------
    Estimate
        A float >= 0 (J is a sum of divergences: rounding, or a quasi-Monte Carlo estimate
        within its standard error of 0, that would make it negative is clamped at 0);
        ``.stderr`` is 0 except for quasi-Monte Carlo estimates (the cosine tilting beyond rank
        one) and ``.method`` says how it was computed (``"exact"`` or
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
    if loss == "joint" and weights != (1.0, 1.0):
        loss_weights(loss, weights)
    if tilting == "cosine":
        # cosine.py differentiates with autograd: imported on first use, so that
        # `import gaussclip` stays free of autograd (tests/test_layering.py).
        from .cosine import cosine_population_loss

        if A is not None or B is not None or C is not None:
            raise OptionError(
                "the cosine tilting is parametrized by the encoders `G` and `H` (normalization "
                "makes it depend on more than A = G^T H); pass G and H instead of A, B, C."
            )
        value, stderr, method = cosine_population_loss(
            mu,
            loss,
            G,
            H,
            weights,
            temperature=temperature,
            n_samples=n_samples,
            rng=rng,
        )
        # J >= 0; an estimate within its error of 0 may land below it: clamped like rounding.
        return Estimate(max(value, 0.0), stderr=stderr, method=method)
    params = canonical_parameters(mu, tilting, A=A, B=B, C=C, G=G, H=H)
    return Estimate(gaussian_objective(loss, tilting, weights, params))
