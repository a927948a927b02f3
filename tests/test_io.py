"""Atomic writes, checksums and the cache location (gaussclip.io)."""

import json
import os

import numpy as np
import pytest

from gaussclip import io


def test_atomic_write_replaces_whole_file_or_nothing(tmp_path, monkeypatch):
    target = tmp_path / "out.bin"
    io.atomic_write_bytes(target, b"old")

    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(io.os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        io.atomic_write_bytes(target, b"new content")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]  # no temporary left behind


def test_npz_and_json_round_trip_with_checksums(tmp_path):
    digest = io.atomic_save_npz(tmp_path / "a.npz", x=np.arange(5.0))
    assert digest == io.sha256_file(tmp_path / "a.npz")
    assert np.array_equal(np.load(tmp_path / "a.npz")["x"], np.arange(5.0))
    io.atomic_write_json(tmp_path / "m.json", {"n": 3})
    assert json.loads((tmp_path / "m.json").read_text()) == {"n": 3}


def test_cache_dir_honours_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("GAUSSCLIP_CACHE", str(tmp_path / "c"))
    assert io.cache_dir("mnist") == tmp_path / "c" / "mnist"
    assert (tmp_path / "c" / "mnist").is_dir()
    monkeypatch.delenv("GAUSSCLIP_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert io.cache_dir(create=False) == tmp_path / "x" / "gaussclip"


def test_atomic_write_gives_the_permissions_of_a_plain_open(tmp_path):
    plain = tmp_path / "plain.bin"
    plain.write_bytes(b"x")
    atomic = io.atomic_write_bytes(tmp_path / "atomic.bin", b"x")
    assert os.stat(atomic).st_mode & 0o777 == os.stat(plain).st_mode & 0o777
