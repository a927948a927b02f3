r"""``minimize``: what each contrastive loss learns from Gaussian data.

Closed forms (:mod:`gaussclip.closed_forms`) map back from canonical coordinates through the
cached decomposition of :math:`\mu`:

.. math:: A = X_u\operatorname{diag}(\alpha)X_v^\top,\quad
          G = \operatorname{diag}(g)X_u^\top,\quad H = \operatorname{diag}(h)X_v^\top ,

with one embedding dimension per kept canonical pair (Remark D.3). Everything else is minimized
numerically (:mod:`gaussclip.numerical`) and certified.
"""

import dataclasses
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from ._validation import (
    AnyOf,
    Choice,
    InstanceOf,
    Integer,
    Optional,
    Real,
    fail,
    validate_params,
)
from .closed_forms import (
    closed_form_method,
    has_closed_form,
    pair_objective,
    pair_solution,
    weight_pattern,
)
from .errors import ConvergenceWarning, OptionError, RankError
from .gaussian import JointGaussian, readonly
from .objectives import LOSSES, Weights, finite_objective, loss_weights
from .tilting import TILTINGS, encoder_products, pair_model, tilted

if TYPE_CHECKING:  # the numerical route needs autograd: loaded on first use (see below)
    from .numerical import Certificate

METHODS = ("auto", "closed-form", "numerical")
#: The default of ``n_samples``: :data:`gaussclip.cosine.DEFAULT_SAMPLES`, repeated here so that
#: importing the engine does not load the cosine module (autograd); a test keeps them equal.
COSINE_DEFAULT_SAMPLES = 2**16


@dataclass(frozen=True)
class PairParameters:
    """Per canonical pair parameters of a closed-form solution (zero beyond the rank).

    ``beta`` and ``gamma`` are None for the inner tilting.
    """

    sigma: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray | None
    gamma: np.ndarray | None


@dataclass(frozen=True, eq=False)
class Solution:
    """The minimizer of a loss x tilting pair for data ``mu``.

    Attributes
    ----------
    A : (n_u, n_v) array or None
        :math:`G^\\top H` (None for the cosine tilting, which is not a function of it).
    B, C : arrays or None
        :math:`G^\\top G`, :math:`H^\\top H` for the quadratic tilting; None otherwise.
    G : (r, n_u) array
        Encoder of u, :math:`g_u(u) = G(u - m_u)`, with r <= ``rank`` rows.
    H : (r, n_v) array
        Encoder of v.
    objective : float
        The objective J >= 0 at the minimizer: exact (a divergence: where rounding would make
        it a few ulps negative it is clamped at 0), or for the cosine tilting beyond rank one a
        quasi-Monte Carlo estimate (clamped at 0) whose standard error is
        ``certificate.stderr``.
    method : {"closed-form", "closed-form (scalar root)", "numerical"}
        How the minimizer was obtained; ``"closed-form (scalar root)"`` means one bracketed
        scalar root per canonical pair (cond x quadratic with unequal two-sided weights,
        :func:`gaussclip.closed_forms.cond_quadratic_weighted`).
    pairs : PairParameters or None
        Canonical-pair parameters (closed forms only).
    certificate : Certificate or None
        Convergence evidence (numerical solutions only).
    model : JointGaussian or CosineTiltedModel
        The learned :math:`\\nu` (computed on first access).
    """

    mu: object = field(repr=False)
    loss: str
    tilting: str
    weights: tuple
    rank: int
    A: np.ndarray | None = field(repr=False)
    B: np.ndarray | None = field(repr=False)
    C: np.ndarray | None = field(repr=False)
    G: np.ndarray = field(repr=False)
    H: np.ndarray = field(repr=False)
    objective: float
    method: str
    pairs: PairParameters | None = field(default=None, repr=False)
    certificate: "Certificate | None" = None
    temperature: float = 1.0

    @cached_property
    def model(self):
        """The learned joint :math:`\\nu` (JointGaussian, or CosineTiltedModel for cosine)."""
        if self.tilting == "cosine":
            from .cosine import CosineTiltedModel  # autograd: loaded only when needed

            seed = None if self.certificate is None else self.certificate.seed
            return CosineTiltedModel(
                self.mu, self.G, self.H, temperature=self.temperature, rng=seed
            )
        if self.pairs is not None:  # closed form: built per canonical pair, exists by construction
            p = self.pairs
            r = self.rank
            return pair_model(
                self.mu,
                p.alpha[:r],
                None if p.beta is None else p.beta[:r],
                None if p.gamma is None else p.gamma[:r],
            )
        return tilted(self.mu, self.A, self.B, self.C, tilting=self.tilting)


def _closed_form(mu, loss, tilting, weights, rank):
    canonical = mu.canonical()
    sigma = canonical.sigma
    alpha, beta, gamma = pair_solution(loss, tilting, weights, sigma)
    kept = np.arange(sigma.size) < rank
    alpha, beta, gamma = (
        None if x is None else np.where(kept, x, 0.0) for x in (alpha, beta, gamma)
    )
    objective = finite_objective(
        float(np.sum(pair_objective(loss, weights, sigma, alpha, beta, gamma)))
    )
    a = alpha[:rank]
    A = canonical.product("u", "v", a)
    if tilting == "inner":
        B = C = None
        g_scale = h_scale = np.sqrt(a)  # balanced factorization, alpha >= 0
    else:
        b, c = beta[:rank], gamma[:rank]
        B = canonical.product("u", "u", b)
        C = canonical.product("v", "v", c)
        g_scale, h_scale = np.sqrt(b), np.sqrt(c)  # g * h = alpha on every closed form
    G = readonly(g_scale[:, None] * canonical.basis_u[:, :rank].T)
    H = readonly(h_scale[:, None] * canonical.basis_v[:, :rank].T)
    return Solution(
        mu=mu,
        loss=loss,
        tilting=tilting,
        weights=weights,
        rank=rank,
        A=A,
        B=B,
        C=C,
        G=G,
        H=H,
        objective=objective,
        method=closed_form_method(loss, tilting, weights),
        pairs=PairParameters(sigma, alpha, beta, gamma),
    )


@validate_params(
    mu=InstanceOf((JointGaussian,), hint="E.g. gc.JointGaussian(cov, n_u)."),
    loss=Choice(LOSSES),
    tilting=Choice(TILTINGS),
    weights=Weights(),
    rank=Optional(Integer(low=1, error=RankError)),
    method=Choice(METHODS),
    n_starts=Integer(low=1, high=1000),
    # validated, not converted: the cosine route records an integer seed in its certificate
    seed=Optional(AnyOf((Integer(low=0), InstanceOf((np.random.Generator,))))),
    temperature=Real(low=0.0, low_open=True),
    n_samples=Integer(low=1),
)
def minimize(
    mu,
    loss="cond",
    tilting="inner",
    *,
    weights=(1.0, 1.0),
    rank=None,
    method="auto",
    n_starts=4,
    seed=None,
    temperature=1.0,
    n_samples=COSINE_DEFAULT_SAMPLES,
):
    r"""Minimize the exact objective of a loss x tilting pair over linear encoders.

    Parameters
    ----------
    mu : JointGaussian
        Data distribution.
    loss : {"cond", "joint"}
    tilting : {"inner", "quadratic", "cosine"}
    weights : (float, float) or {"u|v", "v|u", "both"}
        :math:`(\lambda_u, \lambda_v)` of the conditional loss: (1, 1) (``"both"``) is CLIP,
        (2, 0) (``"u|v"``) matches :math:`\mu_{u|v}` only, (0, 2) (``"v|u"``) matches
        :math:`\mu_{v|u}` only. The presets name what is matched, whatever a paper calls the
        tuples (Section 6.2 swaps them).
    rank : int, optional
        Embedding dimension :math:`n_e` in ``[1, min(n_u, n_v)]``; None for unconstrained.
    method : {"auto", "closed-form", "numerical"}
        ``"auto"`` uses the closed form when one exists. ``"numerical"`` forces the certified
        numerical minimizer (how the closed forms are checked).
    n_starts : int
        Random starts of the numerical minimizer (unused by closed forms).
    seed : int >= 0, numpy.random.Generator or None
        Draws the numerical minimizer's random starts and, for the cosine tilting, scrambles
        its quasi-Monte Carlo point sets: a Generator is used as is, an integer seeds
        ``np.random.default_rng(seed)``. None draws fresh OS entropy and records it in
        ``certificate.seed``, so passing that back repeats the run exactly. Closed forms draw
        nothing.
    temperature : float
        :math:`\tau` of the cosine tilting, at least :data:`gaussclip.cosine.MIN_TEMPERATURE`
        (ignored otherwise).
    n_samples : int
        Joint draws (a power of two) of the cosine tilting's quasi-Monte Carlo estimator when
        it is not exact (exact: rank one, or n_u = n_v = 1).

    Warns
    -----
    ConvergenceWarning
        When a numerical start did not reach its gradient tolerance (``certificate.converged``
        is then False and ``certificate.message`` says why), or when the cosine estimate's
        nested bias exceeds its standard error and ``gaussclip.cosine.BIAS_WARN``.

    Returns
    -------
    Solution

    Examples
    --------
    Theorem 5.1 on the example of Section 5.4, :math:`A^* = \mathcal C_{uu}^{-1}\mathcal C_{uv}
    \mathcal C_{vv}^{-1}`:

    >>> import gaussclip as gc
    >>> mu = gc.JointGaussian([[1.5, 1.0], [1.0, 1.5]], n_u=1)
    >>> sol = gc.minimize(mu, "cond", "inner")
    >>> sol.A, sol.method
    (array([[0.44444444]]), 'closed-form')
    """
    weights = loss_weights(loss, weights)
    k = min(mu.n_u, mu.n_v)
    if rank is None:
        rank = k
    elif rank > k:
        fail(
            RankError,
            "rank",
            f"an integer in [1, {k}] for n_u={mu.n_u}, n_v={mu.n_v} (at most min(n_u, n_v))",
            rank,
            "Reduce `rank`.",
        )
    closed = has_closed_form(loss, tilting, weights)
    if method == "closed-form" and not closed:
        raise OptionError(
            f"no closed form for loss={loss!r}, tilting={tilting!r} with weights {weights} "
            f"({weight_pattern(loss, weights)}); use method='auto' or 'numerical'."
        )
    if closed and method != "numerical":
        return _closed_form(mu, loss, tilting, weights, rank)
    # The numerical route and the cosine tilting use autograd: imported here so that
    # `import gaussclip` stays free of autograd (tests/test_layering.py).
    from .cosine import (
        BIAS_WARN,
        check_samples,
        check_seed,
        check_temperature,
        minimize_cosine,
    )
    from .numerical import Certificate, minimize_numerically

    rng, seed_used = check_seed(seed)
    if tilting == "cosine":
        fit = minimize_cosine(
            mu,
            loss,
            weights,
            rank,
            temperature=check_temperature(temperature),
            n_samples=check_samples(n_samples),
            n_starts=n_starts,
            rng=rng,
        )
        G, H, objective = fit.G, fit.H, fit.objective
        certificate = Certificate(
            grad_norm=fit.grad_norm,
            start_objectives=fit.start_objectives,
            spread=float(max(fit.start_objectives) - min(fit.start_objectives)),
            converged=fit.converged,
            iterations=fit.iterations,
            objective_method=fit.method,
            stderr=fit.stderr,
            bias=fit.bias,
            seed=seed_used,
            message=fit.message,
        )
    else:
        G, H, objective, certificate = minimize_numerically(
            mu, loss, tilting, weights, rank, n_starts=n_starts, rng=rng
        )
        certificate = dataclasses.replace(certificate, seed=seed_used)
    if not certificate.converged:
        warnings.warn(
            f"minimize({loss!r}, {tilting!r}): the numerical minimizer stopped before its "
            f"gradient tolerance ({certificate.message}; largest gradient component "
            f"{certificate.grad_norm:.1e}); see `Solution.certificate` (converged=False).",
            ConvergenceWarning,
            stacklevel=2,
        )
    if abs(certificate.bias) > max(certificate.stderr, BIAS_WARN):
        warnings.warn(
            f"minimize({loss!r}, 'cosine'): the estimate {objective:.4g} (stderr "
            f"{certificate.stderr:.1e}) carries an estimated bias {certificate.bias:.1e} from its "
            "inner averages (heavy-tailed at small temperature); raise `n_samples` or the "
            "temperature. See `Solution.certificate.bias`.",
            ConvergenceWarning,
            stacklevel=2,
        )
    if tilting == "cosine":
        A = B = C = None
    else:
        A, B, C = (readonly(x) for x in encoder_products(G, H))
        if tilting == "inner":
            B = C = None
    G, H = readonly(G), readonly(H)
    if certificate.objective_method == "exact":
        objective = finite_objective(objective)
    else:  # a quasi-Monte Carlo estimate within its error of 0 may land below it
        objective = max(float(objective), 0.0)
    return Solution(
        mu=mu,
        loss=loss,
        tilting=tilting,
        weights=weights,
        rank=rank,
        A=A,
        B=B,
        C=C,
        G=G,
        H=H,
        objective=objective,
        method="numerical",
        certificate=certificate,
        temperature=temperature,
    )
