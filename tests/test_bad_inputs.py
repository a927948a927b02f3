"""Every input answered (issue 14, item 5): one bad-input table per public engine function.

Each row calls a public function with one bad argument and states the error class that matches
the fault (complex -> ArgumentTypeError, NaN/inf or out of domain -> DomainError, wrong shape ->
ShapeError, unknown option -> OptionError, rank -> RankError, not positive definite ->
CovarianceError) and the name of the *user's* argument the message must contain.
"""

import numpy as np
import pytest

import gaussclip as gc
from gaussclip import summaries

MU = gc.JointGaussian([[1.5, 1.0], [1.0, 1.5]], 1)
MU2 = gc.JointGaussian(
    np.eye(4) + 0.3 * np.diag([1.0, 1.0, 1.0], 1) + 0.3 * np.diag([1.0, 1.0, 1.0], -1), 2
)
GAUSS = gc.Gaussian([0.0, 0.0], [[1.0, 0.2], [0.2, 1.0]])
RNG = np.random.default_rng(0)
GRID = np.linspace(-1.0, 1.0, 5)
NAN, INF, HUGE = np.nan, np.inf, 1.5e308

TABLES = {
    "JointGaussian": [
        (lambda: gc.JointGaussian([[1.5, 1j], [-1j, 1.5]], 1), gc.ArgumentTypeError, "cov"),
        (lambda: gc.JointGaussian([[1.5, NAN], [NAN, 1.5]], 1), gc.DomainError, "cov"),
        (lambda: gc.JointGaussian([[1.5, INF], [INF, 1.5]], 1), gc.DomainError, "cov"),
        (lambda: gc.JointGaussian([1.5, 1.0], 1), gc.ShapeError, "cov"),
        (lambda: gc.JointGaussian(np.ones((2, 3)), 1), gc.ShapeError, "cov"),
        (lambda: gc.JointGaussian("cov", 1), gc.ArgumentTypeError, "cov"),
        (lambda: gc.JointGaussian(None, 1), gc.ArgumentTypeError, "cov"),
        (lambda: gc.JointGaussian([[1.0, 2.0], [2.0, 1.0]], 1), gc.CovarianceError, "cov"),
        (lambda: gc.JointGaussian([[1.0, 0.5], [0.4, 1.0]], 1), gc.CovarianceError, "cov"),
        (lambda: gc.JointGaussian([[0.0, 0.0], [0.0, 1.0]], 1), gc.CovarianceError, "cov"),
        (lambda: gc.JointGaussian(np.eye(2), 2), gc.RankError, "n_u"),
        (lambda: gc.JointGaussian(np.eye(2), 1.5), gc.ArgumentTypeError, "n_u"),
        (lambda: gc.JointGaussian(np.eye(2), None), gc.ArgumentTypeError, "n_u"),
        (lambda: gc.JointGaussian(np.eye(2), 1, mean=[1j, 0.0]), gc.ArgumentTypeError, "mean"),
        (lambda: gc.JointGaussian(np.eye(2), 1, mean=[NAN, 0.0]), gc.DomainError, "mean"),
        (lambda: gc.JointGaussian(np.eye(2), 1, mean=[0.0]), gc.ShapeError, "mean"),
        (lambda: MU.conditional("w", [1.0]), gc.OptionError, "side"),
        (lambda: MU.conditional("u", [1j]), gc.ArgumentTypeError, "given"),
        (lambda: MU.conditional("u", [1.0, 2.0]), gc.ShapeError, "given"),
        (lambda: MU.logpdf([NAN], [0.0]), gc.DomainError, "u"),
        (lambda: MU.logpdf([0.0], [[0.0]]), gc.ShapeError, "u"),
        (lambda: MU.sample(-1, RNG), gc.DomainError, "n"),
        (lambda: MU.sample(None, RNG), gc.ArgumentTypeError, "n"),
        (lambda: MU.sample(3, 0), gc.ArgumentTypeError, "rng"),
    ],
    "Gaussian": [
        (lambda: gc.Gaussian([0.0], [[1j]]), gc.ArgumentTypeError, "cov"),
        (lambda: gc.Gaussian([0.0], [[NAN]]), gc.DomainError, "cov"),
        (lambda: gc.Gaussian([0.0], [[-1.0]]), gc.CovarianceError, "cov"),
        (lambda: gc.Gaussian([0.0, 1.0], [[1.0]]), gc.ShapeError, "mean"),
        (lambda: gc.Gaussian([[0.0]], [[1.0]]), gc.ShapeError, "mean"),
        (lambda: gc.Gaussian([1j], [[1.0]]), gc.ArgumentTypeError, "mean"),
        (lambda: GAUSS.logpdf([1j, 0.0]), gc.ArgumentTypeError, "x"),
        (lambda: GAUSS.logpdf([0.0]), gc.ShapeError, "x"),
        (lambda: GAUSS.sample(1.5, RNG), gc.ArgumentTypeError, "n"),
    ],
    "kl_divergence": [
        (lambda: gc.kl_divergence(MU, np.eye(2)), gc.ArgumentTypeError, "q"),
        (lambda: gc.kl_divergence("p", MU), gc.ArgumentTypeError, "p"),
        (lambda: gc.kl_divergence(MU, MU2), gc.ShapeError, "q"),
        (
            lambda: gc.kl_divergence(gc.Gaussian([0.0], [[1e-300]]), gc.Gaussian([1e300], [[1.0]])),
            gc.DomainError,
            "p",
        ),
    ],
    "h": [
        (lambda: gc.h(-1.0), gc.DomainError, "sigma"),
        (lambda: gc.h(2.0), gc.DomainError, "sigma"),
        (lambda: gc.h(NAN), gc.DomainError, "sigma"),
        (lambda: gc.h(0.5j), gc.ArgumentTypeError, "sigma"),
        (lambda: gc.h("0.5"), gc.ArgumentTypeError, "sigma"),
    ],
    "tilted": [
        (lambda: gc.tilted(np.eye(2), [[0.1]]), gc.ArgumentTypeError, "mu"),
        (lambda: gc.tilted(MU, [[0.1j]]), gc.ArgumentTypeError, "A"),
        (lambda: gc.tilted(MU, [[NAN]]), gc.DomainError, "A"),
        (lambda: gc.tilted(MU, [[0.1, 0.2]]), gc.ShapeError, "A"),
        (lambda: gc.tilted(MU, [[1e300]]), gc.DomainError, "A"),
        (lambda: gc.tilted(MU, [[0.7]]), gc.DomainError, "A"),
        (lambda: gc.tilted(MU, [[0.1]], [[-10.0]], None), gc.DomainError, "B"),
        (lambda: gc.tilted(MU, [[0.1]], [[HUGE]], [[HUGE]]), gc.DomainError, "B"),
        (lambda: gc.tilted(MU, [[0.1]], [[1.0, 0.0]]), gc.ShapeError, "B"),
        (lambda: gc.tilted(MU, [[0.1]], tilting="cosine"), gc.OptionError, "tilting"),
        (lambda: gc.tilted(MU, [[0.1]], [[0.1]], tilting="inner"), gc.OptionError, "B"),
    ],
    "tilted_conditional": [
        (lambda: gc.tilted_conditional(MU, "w", [1.0], [[0.1]]), gc.OptionError, "side"),
        (lambda: gc.tilted_conditional(MU, "u", [1j], [[0.1]]), gc.ArgumentTypeError, "given"),
        (lambda: gc.tilted_conditional(MU, "u", [NAN], [[0.1]]), gc.DomainError, "given"),
        (lambda: gc.tilted_conditional(MU, "u", [1.0, 2.0], [[0.1]]), gc.ShapeError, "given"),
        (lambda: gc.tilted_conditional(MU, "u", [1.0], [[INF]]), gc.DomainError, "A"),
        (lambda: gc.tilted_conditional(MU, "u", [1.0], [[0.1]], [[-2.0]]), gc.DomainError, "B"),
        (lambda: gc.tilted_conditional(MU, "u", [1e300], [[1e300]]), gc.DomainError, "A"),
    ],
    "population_loss": [
        (lambda: gc.population_loss(MU, "clip", "inner", A=[[0.1]]), gc.OptionError, "loss"),
        (lambda: gc.population_loss(MU, "cond", "cos", A=[[0.1]]), gc.OptionError, "tilting"),
        (lambda: gc.population_loss(MU, "cond", "inner"), gc.OptionError, "A"),
        (lambda: gc.population_loss(MU, "cond", "inner", A=[[1j]]), gc.ArgumentTypeError, "A"),
        (lambda: gc.population_loss(MU, "cond", "inner", A=[[1e300]]), gc.DomainError, "A"),
        (lambda: gc.population_loss(MU, "joint", "inner", A=[[1e300]]), gc.DomainError, "A"),
        (
            lambda: gc.population_loss(MU, "cond", "quadratic", G=[[1e160]], H=[[1e160]]),
            gc.DomainError,
            "G",
        ),
        (
            lambda: gc.population_loss(MU, "cond", "inner", A=[[0.1]], weights=(NAN, 1.0)),
            gc.OptionError,
            "weights",
        ),
        (
            lambda: gc.population_loss(MU, "cond", "inner", A=[[0.1]], weights=(1j, 1.0)),
            gc.ArgumentTypeError,
            "weights",
        ),
        (
            lambda: gc.population_loss(MU, "cond", "inner", A=[[0.1]], weights="x|y"),
            gc.OptionError,
            "weights",
        ),
        (
            lambda: gc.population_loss(
                MU, "cond", "cosine", G=[[1.0]], H=[[1.0]], temperature=None
            ),
            gc.ArgumentTypeError,
            "temperature",
        ),
        (
            lambda: gc.population_loss(MU, "cond", "cosine", G=[[1.0]], H=[[1.0]], temperature="a"),
            gc.ArgumentTypeError,
            "temperature",
        ),
        (
            lambda: gc.population_loss(MU, "cond", "cosine", G=[[1.0]], H=[[1.0]], n_samples=0),
            gc.DomainError,
            "n_samples",
        ),
        (
            lambda: gc.population_loss(MU, "cond", "cosine", G=[[1.0]], H=[[1.0]], n_samples=None),
            gc.ArgumentTypeError,
            "n_samples",
        ),
        (
            lambda: gc.population_loss(MU, "cond", "cosine", G=[[1.0]], H=[[1.0]], rng=-1),
            gc.DomainError,
            "rng",
        ),
    ],
    "minimize": [
        (lambda: gc.minimize([[1.0]]), gc.ArgumentTypeError, "mu"),
        (lambda: gc.minimize(MU, "clip"), gc.OptionError, "loss"),
        (lambda: gc.minimize(MU, tilting="cos"), gc.OptionError, "tilting"),
        (lambda: gc.minimize(MU, rank=2), gc.RankError, "rank"),
        (lambda: gc.minimize(MU, rank=0), gc.RankError, "rank"),
        (lambda: gc.minimize(MU, rank=1.5), gc.ArgumentTypeError, "rank"),
        (lambda: gc.minimize(MU, weights=(0.0, 0.0)), gc.OptionError, "weights"),
        (lambda: gc.minimize(MU, "joint", weights=(2.0, 0.0)), gc.OptionError, "weights"),
        (lambda: gc.minimize(MU, method="exact"), gc.OptionError, "method"),
        (lambda: gc.minimize(MU, n_starts=0), gc.DomainError, "n_starts"),
        (lambda: gc.minimize(MU, seed=-1), gc.DomainError, "seed"),
        (lambda: gc.minimize(MU, seed=1.5), gc.ArgumentTypeError, "seed"),
        (lambda: gc.minimize(MU, temperature=None), gc.ArgumentTypeError, "temperature"),
        (lambda: gc.minimize(MU, temperature=0.0), gc.DomainError, "temperature"),
        (lambda: gc.minimize(MU, temperature=NAN), gc.DomainError, "temperature"),
        (lambda: gc.minimize(MU, n_samples=0), gc.DomainError, "n_samples"),
        (lambda: gc.minimize(MU, n_samples=None), gc.ArgumentTypeError, "n_samples"),
    ],
    "summaries": [
        (lambda: summaries.moments_1d(GRID[::-1], np.ones(5)), gc.ShapeError, "x"),
        (lambda: summaries.moments_1d(GRID, -np.ones(5)), gc.DomainError, "density"),
        (lambda: summaries.moments_1d(GRID, np.ones(5) * 1j), gc.ArgumentTypeError, "density"),
        (lambda: summaries.moments_1d(GRID, np.ones(4)), gc.ShapeError, "density"),
        (lambda: summaries.moments_1d(GRID * 1e308, np.ones(5)), gc.DomainError, "density"),
        (lambda: summaries.moments_2d(GRID, GRID, np.ones((4, 5))), gc.ShapeError, "density"),
        (lambda: summaries.gaussian_band(GAUSS, 1.5), gc.DomainError, "level"),
        (lambda: summaries.gaussian_band(GAUSS, None), gc.ArgumentTypeError, "level"),
        (lambda: summaries.gaussian_band(np.eye(2)), gc.ArgumentTypeError, "gaussian"),
        (lambda: summaries.band_coverage(np.ones((3, 2)), [0.0], [1.0]), gc.ShapeError, "samples"),
        (lambda: summaries.band_coverage(np.ones((3, 1)), [NAN], [1.0]), gc.DomainError, "lower"),
        (lambda: summaries.conditional_mean_error(MU, "w", [[0.1]]), gc.OptionError, "side"),
        (lambda: summaries.conditional_mean_error(MU, "u", [[1e300]]), gc.DomainError, "A"),
        (lambda: summaries.conditional_mean_error(MU, "u", [[0.1j]]), gc.ArgumentTypeError, "A"),
        (
            lambda: summaries.conditional_mean_errors(MU, "u", [[0.1]], [[1.0, 2.0]]),
            gc.ShapeError,
            "given",
        ),
    ],
}

ROWS = [(name, i, *row) for name, rows in TABLES.items() for i, row in enumerate(rows)]


@pytest.mark.parametrize(
    ("function", "index", "call", "error", "argument"),
    ROWS,
    ids=[f"{name}-{i}" for name, i, *_ in ROWS],
)
def test_bad_input_table(function, index, call, error, argument):
    with pytest.raises(error) as info:
        call()
    assert f"`{argument}`" in str(info.value), str(info.value)


def test_every_public_engine_function_has_a_table():
    assert set(TABLES) == {
        "JointGaussian",
        "Gaussian",
        "kl_divergence",
        "h",
        "tilted",
        "tilted_conditional",
        "population_loss",
        "minimize",
        "summaries",
    }
    for function in (gc.minimize, gc.population_loss, gc.tilted, gc.tilted_conditional, gc.h):
        assert hasattr(function, "constraints")  # declared, not ad hoc (gaussclip._validation)
