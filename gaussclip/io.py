"""Files that are never half-written and caches that are verified before use.

* :func:`atomic_write_bytes`, :func:`atomic_save_npz`, :func:`atomic_write_json` write to a
  temporary file in the target folder, flush it to disk and rename it over the target (a rename
  within one file system is atomic on POSIX), so a killed run leaves either the old file or the
  new one.
* Temporary files are named ``.NAME.PID.TOKEN.tmp``; one left by a killed writer is removed by
  the next writer of the same target (:func:`remove_stale_temporaries`). No process-wide state
  (the umask) is ever changed.
* :func:`check_writable` tells, before a long run starts, whether a folder accepts files
  (read-only, permission, full disk), raising :class:`~gaussclip.errors.DestinationError`.
* :func:`sha256_file` / :func:`sha256_bytes` for checksums; :func:`cache_dir` for the cache
  location of DESIGN.md (``$GAUSSCLIP_CACHE``, else ``$XDG_CACHE_HOME/gaussclip``, else
  ``~/.cache/gaussclip``), never inside the repository.
"""

import contextlib
import errno
import hashlib
import io
import json
import os
import re
import secrets
import time
from pathlib import Path

import numpy as np

from .errors import DestinationError

_CHUNK = 1 << 20


#: A temporary file of a writer is removed by another writer of the same target when the pid in its
#: name is not a running process on this machine, or when it is older than this (a pid reused by
#: an unrelated process, a writer on another machine sharing the folder): a day is far longer
#: than any single write.
STALE_TMP_SECONDS = 24 * 3600
#: Free space required by :func:`check_writable` on top of the caller's estimate, so a nearly
#: full disk is reported before training rather than after the first epoch.
FREE_SPACE_MARGIN = 1 << 20


def _tmp_pattern(name):
    """The names of gaussclip's own temporary files for a target called ``name``:
    ``.NAME.PID.TOKEN.tmp`` (TOKEN 16 hex digits)."""
    return re.compile(rf"^\.{re.escape(name)}\.(\d+)\.[0-9a-f]{{16}}\.tmp$")


def _pid_running(pid):
    """Whether a process ``pid`` exists on this machine (signal 0 probes without signalling)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # exists under another user (or cannot tell): keep its file
    return True


def remove_stale_temporaries(path, *, now=None):
    """Remove temporary files left next to ``path`` by killed writers; returns the names removed.

    Only files named by :func:`atomic_write_bytes` for this very target are considered, and only
    those whose writer pid is not running or that are older than :data:`STALE_TMP_SECONDS`.
    """
    path = Path(path)
    pattern = _tmp_pattern(path.name)
    now = time.time() if now is None else now
    removed = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    for entry in entries:
        match = pattern.match(entry.name)
        if match is None or not entry.is_file(follow_symlinks=False):
            continue
        pid = int(match.group(1))
        try:
            age = now - entry.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        if pid == os.getpid() or (_pid_running(pid) and age < STALE_TMP_SECONDS):
            continue
        with contextlib.suppress(OSError):
            os.unlink(entry.path)
            removed.append(entry.name)
    return removed


def _fsync_directory(folder):
    """Flush a folder's entries (the rename) to disk; a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on a folder; the rename is still atomic
        pass
    finally:
        os.close(fd)


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
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            source = "$GAUSSCLIP_CACHE" if root else "the default cache folder"
            raise _destination_error(
                exc.errno,
                f"cannot create the cache folder {path} ({source}): {exc.strerror or exc}. "
                "Set $GAUSSCLIP_CACHE to a writable folder.",
            ) from None
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
    """Write ``data`` to ``path`` atomically: temporary file, fsync, rename, fsync of the folder.

    The temporary file ``.NAME.PID.TOKEN.tmp`` is created with mode 0o666 and the process umask
    applies, exactly as for a plain ``open(path, "wb")``; the umask is never changed. Temporary
    files of killed writers of the same target are removed first
    (:func:`remove_stale_temporaries`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(8)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_directory(path.parent)
    return path


def _destination_error(code, message):
    """A :class:`DestinationError` whose ``str`` is the message and whose ``errno`` is set."""
    error = DestinationError(message)
    error.errno = code
    return error


def _describe_folder(folder):
    root = os.environ.get("GAUSSCLIP_CACHE")
    if root:
        with contextlib.suppress(ValueError, OSError):
            Path(folder).resolve().relative_to(Path(root).resolve())
            return f"{folder} (under $GAUSSCLIP_CACHE={root})"
    return str(folder)


def check_writable(folder, *, need_bytes=0, what="files"):
    """Make sure ``folder`` exists (creating it) and accepts a new file, before long work starts.

    A probe file (named like gaussclip's temporaries) is written, flushed and removed, and the
    free space must exceed ``need_bytes`` plus :data:`FREE_SPACE_MARGIN`.

    Raises
    ------
    DestinationError
        Naming the folder (and ``$GAUSSCLIP_CACHE`` when it lies under it), what failed
        (read-only, no permission, not a folder, disk full) and the fix.
    """
    folder = Path(folder)
    fix = (
        f"Point $GAUSSCLIP_CACHE (or the path given) at a writable folder with free space to "
        f"write {what}."
    )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(folder / "probe")  # probes of killed processes
        probe = folder / f".probe.{os.getpid()}.{secrets.token_hex(8)}.tmp"
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            os.write(fd, b"gaussclip write probe\n")
            os.fsync(fd)
        finally:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(probe)
        stats = os.statvfs(folder) if hasattr(os, "statvfs") else None
    except OSError as exc:
        reason = {
            errno.EROFS: "the file system is read-only",
            errno.EACCES: "permission denied",
            errno.EPERM: "permission denied",
            errno.ENOSPC: "the disk is full",
            errno.EDQUOT: "the disk quota is exhausted",
            errno.ENOTDIR: "a part of the path is a file, not a folder",
            errno.EEXIST: "it is a file, not a folder",
        }.get(exc.errno, exc.strerror or str(exc))
        raise _destination_error(
            exc.errno, f"cannot write {what} to {_describe_folder(folder)}: {reason}. {fix}"
        ) from None
    if stats is not None:
        free = stats.f_bavail * stats.f_frsize
        if free < need_bytes + FREE_SPACE_MARGIN:
            raise _destination_error(
                errno.ENOSPC,
                f"cannot write {what} to {_describe_folder(folder)}: only {free} bytes free, "
                f"{need_bytes + FREE_SPACE_MARGIN} needed. {fix}",
            )
    return folder


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
