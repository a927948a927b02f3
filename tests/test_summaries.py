"""Grid moments and Gaussian bands (gaussclip.summaries) against exact values and Monte Carlo."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gaussclip as gc
from gaussclip.summaries import band_coverage, gaussian_band, moments_1d, moments_2d

#: Trapezoidal moments of a Gaussian on a grid reaching >= 8 standard deviations with >= 20
#: points per standard deviation: spectrally accurate, so rounding-level agreement.
GRID_RTOL = 1e-8
#: Monte Carlo coverage: 200,000 draws of 3 coordinates, binomial standard error ~3e-4.
COVERAGE_ATOL = 5 * np.sqrt(0.95 * 0.05 / 200_000)


@given(mean=st.floats(-3.0, 3.0), sd=st.floats(0.3, 3.0))
def test_moments_1d_of_a_gaussian(mean, sd):
    x = np.linspace(mean - 10 * sd, mean + 10 * sd, 801)
    m = moments_1d(x, gc.Gaussian([mean], [[sd * sd]]).pdf(x[:, None]))
    np.testing.assert_allclose(
        [m.mass, m.mean, m.var], [1.0, mean, sd * sd], rtol=GRID_RTOL, atol=GRID_RTOL
    )


@given(rho=st.floats(-0.9, 0.9), sx=st.floats(0.5, 2.0), sy=st.floats(0.5, 2.0))
def test_moments_2d_of_a_gaussian(rho, sx, sy):
    cov = np.array([[sx * sx, rho * sx * sy], [rho * sx * sy, sy * sy]])
    x = np.linspace(-9 * sx, 9 * sx, 361)
    y = np.linspace(-9 * sy, 9 * sy, 301) + 0.5
    xx, yy = np.meshgrid(x, y)
    g = gc.Gaussian([0.0, 0.5], cov)
    p = g.pdf(np.stack([xx.ravel(), yy.ravel()], axis=1)).reshape(xx.shape)
    m = moments_2d(x, y, p)
    assert abs(m.mass - 1.0) < GRID_RTOL
    np.testing.assert_allclose(m.mean, [0.0, 0.5], atol=GRID_RTOL)
    np.testing.assert_allclose(m.var, cov, atol=GRID_RTOL)


def test_moments_of_a_non_gaussian_density():
    """A density with a jump at 0 (the cosine model's shape): exp(k sign(x)) phi(x) / cosh(k)
    has mean tanh(k) sqrt(2 / pi) and variance 1 - mean^2."""
    k = 0.8
    x = np.linspace(-9.0, 9.0, 4000)  # even count: 0 is a cell midpoint
    p = np.exp(k * np.sign(x)) * np.exp(-0.5 * x * x) / np.sqrt(2 * np.pi) / np.cosh(k)
    m = moments_1d(x, p)
    mean = np.tanh(k) * np.sqrt(2 / np.pi)
    np.testing.assert_allclose([m.mass, m.mean, m.var], [1.0, mean, 1 - mean**2], rtol=1e-5)


def test_gaussian_band_coverage_by_monte_carlo():
    g = gc.Gaussian([0.0, 1.0, -2.0], [[1.0, 0.5, 0.0], [0.5, 2.0, 0.3], [0.0, 0.3, 0.5]])
    lower, upper = gaussian_band(g, 0.95)
    np.testing.assert_allclose(upper - g.mean, 1.959963984540054 * np.sqrt(np.diag(g.cov)))
    samples = g.sample(200_000, np.random.default_rng(3))
    assert abs(band_coverage(samples, lower, upper) - 0.95) < COVERAGE_ATOL
    lower, upper = gaussian_band(g, 0.5)
    assert abs(band_coverage(samples, lower, upper) - 0.5) < COVERAGE_ATOL * 2


def test_bad_input_is_rejected():
    x = np.linspace(-1, 1, 5)
    with pytest.raises(gc.ShapeError, match="increasing"):
        moments_1d(x[::-1], np.ones(5))
    with pytest.raises(gc.DomainError, match="non-negative"):
        moments_1d(x, -np.ones(5))
    with pytest.raises(gc.DomainError, match="positive mass"):
        moments_1d(x, np.zeros(5))
    with pytest.raises(gc.ShapeError, match="shape"):
        moments_2d(x, x[:4], np.ones((5, 5)))
    with pytest.raises(gc.DomainError, match="level"):
        gaussian_band(gc.Gaussian([0.0], [[1.0]]), 1.5)
    with pytest.raises(gc.ArgumentTypeError, match="Gaussian"):
        gaussian_band(np.eye(2))
    with pytest.raises(gc.ShapeError, match="samples"):
        band_coverage(np.ones((3, 2)), [0.0], [1.0])
