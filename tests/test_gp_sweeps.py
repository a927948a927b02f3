"""The Section 6.1 experiment (gaussclip.experiments.gp_sweeps) and the conditional-mean errors
behind Figures 8-10 (gaussclip.summaries)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gaussclip as gc
from gaussclip.experiments.gp_sweeps import RunConfig, run
from gaussclip.summaries import conditional_mean_error, conditional_mean_errors
from gaussclip.testing.strategies import joint_gaussians, tilting_parameters

#: Closed forms against each other: rounding only.
EXACT = 1e-9
#: Monte Carlo averages of 20,000 squared errors against their expectation: 5 standard errors.
MC_SIGMAS = 5.0


@given(mu=joint_gaussians(), side=st.sampled_from("uv"), data=st.data())
def test_conditional_mean_error_exact_against_monte_carlo(mu, side, data):
    A = data.draw(tilting_parameters(mu, "inner"))["A"]
    u, v = mu.sample(20_000, np.random.default_rng(0))
    errors = conditional_mean_errors(mu, side, A, v if side == "u" else u)
    sem = errors.std(ddof=1) / np.sqrt(errors.size)
    assert abs(errors.mean() - conditional_mean_error(mu, side, A)) <= MC_SIGMAS * sem + EXACT
    # each squared error is the distance of the model's conditional mean (eq. 41) to the truth
    x = (v if side == "u" else u)[0]
    model = gc.tilted_conditional(mu, side, x, A).mean
    np.testing.assert_allclose(errors[0], np.sum((model - mu.conditional_mean(side, x)) ** 2))


#: A canonical correlation this large makes the rank-(k-1) truncation's error clearly positive.
SIGNIFICANT_SIGMA = 0.05


@given(mu=joint_gaussians())
def test_theorem_5_1_minimizer_has_zero_error_and_rank_r_does_not(mu):
    full = gc.minimize(mu)
    scale = np.trace(mu.Cuu) + np.trace(mu.Cvv)
    for side in "uv":
        assert conditional_mean_error(mu, side, full.A) <= EXACT * scale
    sigma = mu.canonical_correlations()
    if sigma.size > 1 and sigma[-1] > SIGNIFICANT_SIGMA:
        low = gc.minimize(mu, rank=sigma.size - 1)
        assert conditional_mean_error(mu, "v", low.A) > 0.0


def test_quadratic_parameters_and_bad_input():
    mu = gc.JointGaussian([[1.5, 1.0], [1.0, 1.5]], n_u=1)
    sol = gc.minimize(mu, "cond", "quadratic", weights=(2.0, 0.0))
    # Corollary 5.4: the one-sided quadratic minimizer matches E[u|v] exactly, not E[v|u]
    assert conditional_mean_error(mu, "u", sol.A, sol.B, sol.C) < EXACT
    assert conditional_mean_error(mu, "v", sol.A, sol.B, sol.C) > 0.01
    with pytest.raises(gc.OptionError, match="side"):
        conditional_mean_error(mu, "w", sol.A)
    with pytest.raises(gc.ArgumentTypeError, match="JointGaussian"):
        conditional_mean_error(np.eye(2), "u", sol.A)
    with pytest.raises(gc.ShapeError):
        conditional_mean_error(mu, "u", np.eye(2))
    with pytest.raises(gc.GaussclipError, match="given"):
        conditional_mean_errors(mu, "u", sol.A, np.ones((3, 2)))


def test_run_trains_towards_the_empirical_optimum():
    """2,000 pairs, 600 Adam steps: the trained E[v|u] is within a small factor of the best the
    samples allow (the empirical optimum, Remark D.2) and far below knowing nothing (A = 0);
    the population optimum is exact at n_e = 5."""
    config = RunConfig(
        n_samples=2000, batch_size=500, lr=1e-2, schedule="cosine", n_eval=2000
    ).with_steps(600)
    assert config.epochs == 150
    result = run(config)
    error = result["error"]
    mu = gc.data.gp.joint_uv()
    know_nothing = conditional_mean_error(mu, "v", np.zeros((mu.n_u, mu.n_v)))
    # Trained/empirical error ratios depend on the draw: over seeds 0-3 and two (equally valid)
    # samplers of mu (8 draws) they reached 3.9 for E[v|u] and 6.7 for E[u|v] (12-dimensional,
    # slower in 600 steps), and the trained E[v|u] error reached 0.05 of knowing nothing; the
    # bounds below hold with a margin for any of those draws, not for one lucky seed.
    factor = {"u": 10.0, "v": 6.0}
    for side in "uv":
        assert error["population"][side] < EXACT
        assert error["trained"][side] < factor[side] * error["empirical"][side] + 1e-4
    assert error["trained"]["v"] < 0.1 * know_nothing
    realization = result["realization"]
    gap = realization["trained_v_given_u"] - realization["truth_v_given_u"]
    assert np.linalg.norm(gap) < 0.5 * np.linalg.norm(realization["truth_v_given_u"])
    assert np.isfinite(result["loss"])


def test_run_config_is_checked():
    with pytest.raises(gc.GaussclipError, match="batch_size"):
        RunConfig(n_samples=100, batch_size=200)
    with pytest.raises(gc.GaussclipError, match="n_e"):
        RunConfig(n_e=0)
    with pytest.raises(gc.OptionError, match="RunConfig"):
        run({"n_e": 2})
    assert RunConfig(n_samples=1000, batch_size=300).with_steps(10).epochs == 4
