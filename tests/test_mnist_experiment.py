"""The Section 6.2 experiment (gaussclip.experiments.mnist) on synthetic digits: training,
checkpointed resume, evaluation and Proposition 6.1. The real MNIST loader is tested in
tests/test_mnist_data.py; quick/full runs are ``make figures`` / ``--full``."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gaussclip as gc
from gaussclip.experiments import mnist
from gaussclip.train import StopTraining

#: Proposition 6.1 is an identity between two float64 evaluations of the same sums.
IDENTITY_ATOL = 1e-10
TINY = mnist.preset("tiny")


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GAUSSCLIP_CACHE", str(tmp_path / "cache"))


@given(seed=st.integers(0, 2**16), n=st.integers(2, 64), scale=st.floats(0.1, 20.0))
def test_proposition_6_1_v_given_u_loss_is_shifted_cross_entropy(seed, n, scale):
    rng = np.random.default_rng(seed)
    logits = scale * rng.standard_normal((n, mnist.N_CLASSES))
    labels = rng.integers(0, mnist.N_CLASSES, n)
    gap = mnist.proposition_6_1_gap(logits, labels)
    assert gap["gap"] < IDENTITY_ATOL * max(1.0, abs(gap["cond_loss"]))
    # a class-balanced batch: the shift is the same constant log(n/10) for every image
    balanced = np.repeat(np.arange(mnist.N_CLASSES), 3)
    g = mnist.proposition_6_1_gap(logits[:1].repeat(30, axis=0), balanced)
    assert np.isclose(g["cond_loss"], g["plain_cross_entropy"] + np.log(3) - np.log(30))


def test_effective_sample_size():
    assert mnist.effective_sample_size(np.full(50, 0.02)) == pytest.approx(50.0)
    assert mnist.effective_sample_size([1.0, 0.0, 0.0]) == 1.0


def test_interrupted_run_resumes_to_the_uninterrupted_result(tmp_path, monkeypatch):
    weights = (0.0, 2.0)
    whole = mnist.train(TINY, weights, progress=False)

    def stop_after_first_epoch(epoch, params, record):
        raise StopTraining

    monkeypatch.setenv("GAUSSCLIP_CACHE", str(tmp_path / "other"))
    first = mnist.train(TINY, weights, progress=False, callbacks=[stop_after_first_epoch])
    assert first.epoch == 1 and first.stopped
    resumed = mnist.train(TINY, weights, progress=False)
    assert resumed.epoch == TINY.epochs
    for name, layer in whole.params["u"].items():
        for key, value in layer.items():
            np.testing.assert_array_equal(resumed.params["u"][name][key], value)
    # a finished run is loaded, not retrained: same history, no new epoch
    again = mnist.train(TINY, weights, progress=False)
    assert [r["loss"] for r in again.history] == [r["loss"] for r in resumed.history]


def test_run_evaluates_all_three_losses():
    out = mnist.run(TINY, progress=False)
    n_test = TINY.n_test
    for weights in mnist.WEIGHTS:
        entry = out[mnist.PAPER_NAMES[weights]]
        p = np.asarray(entry["probabilities"])
        assert p.shape == (n_test, 10) and np.allclose(p.sum(axis=1), 1.0)
        assert 0.0 <= entry["accuracy"] <= 1.0
        assert all(1.0 <= e <= n_test + 1e-9 for e in entry["ess"])
        assert len(entry["draws"]) == 16 and 1 <= entry["distinct_draws"] <= 16
        assert entry["proposition_6_1"]["gap"] < 1e-6
        fine = entry["fine_tuning"]
        assert fine["n_fine_tune"] + fine["n_scored"] == n_test
        assert set(entry["label_to_image"]) == {1, 10, 100}
        assert entry["calibration"]["accuracy"] == entry["accuracy"]
        assert set(entry["calibration"]) == {"accuracy", "nll", "ece", "brier"}
        # the collapse monitor recorded every epoch; its last record is the final evaluation
        last = entry["history"][-1]["collapse"]
        assert len(entry["history"]) == TINY.epochs
        assert last["distinct_draws"] == entry["distinct_draws"]
        assert last["expected_distinct"] == pytest.approx(entry["expected_distinct"], rel=1e-12)
        assert last["ess_label"] == pytest.approx(entry["ess"][7], rel=1e-12)
    # synthetic digits are easy: the classifier loss learns them in two short epochs
    assert out["(2,0)"]["accuracy"] > 0.5
    # fine-tuning (G, F) on half the test set helps the model that never modelled v|u
    assert (
        out["(0,2)"]["fine_tuning"]["accuracy_after"]
        > out["(0,2)"]["fine_tuning"]["accuracy_before"]
    )


def test_collapse_stats_of_uniform_and_peaked_weights():
    flat = mnist.collapse_stats(np.zeros((40, mnist.N_CLASSES)))
    assert flat["ess_median"] == pytest.approx(40.0) and flat["ess_label"] == pytest.approx(40.0)
    peaked = np.zeros((40, mnist.N_CLASSES))
    peaked[3, 7] = 50.0  # one image carries all the weight of label 7 (e^-50 for the others)
    out = mnist.collapse_stats(peaked)
    assert out["ess_label"] == pytest.approx(1.0) and out["distinct_draws"] == 1
    assert out["expected_distinct"] == pytest.approx(1.0)
    assert flat["expected_distinct"] == pytest.approx(40 * (1 - (1 - 1 / 40) ** 16))
    assert np.all(out["draws"] == 3) and out["ess_median"] == pytest.approx(40.0)


#: The distinct count is averaged over MC_REPEATS repetitions of the 16 draws and must match its
#: expectation to MC_SIGMAS standard errors of that mean (estimated from the repetitions), plus
#: MC_FLOOR for the degenerate case of one image carrying all the weight (no spread at all).
MC_REPEATS = 4000
MC_SIGMAS = 5.0
MC_FLOOR = 1e-9


@given(seed=st.integers(0, 2**16), n_images=st.integers(1, 60), spread=st.floats(0.0, 6.0))
def test_expected_distinct_is_the_mean_of_the_drawn_count(seed, n_images, spread):
    rng = np.random.default_rng(seed)
    weights = np.exp(spread * rng.standard_normal(n_images))
    weights /= weights.sum()
    expected = mnist.expected_distinct(weights, 16)
    draws = rng.choice(n_images, size=(MC_REPEATS, 16), p=weights)
    counts = (np.sort(draws, axis=1)[:, 1:] != np.sort(draws, axis=1)[:, :-1]).sum(axis=1) + 1
    standard_error = counts.std() / np.sqrt(MC_REPEATS)
    assert abs(expected - counts.mean()) <= MC_SIGMAS * standard_error + MC_FLOOR
    assert 1.0 - 1e-12 <= expected <= min(16, n_images) + 1e-12


def test_expected_distinct_closed_forms():
    # k equally weighted images: k (1 - (1 - 1/k)^n); a point mass: 1; tiny weights: ~n
    for k in (1, 2, 10, 1000):
        got = mnist.expected_distinct(np.full(k, 1.0 / k), 16)
        assert got == pytest.approx(k * (1.0 - (1.0 - 1.0 / k) ** 16), rel=1e-12)
    assert mnist.expected_distinct([0.0, 1.0, 0.0], 16) == 1.0
    assert mnist.expected_distinct(np.full(10**6, 1e-6), 16) == pytest.approx(16.0, abs=1e-3)


def test_bad_arguments():
    with pytest.raises(gc.OptionError, match="weights"):
        mnist.objective((1.0, 0.0))
    with pytest.raises(gc.GaussclipError, match="batch_size"):
        mnist.MnistConfig(n_train=100, batch_size=512)
    with pytest.raises(gc.OptionError, match="mode"):
        mnist.preset("fast")
