r"""A small L-BFGS minimizer that respects an objective's domain.

SciPy's L-BFGS-B stops at the first trial point where the objective is infinite, which happens
for the joint loss of the inner tilting (its density cannot be normalized outside
:math:`\|\mathcal C_{uu}^{1/2}A\,\mathcal C_{vv}^{1/2}\|_2 < 1`). This version backtracks
from such points (Armijo line search) and is otherwise the textbook two-loop recursion
(Nocedal & Wright, Algorithm 7.4).
"""

from collections import deque
from dataclasses import dataclass

import numpy as np

#: Armijo sufficient-decrease constant (Nocedal & Wright's usual choice).
ARMIJO_C1 = 1e-4
#: Curvature pairs with s.y <= CURVATURE_EPS * |s| |y| are skipped (keeps the inverse Hessian
#: approximation positive definite without a Wolfe curvature condition).
CURVATURE_EPS = 1e-12
#: Backtracking halves the step at most this many times (2^-60 ~ 1e-18: below rounding).
MAX_HALVINGS = 60
#: Near a minimum f is flat to rounding and Armijo can no longer see progress. Within
#: ``ROUNDING_BAND * (1 + |f|)`` of the current value a step is accepted when it shrinks the
#: directional derivative (Hager and Zhang's approximate Wolfe condition), so the gradient keeps
#: going down; 1e-13 is a few hundred ulps of an O(1) sum of logarithms and traces.
ROUNDING_BAND = 1e-13
#: Give up when, for this many iterations, the gradient norm has not halved and f has not left
#: the rounding band: the iterates are then wandering at rounding level (seen only at extreme
#: condition numbers). Slow but real progress in a long valley does not count as a stall.
STALL_ITERATIONS = 200


@dataclass(frozen=True)
class OptimizeResult:
    """Outcome of :func:`lbfgs`."""

    x: np.ndarray
    fun: float
    grad: np.ndarray
    iterations: int
    converged: bool
    message: str

    @property
    def grad_norm(self):
        """Largest absolute gradient component at ``x``."""
        return float(np.max(np.abs(self.grad))) if self.grad.size else 0.0


def _two_loop(grad, pairs):
    """Apply the L-BFGS inverse-Hessian approximation to ``grad``."""
    q = grad.copy()
    alphas = []
    for s, y, rho in reversed(pairs):
        a = rho * (s @ q)
        alphas.append(a)
        q -= a * y
    if pairs:
        s, y, _ = pairs[-1]
        q *= (s @ y) / (y @ y)
    for (s, y, rho), a in zip(pairs, reversed(alphas), strict=True):
        b = rho * (y @ q)
        q += (a - b) * s
    return q


def lbfgs(fun_and_grad, x0, *, gtol=1e-9, max_iter=5000, memory=20, ftol=0.0, fun=None):
    """Minimize ``fun_and_grad(x) -> (f, grad)`` from ``x0``.

    ``f`` may be ``inf`` outside the objective's domain; the start must be inside it.

    Parameters
    ----------
    fun_and_grad : callable
    x0 : (p,) array
    gtol : float
        Stop when the largest absolute gradient component is <= ``gtol``.
    max_iter : int
    memory : int
        Number of curvature pairs kept.
    ftol : float
        Also stop when an iteration decreases f by less than ``ftol * max(1, |f|)`` (0: never).
    fun : callable, optional
        ``fun(x) -> f`` alone, equal to ``fun_and_grad(x)[0]``. When given, the line search
        evaluates trial points with it and asks for the gradient only at a point it may accept
        (near rounding level, where most trials are rejected, this saves the gradients).

    Returns
    -------
    OptimizeResult

    Examples
    --------
    >>> import numpy as np
    >>> res = lbfgs(lambda x: (float((x - 3.0) @ (x - 3.0)), 2.0 * (x - 3.0)), np.zeros(2))
    >>> res.converged, np.allclose(res.x, 3.0)
    (True, True)
    """
    x = np.array(x0, dtype=np.float64)
    f, g = fun_and_grad(x)
    if not np.isfinite(f):
        raise ValueError("lbfgs: the objective is not finite at the starting point.")
    pairs = deque(maxlen=memory)
    best_gnorm, mark_f, mark_iteration = np.inf, f, 0
    for iteration in range(max_iter):
        gnorm = np.max(np.abs(g), initial=0.0)
        if gnorm <= gtol:
            return OptimizeResult(x, f, g, iteration, True, "gradient tolerance reached")
        if gnorm < 0.5 * best_gnorm or mark_f - f > ROUNDING_BAND * (1.0 + abs(f)):
            best_gnorm = min(best_gnorm, gnorm)
            mark_f, mark_iteration = f, iteration
        elif iteration - mark_iteration > STALL_ITERATIONS:
            return OptimizeResult(x, f, g, iteration, False, "stalled at rounding level")
        direction = -_two_loop(g, list(pairs))
        slope = float(g @ direction)
        if slope >= 0.0:  # not a descent direction: restart from steepest descent
            pairs.clear()
            direction, slope = -g, -float(g @ g)
        step = 1.0 if pairs else min(1.0, 1.0 / np.sqrt(-slope))
        band = ROUNDING_BAND * (1.0 + abs(f))
        for _ in range(MAX_HALVINGS):
            x_new = x + step * direction
            if fun is not None:
                f_trial = fun(x_new)
                if not (np.isfinite(f_trial) and f_trial <= f + band):
                    step *= 0.5  # rejected by value alone: no gradient needed
                    continue
            f_new, g_new = fun_and_grad(x_new)
            if np.isfinite(f_new) and (
                f_new <= f + ARMIJO_C1 * step * slope
                or (f_new <= f + band and abs(float(g_new @ direction)) <= 0.9 * abs(slope))
            ):
                break
            step *= 0.5
        else:
            return OptimizeResult(x, f, g, iteration, False, "line search failed")
        s, y = x_new - x, g_new - g
        sy = float(s @ y)
        if sy > CURVATURE_EPS * np.linalg.norm(s) * np.linalg.norm(y):
            pairs.append((s, y, 1.0 / sy))
        decrease = f - f_new
        x, f, g = x_new, f_new, g_new
        if ftol > 0.0 and decrease <= ftol * max(1.0, abs(f)):
            converged = np.max(np.abs(g), initial=0.0) <= gtol
            return OptimizeResult(x, f, g, iteration + 1, converged, "objective stalled")
    converged = np.max(np.abs(g), initial=0.0) <= gtol
    return OptimizeResult(x, f, g, max_iter, converged, "iteration limit reached")
