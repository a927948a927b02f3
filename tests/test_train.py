"""Training loop: Adam against a reference, exact resume, NaN/inf guard, checkpoint safety."""

import autograd.numpy as anp
import numpy as np
import pytest

from gaussclip import losses
from gaussclip.errors import OptionError, ShapeError
from gaussclip.nn import mlp
from gaussclip.train import (
    NonFiniteError,
    StopTraining,
    TrainConfig,
    fit,
    load_checkpoint,
    tree_leaves,
)


def problem(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((96, 5)).astype(np.float32)
    y = np.tanh(x @ rng.standard_normal((5, 3))).astype(np.float32)
    params = mlp.init(np.random.default_rng(1), (5, 8, 3))

    def objective(p, xb, yb):
        return losses.cond_loss(anp.dot(mlp.apply(p, xb), yb.T))

    return objective, params, (x, y)


CONFIG = TrainConfig(epochs=4, batch_size=32, lr=1e-2, progress=False)


def leaves(params):
    return [a for _, a in tree_leaves(params)]


def assert_identical(a, b):
    for x, y in zip(leaves(a), leaves(b), strict=True):
        assert x.dtype == y.dtype
        assert np.array_equal(x, y)


def test_adam_matches_textbook_update():
    # one parameter, quadratic loss; Adam written out step by step (Kingma & Ba, Algorithm 1)
    x = np.arange(8.0)[:, None]
    cfg = TrainConfig(epochs=3, batch_size=4, lr=0.1, progress=False, seed=5)
    result = fit(lambda p, xb: anp.mean((p["w"] - xb) ** 2), {"w": np.array([3.0])}, (x,), cfg)
    rng = np.random.default_rng(5)
    w, m, v, t = 3.0, 0.0, 0.0, 0
    for _ in range(3):
        order = rng.permutation(8)
        for s in range(2):
            xb = x[order[4 * s : 4 * s + 4], 0]
            g = np.mean(2 * (w - xb))
            t += 1
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g * g
            w -= 0.1 * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
    assert np.isclose(result.params["w"][0], w, rtol=1e-12)
    assert result.adam["step"] == 6


def test_training_reduces_the_loss_and_keeps_float32():
    objective, params, data = problem()
    result = fit(objective, params, data, TrainConfig(epochs=15, batch_size=32, lr=1e-2))
    losses_ = [r["loss"] for r in result.history]
    assert losses_[-1] < losses_[0]
    assert all(a.dtype == np.float32 for a in leaves(result.params))
    assert [r["epoch"] for r in result.history] == list(range(1, 16))
    assert all(a is not b for a, b in zip(leaves(params), leaves(result.params), strict=True))


def test_resume_after_stop_reproduces_uninterrupted_run_bit_for_bit(tmp_path):
    objective, params, data = problem()
    full = fit(objective, params, data, CONFIG)

    def stop_after_two(epoch, p, record):
        if epoch == 2:
            raise StopTraining

    path = tmp_path / "run.npz"
    first = fit(objective, params, data, CONFIG, checkpoint=path, callbacks=[stop_after_two])
    assert first.stopped and first.epoch == 2
    meta, _, _ = load_checkpoint(path)
    assert meta["epoch"] == 2
    resumed = fit(objective, params, data, CONFIG, checkpoint=path, resume=True)
    assert resumed.epoch == 4
    assert_identical(resumed.params, full.params)
    for a, b in zip(resumed.adam["m"] + resumed.adam["v"], full.adam["m"] + full.adam["v"],
                    strict=True):  # fmt: skip
        assert np.array_equal(a, b)
    assert [r["loss"] for r in resumed.history] == [r["loss"] for r in full.history]


def test_resume_after_crash_mid_epoch(tmp_path):
    objective, params, data = problem()
    full = fit(objective, params, data, CONFIG)
    calls = {"n": 0}

    def crashing(p, xb, yb):
        calls["n"] += 1
        if calls["n"] == 2 * 3 + 2:  # second step of epoch 3 (3 steps per epoch)
            raise KeyboardInterrupt
        return objective(p, xb, yb)

    path = tmp_path / "run.npz"
    with pytest.raises(KeyboardInterrupt):
        fit(crashing, params, data, CONFIG, checkpoint=path)
    assert load_checkpoint(path)[0]["epoch"] == 2
    resumed = fit(objective, params, data, CONFIG, checkpoint=path, resume=True)
    assert_identical(resumed.params, full.params)


def test_nan_guard_names_epoch_and_step_and_keeps_last_good_checkpoint(tmp_path):
    objective, params, data = problem()
    calls = {"n": 0}

    def exploding(p, xb, yb):
        calls["n"] += 1
        value = objective(p, xb, yb)
        return value * np.nan if calls["n"] == 3 * 2 + 3 else value  # epoch 3, step 3

    path = tmp_path / "run.npz"
    with pytest.raises(NonFiniteError, match=r"epoch 3, step 3 of 3.*epoch 2\) is kept"):
        fit(exploding, params, data, CONFIG, checkpoint=path)
    meta, saved, _ = load_checkpoint(path)
    assert meta["epoch"] == 2
    assert all(np.all(np.isfinite(a)) for a in saved)
    # the kept checkpoint resumes into the uninterrupted run
    full = fit(objective, params, data, CONFIG)
    resumed = fit(objective, params, data, CONFIG, checkpoint=path, resume=True)
    assert_identical(resumed.params, full.params)


def test_infinite_gradient_is_caught():
    def objective(p, xb):
        return anp.sum(anp.sqrt(anp.abs(p["w"] - 1.0)))  # gradient inf at w = 1

    cfg = TrainConfig(epochs=1, batch_size=2, progress=False)
    with (
        np.errstate(divide="ignore", invalid="ignore"),  # autograd computes 0 * inf = NaN
        pytest.raises(NonFiniteError, match=r"non-finite gradient.*epoch 1, step 1"),
    ):
        fit(objective, {"w": np.ones(2)}, (np.zeros((4, 1)),), cfg)


def test_checkpoint_safety_and_config_checks(tmp_path):
    objective, params, data = problem()
    path = tmp_path / "run.npz"
    fit(objective, params, data, TrainConfig(epochs=1, batch_size=32, progress=False),
        checkpoint=path)  # fmt: skip
    with pytest.raises(OptionError, match="already exists"):
        fit(objective, params, data, CONFIG, checkpoint=path)
    with pytest.raises(OptionError, match="lr"):
        fit(objective, params, data, TrainConfig(epochs=2, batch_size=32, lr=0.5),
            checkpoint=path, resume=True)  # fmt: skip
    other = mlp.init(np.random.default_rng(0), (5, 9, 3))
    same = TrainConfig(epochs=2, batch_size=32, progress=False)
    with pytest.raises(ShapeError, match="do not match"):
        fit(objective, other, data, same, checkpoint=path, resume=True)
    meta = load_checkpoint(path)[0]
    assert meta["config"]["batch_size"] == 32 and "rng_state" in meta
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporary files


def test_numpy_metrics_from_callbacks_are_checkpointed(tmp_path):
    objective, params, data = problem()
    cfg = TrainConfig(epochs=1, batch_size=32, progress=False)

    def metrics(epoch, p, record):
        return {"r1": np.float32(0.5), "ranks": np.arange(3)}

    fit(objective, params, data, cfg, checkpoint=tmp_path / "m.npz", callbacks=[metrics])
    history = load_checkpoint(tmp_path / "m.npz")[0]["history"]
    assert history[0]["r1"] == 0.5 and history[0]["ranks"] == [0, 1, 2]


def test_callbacks_add_to_history_and_bad_settings():
    objective, params, data = problem()
    result = fit(
        objective,
        params,
        data,
        TrainConfig(epochs=2, batch_size=32, progress=False),
        callbacks=[lambda epoch, p, record: {"double": 2 * record["loss"]}],
    )
    assert all(np.isclose(r["double"], 2 * r["loss"]) for r in result.history)
    with pytest.raises(ShapeError, match="batch_size"):
        fit(objective, params, data, TrainConfig(batch_size=1000))
    with pytest.raises(ShapeError, match="first axis"):
        fit(objective, params, (data[0], data[1][:5]), CONFIG)
    with pytest.raises(OptionError, match="schedule"):
        TrainConfig(schedule="linear")


def test_cosine_schedule_ends_at_zero_and_progress_is_quiet(capsys):
    objective, params, data = problem()
    cfg = TrainConfig(epochs=2, batch_size=32, lr=1e-2, schedule="cosine", progress=None)
    result = fit(objective, params, data, cfg)
    assert result.history[-1]["lr"] == 0.0
    assert capsys.readouterr().err == ""  # not a terminal: no progress bar
