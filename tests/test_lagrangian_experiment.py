"""The Section 6.3 experiment (gaussclip.experiments.lagrangian) at tiny size: features,
retrieval metrics, training with per-epoch metrics, checkpointed resume."""

import json
from dataclasses import replace

import numpy as np
import pytest

import gaussclip as gc
from gaussclip.experiments import lagrangian as experiment
from gaussclip.train import StopTraining

TINY = experiment.preset("tiny")


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GAUSSCLIP_CACHE", str(tmp_path / "cache"))


def test_features_of_uniform_motion_are_exact():
    times = np.linspace(0.001, 0.1, 100)
    velocity = np.array([3.0, -1.5])
    path = np.array([0.75, 0.75]) + times[:, None] * velocity
    features = experiment.trajectory_features(path[None], times)
    assert features.shape == (1, 100, 4) and features.dtype == np.float32
    np.testing.assert_allclose(features[0, :, :2], (path - 0.75) / 0.2, rtol=1e-6)
    np.testing.assert_allclose(features[0, :, 2:], np.tile(velocity / 6.0, (100, 1)), rtol=1e-5)


def test_retrieval_metrics_perfect_and_chance():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((256, 8))
    perfect = experiment.retrieval_metrics(z, z, rng)
    for scope in ("full", "batch"):
        for direction in ("c_to_t", "t_to_c"):
            assert perfect[scope][direction] == {"R@1": 1.0, "R@5": 1.0}
    assert perfect["n_candidates_full"] == 256 and perfect["n_candidates_batch"] == 128
    # unrelated embeddings: recall near chance (k / candidates); 256 queries, 5 sigma
    random = experiment.retrieval_metrics(z, rng.standard_normal((256, 8)), rng)
    for scope, size in (("full", 256), ("batch", 128)):
        r5 = random[scope]["c_to_t"]["R@5"]
        chance = 5 / size
        assert abs(r5 - chance) < 5 * np.sqrt(chance * (1 - chance) / 256)


def test_training_records_metrics_and_resumes_exactly(tmp_path, monkeypatch):
    whole, train, test = experiment.train(TINY, progress=False)
    assert whole.epoch == TINY.epochs and len(whole.history) == TINY.epochs
    record = whole.history[-1]
    assert record["test"]["n_candidates_full"] == TINY.n_test
    assert set(record["train"]["full"]) == {"c_to_t", "t_to_c"}
    assert train.coefficients.shape == (TINY.n_train, 98) and len(test) == TINY.n_test

    def stop(epoch, params, record):
        raise StopTraining

    monkeypatch.setenv("GAUSSCLIP_CACHE", str(tmp_path / "other"))
    first, _, _ = experiment.train(TINY, progress=False, callbacks=[stop])
    assert first.epoch == 1
    resumed, _, _ = experiment.train(TINY, progress=False)
    for (name, a), (_, b) in zip(
        gc.train.tree_leaves(resumed.params), gc.train.tree_leaves(whole.params), strict=True
    ):
        np.testing.assert_array_equal(a, b, err_msg=name)
    top, scores, rank = experiment.top_potentials(resumed.params, TINY, test, 0, k=3)
    assert len(top) == 3 and np.all(np.diff(scores) <= 0) and 1 <= rank <= TINY.n_test


def test_paper_shaped_encoder_and_bad_config():
    paper = experiment.preset("full").paper_shaped()
    shape = paper.transformer_config(1000)
    assert (shape.patch, shape.n_blocks, shape.n_tokens, shape.n_out) == (1, 12, 1000, 98)
    assert experiment.preset("motion").transformer_config(1000).n_tokens == 20
    quick = experiment.preset("quick").transformer_config(4)  # 4 physics tokens of 98 numbers
    assert (quick.n_tokens, quick.n_in, quick.pooling, quick.causal) == (4, 98, "mean", False)
    with pytest.raises(gc.GaussclipError, match="batch_size"):
        experiment.LagrangianConfig(n_train=10, batch_size=128)
    with pytest.raises(gc.OptionError, match="mode"):
        experiment.preset("medium")
    with pytest.raises(gc.OptionError, match="features"):
        experiment.LagrangianConfig(features="fourier")
    with pytest.raises(gc.GaussclipError, match="validation"):
        experiment.LagrangianConfig(n_train=100, validation=99)


def test_encoder_inputs_of_each_feature_kind_and_a_validation_split(monkeypatch):
    """Motion features per point, physics tokens per `every * per_token` points; a held-out
    validation split is scored every epoch and never trained on."""
    train_data, _ = experiment.load_data(TINY, progress=False)
    shapes = {
        kind: experiment.encoder_inputs(replace(TINY, features=kind), train_data).shape
        for kind in experiment.FEATURES
    }
    assert shapes == {
        "motion": (96, 1000, 4),
        "matched": (96, 4, 98),
        "local_posterior": (96, 4, 98),
    }
    seen = []
    original = experiment.fit

    def spy(objective, params, data, *args, **kwargs):
        seen.append(len(data[0]))
        return original(objective, params, data, *args, **kwargs)

    monkeypatch.setattr(experiment, "fit", spy)
    held_out = replace(TINY, validation=32, epochs=1)
    result, _, _ = experiment.train(held_out, progress=False)
    assert seen == [64]
    assert result.history[-1]["validation"]["n_candidates_full"] == 32


def test_command_line_trains_a_preset_and_prints_it_beside_the_reference(capsys):
    """``python -m gaussclip.experiments.lagrangian PRESET`` (here the tiny one)."""
    summary = experiment.main(["tiny"])
    printed = json.loads(capsys.readouterr().out)
    assert printed["preset"] == "tiny" and printed["epochs"] == TINY.epochs
    for block in ("test", "physics_reference"):
        assert set(printed[block]["batch"]) == {"c_to_t", "t_to_c"}
    assert printed["physics_reference"]["settings"]["every"] == 10
    assert summary["test"] == printed["test"]
    with pytest.raises(SystemExit):
        experiment.main(["medium"])


def test_the_data_module_s_quick_splits_are_the_quick_presets_data():
    """``gaussclip data lagrangian`` (``paper_split(..., "quick")``) caches exactly the splits
    the quick figures load: same sizes, same time step, same seeds."""
    from gaussclip.data import lagrangian as lag

    quick = experiment.preset("quick")
    assert (quick.n_train, quick.n_test) == (lag.QUICK_N["train"], lag.QUICK_N["test"])
    assert dict(quick.data) == lag.QUICK_STEP
    assert experiment.preset("motion").n_train == 8192 and experiment.preset("motion").data == ()
