"""The domain-respecting L-BFGS (gaussclip.optimize)."""

import numpy as np
import pytest
import scipy.optimize

from gaussclip.optimize import lbfgs


@pytest.mark.parametrize("n", [2, 10, 30])
def test_lbfgs_agrees_with_scipy_on_rosenbrock(n):
    ours = lbfgs(
        lambda x: (scipy.optimize.rosen(x), scipy.optimize.rosen_der(x)),
        np.full(n, -1.2),
        gtol=1e-10,
    )
    ref = scipy.optimize.minimize(
        scipy.optimize.rosen,
        np.full(n, -1.2),
        jac=scipy.optimize.rosen_der,
        method="L-BFGS-B",
        options={"gtol": 1e-10, "ftol": 0.0, "maxiter": 10_000},
    )
    assert ours.converged and ours.grad_norm <= 1e-10
    assert np.allclose(ours.x, ref.x, atol=1e-7) and np.allclose(ours.x, 1.0, atol=1e-8)


def test_lbfgs_backtracks_out_of_an_infinite_region():
    """A log barrier with +inf outside |x| < 1: SciPy's L-BFGS-B stops at the start when its
    first trial point is infinite; lbfgs backtracks and finds the minimizer h(0.9)."""
    s = 0.9

    def fun(x):
        if abs(x[0]) >= 1:
            return np.inf, np.zeros(1)
        return -2 * x[0] * s - np.log(1 - x[0] ** 2), np.array(
            [-2 * s + 2 * x[0] / (1 - x[0] ** 2)]
        )

    res = lbfgs(fun, np.zeros(1), gtol=1e-12)
    assert res.converged and np.isclose(res.x[0], 2 * s / (1 + np.sqrt(1 + 4 * s * s)))
    with pytest.raises(ValueError, match="not finite at the starting point"):
        lbfgs(fun, np.array([2.0]))


def test_lbfgs_reports_stalls_instead_of_spinning():
    """A gradient that never vanishes while f is constant (inconsistent oracle): the stall
    detector ends the run with converged=False instead of iterating to max_iter."""
    res = lbfgs(lambda x: (0.0, np.ones_like(x)), np.zeros(3), max_iter=100_000)
    assert not res.converged and res.iterations < 1000


def test_value_only_trials_change_nothing_but_the_gradient_count():
    """With ``fun`` the line search rejects trial points by value alone: the iterates are the
    same, and the gradient is asked for only at points the search may accept (the barrier
    problem above, started where the first full step leaves the domain, and Rosenbrock)."""

    def barrier(x):
        if abs(x[0]) >= 1:
            return np.inf, np.zeros(1)
        return -1.8 * x[0] - np.log(1 - x[0] ** 2), np.array([-1.8 + 2 * x[0] / (1 - x[0] ** 2)])

    def rosen(x):
        return scipy.optimize.rosen(x), scipy.optimize.rosen_der(x)

    for fun_and_grad, x0 in [(barrier, np.array([0.95])), (rosen, np.full(6, -1.2))]:
        calls = {"with": 0, "without": 0}

        def counted(key, f=fun_and_grad, calls=calls):
            def wrapper(x):
                calls[key] += 1
                return f(x)

            return wrapper

        plain = lbfgs(counted("without"), x0, gtol=1e-10)
        split = lbfgs(counted("with"), x0, gtol=1e-10, fun=lambda x, f=fun_and_grad: f(x)[0])
        assert np.array_equal(plain.x, split.x) and plain.iterations == split.iterations
        assert calls["with"] <= plain.iterations + 1 < calls["without"]
