r"""The cosine tilting: normalized linear encoders (eq. 2, Sections 3.1 and 5.4).

With centred linear encoders and :math:`\bar g = g/|g|`,

.. math:: \nu(du, dv) \propto \exp\bigl(\langle \bar g_u(u), \bar g_v(v)\rangle/\tau\bigr)\,
          \mu_u(du)\,\mu_v(dv),\qquad g_u(u) = G(u - m_u),\; g_v(v) = H(v - m_v).

The model is not Gaussian and depends on G and H through more than :math:`A = G^\top H`.

**One dimension** (:math:`n_u = n_v = 1`, the setting of Figure 6). Then
:math:`\bar g_u(u) = \operatorname{sign}(u - m_u)\,G/|G|`, so the similarity is
:math:`\kappa\,\operatorname{sign}(u - m_u)\operatorname{sign}(v - m_v)` with
:math:`\kappa = \cos\angle(G, H)/\tau`, and every integral reduces to the orthant probability
:math:`P(u > m_u, v > m_v) = \tfrac14 + \arcsin(\rho)/(2\pi)` (Sheppard). With
:math:`p = \tfrac2\pi\arcsin\rho` and :math:`I = -\tfrac12\log(1-\rho^2)`,

.. math:: J_{joint} = I - \kappa p + \log\cosh\kappa,\qquad
          J_{cond} = \tfrac{\lambda_u + \lambda_v}{2}\,J_{joint},

minimized at :math:`\kappa = \operatorname{artanh}(p)` when :math:`|\kappa| \le 1/\tau` is
reachable (``n_e >= 2``); with ``n_e = 1``, :math:`\cos\angle(G, H) = \pm1`. These are exact;
``tests/test_cosine.py`` checks them against 2-D quadrature and Monte Carlo.

**Higher dimensions**: Monte Carlo with a reported standard error.
"""

from functools import cached_property

import autograd.numpy as anp
import numpy as np
from autograd.scipy.special import logsumexp

from ._checks import finite_array, generator, integer
from .errors import DomainError, OptionError, ShapeError

#: Monte Carlo errors come from this many independent batches (std of batch estimates / sqrt).
MC_BATCHES = 8
#: Seed used when no ``rng`` is passed, so repeated calls give the same estimate.
DEFAULT_MC_SEED = 20250530


def check_temperature(temperature):
    """``temperature`` as a positive finite float, else :class:`~gaussclip.OptionError`."""
    t = float(temperature)
    if not np.isfinite(t) or t <= 0.0:
        raise OptionError(f"`temperature` must be a positive finite number; got {temperature!r}.")
    return t


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
    if not np.any(G) or not np.any(H):
        raise DomainError(
            "the cosine tilting needs non-zero encoders: a zero `G` or `H` cannot be normalized."
        )
    return G, H


def whitened_encoders(mu, G, H):
    r""":math:`\tilde G = G\,\mathcal C_{uu}^{1/2}`, :math:`\tilde H = H\,\mathcal C_{vv}^{1/2}`,
    so :math:`G(u - m_u) = \tilde G\tilde u` for the whitened :math:`\tilde u`."""
    return G @ mu.spd("u").sqrt, H @ mu.spd("v").sqrt


def whitened_cross(mu):
    r""":math:`\Omega = \mathcal C_{uu}^{-1/2}\mathcal C_{uv}\mathcal C_{vv}^{-1/2}`."""
    return mu.spd("u").inv_sqrt @ mu.Cuv @ mu.spd("v").inv_sqrt


# ---------------------------------------------------------------------- one dimension, exact
def orthant_correlation(rho):
    r""":math:`E[\operatorname{sign}(a)\operatorname{sign}(b)] = \tfrac2\pi\arcsin\rho` for a
    standard bivariate normal pair with correlation :math:`\rho` (Sheppard's formula)."""
    return 2.0 / np.pi * anp.arcsin(rho)


def _log_cosh(x):
    x = anp.abs(x)
    return x + anp.log1p(anp.exp(-2.0 * x)) - np.log(2.0)


def exact_objective_1d(loss, weights, rho, kappa):
    """J of the cosine tilting for n_u = n_v = 1 as a function of kappa = cos(G, H) / tau."""
    info = -0.5 * np.log1p(-rho * rho)
    value = info - kappa * orthant_correlation(rho) + _log_cosh(kappa)
    return value if loss == "joint" else 0.5 * (weights[0] + weights[1]) * value


def _kappa_1d(Gt, Ht, temperature):
    g, h = Gt[:, 0], Ht[:, 0]
    return anp.sum(g * h) / (anp.sqrt(anp.sum(g * g)) * anp.sqrt(anp.sum(h * h))) / temperature


# ---------------------------------------------------------------------- Monte Carlo
#: Norms below this count as zero: a zero embedding (a null set of inputs, e.g. u = m_u in 1-D)
#: normalizes to the zero vector, the convention of torch.nn.functional.normalize.
NORM_FLOOR = 1e-300


def _normalized(x):
    return x / anp.maximum(anp.sqrt(anp.sum(x * x, axis=1, keepdims=True)), NORM_FLOOR)


def _mc_terms(loss, weights, info, su, sv):
    """Sample-average objective from whitened embeddings ``su`` (n, r), ``sv`` (n, r)
    (already normalized and divided by the temperature on one side)."""
    n = su.shape[0]
    sim = anp.dot(su, sv.T)
    paired = anp.mean(anp.diag(sim))
    off = sim - 1e300 * np.eye(n)  # leave-one-out: the paired sample is not a marginal draw
    if loss == "joint":
        return info - paired + logsumexp(off) - np.log(n * (n - 1.0))
    value = 0.0
    if weights[0]:  # E_v log E_u' exp(s(u', v)): columns
        value = value + 0.5 * weights[0] * (
            info - paired + anp.mean(logsumexp(off, axis=0)) - np.log(n - 1.0)
        )
    if weights[1]:  # E_u log E_v' exp(s(u, v')): rows
        value = value + 0.5 * weights[1] * (
            info - paired + anp.mean(logsumexp(off, axis=1)) - np.log(n - 1.0)
        )
    return value


def whitened_samples(mu, n, rng):
    """``n`` draws of the whitened pair (u~, v~) with cross-covariance Omega."""
    omega = whitened_cross(mu)
    n_u, n_v = omega.shape
    cov = np.block([[np.eye(n_u), omega], [omega.T, np.eye(n_v)]])
    z = rng.standard_normal((n, n_u + n_v))
    eigvals, eigvecs = np.linalg.eigh(cov)
    x = z @ (eigvecs * np.sqrt(np.clip(eigvals, 0.0, None))).T
    return x[:, :n_u], x[:, n_u:]


def make_objective(mu, loss, weights, temperature, n_samples=2000, rng=None):
    """Autograd-differentiable J of the cosine tilting as a function of the whitened encoders
    ``(Gt, Ht)``; exact in 1-D, a fixed-sample Monte Carlo average otherwise.

    Returns ``(objective, method)``.
    """
    if mu.n_u == 1 and mu.n_v == 1:
        rho = float(whitened_cross(mu)[0, 0])

        def objective(Gt, Ht):
            return exact_objective_1d(loss, weights, rho, _kappa_1d(Gt, Ht, temperature))

        return objective, "exact"
    rng = np.random.default_rng(DEFAULT_MC_SEED) if rng is None else generator(rng)
    ut, vt = whitened_samples(mu, n_samples, rng)
    info = mu.mutual_information()

    def objective(Gt, Ht):
        su = _normalized(anp.dot(ut, Gt.T)) / temperature
        sv = _normalized(anp.dot(vt, Ht.T))
        return _mc_terms(loss, weights, info, su, sv)

    return objective, "monte-carlo"


def cosine_population_loss(mu, loss, G, H, weights, *, temperature=1.0, n_samples=4000, rng=None):
    """J of the cosine tilting at encoders ``G``, ``H`` (see :func:`gaussclip.population_loss`).

    Exact in 1-D; otherwise a Monte Carlo estimate from ``n_samples`` draws whose ``stderr``
    comes from :data:`MC_BATCHES` independent batches (the estimate also carries an O(1/n)
    bias from the logarithm of an average, well below the standard error for the defaults).
    """
    from .objectives import Estimate

    temperature = check_temperature(temperature)
    G, H = check_encoders(mu, G, H)
    Gt, Ht = whitened_encoders(mu, G, H)
    if mu.n_u == 1 and mu.n_v == 1:
        rho = float(whitened_cross(mu)[0, 0])
        return Estimate(exact_objective_1d(loss, weights, rho, _kappa_1d(Gt, Ht, temperature)))
    n = integer(n_samples, "n_samples", 16 * MC_BATCHES, 10**6)
    rng = np.random.default_rng(DEFAULT_MC_SEED) if rng is None else generator(rng)
    ut, vt = whitened_samples(mu, n, rng)
    su = _normalized(ut @ Gt.T) / temperature
    sv = _normalized(vt @ Ht.T)
    info = mu.mutual_information()
    value = float(_mc_terms(loss, weights, info, su, sv))
    size = n // MC_BATCHES
    batches = [
        float(
            _mc_terms(
                loss, weights, info, su[k * size : (k + 1) * size], sv[k * size : (k + 1) * size]
            )
        )
        for k in range(MC_BATCHES)
    ]
    stderr = float(np.std(batches, ddof=1) / np.sqrt(MC_BATCHES))
    return Estimate(value, stderr=stderr, method="monte-carlo")


class CosineTiltedModel:
    r"""The learned non-Gaussian model :math:`\nu` of the cosine tilting.

    Densities are with respect to Lebesgue measure. In 1-D the normalizing constants are exact
    (:math:`\cosh\kappa`); otherwise they are Monte Carlo averages over ``n_samples`` draws
    from the marginals (fixed at construction).

    Parameters
    ----------
    mu : JointGaussian
    G : (n_e, n_u) array_like
    H : (n_e, n_v) array_like
    temperature : float
    n_samples : int
    rng : numpy.random.Generator, optional
    """

    def __init__(self, mu, G, H, temperature=1.0, n_samples=20000, rng=None):
        self.mu = mu
        self.G, self.H = check_encoders(mu, G, H)
        self.temperature = check_temperature(temperature)
        self._n_samples = integer(n_samples, "n_samples", 1, 10**7)
        self._rng = np.random.default_rng(DEFAULT_MC_SEED) if rng is None else generator(rng)

    @property
    def exact(self):
        """True when the normalizing constants are exact (n_u = n_v = 1)."""
        return self.mu.n_u == 1 and self.mu.n_v == 1

    def similarity(self, u, v):
        r""":math:`\langle\bar g_u(u), \bar g_v(v)\rangle/\tau` for matching rows of ``u``
        (n, n_u) and ``v`` (n, n_v)."""
        eu = _normalized((np.atleast_2d(u) - self.mu.mean_u) @ self.G.T)
        ev = _normalized((np.atleast_2d(v) - self.mu.mean_v) @ self.H.T)
        return np.sum(eu * ev, axis=1) / self.temperature

    @cached_property
    def _marginal_samples(self):
        return self.mu.marginal("u").sample(self._n_samples, self._rng), self.mu.marginal(
            "v"
        ).sample(self._n_samples, self._rng)

    def _log_normalizer(self, side, given):
        """log E_{x ~ mu_side} exp(s(x, given)) for each row of ``given``."""
        given = np.atleast_2d(given)
        if self.exact:
            kappa = (
                float(np.sum(self.G * self.H) / np.linalg.norm(self.G) / np.linalg.norm(self.H))
                / self.temperature
            )
            return np.full(given.shape[0], float(_log_cosh(kappa)))
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
            return float(self._log_normalizer("u", np.zeros((1, 1)))[0])
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
        """:math:`\\log\\nu_u(x)` or :math:`\\log\\nu_v(x)`; equal to the data marginal in 1-D."""
        x = np.atleast_2d(x)
        other = "v" if side == "u" else "u"
        return (
            self.mu.marginal(side).logpdf(x)
            + self._log_normalizer(other, x)
            - (self.log_normalizer)
        )
