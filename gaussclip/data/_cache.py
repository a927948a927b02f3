"""Verified array caches shared by the data sets (private).

A cache entry is a pair of files written atomically: ``NAME.npz`` (the arrays) and ``NAME.json``
(the parameters that produced them, the sha256 of the ``.npz`` and the array shapes). An entry is
used only if the JSON parses, its parameters equal the requested ones and the ``.npz`` hashes to
the recorded sha256; otherwise the caller rebuilds it. A present but invalid entry triggers a
:class:`CacheWarning` saying what was wrong.

The ``.npz`` bytes are deterministic (fixed zip timestamps), so the same arrays always give the
same sha256: two runs that build the same entry write identical files.
"""

import io
import json
import warnings
import zipfile

import numpy as np

from ..io import atomic_write_bytes, atomic_write_json, sha256_bytes, sha256_file

# A fixed timestamp for every zip member keeps the archive bytes a function of the arrays alone.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


class CacheWarning(UserWarning):
    """A cached data file was present but invalid (corrupted, stale or unreadable); it is being
    rebuilt."""


def npz_bytes(arrays, *, compress=False):
    """The bytes of an ``.npz`` archive holding ``arrays`` (a dict name -> array), deterministic."""
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as archive:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_EPOCH)
            info.compress_type = method
            with archive.open(info, "w", force_zip64=True) as handle:
                np.lib.format.write_array(handle, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def _normalized(params):
    """``params`` as JSON would give them back (tuples become lists, keys strings)."""
    return json.loads(json.dumps(params))


def save(npz_path, meta_path, arrays, params, *, compress=False, extra=None):
    """Write the arrays and their metadata atomically; returns the metadata dict written."""
    data = npz_bytes(arrays, compress=compress)
    atomic_write_bytes(npz_path, data)
    meta = {
        "params": _normalized(params),
        "sha256": sha256_bytes(data),
        "bytes": len(data),
        "arrays": {
            name: {"shape": list(np.shape(a)), "dtype": str(np.asarray(a).dtype)}
            for name, a in arrays.items()
        },
    }
    if extra:
        meta.update(_normalized(extra))
    atomic_write_json(meta_path, meta)
    return meta


def _problem(npz_path, meta_path, params):
    """Why the entry cannot be used (a sentence), or ``None`` if its metadata and checksum hold."""
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return f"its metadata {meta_path.name} is unreadable ({exc})", None
    if not isinstance(meta, dict) or "sha256" not in meta or "params" not in meta:
        return f"its metadata {meta_path.name} lacks the recorded parameters or sha256", None
    if meta["params"] != _normalized(params):
        return f"its metadata {meta_path.name} records different parameters", None
    if not npz_path.exists():
        return f"{npz_path.name} is missing", None
    digest = sha256_file(npz_path)
    if digest != meta["sha256"]:
        return (
            f"{npz_path.name} has sha256 {digest[:16]}..., not the recorded "
            f"{str(meta['sha256'])[:16]}... (corrupted or truncated)"
        ), None
    return None, meta


def load(npz_path, meta_path, params):
    """The arrays of a verified cache entry as a dict, or ``None`` if it must be (re)built.

    Returns ``None`` silently when neither file exists; warns with :class:`CacheWarning` when an
    entry exists but fails verification.
    """
    if not npz_path.exists() and not meta_path.exists():
        return None
    problem, meta = _problem(npz_path, meta_path, params)
    if problem is None:
        try:
            with np.load(npz_path, allow_pickle=False) as archive:
                arrays = {name: archive[name] for name in archive.files}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
            problem = f"{npz_path.name} cannot be read ({exc})"
        else:
            missing = set(meta.get("arrays", {})) - set(arrays)
            if missing:
                problem = f"{npz_path.name} lacks the arrays {sorted(missing)}"
            else:
                return arrays
    warnings.warn(
        f"Cached data at {npz_path} is not usable: {problem}. Rebuilding it.",
        CacheWarning,
        stacklevel=3,
    )
    return None
