"""Checkpoints of :func:`~gaussclip.train.fit`: format, save, verify, load.

A checkpoint is one file written atomically (:func:`gaussclip.io.atomic_write_bytes`)::

    GAUSSCLIP-CHECKPOINT\\n                       magic line
    {"format": 2, "bytes": N, "sha256": "..."}\\n  manifest (JSON, one line)
    <N bytes: an .npz archive>                    payload

The payload holds ``param_i``, ``adam_m_i``, ``adam_v_i`` for every leaf and ``meta`` (JSON:
epoch, Adam step, generator state, config, history, leaf paths/shapes/dtypes). Loading verifies
before it reads: the magic line, the manifest, the format version (a newer one is refused), the
payload length and its sha256; only then is the payload opened, with ``allow_pickle=False``, and
its structure checked against the manifest. Every failure is a
:class:`~gaussclip.errors.CheckpointError` naming the file, what is wrong and the fix; nothing
from a file that fails is ever used. Cached training runs of the experiments are checkpoints, so
they are verified the same way.
"""

import io
import json
import zipfile
from dataclasses import asdict

import numpy as np

from ..errors import CheckpointError, OptionError, ShapeError
from ..io import atomic_write_bytes, sha256_bytes

#: Version of the file layout above. Format 1 (gaussclip < 0.2) was a bare .npz without manifest.
CHECKPOINT_FORMAT = 2
MAGIC = b"GAUSSCLIP-CHECKPOINT\n"
#: The manifest line is short; a file whose first line is longer is not a checkpoint.
MAX_MANIFEST_BYTES = 4096

#: Fields that may differ between a checkpointed run and the run that resumes it: they do not
#: change the trajectory up to the checkpoint (``epochs`` only extends it, except with the
#: cosine schedule, which depends on the total length and is checked separately).
RESUMABLE_FIELDS = {"epochs", "progress", "checkpoint_every"}

_META_KEYS = {"epoch", "adam_step", "rng_state", "config", "history", "leaves"}


def _plain(value):
    """JSON form of NumPy scalars and arrays that callbacks may put in the history."""
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    raise TypeError(f"history entries must be numbers, strings, lists or dicts; got {value!r}")


def leaf_signature(leaves):
    """``[[path, shape, dtype], ...]`` of ``[(path, array), ...]``, as stored in the meta."""
    return [[p, list(np.shape(a)), str(np.asarray(a).dtype)] for p, a in leaves]


def encode(leaves, adam, epoch, rng, config, history):
    """The bytes of a checkpoint (magic, manifest, payload)."""
    arrays = {}
    for i, (_, leaf) in enumerate(leaves):
        arrays[f"param_{i}"] = leaf
        arrays[f"adam_m_{i}"] = adam["m"][i]
        arrays[f"adam_v_{i}"] = adam["v"][i]
    meta = {
        "epoch": epoch,
        "adam_step": adam["step"],
        "rng_state": rng.bit_generator.state,
        "config": asdict(config),
        "history": history,
        "leaves": leaf_signature(leaves),
    }
    arrays["meta"] = np.array(json.dumps(meta, default=_plain))
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    payload = buffer.getvalue()
    manifest = {"format": CHECKPOINT_FORMAT, "bytes": len(payload), "sha256": sha256_bytes(payload)}
    return MAGIC + json.dumps(manifest, sort_keys=True).encode() + b"\n" + payload


def save(path, leaves, adam, epoch, rng, config, history):
    """Write a checkpoint atomically; returns the path."""
    return atomic_write_bytes(path, encode(leaves, adam, epoch, rng, config, history))


def _fail(path, problem):
    raise CheckpointError(
        f"checkpoint {path} cannot be used: {problem}. Nothing was loaded from it. Delete the "
        "file to start the run afresh (or pass another `checkpoint` path)."
    )


def verify(path):
    """Check a checkpoint file without opening its payload; returns ``(manifest, payload)``.

    Raises
    ------
    CheckpointError
        When the file is unreadable, foreign (no manifest), of a newer format, truncated or
        corrupted (the payload's sha256 differs from the manifest's).
    """
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        _fail(path, f"it cannot be read ({exc.strerror or exc})")
    if not data.startswith(MAGIC):
        if data.startswith(b"PK\x03\x04"):
            _fail(
                path,
                "it is a plain .npz archive without a gaussclip manifest (a foreign file, or a "
                "checkpoint of format 1 written before checkpoints were verified)",
            )
        what = (
            "it is empty" if not data else "it does not start with the gaussclip checkpoint header"
        )
        _fail(path, what + " (not a gaussclip checkpoint, or its beginning is damaged)")
    end = data.find(b"\n", len(MAGIC), len(MAGIC) + MAX_MANIFEST_BYTES)
    if end < 0:
        _fail(path, "its manifest line is missing or damaged (truncated or corrupted)")
    try:
        manifest = json.loads(data[len(MAGIC) : end].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        _fail(path, "its manifest is not valid JSON (corrupted)")
    if not (
        isinstance(manifest, dict)
        and isinstance(manifest.get("format"), int)
        and not isinstance(manifest.get("format"), bool)
        and isinstance(manifest.get("bytes"), int)
        and isinstance(manifest.get("sha256"), str)
    ):
        _fail(path, f"its manifest {manifest!r:.120} lacks format, bytes or sha256 (corrupted)")
    if manifest["format"] > CHECKPOINT_FORMAT:
        _fail(
            path,
            f"it has format {manifest['format']}, written by a newer gaussclip; this version "
            f"reads format {CHECKPOINT_FORMAT} (upgrade gaussclip to use it)",
        )
    if manifest["format"] != CHECKPOINT_FORMAT:
        _fail(path, f"it has the unknown format {manifest['format']}")
    payload = data[end + 1 :]
    if len(payload) != manifest["bytes"]:
        _fail(
            path,
            f"its payload has {len(payload)} bytes where the manifest records "
            f"{manifest['bytes']} (truncated or corrupted)",
        )
    digest = sha256_bytes(payload)
    if digest != manifest["sha256"]:
        _fail(
            path,
            f"its payload has sha256 {digest[:16]}..., not the recorded "
            f"{manifest['sha256'][:16]}... (corrupted)",
        )
    return manifest, payload


def load(path):
    """Verify and read a checkpoint written by :func:`~gaussclip.train.fit`.

    Returns
    -------
    (meta, params_leaves, adam)
        ``meta`` the JSON metadata (epoch, config, history, ...), the parameter arrays in
        :func:`~gaussclip.train.trees.tree_leaves` order, and the Adam state
        ``{"m": [...], "v": [...], "step": int}``.

    Raises
    ------
    CheckpointError
        See :func:`verify`; also when a payload that passes its checksum does not hold what its
        metadata says (written by an incompatible program).
    """
    _, payload = verify(path)
    try:
        with np.load(io.BytesIO(payload), allow_pickle=False) as data:
            meta = json.loads(str(data["meta"][()]))
            if not isinstance(meta, dict) or not _META_KEYS <= set(meta):
                raise ValueError(f"its metadata lacks {sorted(_META_KEYS - set(meta or {}))}")
            if not isinstance(meta["config"], dict) or not isinstance(meta["history"], list):
                raise ValueError("its config or history has the wrong type")
            n = len(meta["leaves"])
            leaves = [data[f"param_{i}"] for i in range(n)]
            adam = {
                "m": [data[f"adam_m_{i}"] for i in range(n)],
                "v": [data[f"adam_v_{i}"] for i in range(n)],
                "step": int(meta["adam_step"]),
            }
        paths = [entry[0] for entry in meta["leaves"]]
        stored = leaf_signature(list(zip(paths, leaves, strict=True)))
        moments = adam["m"] + adam["v"]
        if stored != meta["leaves"] or any(
            np.shape(x) != np.shape(a) for x, a in zip(moments, leaves * 2, strict=True)
        ):
            raise ValueError("its arrays do not have the shapes and dtypes its metadata records")
        int(meta["epoch"])
    except (KeyError, ValueError, TypeError, OSError, EOFError, zipfile.BadZipFile) as exc:
        _fail(path, f"its payload passes the checksum but does not hold a gaussclip run ({exc})")
    return meta, leaves, adam


def check_resumable(path, meta, leaves, config):
    """Refuse to resume from a checkpoint of another run (config or parameter shapes)."""
    saved = meta["config"]
    current = asdict(config)
    changed = [
        f"{name} (checkpoint {saved.get(name)!r}, now {current[name]!r})"
        for name in current
        if name not in RESUMABLE_FIELDS and saved.get(name) != current[name]
    ]
    if config.schedule == "cosine" and saved.get("epochs") != config.epochs:
        changed.append(
            f"epochs with the cosine schedule ({saved.get('epochs')} -> {config.epochs})"
        )
    if changed:
        raise OptionError(
            f"cannot resume from {path}: the config differs in " + "; ".join(changed) + ". "
            "Resume with the same settings, or start a new run in a new checkpoint file."
        )
    expected = leaf_signature(leaves)
    if meta["leaves"] != expected:
        raise ShapeError(
            f"cannot resume from {path}: its parameters {meta['leaves']} do not match the "
            f"parameters given {expected}. Pass parameters of the same model."
        )
