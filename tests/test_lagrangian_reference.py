"""The physics reference of Figure 14 (gaussclip.experiments.lagrangian_reference), checked
against the simulator of gaussclip.data.lagrangian."""

import numpy as np
import pytest

from gaussclip.data import lagrangian as lag
from gaussclip.errors import DomainError, ShapeError
from gaussclip.experiments import lagrangian_reference as ref

#: velocity_matrix and the simulator's kernel evaluate the same trigonometric sums in another
#: order: they agree to float64 rounding of terms of size ~RMS_SPEED.
VELOCITY_ATOL = 1e-11
#: RK4 with dt = 1e-4 is accurate to ~1e-10 (simulator docstring), so midpoint differences of
#: consecutive points have an O(dt^2) error ~1e-6 relative; with sigma = 1e-6 and a flow whose
#: 16 real coefficients the 1000 velocities determine, the posterior mean is the truth up to a
#: few 1e-3 relative (measured: 3e-3 at worst over 16 flows).
RECOVERY_RTOL = 1e-2
#: The two algebraic forms of the posterior mean (coefficient space vs. data space) agree to the
#: conditioning of a 98 x 98 / 200 x 200 solve.
FORMS_RTOL = 1e-6


def simulate(radius, n, seed=5):
    kv = lag.wavevectors(radius)
    freqs = lag.frequencies(kv)
    c = lag.sample_coefficients(n, np.random.default_rng(seed), kv)
    paths = lag.trajectories(c, freqs, kv, dt=1e-4, record_every=1, progress=False)
    return lag.to_real(c), paths, lag.record_times(1e-4, lag.T, 1), freqs, kv


def test_velocity_matrix_is_the_simulators_velocity():
    kv = lag.wavevectors()
    freqs = lag.frequencies(kv)
    rng = np.random.default_rng(0)
    c = lag.sample_coefficients(20, rng, kv)
    x = rng.uniform(-1, 2, (20, 2))
    t = rng.uniform(0, lag.T, 20)
    A = ref.velocity_matrix(x, t, freqs, kv)
    assert A.shape == (20, 2, 2 * len(kv))
    w = np.einsum("nij,nj->ni", A, lag.to_real(c))
    for i in range(20):
        expected = lag.velocity(x[i : i + 1], t[i], c[i], freqs, kv)[0]
        np.testing.assert_allclose(w[i], expected, rtol=0, atol=VELOCITY_ATOL)


def test_prior_is_the_coefficients_law():
    kv = lag.wavevectors()
    s = ref.prior_std(kv)
    c = lag.to_real(lag.sample_coefficients(20_000, np.random.default_rng(1), kv))
    assert s[lag.ZERO_MODE] == 0 and s[len(kv) + lag.ZERO_MODE] == 0
    # Monte Carlo standard deviations: 20,000 draws, relative standard error 0.5%
    np.testing.assert_allclose(c.std(axis=0), s, rtol=0.03)


def test_noise_free_limit_recovers_the_coefficients_of_a_determined_flow():
    # radius 1: 8 modes, 16 real unknowns (and the silent k = 0 pair), 2000 velocities
    true, paths, times, freqs, kv = simulate(radius=1, n=16)
    errors = {}
    for noise in (1e-2, 1e-4, 1e-6):
        est = ref.posterior_mean_embedding(paths, times, freqs, kv, noise=noise, every=1)
        errors[noise] = np.linalg.norm(est - true, axis=1) / np.linalg.norm(true, axis=1)
    assert np.max(errors[1e-6]) < RECOVERY_RTOL
    # shrinking the noise level moves the estimate towards the truth
    assert np.median(errors[1e-6]) < np.median(errors[1e-4]) < np.median(errors[1e-2])


def test_posterior_mean_equals_the_data_space_form():
    true, paths, times, freqs, kv = simulate(radius=3, n=3)
    noise, every = 1e-2, 10
    est = ref.posterior_mean_embedding(paths, times, freqs, kv, noise=noise, every=every)
    mid, mid_t, y = ref.observations(paths, times, every=every)
    s2 = ref.prior_std(kv) ** 2
    for i in range(3):
        A = ref.velocity_matrix(mid[i], mid_t, freqs, kv).reshape(-1, 2 * len(kv))
        # Woodbury: S^2 A^T (A S^2 A^T + sigma^2 I)^{-1} y
        data_cov = (A * s2) @ A.T + noise**2 * np.eye(A.shape[0])
        expected = s2 * (A.T @ np.linalg.solve(data_cov, y[i].ravel()))
        np.testing.assert_allclose(est[i], expected, rtol=FORMS_RTOL, atol=1e-9)
    assert np.all(est[:, lag.ZERO_MODE] == 0)  # the silent mode keeps its prior mean
    # the estimate points towards the truth far more than a random direction would
    cos = np.sum(est * true, 1) / np.linalg.norm(est, axis=1) / np.linalg.norm(true, axis=1)
    assert np.all(cos > 0.3)


def test_observations_use_every_kth_point_after_the_release():
    times = np.arange(1, 21) * 0.5
    paths = np.stack([times, -times], axis=-1)[None] + np.array(lag.X0)  # velocity (1, -1)
    mid, mid_t, y = ref.observations(paths, times, every=5)
    np.testing.assert_allclose(mid_t, [1.25, 3.75, 6.25, 8.75])
    np.testing.assert_allclose(y, np.tile([1.0, -1.0], (1, 4, 1)))
    np.testing.assert_allclose(mid[0, 0], np.add(lag.X0, (1.25, -1.25)))


def test_reference_metrics_on_a_small_set(tmp_path, monkeypatch):
    monkeypatch.setenv("GAUSSCLIP_CACHE", str(tmp_path))
    data = lag.dataset(48, 1, dt=1e-4, record_every=1)
    out = ref.reference_metrics(data, np.random.default_rng(0))
    assert out["n_candidates_full"] == 48 and out["settings"]["every"] == ref.EVERY
    # 48 candidates: chance R@5 is 0.1; the physics reference is far above it
    assert out["full"]["t_to_c"]["R@5"] > 0.5 and out["full"]["c_to_t"]["R@5"] > 0.5


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"noise": 0.0}, DomainError, "noise"),
        ({"every": 0}, DomainError, "every"),
        ({"every": 1001}, DomainError, "every"),
        ({"std": np.ones(3)}, ShapeError, "std"),
        ({"std": -np.ones(98)}, DomainError, "std"),
        ({"times": np.zeros(1000)}, DomainError, "times"),
        ({"times": np.ones(7)}, ShapeError, "times"),
    ],
)
def test_bad_arguments(kwargs, error, message):
    kv = lag.wavevectors()
    args = {"trajectories": np.zeros((2, 1000, 2)), "times": lag.record_times()} | kwargs
    with pytest.raises(error, match=message):
        ref.posterior_mean_embedding(
            args.pop("trajectories"), args.pop("times"), lag.frequencies(kv), kv, **args
        )
