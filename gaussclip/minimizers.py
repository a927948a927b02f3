r"""``minimize``: what each contrastive loss learns from Gaussian data.

Closed forms (:mod:`gaussclip.closed_forms`) map back from canonical coordinates through the
cached decomposition of :math:`\mu`:

.. math:: A = X_u\operatorname{diag}(\alpha)X_v^\top,\quad
          G = \operatorname{diag}(g)X_u^\top,\quad H = \operatorname{diag}(h)X_v^\top ,

with one embedding dimension per kept canonical pair (Remark D.3). Everything else is minimized
numerically (:mod:`gaussclip.numerical`) and certified.
"""

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ._checks import choice, integer
from .closed_forms import has_closed_form, pair_objective, pair_solution, weight_pattern
from .cosine import CosineTiltedModel, check_temperature
from .errors import OptionError, RankError
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
        The exact objective J >= 0 at the minimizer.
    method : {"closed-form", "numerical"}
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
            return CosineTiltedModel(self.mu, self.G, self.H, temperature=self.temperature)
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
        method="closed-form",
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
    seed=0,
    temperature=1.0,
    n_samples=2000,
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
    n_starts, seed : int
        Random starts of the numerical minimizer and the seed that draws them.
    temperature : float
        :math:`\tau` of the cosine tilting.
    n_samples : int
        Monte Carlo sample size for the cosine tilting beyond one dimension.

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
    G, H, objective, certificate = minimize_numerically(
        mu,
        loss,
        tilting,
        weights,
        rank,
        n_starts=n_starts,
        seed=seed,
        temperature=temperature,
        n_samples=n_samples,
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
