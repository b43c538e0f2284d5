"""Atomic writes: the old file or the new one, never half of either, and no temporary left behind."""

from __future__ import annotations

import os

import pytest

from cnncli.core.atomic import TEMP_PREFIX, atomic_open, atomic_write_bytes, atomic_write_text, atomic_write_with
from cnncli.core.errors import FileWriteError


def _leftovers(folder):
    return [p.name for p in folder.iterdir() if p.name.startswith(TEMP_PREFIX)]


def test_writes_and_replaces(tmp_path):
    target = tmp_path / "sub" / "model.toml"
    atomic_write_text(target, "one")
    atomic_write_text(target, "two")
    assert target.read_text() == "two"
    assert _leftovers(target.parent) == []


def test_an_error_while_writing_keeps_the_old_file(tmp_path):
    target = tmp_path / "weights.bin"
    atomic_write_bytes(target, b"old")
    with pytest.raises(RuntimeError), atomic_open(target) as handle:
        handle.write(b"half of the new")
        raise RuntimeError("killed mid-write")
    assert target.read_bytes() == b"old"
    assert _leftovers(tmp_path) == []


def test_a_failing_rename_is_a_clear_error_and_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "weights.bin"
    atomic_write_bytes(target, b"old")

    def refuse(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(FileWriteError) as caught:
        atomic_write_bytes(target, b"new")
    assert "the disk is full" in caught.value.message
    monkeypatch.undo()
    assert target.read_bytes() == b"old"
    assert _leftovers(tmp_path) == []


def test_path_writers_get_a_temporary_path_in_the_same_folder(tmp_path):
    seen = []

    def writer(path):
        seen.append(path)
        path.write_bytes(b"data")

    atomic_write_with(tmp_path / "x.safetensors", writer)
    assert seen[0].parent == tmp_path and seen[0].name.startswith(TEMP_PREFIX)
    assert (tmp_path / "x.safetensors").read_bytes() == b"data"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_an_unwritable_folder_is_a_clear_error(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(FileWriteError, match="permission denied"):
            atomic_write_text(folder / "a.toml", "x")
    finally:
        folder.chmod(0o700)
