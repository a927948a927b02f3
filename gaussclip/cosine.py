r"""The cosine tilting: normalized linear encoders (eq. 2, Sections 3.1 and 5.4).

With centred linear encoders and :math:`\bar g = g/|g|`,

.. math:: \nu(du, dv) \propto \exp\bigl(s(u, v)\bigr)\,\mu_u(du)\,\mu_v(dv),\qquad
          s(u, v) = \langle \bar g_u(u), \bar g_v(v)\rangle/\tau,\quad
          g_u(u) = G(u - m_u),\; g_v(v) = H(v - m_v).

The model is not Gaussian and depends on G and H through more than :math:`A = G^\top H`; it is
invariant to :math:`G \to aG`, :math:`H \to bH` (a, b > 0) and to a common rotation of the
embedding space, and the objective is computed so that it stays so numerically (the encoders
are rescaled by their largest entry before anything else, so 1e-320 and 1e300 work).

**Canonical frame.** With :math:`\Omega = \mathcal C_{uu}^{-1/2}\mathcal C_{uv}
\mathcal C_{vv}^{-1/2} = P\,\operatorname{diag}(\sigma)\,Q^\top` (full orthogonal P, Q), the
canonical variates :math:`a = P^\top\mathcal C_{uu}^{-1/2}(u - m_u)`,
:math:`b = Q^\top\mathcal C_{vv}^{-1/2}(v - m_v)` are standard normal with
:math:`E[a_i b_j] = \sigma_i\delta_{ij}`, and :math:`g_u(u) = G_c a` with
:math:`G_c = G\,\mathcal C_{uu}^{1/2}P` (likewise :math:`H_c`). Everything below works with
:math:`(G_c, H_c)` and :math:`\sigma`.

**The objective** (a sum of KL divergences, see :mod:`gaussclip.objectives`). Since
:math:`\nu_{u|v}(u|v) = \mu_u(u)e^{s(u, v)}/Z_u(v)`,

.. math:: J_{cond} = \tfrac{\lambda_u}{2}\bigl(I - E_\mu s + E_{v}\log Z_u(v)\bigr)
          + \tfrac{\lambda_v}{2}\bigl(I - E_\mu s + E_{u}\log Z_v(u)\bigr),\qquad
          J_{joint} = I - E_\mu s + \log E_{\mu_u\otimes\mu_v} e^{s},

with :math:`I = I(u; v)`. The map :math:`u \mapsto 2m_u - u` preserves :math:`\mu_u` and flips
the sign of :math:`\bar g_u`, so :math:`Z_u(v) = E_{u'}\cosh s(u', v)` (an exact antithetic
symmetrization used by the estimator).

**Exact cases.** When both :math:`G_c` and :math:`H_c` are structurally of rank one (one
embedding dimension, or :math:`n_u = n_v = 1`, the setting of Figure 6),
:math:`s = \kappa\,\operatorname{sign}(x)\operatorname{sign}(y)` with scalar Gaussians x, y of
correlation :math:`\rho`, and every integral reduces to the orthant probability
:math:`P(x > 0, y > 0) = \tfrac14 + \arcsin(\rho)/(2\pi)` (Sheppard). With
:math:`p = \tfrac2\pi\arcsin\rho`,

.. math:: J_{joint} = I - \kappa p + \log\cosh\kappa,\qquad
          J_{cond} = \tfrac{\lambda_u + \lambda_v}{2}\,J_{joint}.

In 1-D, :math:`\kappa = \cos\angle(G, H)/\tau` and :math:`\rho = \sigma_1`; with one embedding
dimension, :math:`\kappa = 1/\tau` and :math:`\rho = \operatorname{corr}(G_c a, H_c b)`.
``tests/test_cosine.py`` checks these against 2-D quadrature.

**Otherwise: randomized quasi-Monte Carlo** (:class:`QMCEstimator`). ``QMC_REPLICATES``
independently scrambled Sobol' nets (:mod:`scipy.stats.qmc`) are mapped through the normal
inverse CDF: per replicate, ``n_samples / QMC_REPLICATES`` joint draws (a, b) for the paired
term :math:`E_\mu s` (most of the variance, linear cost), and a smaller block of outer x inner
draws for the nested terms :math:`E\log Z` (quadratic cost), with the cosh symmetrization. The
point sets are fixed for a whole optimization (common random numbers), so the estimate is a
deterministic, almost everywhere smooth function of the encoders with analytic gradients; the
replicate spread gives the standard error and :meth:`QMCEstimator.nested_bias` the bias of the
inner averages. ``python benchmarks/bench_engine.py --cosine-only`` measures the variance
reduction over the same estimator on iid draws and over the plain Monte Carlo estimator
(:func:`reference_monte_carlo`, kept as the independent cross-check).
"""

import copy
import dataclasses
from dataclasses import dataclass
from functools import cached_property

import autograd.numpy as anp
import numpy as np
import scipy.special
from autograd import value_and_grad
from autograd.scipy.special import logsumexp
from scipy.stats import qmc

from ._checks import finite_array
from ._validation import Integer, Real, Seed, check, fail
from .errors import DomainError, OptionError, ShapeError
from .optimize import lbfgs

#: Independent scrambles of the quasi-Monte Carlo point sets; their spread gives the standard
#: error (a t-distribution with 7 degrees of freedom: a stderr estimate within ~25% typically).
QMC_REPLICATES = 8
#: Default total number of joint draws for the paired term E s (8 replicates x 8192).
DEFAULT_SAMPLES = 2**16
#: Outer and inner draws per replicate of the nested terms E log Z (cost: their square) are
#: n_samples / NESTED_DIVISOR, within [MIN_NESTED, MAX_NESTED]: 128 at the default n_samples.
NESTED_DIVISOR, MIN_NESTED, MAX_NESTED = 512, 32, 1024
#: Bounds on ``n_samples``: at least 16 Sobol' points per replicate; at most 2^20 in total
#: (the final re-estimate uses 4x: point sets ~250 MB, nested blocks 8 x 1024^2 doubles).
MIN_SAMPLES, MAX_SAMPLES = 16 * QMC_REPLICATES, 2**20
#: The tilting factor :math:`e^{s}`, :math:`|s| \le 1/\tau`, must be a finite float64:
#: :math:`1/\tau \le \log(\text{float max}) \approx 709.78`. Colder temperatures make the model's
#: density and the objective (which grows like :math:`1/\tau`) unrepresentable.
MIN_TEMPERATURE = 1.0 / np.log(np.finfo(np.float64).max)
#: Norms below this count as zero: a zero embedding (a null set of inputs, e.g. u = m_u in 1-D)
#: normalizes to the zero vector, the convention of torch.nn.functional.normalize. Encoders are
#: rescaled to a largest entry of 1 first, so a genuine embedding norm is never this small.
NORM_FLOOR = 1e-300
#: L-BFGS stops when every gradient component (w.r.t. G_c, H_c of unit scale) is below this: the
#: decrease it leaves undone is ~ p gtol^2 / (2 curvature) < 1e-9 for p <= 100 parameters and
#: curvatures >= 1e-3, far below any reported standard error (>= 1e-5).
COSINE_GTOL = 1e-6
#: Iteration caps: polishing the best start (tens of iterations are typical), and each coarse
#: start (only used to pick the best). Near rank-deficient encoders (e.g. canonical
#: correlations ~ 1 at small temperature) the fixed-sample estimator turns ragged -- x/|x| is
#: steep where G_c a ~ 0 -- and L-BFGS can wander; the caps bound the time and the result then
#: says converged=False (with a warning).
COSINE_MAX_ITER, COARSE_MAX_ITER = 300, 100
#: ... and evaluation budgets (line searches in the ragged regime can take dozens per
#: iteration): ~400 full evaluations are ~10 s at n_u = n_v = 6.
COSINE_MAX_EVALS, COARSE_MAX_EVALS = 400, 200
#: Random starts (entries N(0, 1): the objective is scale-free) are first minimized on a
#: cheap estimator with this fraction of the joint draws and COARSE_NESTED nested points (its
#: minimizer is within its ~1e-2 error of the final one); the best is then polished with the
#: full estimator, whose minimum the Certificate reports.
COARSE_FRACTION, COARSE_NESTED = 16, 32
#: The final value is re-estimated on fresh, independent point sets with this many times the
#: joint draws and twice the nested points (the fitted sets are optimistic by O(1/N)).
REESTIMATE_FACTOR = 4
#: An estimate more than this many standard errors below 0 is a bug, not noise.
NEGATIVE_Z = 5.0
#: ``minimize`` warns when the nested bias of its reported value exceeds both its standard error
#: and this absolute accuracy (then the inner averages, not the replicates, limit the value).
BIAS_WARN = 1e-3


# ---------------------------------------------------------------------- argument checks
#: Declarative constraints (gaussclip._validation) of the cosine arguments.
TEMPERATURE = Real(
    low=MIN_TEMPERATURE,
    hint="Below 1/log(float64 max) the tilting factor exp(s), |s| <= 1/temperature, overflows "
    "float64 and the objective grows like 1/temperature. Use a larger temperature.",
)
SAMPLES = Integer(
    low=MIN_SAMPLES,
    high=MAX_SAMPLES,
    context="and a power of two",
    hint=f"Sobol' nets are balanced only at powers of two, e.g. {DEFAULT_SAMPLES}.",
)


def check_temperature(temperature):
    r""":math:`\tau` as a float in ``[MIN_TEMPERATURE, inf)``."""
    return check(temperature, "temperature", TEMPERATURE)


def check_samples(n_samples):
    """``n_samples``: a power of two in [MIN_SAMPLES, MAX_SAMPLES]."""
    n = check(n_samples, "n_samples", SAMPLES)
    if n & (n - 1):
        fail(DomainError, "n_samples", SAMPLES.describe(), n_samples, SAMPLES.hint)
    return n


def check_seed(seed, name="seed"):
    """A :class:`numpy.random.Generator` from ``seed``.

    ``seed`` may be a non-negative int, a Generator (used as is) or None (fresh OS entropy).
    Returns ``(generator, seed_used)``: with None, ``seed_used`` is the 128-bit entropy that
    was drawn, so the result can be reproduced by passing it back.
    """
    generator = check(seed, name, Seed(allow_none=True))
    if generator is None:
        entropy = int(np.random.SeedSequence().entropy)
        return np.random.default_rng(entropy), entropy
    return generator, None if isinstance(seed, np.random.Generator) else int(seed)


def check_encoders(mu, G, H):
    """Validated encoders ``G`` (n_e, n_u) and ``H`` (n_e, n_v) with no zero row image."""
    if G is None or H is None:
        raise OptionError("the cosine tilting needs both encoders `G` and `H`.")
    G = finite_array(G, "G", ndim=2)
    H = finite_array(H, "H", ndim=2)
    if G.shape[1] != mu.n_u or H.shape[1] != mu.n_v or G.shape[0] != H.shape[0]:
        raise ShapeError(
            f"`G` and `H` must have shapes (n_e, {mu.n_u}) and (n_e, {mu.n_v}) with the same "
            f"n_e; got {G.shape} and {H.shape}."
        )
    if G.shape[0] == 0:
        raise ShapeError("`G` and `H` need at least one row (embedding dimension n_e >= 1).")
    if not np.any(G) or not np.any(H):
        raise DomainError(
            "the cosine tilting needs non-zero encoders: a zero `G` or `H` cannot be normalized."
        )
    return G, H


def _unit_scale(M):
    """``M`` divided by its largest absolute entry (exact scale invariance, no under/overflow)."""
    return M / np.max(np.abs(M))


# ---------------------------------------------------------------------- the canonical frame
@dataclass(frozen=True)
class Frame:
    r"""The canonical coordinates of the cosine objective.

    Attributes
    ----------
    sigma : (k,) array
        Canonical correlations.
    to_u : (n_u, n_u) array
        :math:`\mathcal C_{uu}^{1/2}P`, so :math:`G_c = G\,` ``to_u``.
    from_u : (n_u, n_u) array
        Its inverse :math:`P^\top\mathcal C_{uu}^{-1/2}`.
    to_v, from_v : (n_v, n_v) arrays
        Likewise for v.
    info : float
        :math:`I(u; v)`.
    """

    sigma: np.ndarray
    to_u: np.ndarray
    from_u: np.ndarray
    to_v: np.ndarray
    from_v: np.ndarray
    info: float

    @property
    def n_u(self):
        return self.to_u.shape[0]

    @property
    def n_v(self):
        return self.to_v.shape[0]

    def encoders(self, G, H):
        """``(G_c, H_c)``, each rescaled to a largest entry of 1 (the objective is scale-free)."""
        return _unit_scale(_unit_scale(G) @ self.to_u), _unit_scale(_unit_scale(H) @ self.to_v)

    def original(self, Gc, Hc):
        """Encoders ``(G, H)`` in the original coordinates from canonical ones."""
        return Gc @ self.from_u, Hc @ self.from_v


def canonical_frame(mu):
    r"""The :class:`Frame` of ``mu``, from its cached canonical decomposition
    (:mod:`gaussclip.canonical`): canonical coordinates :math:`a = U^\top T_u (u - m_u)` with the
    standardized whitening :math:`T_u` and the full rotation :math:`U`, so badly scaled data
    never meet a raw covariance root."""
    canonical = mu.canonical()
    white_u, white_v = canonical.white_u, canonical.white_v
    rot_u, rot_v = np.asarray(canonical.rot_u), np.asarray(canonical.rot_v)
    return Frame(
        sigma=np.asarray(canonical.sigma),
        to_u=white_u.colour(rot_u.T).T,  # T_u^{-1} U
        from_u=white_u.pull_back(rot_u.T),  # U^T T_u
        to_v=white_v.colour(rot_v.T).T,
        from_v=white_v.pull_back(rot_v.T),
        info=mu.mutual_information(),
    )


def _coupled(a, z, sigma):
    r"""Draws b with :math:`E[a_i b_j] = \sigma_i\delta_{ij}` from independent normals a, z."""
    b = z.copy()
    k = sigma.size
    b[..., :k] = sigma * a[..., :k] + np.sqrt((1.0 - sigma) * (1.0 + sigma)) * z[..., :k]
    return b


# ---------------------------------------------------------------------- exact rank-one cases
def orthant_correlation(rho):
    r""":math:`E[\operatorname{sign}(a)\operatorname{sign}(b)] = \tfrac2\pi\arcsin\rho` for a
    standard bivariate normal pair with correlation :math:`\rho` (Sheppard's formula)."""
    return 2.0 / np.pi * anp.arcsin(rho)


def _log_cosh(x):
    x = anp.abs(x)
    return x + anp.log1p(anp.exp(-2.0 * x)) - np.log(2.0)


def exact_objective_1d(loss, weights, rho, kappa, info=None):
    """J of the cosine tilting when the similarity is ``kappa sign(x) sign(y)`` for scalar
    standard normals of correlation ``rho``; ``info`` = I(u; v) (default: that of (x, y))."""
    if info is None:
        info = -0.5 * np.log1p(-rho * rho)
    value = info - kappa * orthant_correlation(rho) + _log_cosh(kappa)
    return value if loss == "joint" else 0.5 * (weights[0] + weights[1]) * value


def is_rank_one(n_u, n_v, n_e):
    """True when the cosine objective is exact: both encoders structurally of rank one."""
    return n_e == 1 or (n_u == 1 and n_v == 1)


def _unit(x):
    return x / anp.sqrt(anp.sum(x * x))


def _rank_one_kappa_rho(frame, Gc, Hc, temperature):
    """``(kappa, rho)`` of a structurally rank-one pair of canonical encoders."""
    if frame.n_u == 1 and frame.n_v == 1:  # 1-D: x = a, y = b, cos angle between columns
        kappa = anp.sum(_unit(Gc[:, 0]) * _unit(Hc[:, 0])) / temperature
        return kappa, float(frame.sigma[0])
    # one embedding dimension: x = G_c a, y = H_c b; E[x y] = sum_i g_i sigma_i h_i
    k = frame.sigma.size
    g, h = _unit(Gc[0]), _unit(Hc[0])
    return 1.0 / temperature, anp.sum(g[:k] * frame.sigma * h[:k])


def exact_objective(frame, loss, weights, temperature):
    """Exact J as a function of canonical encoders (rank-one cases only), autograd-ready."""

    def objective(Gc, Hc):
        kappa, rho = _rank_one_kappa_rho(frame, Gc, Hc, temperature)
        rho = anp.clip(rho, -1.0, 1.0)  # rounding of |rho| = 1 only (|rho| <= sigma_1 < 1)
        return exact_objective_1d(loss, weights, rho, kappa, frame.info)

    return objective


# ---------------------------------------------------------------------- quasi-Monte Carlo
def normal_qmc(dim, n, replicates, rng):
    """``replicates`` independently scrambled Sobol' nets of ``n`` (a power of two) points,
    mapped to N(0, I_dim): an array (replicates, n, dim)."""
    m = int(np.log2(n))
    out = np.empty((replicates, n, dim))
    tiny = np.finfo(np.float64).tiny
    for r in range(replicates):
        points = qmc.Sobol(dim, scramble=True, seed=rng).random_base2(m)
        out[r] = scipy.special.ndtri(np.clip(points, tiny, 1.0 - np.finfo(np.float64).epsneg))
    return out


def _normalize(x):
    norm = np.maximum(np.sqrt(np.sum(x * x, axis=-1, keepdims=True)), NORM_FLOOR)
    return x / norm, norm


#: Below this bound on :math:`|s|` the cosh sums are formed directly (cosh(300) ~ 1e130, so a
#: sum of 2^22 of them is far from overflow); above it, shifted by the largest :math:`|s|`.
DIRECT_COSH_BOUND = 300.0


def _log_mean_cosh(S, axes, bound):
    r"""``log mean cosh(S)`` over ``axes`` and its derivative weights
    :math:`\sinh S/\sum\cosh S`, for ``|S| <= bound``, overflow-free."""
    count = np.prod([S.shape[a] for a in axes])
    if bound <= DIRECT_COSH_BOUND:
        plus = np.exp(S)
        minus = 1.0 / plus
        shift = 0.0
    else:
        shift = np.max(np.abs(S), axis=axes, keepdims=True)
        plus, minus = np.exp(S - shift), np.exp(-S - shift)
    total = np.sum(plus + minus, axis=axes, keepdims=True)
    value = np.squeeze(shift + np.log(total / (2.0 * count)), axis=axes)
    return value, (plus - minus) / total


class QMCEstimator:
    r"""Randomized quasi-Monte Carlo estimate of the cosine objective, with gradients.

    Per replicate (``QMC_REPLICATES`` independent scrambles), a Sobol' net of
    ``n_samples / QMC_REPLICATES`` joint draws (a, b) estimates :math:`E_\mu s` (the term with
    most of the variance, and cheap: linear in the draws); its first ``NESTED_POINTS`` points
    are the outer draws of the nested terms :math:`E_v\log Z_u(v)`, :math:`E_u\log Z_v(u)`,
    whose inner averages use ``NESTED_POINTS`` draws of each marginal from a second net
    (quadratic cost), with the cosh symmetrization. The point sets are drawn once (common
    random numbers): :meth:`replicates` is a deterministic, almost everywhere smooth function
    of the canonical encoders. ``NESTED_POINTS`` is ``n_samples / NESTED_DIVISOR`` (clipped to
    [MIN_NESTED, MAX_NESTED]) unless ``nested`` is given.

    Parameters
    ----------
    frame : Frame
    loss : {"cond", "joint"}
    weights : (float, float)
    temperature : float
    n_samples : int
        Total joint draws, a power of two (``check_samples``).
    rng : numpy.random.Generator
        Scrambles the Sobol' nets.
    sampler : {"sobol", "iid"}
        ``"iid"`` replaces the nets by plain normal draws (same estimator otherwise): the
        baseline against which the variance reduction of the nets is measured.
    nested : int
        Outer and inner draws per replicate of the nested terms (a power of two).
    """

    def __init__(
        self, frame, loss, weights, temperature, n_samples, rng, sampler="sobol", nested=None
    ):
        self.frame, self.loss, self.temperature = frame, loss, temperature
        self.weights = weights
        n = n_samples // QMC_REPLICATES
        if nested is None:
            nested = int(np.clip(n_samples // NESTED_DIVISOR, MIN_NESTED, MAX_NESTED))
        m = min(n, nested)
        d_u, d_v = frame.n_u, frame.n_v
        if sampler == "sobol":
            outer = normal_qmc(d_u + d_v, n, QMC_REPLICATES, rng)
            inner = normal_qmc(d_u + d_v, m, QMC_REPLICATES, rng)
        else:
            outer = rng.standard_normal((QMC_REPLICATES, n, d_u + d_v))
            inner = rng.standard_normal((QMC_REPLICATES, m, d_u + d_v))
        self.a = outer[..., :d_u]
        self.b = _coupled(self.a, outer[..., d_u:], frame.sigma)
        self.a_inner, self.b_inner = inner[..., :d_u], inner[..., d_u:]
        self.nested = m

    def _terms(self):
        """(coefficient of -E s, of E log Z_u, of E log Z_v, of log Z) for this loss."""
        if self.loss == "joint":
            return 1.0, 0.0, 0.0, 1.0
        c_u, c_v = 0.5 * self.weights[0], 0.5 * self.weights[1]
        return c_u + c_v, c_u, c_v, 0.0

    def replicates(self, Gc, Hc, gradient=False):
        """Per-replicate estimates (QMC_REPLICATES,), and with ``gradient`` the gradients of
        their mean w.r.t. ``Gc`` and ``Hc``."""
        tau = self.temperature
        c_pair, c_u, c_v, c_joint = self._terms()
        e, ne = _normalize(self.a @ Gc.T)  # (R, N, n_e) unit embeddings of the joint draws
        f, nf = _normalize(self.b @ Hc.T)
        e2, ne2 = _normalize(self.a_inner @ Gc.T)  # (R, M, n_e) marginal draws, inner averages
        f2, nf2 = _normalize(self.b_inner @ Hc.T)
        R, N = e.shape[:2]
        M = self.nested
        eo, fo = e[:, :M], f[:, :M]  # outer draws of the nested terms
        values = np.full(R, self.frame.info)
        values -= c_pair * np.sum(e * f, axis=(1, 2)) / (tau * N)
        de, df = -c_pair * f / (tau * N), -c_pair * e / (tau * N)
        de2, df2 = np.zeros_like(e2), np.zeros_like(f2)
        if c_u:  # E_v log E_u' cosh s(u', v): inner over the marginal u' draws, per v
            lmc, w = _log_mean_cosh(e2 @ np.swapaxes(fo, 1, 2) / tau, (1,), 1 / tau)  # (R, M, M)
            values += c_u * np.mean(lmc, axis=1)
            if gradient:
                de2 += c_u * (w @ fo) / (tau * M)
                df[:, :M] += c_u * (np.swapaxes(w, 1, 2) @ e2) / (tau * M)
        if c_v:  # E_u log E_v' cosh s(u, v')
            lmc, w = _log_mean_cosh(eo @ np.swapaxes(f2, 1, 2) / tau, (2,), 1 / tau)  # (R, M, M)
            values += c_v * np.mean(lmc, axis=1)
            if gradient:
                de[:, :M] += c_v * (w @ f2) / (tau * M)
                df2 += c_v * (np.swapaxes(w, 1, 2) @ eo) / (tau * M)
        if c_joint:  # log E_{u' x v'} cosh s(u', v')
            lmc, w = _log_mean_cosh(e2 @ np.swapaxes(f2, 1, 2) / tau, (1, 2), 1 / tau)  # (R, M, M)
            values += c_joint * lmc
            if gradient:
                de2 += c_joint * (w @ f2) / tau
                df2 += c_joint * (np.swapaxes(w, 1, 2) @ e2) / tau
        if not gradient:
            return values

        def back(d_unit, unit, norm, points):  # through x -> x / |x| and x = points @ W^T
            dx = (d_unit - unit * np.sum(d_unit * unit, axis=-1, keepdims=True)) / norm
            return dx.reshape(-1, dx.shape[-1]).T @ points.reshape(-1, points.shape[-1]) / R

        gG = back(de, e, ne, self.a) + back(de2, e2, ne2, self.a_inner)
        gH = back(df, f, nf, self.b) + back(df2, f2, nf2, self.b_inner)
        return values, gG, gH

    def estimate(self, Gc, Hc):
        """``(mean, stderr)`` over the replicates."""
        values = self.replicates(Gc, Hc)
        return float(np.mean(values)), float(np.std(values, ddof=1) / np.sqrt(values.size))

    def nested_bias(self, Gc, Hc):
        r"""Estimated bias of :meth:`estimate` from its inner averages: the estimate minus the
        same estimate with half the inner draws (same outer draws). ``log`` of an average of M
        draws is biased low by :math:`c/M` (Jensen), so this difference, :math:`c/M`, is the
        bias that remains at M (an overestimate when the nets converge faster than 1/M)."""
        half = copy.copy(self)
        m = self.a_inner.shape[1] // 2
        half.a_inner, half.b_inner = self.a_inner[:, :m], self.b_inner[:, :m]
        return float(np.mean(self.replicates(Gc, Hc)) - np.mean(half.replicates(Gc, Hc)))


# ---------------------------------------------------------------------- plain Monte Carlo
def reference_monte_carlo(frame, loss, weights, temperature, n_samples, rng):
    """The plain Monte Carlo estimator (before the quasi-Monte Carlo one): ``n_samples`` iid
    joint draws; every inner average uses the other draws (leave-one-out), autograd-ready.

    Returns ``objective(Gc, Hc)``. Kept as the independent cross-check of
    :class:`QMCEstimator` and as the baseline of its variance reduction.
    """
    z = rng.standard_normal((n_samples, frame.n_u + frame.n_v))
    a = z[:, : frame.n_u]
    b = _coupled(a, z[:, frame.n_u :], frame.sigma)
    n = n_samples
    mask = 1e300 * np.eye(n)  # leave-one-out: the paired draw is not a marginal draw

    def unit(x):
        return x / anp.maximum(anp.sqrt(anp.sum(x * x, axis=1, keepdims=True)), NORM_FLOOR)

    def objective(Gc, Hc):
        sim = anp.dot(unit(anp.dot(a, Gc.T)), unit(anp.dot(b, Hc.T)).T) / temperature
        paired = anp.mean(anp.diag(sim))
        off = sim - mask
        if loss == "joint":
            return frame.info - paired + logsumexp(off) - np.log(n * (n - 1.0))
        value = 0.0
        for lam, axis in ((weights[0], 0), (weights[1], 1)):
            if lam:
                value = value + 0.5 * lam * (
                    frame.info - paired + anp.mean(logsumexp(off, axis=axis)) - np.log(n - 1.0)
                )
        return value

    return objective


# ---------------------------------------------------------------------- public entry points
def cosine_population_loss(
    mu, loss, G, H, weights, *, temperature=1.0, n_samples=DEFAULT_SAMPLES, rng=None
):
    """J of the cosine tilting at encoders ``G``, ``H`` (see :func:`gaussclip.population_loss`).

    Exact when both encoders are structurally rank one (``n_e = 1`` or ``n_u = n_v = 1``);
    otherwise the randomized quasi-Monte Carlo estimate of :class:`QMCEstimator` with its
    standard error, from ``rng`` (int seed, Generator, or None for fresh entropy).

    Returns ``(value, stderr, method)``.
    """
    temperature = check_temperature(temperature)
    G, H = check_encoders(mu, G, H)
    frame = canonical_frame(mu)
    Gc, Hc = frame.encoders(G, H)
    if is_rank_one(mu.n_u, mu.n_v, G.shape[0]):
        return float(exact_objective(frame, loss, weights, temperature)(Gc, Hc)), 0.0, "exact"
    n = check_samples(n_samples)
    generator, _ = check_seed(rng, "rng")
    value, stderr = QMCEstimator(frame, loss, weights, temperature, n, generator).estimate(Gc, Hc)
    _check_sign(value, stderr)
    return value, stderr, "quasi-monte-carlo"


def _check_sign(value, stderr):
    if value < -NEGATIVE_Z * stderr - 1e-12:
        raise RuntimeError(  # a bug, not bad input: J is a sum of KL divergences
            f"internal error: the cosine objective estimate {value:.3e} is below 0 by more than "
            f"{NEGATIVE_Z:g} standard errors ({stderr:.1e}). Please report this."
        )


@dataclass(frozen=True)
class CosineFit:
    """Raw result of :func:`minimize_cosine` (``minimize`` wraps it in a Solution)."""

    G: np.ndarray
    H: np.ndarray
    objective: float
    stderr: float
    bias: float
    method: str
    grad_norm: float
    start_objectives: tuple
    converged: bool
    iterations: int
    message: str


def minimize_cosine(mu, loss, weights, rank, *, temperature, n_samples, n_starts, rng):
    """Minimize the cosine objective over G (rank, n_u), H (rank, n_v) in canonical coordinates.

    Exact objective when ``rank == 1`` or ``n_u = n_v = 1``, minimized from the top canonical
    pair and ``n_starts`` random starts; otherwise the quasi-Monte Carlo
    estimator with fixed point sets (common random numbers) and analytic gradients: L-BFGS from
    ``n_starts`` random starts on a coarse estimator (``COARSE_FRACTION``), the best polished on
    the full one, and its value re-estimated on fresh, independent point sets with
    ``REESTIMATE_FACTOR`` times the samples, with its standard error and nested bias
    (:meth:`QMCEstimator.nested_bias`). ``rng`` draws the starts and scrambles every net.
    """
    frame = canonical_frame(mu)
    n_u, n_v = mu.n_u, mu.n_v
    split = rank * n_u

    def unpack(x):
        return x[:split].reshape(rank, n_u), x[split:].reshape(rank, n_v)

    def run(fun_and_grad, x0, max_iter=COSINE_MAX_ITER, max_evals=COSINE_MAX_EVALS):
        count = [0]

        def budgeted(x):  # past the budget: inf, so the line search fails and L-BFGS stops
            count[0] += 1
            return fun_and_grad(x) if count[0] <= max_evals else (np.inf, np.zeros_like(x))

        result = lbfgs(budgeted, x0, gtol=COSINE_GTOL, max_iter=max_iter)
        if count[0] > max_evals and not result.converged:
            result = dataclasses.replace(result, message=f"{max_evals} evaluations used")
        return result

    starts = [rng.standard_normal(rank * (n_u + n_v)) for _ in range(n_starts)]
    if is_rank_one(n_u, n_v, rank):
        exact_J = exact_objective(frame, loss, weights, temperature)
        gradient = value_and_grad(lambda x: exact_J(*unpack(x)))

        def exact_fun(x):
            value, grad = gradient(x)
            return float(value), np.asarray(grad, dtype=np.float64)

        # At rank one, one more start at the top canonical pair (e_1, e_1), where the two features
        # correlate most: random starts alone can stop in a flat region ~1e-6 above it.
        top_pair = np.zeros(n_u + n_v)
        top_pair[0] = top_pair[n_u] = 1.0
        results = [run(exact_fun, x0) for x0 in ([top_pair] if rank == 1 else []) + starts]
        best = min(results, key=lambda r: r.fun)
        value, stderr, bias, method, final = float(best.fun), 0.0, 0.0, "exact", best
    else:

        def objective(estimator):
            def fun_and_grad(x):
                values, gG, gH = estimator.replicates(*unpack(x), gradient=True)
                return float(np.mean(values)), np.concatenate([gG.ravel(), gH.ravel()])

            return fun_and_grad

        args = (frame, loss, weights, temperature)
        coarse = QMCEstimator(
            *args, max(n_samples // COARSE_FRACTION, MIN_SAMPLES), rng, nested=COARSE_NESTED
        )
        results = [run(objective(coarse), x0, COARSE_MAX_ITER, COARSE_MAX_EVALS) for x0 in starts]
        best = min(results, key=lambda r: r.fun)
        final = run(objective(QMCEstimator(*args, n_samples, rng)), best.x)
        fresh = QMCEstimator(*args, REESTIMATE_FACTOR * n_samples, rng)
        unit = [_unit_scale(m) for m in unpack(final.x)]
        value, stderr = fresh.estimate(*unit)
        bias = fresh.nested_bias(*unit)
        method = "quasi-monte-carlo"
    Gc, Hc = (_unit_scale(m) for m in unpack(final.x))
    _check_sign(value, stderr + abs(bias))
    G, H = frame.original(Gc, Hc)
    return CosineFit(
        G=G,
        H=H,
        objective=max(value, 0.0),  # J >= 0: a slightly negative estimate is within its error
        stderr=stderr,
        bias=bias,
        method=method,
        grad_norm=final.grad_norm,
        start_objectives=tuple(float(r.fun) for r in results),
        converged=bool(final.converged),
        iterations=final.iterations,
        message=final.message,
    )


# ---------------------------------------------------------------------- the learned model
class CosineTiltedModel:
    r"""The learned non-Gaussian model :math:`\nu` of the cosine tilting.

    Densities are with respect to Lebesgue measure. When both encoders are rank one (1-D, or
    one embedding dimension) the normalizing constants are exact (:math:`\cosh\kappa`);
    otherwise they are Monte Carlo averages over ``n_samples`` draws from the marginals (fixed
    at construction).

    Parameters
    ----------
    mu : JointGaussian
    G : (n_e, n_u) array_like
    H : (n_e, n_v) array_like
    temperature : float
    n_samples : int
    rng : int, numpy.random.Generator or None
        Seeds the marginal draws (None: fresh entropy).
    """

    def __init__(self, mu, G, H, temperature=1.0, n_samples=20000, rng=None):
        self.mu = mu
        self.G, self.H = check_encoders(mu, G, H)
        self.temperature = check_temperature(temperature)
        self._n_samples = check(n_samples, "n_samples", Integer(low=1, high=10**7))
        self._rng, self.seed = check_seed(rng, "rng")
        self._unit_G, self._unit_H = _unit_scale(self.G), _unit_scale(self.H)

    @property
    def exact(self):
        """True when the normalizing constants are exact (both encoders rank one)."""
        return is_rank_one(self.mu.n_u, self.mu.n_v, self.G.shape[0])

    def similarity(self, u, v):
        r""":math:`\langle\bar g_u(u), \bar g_v(v)\rangle/\tau` for matching rows of ``u``
        (n, n_u) and ``v`` (n, n_v)."""
        eu = _normalize((np.atleast_2d(u) - self.mu.mean_u) @ self._unit_G.T)[0]
        ev = _normalize((np.atleast_2d(v) - self.mu.mean_v) @ self._unit_H.T)[0]
        return np.sum(eu * ev, axis=1) / self.temperature

    @cached_property
    def _kappa(self):
        frame = canonical_frame(self.mu)
        Gc, Hc = frame.encoders(self.G, self.H)
        return float(_rank_one_kappa_rho(frame, Gc, Hc, self.temperature)[0])

    @cached_property
    def _marginal_samples(self):
        return self.mu.marginal("u").sample(self._n_samples, self._rng), self.mu.marginal(
            "v"
        ).sample(self._n_samples, self._rng)

    def _log_normalizer(self, side, given):
        """log E_{x ~ mu_side} exp(s(x, given)) for each row of ``given``."""
        given = np.atleast_2d(given)
        if self.exact:
            return np.full(given.shape[0], float(_log_cosh(self._kappa)))
        xs = self._marginal_samples[0 if side == "u" else 1]
        out = np.empty(given.shape[0])
        for i, g in enumerate(given):
            rep = np.repeat(g[None, :], xs.shape[0], axis=0)
            s = self.similarity(xs, rep) if side == "u" else self.similarity(rep, xs)
            out[i] = logsumexp(s) - np.log(xs.shape[0])
        return out

    @cached_property
    def log_normalizer(self):
        """:math:`\\log Z`, :math:`Z = E_{\\mu_u\\otimes\\mu_v}\\exp(s)`."""
        if self.exact:
            return float(_log_cosh(self._kappa))
        us, vs = self._marginal_samples
        return float(logsumexp(self.similarity(us, np.roll(vs, 1, axis=0))) - np.log(len(us)))

    def logpdf(self, u, v):
        """Joint log density at rows of ``u`` (n, n_u) and ``v`` (n, n_v)."""
        u, v = np.atleast_2d(u), np.atleast_2d(v)
        return (
            self.mu.marginal("u").logpdf(u)
            + self.mu.marginal("v").logpdf(v)
            + self.similarity(u, v)
            - self.log_normalizer
        )

    def conditional_logpdf(self, side, x, given):
        """:math:`\\log\\nu_{u|v}(x|given)` (``side="u"``) or :math:`\\log\\nu_{v|u}`; ``x`` and
        ``given`` hold matching rows."""
        x, given = np.atleast_2d(x), np.atleast_2d(given)
        s = self.similarity(x, given) if side == "u" else self.similarity(given, x)
        return self.mu.marginal(side).logpdf(x) + s - self._log_normalizer(side, given)

    def marginal_logpdf(self, side, x):
        """:math:`\\log\\nu_u(x)` or :math:`\\log\\nu_v(x)`; equal to the data marginal when
        the model is exact."""
        x = np.atleast_2d(x)
        other = "v" if side == "u" else "u"
        return (
            self.mu.marginal(side).logpdf(x) + self._log_normalizer(other, x) - self.log_normalizer
        )
