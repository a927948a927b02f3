"""Verified checkpoints (gaussclip.train.checkpoint) and safe destinations (gaussclip.io).

README: training runs are "verified by sha256 before use". Every corrupted, truncated, foreign
or future-format checkpoint must raise CheckpointError naming the file and the fix, and nothing
from it may be used; an unwritable folder must fail before the first training step."""

import io as pyio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_train import problem  # the same small MLP problem as the trainer tests

from gaussclip import io
from gaussclip.errors import CheckpointError, DestinationError
from gaussclip.train import TrainConfig, checkpoint, fit, load_checkpoint
from gaussclip.train.checkpoint import CHECKPOINT_FORMAT, MAGIC

CONFIG = TrainConfig(epochs=2, batch_size=32, lr=1e-2, progress=False)


@pytest.fixture(scope="module")
def good_bytes(tmp_path_factory):
    objective, params, data = problem()
    path = tmp_path_factory.mktemp("ckpt") / "run.ckpt"
    fit(objective, params, data, TrainConfig(epochs=1, batch_size=32, progress=False),
        checkpoint=path)  # fmt: skip
    return path.read_bytes()


def _refused(path, what):
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert str(path) in message and "Delete the file" in message
    assert what in message
    return message


def test_a_good_checkpoint_carries_a_manifest_and_loads(tmp_path, good_bytes):
    path = tmp_path / "run.ckpt"
    path.write_bytes(good_bytes)
    manifest, payload = checkpoint.verify(path)
    assert manifest["format"] == CHECKPOINT_FORMAT and manifest["bytes"] == len(payload)
    assert manifest["sha256"] == io.sha256_bytes(payload)
    meta, leaves, adam = load_checkpoint(path)
    assert meta["epoch"] == 1 and len(leaves) == len(adam["m"]) == 4


@given(position=st.integers(0, 10**9), bit=st.integers(0, 7))
def test_any_single_bit_flip_is_refused(tmp_path_factory, good_bytes, position, bit):
    data = bytearray(good_bytes)
    data[position % len(data)] ^= 1 << bit
    path = tmp_path_factory.mktemp("flip") / "run.ckpt"
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="Delete the file"):
        load_checkpoint(path)


@given(keep=st.integers(0, 10**9))
def test_any_truncation_is_refused(tmp_path_factory, good_bytes, keep):
    path = tmp_path_factory.mktemp("cut") / "run.ckpt"
    path.write_bytes(good_bytes[: keep % len(good_bytes)])
    with pytest.raises(CheckpointError, match="Delete the file"):
        load_checkpoint(path)


def test_payload_corruption_names_the_checksum(tmp_path, good_bytes):
    data = bytearray(good_bytes)
    data[-100] ^= 0x10
    (tmp_path / "a.ckpt").write_bytes(bytes(data))
    _refused(tmp_path / "a.ckpt", "sha256")
    (tmp_path / "b.ckpt").write_bytes(good_bytes[:-10])
    _refused(tmp_path / "b.ckpt", "truncated")


def test_junk_empty_and_pickle_files_are_refused_without_numpys_pickle_hint(tmp_path):
    (tmp_path / "junk.ckpt").write_bytes(os.urandom(4000))
    message = _refused(tmp_path / "junk.ckpt", "not a gaussclip checkpoint")
    assert "allow_pickle" not in message
    (tmp_path / "empty.ckpt").write_bytes(b"")
    _refused(tmp_path / "empty.ckpt", "empty")
    (tmp_path / "pickle.ckpt").write_bytes(b"\x80\x04\x95" + b"x" * 50)
    assert "allow_pickle" not in _refused(tmp_path / "pickle.ckpt", "header")
    (tmp_path / "folder.ckpt").mkdir()
    _refused(tmp_path / "folder.ckpt", "cannot be read")


def test_foreign_npz_and_format_1_checkpoints_are_refused(tmp_path):
    np.savez(tmp_path / "foreign.npz", meta=np.array("{}"), param_0=np.ones(3))
    _refused(tmp_path / "foreign.npz", "plain .npz archive without a gaussclip manifest")


def _reframe(good_bytes, **changes):
    end = good_bytes.index(b"\n", len(MAGIC))
    manifest = json.loads(good_bytes[len(MAGIC) : end])
    manifest.update(changes)
    return MAGIC + json.dumps(manifest).encode() + b"\n" + good_bytes[end + 1 :]


def test_future_and_unknown_formats_are_refused(tmp_path, good_bytes):
    (tmp_path / "future.ckpt").write_bytes(_reframe(good_bytes, format=CHECKPOINT_FORMAT + 1))
    _refused(tmp_path / "future.ckpt", "newer gaussclip")
    (tmp_path / "old.ckpt").write_bytes(_reframe(good_bytes, format=0))
    _refused(tmp_path / "old.ckpt", "unknown format 0")
    (tmp_path / "bad.ckpt").write_bytes(_reframe(good_bytes, sha256=7))
    _refused(tmp_path / "bad.ckpt", "lacks format, bytes or sha256")


def test_payload_with_a_valid_checksum_but_foreign_content_is_refused(tmp_path):
    buffer = pyio.BytesIO()
    np.savez(buffer, meta=np.array(json.dumps({"epoch": 1})))
    payload = buffer.getvalue()
    manifest = {"format": CHECKPOINT_FORMAT, "bytes": len(payload),
                "sha256": io.sha256_bytes(payload)}  # fmt: skip
    (tmp_path / "x.ckpt").write_bytes(MAGIC + json.dumps(manifest).encode() + b"\n" + payload)
    _refused(tmp_path / "x.ckpt", "does not hold a gaussclip run")


def test_fit_refuses_a_corrupted_checkpoint_and_uses_nothing_from_it(tmp_path, good_bytes):
    objective, params, data = problem()
    path = tmp_path / "run.ckpt"
    corrupted = bytearray(good_bytes)
    corrupted[len(good_bytes) // 2] ^= 1
    path.write_bytes(bytes(corrupted))
    calls = []

    def spy(p, *batch):
        calls.append(1)
        return objective(p, *batch)

    with pytest.raises(CheckpointError, match=str(path)):
        fit(spy, params, data, CONFIG, checkpoint=path, resume=True)
    assert calls == [] and path.read_bytes() == bytes(corrupted)  # not trained, not overwritten


def test_cached_experiment_run_that_is_corrupted_is_a_clear_error(tmp_path, monkeypatch):
    from gaussclip.experiments import mnist

    monkeypatch.setenv("GAUSSCLIP_CACHE", str(tmp_path / "cache"))
    tiny = mnist.preset("tiny")
    mnist.train(tiny, (1.0, 1.0), progress=False)
    path = mnist._run_path(tiny, (1.0, 1.0))
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(CheckpointError, match=f"{path}.*truncated"):
        mnist.train(tiny, (1.0, 1.0), progress=False)


# --- destinations -----------------------------------------------------------------------------
def _read_only_folder(tmp_path):
    """A folder on a read-only file system: a read-only tmpfs when this process may mount one
    (root in a container usually may not), else /proc (read-only for everyone, root included)."""
    target = tmp_path / "ro"
    target.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(target)],
                             capture_output=True, check=False)  # fmt: skip
    if mounted.returncode == 0:
        return target, "read-only", lambda: subprocess.run(["umount", str(target)], check=False)
    return "/proc/gaussclip-test", "", lambda: None


def test_unwritable_destinations_fail_before_the_first_step(tmp_path):
    objective, params, data = problem()
    calls = []

    def spy(p, *batch):
        calls.append(1)
        return objective(p, *batch)

    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    folder, read_only, cleanup = _read_only_folder(tmp_path)
    try:
        for where, reason in (
            (blocker / "sub" / "run.ckpt", "not a folder"),
            (blocker / "run.ckpt", "not a folder"),
            (os.path.join(folder, "run.ckpt"), read_only),
        ):
            with pytest.raises(DestinationError, match="cannot write") as info:
                fit(spy, params, data, CONFIG, checkpoint=where)
            assert reason in str(info.value) and "writable folder" in str(info.value)
            assert isinstance(info.value, OSError)
    finally:
        cleanup()
    assert calls == []


def test_full_disk_is_reported_before_training(tmp_path, monkeypatch):
    objective, params, data = problem()

    class Full:
        f_bavail, f_frsize = 10, 4096

    monkeypatch.setattr(io.os, "statvfs", lambda folder: Full())
    with pytest.raises(DestinationError, match="bytes free"):
        fit(objective, params, data, CONFIG, checkpoint=tmp_path / "run.ckpt")


def test_cache_folder_errors_name_gaussclip_cache(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("GAUSSCLIP_CACHE", str(blocker / "cache"))
    with pytest.raises(DestinationError, match=r"\$GAUSSCLIP_CACHE"):
        io.cache_dir("mnist_runs")
    monkeypatch.setenv("GAUSSCLIP_CACHE", str(tmp_path / "ok"))
    with pytest.raises(DestinationError, match=r"under \$GAUSSCLIP_CACHE"):
        io.check_writable(io.cache_dir() / "x" / "y", need_bytes=10**18)


# --- killed writers ---------------------------------------------------------------------------
WRITER = textwrap.dedent(
    """
    import sys, numpy as np
    from gaussclip.train import TrainConfig, fit
    from gaussclip.nn import mlp
    import autograd.numpy as anp
    from gaussclip import losses
    rng = np.random.default_rng(0)
    x = rng.standard_normal((512, 64)).astype(np.float32)
    y = rng.standard_normal((512, 8)).astype(np.float32)
    params = mlp.init(np.random.default_rng(1), (64, 512, 512, 8))
    def objective(p, xb, yb):
        return losses.cond_loss(anp.dot(mlp.apply(p, xb), yb.T))
    print("ready", flush=True)
    fit(objective, params, (x, y), TrainConfig(epochs=10**6, batch_size=256, progress=False),
        checkpoint=sys.argv[1], resume=True)
    """
)


def test_sigkill_during_training_leaves_no_usable_partial_file(tmp_path):
    path = tmp_path / "run.ckpt"
    outcomes = set()
    for delay in (0.5, 0.9, 1.3):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)],
                                stdout=subprocess.PIPE, text=True)  # fmt: skip
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        if path.exists():
            meta, leaves, _ = load_checkpoint(path)  # complete and verified, or CheckpointError
            assert all(np.all(np.isfinite(a)) for a in leaves)
            outcomes.add(meta["epoch"])
    # temporaries of the killed writers are removed by the next writer of the same file
    leftovers = list(tmp_path.glob(".run.ckpt.*.tmp"))
    io.atomic_write_bytes(tmp_path / "run.ckpt.other", b"x")  # another target: untouched
    assert sorted(tmp_path.glob(".run.ckpt.*.tmp")) == sorted(leftovers)
    if path.exists():
        io.atomic_write_bytes(path, path.read_bytes())
    assert list(tmp_path.glob(".run.ckpt.*.tmp")) == []


def test_stale_temporaries_only_gaussclips_own_of_dead_or_old_writers(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    target = tmp_path / "run.ckpt"
    names = {
        "dead": f".run.ckpt.{dead.pid}.0123456789abcdef.tmp",
        "alive": f".run.ckpt.{os.getppid()}.0123456789abcdef.tmp",
        "alive_old": f".run.ckpt.{os.getppid()}.fedcba9876543210.tmp",
        "mine": f".run.ckpt.{os.getpid()}.0123456789abcdef.tmp",
        "foreign": f".run.ckpt.{dead.pid}.user-file.tmp",
        "other_target": f".other.ckpt.{dead.pid}.0123456789abcdef.tmp",
    }
    for name in names.values():
        (tmp_path / name).write_bytes(b"partial")
    old = time.time() - io.STALE_TMP_SECONDS - 10
    os.utime(tmp_path / names["alive_old"], (old, old))
    removed = io.remove_stale_temporaries(target)
    assert sorted(removed) == sorted([names["dead"], names["alive_old"]])
    left = {p.name for p in tmp_path.iterdir()}
    assert left == {names[k] for k in ("alive", "mine", "foreign", "other_target")}


def test_no_umask_changes_and_the_folder_is_fsynced(tmp_path, monkeypatch):
    def forbidden(mask):
        raise AssertionError("gaussclip.io must not change the process umask")

    synced_folders = []
    real_fsync = os.fsync

    def spy(fd):
        if os.path.isdir(f"/proc/self/fd/{fd}"):
            synced_folders.append(os.readlink(f"/proc/self/fd/{fd}"))
        return real_fsync(fd)

    plain = tmp_path / "plain.bin"
    plain.write_bytes(b"x")
    monkeypatch.setattr(io.os, "umask", forbidden)
    monkeypatch.setattr(io.os, "fsync", spy)
    written = io.atomic_write_bytes(tmp_path / "atomic.bin", b"x")
    assert os.stat(written).st_mode & 0o777 == os.stat(plain).st_mode & 0o777
    assert str(tmp_path) in synced_folders
