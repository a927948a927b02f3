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

import numpy as np

from ._checks import choice, integer
from .closed_forms import (
    closed_form_method,
    has_closed_form,
    pair_objective,
    pair_solution,
    weight_pattern,
)
from .cosine import (
    BIAS_WARN,
    DEFAULT_SAMPLES,
    CosineTiltedModel,
    check_samples,
    check_seed,
    check_temperature,
    minimize_cosine,
)
from .errors import ConvergenceWarning, OptionError, RankError
from .gaussian import _readonly, check_joint
from .numerical import Certificate, minimize_numerically
from .objectives import LOSSES, loss_weights
from .tilting import TILTINGS, encoder_products, tilted

METHODS = ("auto", "closed-form", "numerical")


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
        The objective J >= 0 at the minimizer: exact, or for the cosine tilting beyond rank one
        a quasi-Monte Carlo estimate (clamped at 0) whose standard error is
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
    certificate: Certificate | None = None
    temperature: float = 1.0

    @cached_property
    def model(self):
        """The learned joint :math:`\\nu` (JointGaussian, or CosineTiltedModel for cosine)."""
        if self.tilting == "cosine":
            seed = None if self.certificate is None else self.certificate.seed
            return CosineTiltedModel(
                self.mu, self.G, self.H, temperature=self.temperature, rng=seed
            )
        return tilted(self.mu, self.A, self.B, self.C)


def _closed_form(mu, loss, tilting, weights, rank):
    canonical = mu.canonical()
    sigma = canonical.sigma
    alpha, beta, gamma = pair_solution(loss, tilting, weights, sigma)
    kept = np.arange(sigma.size) < rank
    alpha, beta, gamma = (
        None if x is None else np.where(kept, x, 0.0) for x in (alpha, beta, gamma)
    )
    objective = float(np.sum(pair_objective(loss, weights, sigma, alpha, beta, gamma)))
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
    G = _readonly(g_scale[:, None] * canonical.weights_u[:, :rank].T)
    H = _readonly(h_scale[:, None] * canonical.weights_v[:, :rank].T)
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
    n_samples=DEFAULT_SAMPLES,
):
    r"""Minimize the exact objective of a loss x tilting pair over linear encoders.

    Parameters
    ----------
    mu : JointGaussian
        Data distribution.
    loss : {"cond", "joint"}
    tilting : {"inner", "quadratic", "cosine"}
    weights : (float, float)
        :math:`(\lambda_u, \lambda_v)` of the conditional loss: (1, 1) is CLIP, (2, 0) matches
        :math:`\mu_{u|v}` only, (0, 2) matches :math:`\mu_{v|u}` only.
    rank : int, optional
        Embedding dimension :math:`n_e` in ``[1, min(n_u, n_v)]``; None for unconstrained.
    method : {"auto", "closed-form", "numerical"}
        ``"auto"`` uses the closed form when one exists. ``"numerical"`` forces the certified
        numerical minimizer (how the closed forms are checked).
    n_starts : int
        Random starts of the numerical minimizer.
    seed : int, numpy.random.Generator or None
        Draws the random starts and, for the cosine tilting, scrambles its quasi-Monte Carlo
        point sets. None draws fresh OS entropy; the seed used is recorded in
        ``certificate.seed``, so passing it back repeats the run exactly.
    temperature : float
        :math:`\tau` of the cosine tilting, at least :data:`gaussclip.cosine.MIN_TEMPERATURE`.
    n_samples : int
        Joint draws (a power of two) of the cosine tilting's quasi-Monte Carlo estimator when
        it is not exact (exact: rank one, or n_u = n_v = 1).

    Warns
    -----
    ConvergenceWarning
        When a numerical start did not reach its gradient tolerance (``certificate.converged``
        is then False and ``certificate.message`` says why), or when the cosine estimate's
        nested bias exceeds its standard error and ``BIAS_WARN``.

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
    mu = check_joint(mu)
    loss = choice(loss, "loss", LOSSES)
    tilting = choice(tilting, "tilting", TILTINGS)
    weights = loss_weights(loss, weights)
    method = choice(method, "method", METHODS)
    k = min(mu.n_u, mu.n_v)
    if rank is None:
        rank = k
    else:
        rank = integer(
            rank,
            "rank",
            1,
            k,
            hint=f"for n_u={mu.n_u}, n_v={mu.n_v} (at most min(n_u, n_v))",
            error=RankError,
            fix="Reduce `rank`.",
        )
    closed = has_closed_form(loss, tilting, weights)
    if method == "closed-form" and not closed:
        raise OptionError(
            f"no closed form for loss={loss!r}, tilting={tilting!r} with weights {weights} "
            f"({weight_pattern(loss, weights)}); use method='auto' or 'numerical'."
        )
    if closed and method != "numerical":
        return _closed_form(mu, loss, tilting, weights, rank)
    temperature = check_temperature(temperature)
    n_starts = integer(n_starts, "n_starts", 1, 1000)
    rng, seed_used = check_seed(seed)
    if tilting == "cosine":
        fit = minimize_cosine(
            mu,
            loss,
            weights,
            rank,
            temperature=temperature,
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
        A, B, C = (_readonly(x) for x in encoder_products(G, H))
        if tilting == "inner":
            B = C = None
    G, H = _readonly(G), _readonly(H)
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
