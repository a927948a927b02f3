r"""Numerical minimization of the exact objective over encoder factors G, H.

This is the engine's fallback (weights other than equal or one-sided with the quadratic
tilting; the cosine tilting has its own estimator and minimizer in :mod:`gaussclip.cosine`)
and the independent route that checks every closed form. It
makes *no* use of the canonical pairs (the SVD of Omega): it works in the standardized,
block-whitened coordinates :math:`\tilde u = T_u(u - m_u)` of :mod:`gaussclip.canonical` (the
KL divergences are invariant, and so the minimizer is unaffected by the units of u and v), where
the data covariance is :math:`\begin{bmatrix} I & \Omega\\ \Omega^\top & I\end{bmatrix}`, and
minimizes over full matrices :math:`\tilde G = G\,T_u^{-1}` (n_e x n_u) and
:math:`\tilde H` with L-BFGS (:func:`gaussclip.optimize.lbfgs`), autograd gradients and several
random starts. A :class:`Certificate` reports the gradient norm and the spread of the starts.
"""

from dataclasses import dataclass

import autograd.numpy as anp
import numpy as np
from autograd import value_and_grad
from autograd.tracer import getval

from .canonical import encoders_from_whitened, whitened_cross
from .optimize import lbfgs

#: L-BFGS stops when every gradient component is below this. The objectives are O(1) sums of
#: KL divergences, so 1e-9 leaves the optimum's objective exact to ~1e-15 relative and the
#: parameters to ~1e-8 (further than that the Hessian's conditioning, not the tolerance, rules).
NUMERICAL_GTOL = 1e-9
#: Iteration cap per start (a few hundred are typical; the cap only guards against stalls).
NUMERICAL_MAX_ITER = 20000
#: Random starts have entries N(0, INIT_SCALE^2 / n_e): large enough to break symmetries. The
#: inner-tilting joint loss is finite only for ||G~^T H~||_2 < 1 (eq. 40), which a draw can
#: miss in higher dimensions (||G~^T H~|| grows like n INIT_SCALE^2 / n_e); such a start is
#: halved until it is inside (A~ = 0 always is), see ``_start``.
INIT_SCALE = 0.3


@dataclass(frozen=True)
class Certificate:
    """How far to trust a numerical minimizer.

    Attributes
    ----------
    grad_norm : float
        Largest absolute gradient component of the objective at the returned encoders
        (whitened coordinates).
    start_objectives : tuple of float
        Final objective of every start.
    spread : float
        ``max - min`` of ``start_objectives``: 0 (up to rounding) when every start found the
        same minimum value.
    converged : bool
        Every start met the gradient tolerance.
    iterations : int
        L-BFGS iterations of the best start.
    objective_method : str
        ``"exact"`` or ``"quasi-monte-carlo"`` (the cosine tilting beyond rank one).
    stderr : float
        Standard error of the reported objective (quasi-Monte Carlo replicates), 0 when exact.
    bias : float
        Estimated bias of the reported objective from the cosine estimator's inner averages
        (:meth:`gaussclip.cosine.QMCEstimator.nested_bias`), 0 when exact.
    seed : int or None
        The seed that drew the starts (and the cosine point sets): pass it back as ``seed`` to
        repeat the run exactly; None when a Generator was passed.
    message : str
        Why L-BFGS stopped on the best start.
    """

    grad_norm: float
    start_objectives: tuple
    spread: float
    converged: bool
    iterations: int
    objective_method: str = "exact"
    stderr: float = 0.0
    bias: float = 0.0
    seed: int | None = None
    message: str = ""


def _gaussian_objective(loss, tilting, weights, omega):
    """J(G~, H~) for the inner or quadratic tilting in whitened coordinates."""
    n_u, n_v = omega.shape
    eye_u, eye_v = np.eye(n_u), np.eye(n_v)
    s_u = eye_u - omega @ omega.T  # C_{u|v} whitened
    s_v = eye_v - omega.T @ omega
    logdet_su = np.linalg.slogdet(s_u)[1]
    logdet_sv = np.linalg.slogdet(s_v)[1]
    data = np.block([[eye_u, omega], [omega.T, eye_v]])
    logdet_data = logdet_su  # |[[I, W], [W^T, I]]| = |I - W W^T|
    lam_u, lam_v = weights

    def cond_kl(p, a_side, w, s, logdet_s):
        # E KL(mu_{x|y} || nu_{x|y}) with nu_{x|y} = N(P^{-1} a y, P^{-1}), mu_{x|y} = N(w y, s)
        m = a_side - anp.dot(p, w)
        mean_term = anp.sum(m * anp.linalg.solve(p, m))
        return 0.5 * (anp.sum(p * s) - p.shape[0] - anp.linalg.slogdet(p)[1] - logdet_s + mean_term)

    def objective(Gt, Ht):
        A = anp.dot(Gt.T, Ht)
        if tilting == "quadratic":
            p = eye_u + anp.dot(Gt.T, Gt)
            q = eye_v + anp.dot(Ht.T, Ht)
        else:
            p, q = eye_u, eye_v
        if loss == "joint":
            theta = anp.concatenate(
                [anp.concatenate([p, -A], axis=1), anp.concatenate([-A.T, q], axis=1)], axis=0
            )
            if np.linalg.eigvalsh(getval(theta))[0] <= 0.0:  # outside the domain (eq. 40)
                return np.inf
            logdet_theta = anp.linalg.slogdet(theta)[1]
            return 0.5 * (anp.sum(theta * data) - data.shape[0] - logdet_theta - logdet_data)
        value = 0.0
        if lam_u:
            value = value + 0.5 * lam_u * cond_kl(p, A, omega, s_u, logdet_su)
        if lam_v:
            value = value + 0.5 * lam_v * cond_kl(q, A.T, omega.T, s_v, logdet_sv)
        return value

    return objective


def minimize_numerically(mu, loss, tilting, weights, rank, *, n_starts, rng):
    """Minimize J over G (rank x n_u) and H (rank x n_v) from ``n_starts`` random starts.

    Returns
    -------
    G, H : arrays in the original coordinates
    objective : float
        Best objective found (exact).
    certificate : Certificate
    """
    omega = whitened_cross(mu)
    objective = _gaussian_objective(loss, tilting, weights, omega)
    n_u, n_v = mu.n_u, mu.n_v
    split = rank * n_u

    def unpack(x):
        return x[:split].reshape(rank, n_u), x[split:].reshape(rank, n_v)

    gradient = value_and_grad(lambda x: objective(*unpack(x)))

    def fun(x):
        return float(objective(*unpack(x)))  # plain evaluation: inf outside the domain

    def fun_and_grad(x):
        if not np.isfinite(fun(x)):
            return np.inf, np.zeros_like(x)
        value, grad = gradient(x)
        return float(value), np.asarray(grad, dtype=np.float64)

    def _start():
        x0 = rng.standard_normal(rank * (n_u + n_v)) * INIT_SCALE / np.sqrt(rank)
        while not np.isfinite(fun(x0)):  # outside the joint loss's domain: halve G~ and H~
            x0 = 0.5 * x0
        return x0

    results = [
        lbfgs(fun_and_grad, _start(), gtol=NUMERICAL_GTOL, max_iter=NUMERICAL_MAX_ITER, fun=fun)
        for _ in range(n_starts)
    ]
    best = min(results, key=lambda r: r.fun)
    Gt, Ht = unpack(best.x)
    G, H = encoders_from_whitened(mu, Gt, Ht)  # G = G~ T_u
    values = tuple(float(r.fun) for r in results)
    certificate = Certificate(
        grad_norm=best.grad_norm,
        start_objectives=values,
        spread=float(max(values) - min(values)),
        converged=all(r.converged for r in results),
        iterations=best.iterations,
        message=best.message,
    )
    return G, H, float(best.fun), certificate
