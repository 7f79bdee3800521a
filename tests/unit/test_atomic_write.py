"""Saved files get the user's umask permissions, not mkstemp's private 0600."""

from __future__ import annotations

import os
import stat

import pytest

from playground.core import atomic


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    atomic.process_umask.cache_clear()
    yield 0o027
    os.umask(old)
    atomic.process_umask.cache_clear()


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_process_umask_reads_the_umask_without_changing_it(umask_027):
    assert atomic.process_umask() == umask_027
    assert os.umask(umask_027) == umask_027  # still in place after the read


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o002])
def test_a_new_saved_file_gets_the_umask_mode(tmp_path, umask):
    old = os.umask(umask)
    atomic.process_umask.cache_clear()
    try:
        target = tmp_path / "blurred.jpg"
        atomic.write_bytes(target, b"data")
        with atomic.atomic_path(tmp_path / "model.onnx") as tmp:
            tmp.write_bytes(b"onnx")
    finally:
        os.umask(old)
        atomic.process_umask.cache_clear()
    assert _mode(target) == 0o666 & ~umask
    assert _mode(tmp_path / "model.onnx") == 0o666 & ~umask


def test_a_replaced_file_keeps_its_own_mode(tmp_path, umask_027):
    target = tmp_path / "talk.srt"
    target.write_text("old")
    os.chmod(target, 0o640)
    atomic.write_text(target, "new")
    assert target.read_text() == "new"
    assert _mode(target) == 0o640
