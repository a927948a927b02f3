"""Files that are never half-written and caches that are verified before use.

* :func:`atomic_write_bytes`, :func:`atomic_save_npz`, :func:`atomic_write_json` write to a
  temporary file in the target folder, flush it to disk and rename it over the target (a rename
  within one file system is atomic on POSIX), so a killed run leaves either the old file or the
  new one.
* :func:`sha256_file` / :func:`sha256_bytes` for checksums; :func:`cache_dir` for the cache
  location of DESIGN.md (``$GAUSSCLIP_CACHE``, else ``$XDG_CACHE_HOME/gaussclip``, else
  ``~/.cache/gaussclip``), never inside the repository.
"""

import contextlib
import hashlib
import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np

_CHUNK = 1 << 20


def _default_file_mode():
    """The mode ``open()`` would give a new file under the current umask (e.g. 0o644)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def cache_dir(*parts, create=True):
    """The gaussclip cache folder (or a sub-folder of it)."""
    root = os.environ.get("GAUSSCLIP_CACHE")
    if root:
        base = Path(root)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = (Path(xdg) if xdg else Path.home() / ".cache") / "gaussclip"
    path = base.joinpath(*parts)
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def sha256_bytes(data):
    """The sha256 hex digest of ``data`` (bytes)."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path):
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def atomic_write_bytes(path, data):
    """Write ``data`` to ``path`` atomically (temporary file + fsync + rename).

    The file gets the permissions a plain ``open(path, "wb")`` would give it (``mkstemp`` alone
    would leave it readable by its owner only).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _default_file_mode())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def atomic_save_npz(path, **arrays):
    """``numpy.savez`` to ``path`` atomically; returns the sha256 of what was written."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    data = buffer.getvalue()
    atomic_write_bytes(path, data)
    return sha256_bytes(data)


def atomic_write_json(path, obj, **kwargs):
    """Write ``obj`` as indented JSON atomically."""
    kwargs.setdefault("indent", 2)
    text = json.dumps(obj, **kwargs) + "\n"
    return atomic_write_bytes(path, text.encode("utf-8"))
