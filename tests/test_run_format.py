"""Run caches keyed by config and RUN_FORMAT_VERSION (gaussclip.experiments._run_format)."""

import numpy as np
import pytest

from gaussclip.experiments import _run_format, lagrangian, mnist, reference_run
from gaussclip.train import load_checkpoint


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GAUSSCLIP_CACHE", str(tmp_path / "cache"))


def test_reference_run_is_unchanged_at_this_run_format_version():
    version = _run_format.RUN_FORMAT_VERSION
    numbers = reference_run.reference_numbers()
    fix = (
        "Bump RUN_FORMAT_VERSION in gaussclip/experiments/_run_format.py and add "
        f"REFERENCE_NUMBERS[{version + 1}] = {numbers!r} (keep the older entries)."
    )
    assert sorted(_run_format.REFERENCE_NUMBERS) == list(range(1, version + 1)), (
        f"REFERENCE_NUMBERS must hold one entry per version 1..{version}. {fix}"
    )
    for name, expected in _run_format.REFERENCE_NUMBERS[version].items():
        got = numbers[name]
        assert np.allclose(got, expected, rtol=_run_format.REFERENCE_RTOL, atol=0.0), (
            f"The tiny reference run '{name}' now gives {got}, not {expected}: the code that "
            "produces training runs changed its numbers, so cached runs of the previous code are "
            f"stale. {fix}"
        )


def test_run_paths_depend_on_config_and_version(monkeypatch):
    tiny = mnist.preset("tiny")
    path = mnist._run_path(tiny, (1.0, 1.0))
    assert path.suffix == ".ckpt" and f"_v{_run_format.RUN_FORMAT_VERSION}_" in path.name
    assert mnist._run_path(tiny, (0.0, 2.0)) != path
    lag_path = lagrangian._run_path(lagrangian.preset("tiny"), {"n": 1})
    monkeypatch.setattr(_run_format, "RUN_FORMAT_VERSION", _run_format.RUN_FORMAT_VERSION + 1)
    assert mnist._run_path(tiny, (1.0, 1.0)) != path
    assert lagrangian._run_path(lagrangian.preset("tiny"), {"n": 1}) != lag_path


def test_a_run_cached_by_an_older_version_is_retrained_not_loaded(monkeypatch):
    tiny = mnist.preset("tiny")
    epochs_run = []

    def count(epoch, params, record):
        epochs_run.append(epoch)

    first = mnist.train(tiny, (0.0, 2.0), progress=False, callbacks=[count])
    assert epochs_run == list(range(1, tiny.epochs + 1))
    old_path = mnist._run_path(tiny, (0.0, 2.0))
    assert load_checkpoint(old_path)[0]["epoch"] == tiny.epochs
    epochs_run.clear()
    mnist.train(tiny, (0.0, 2.0), progress=False, callbacks=[count])
    assert epochs_run == []  # same version: the finished run is loaded
    monkeypatch.setattr(_run_format, "RUN_FORMAT_VERSION", _run_format.RUN_FORMAT_VERSION + 1)
    again = mnist.train(tiny, (0.0, 2.0), progress=False, callbacks=[count])
    assert epochs_run == list(range(1, tiny.epochs + 1))  # new version: retrained
    assert mnist._run_path(tiny, (0.0, 2.0)) != old_path
    assert [r["loss"] for r in again.history] == [r["loss"] for r in first.history]
