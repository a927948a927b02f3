"""One test per kind of bad input: each raises a GaussclipError whose message names the
argument, what was expected and what was received."""

import numpy as np
import pytest

import gaussclip as gc

MU = gc.JointGaussian([[1.5, 1.0], [1.0, 1.5]], 1)
MU3 = gc.JointGaussian(np.diag([1.0, 2.0, 3.0]) + 0.1, 1)


def test_all_errors_are_value_errors():
    for cls in (gc.CovarianceError, gc.ShapeError, gc.RankError, gc.OptionError, gc.DomainError):
        assert issubclass(cls, gc.GaussclipError) and issubclass(cls, ValueError)


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (
            lambda: gc.JointGaussian([[1.0, 0.5], [0.4, 1.0]], 1),
            gc.CovarianceError,
            "`cov` must be symmetric",
        ),
        (lambda: gc.JointGaussian([[1.0, 2.0], [2.0, 1.0]], 1), gc.CovarianceError, "indefinite"),
        (lambda: gc.JointGaussian([[1.0, 1.0], [1.0, 1.0]], 1), gc.CovarianceError, "singular"),
        (lambda: gc.JointGaussian([[-1.0, 0.0], [0.0, 1.0]], 1), gc.CovarianceError, "C_uu"),
        (
            lambda: gc.JointGaussian([[1.0, np.inf], [np.inf, 1.0]], 1),
            gc.DomainError,
            "`cov` must be a real array .* with finite entries",
        ),
        (lambda: gc.JointGaussian(np.ones((2, 3)), 1), gc.ShapeError, "square"),
        (lambda: gc.JointGaussian([[1.0]], 1), gc.ShapeError, "at least 2x2"),
        (
            lambda: gc.JointGaussian(np.eye(3), 3),
            gc.RankError,
            r"`n_u` must be an integer in \[1, 2\]",
        ),
        (
            lambda: gc.JointGaussian(np.eye(3), 1.5),
            gc.ArgumentTypeError,
            "`n_u` must be an integer",
        ),
        (
            lambda: gc.JointGaussian(np.eye(3), 1, mean=[0.0, 1.0]),
            gc.ShapeError,
            r"`mean` must be a real array of shape \(3,\)",
        ),
        (lambda: gc.Gaussian([0.0], [[0.0]]), gc.CovarianceError, "positive definite"),
        (lambda: MU.conditional("u", [1.0, 2.0]), gc.ShapeError, r"`v` must have shape \(1,\)"),
        (lambda: MU.conditional("w", [1.0]), gc.OptionError, "`side` must be one of"),
        (
            lambda: gc.minimize(MU3, rank=2),
            gc.RankError,
            r"`rank` must be an integer in \[1, 1\] for n_u=1, n_v=2",
        ),
        (lambda: gc.minimize(MU, rank=0), gc.RankError, "Reduce `rank`"),
        (
            lambda: gc.minimize(MU, loss="clip"),
            gc.OptionError,
            "`loss` must be one of 'cond', 'joint'",
        ),
        (lambda: gc.minimize(MU, tilting="cos"), gc.OptionError, "`tilting` must be one of"),
        (
            lambda: gc.minimize(MU, weights=(-1.0, 1.0)),
            gc.OptionError,
            "`weights` must be a pair .* non-negative",
        ),
        (lambda: gc.minimize(MU, weights=(0.0, 0.0)), gc.OptionError, "not both zero"),
        (lambda: gc.minimize(MU, weights=(1.0,)), gc.OptionError, "pair"),
        (
            lambda: gc.minimize(MU, "joint", weights=(2.0, 0.0)),
            gc.OptionError,
            "apply to loss='cond' only",
        ),
        (lambda: gc.minimize(MU, method="exact"), gc.OptionError, "`method` must be one of"),
        (
            lambda: gc.minimize(np.eye(2)),
            gc.ArgumentTypeError,
            "`mu` must be a gaussclip.JointGaussian",
        ),
        (
            lambda: gc.population_loss(MU, "joint", "inner", A=[[0.9]]),
            gc.DomainError,
            "does not exist",
        ),
        (
            lambda: gc.population_loss(MU, "cond", "inner", A=[[1.0, 2.0]]),
            gc.ShapeError,
            r"`A` must be a real array of shape \(1, 1\)",
        ),
        (
            lambda: gc.population_loss(MU, "cond", "inner", A=[[np.nan]]),
            gc.DomainError,
            "`A` must be .* with finite entries",
        ),
        (
            lambda: gc.population_loss(MU, "cond", "inner", A=[[0.1]], B=[[0.1]]),
            gc.OptionError,
            "belong to the quadratic",
        ),
        (
            lambda: gc.population_loss(MU, "cond", "quadratic", A=[[0.1]], B=[[-5.0]]),
            gc.DomainError,
            "must be positive definite",
        ),
        (
            lambda: gc.population_loss(MU, "cond", "inner", A=[[0.1]], G=[[1.0]], H=[[1.0]]),
            gc.OptionError,
            "mixture",
        ),
        (
            lambda: gc.population_loss(MU, "cond", "inner", G=[[1.0]], H=[[1.0], [2.0]]),
            gc.ShapeError,
            "same number of rows",
        ),
        (lambda: gc.population_loss(MU, "cond", "inner"), gc.OptionError, "give the parameter `A`"),
        (lambda: gc.tilted(MU, [[0.7]]), gc.DomainError, "Shrink A"),
    ],
)
def test_bad_input_raises_clear_error(make, error, message):
    with pytest.raises(error, match=message):
        make()
