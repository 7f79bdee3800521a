"""A model shipped in parts (core/joined.py): joined once, atomically, never used half-joined."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from playground.core import joined, models, packages, tasks
from playground.core.errors import ModelError


@pytest.fixture
def parts(tmp_path, monkeypatch):
    """A fake two-package model: part1 + part2 (1.5 MB in all) and a config, in folders of 'modules'."""
    pkg1, pkg2 = tmp_path / "pkg1", tmp_path / "pkg2"
    (pkg1 / "data").mkdir(parents=True)
    (pkg2 / "data").mkdir(parents=True)
    one, two = os.urandom(1_000_000), os.urandom(500_000)
    (pkg1 / "data" / "model.bin.part1").write_bytes(one)
    (pkg2 / "data" / "model.bin.part2").write_bytes(two)
    (pkg2 / "data" / "config.json").write_text("{}")
    dirs = {"fake_pkg1": pkg1, "fake_pkg2": pkg2}
    monkeypatch.setattr(packages, "module_dir", lambda m: dirs.get(m))
    monkeypatch.setattr(joined, "CHUNK", 64 * 1024)
    spec = joined.JoinSpec("fake-model", "model.bin",
                           (joined.Source("fake_pkg1", "data/model.bin.part1", "fake-pkg-1"),
                            joined.Source("fake_pkg2", "data/model.bin.part2", "fake-pkg-2")),
                           (joined.Source("fake_pkg2", "data/config.json", "fake-pkg-2"),))
    return spec, tmp_path / "cache", one + two, dirs


def test_joins_once_and_checks_what_it_wrote(parts):
    spec, root, content, _ = parts
    assert not joined.is_joined(spec, root)
    folder = joined.ensure_joined(spec, root)
    assert (folder / "model.bin").read_bytes() == content
    assert (folder / "config.json").read_text() == "{}"
    manifest = json.loads((folder / joined.MANIFEST).read_text())
    assert manifest["size"] == len(content)
    mtime = (folder / "model.bin").stat().st_mtime_ns
    assert joined.ensure_joined(spec, root) == folder  # a second use reuses it
    assert (folder / "model.bin").stat().st_mtime_ns == mtime
    assert sorted(p.name for p in root.iterdir()) == [".fake-model.lock", "fake-model"]


def test_an_exception_half_way_leaves_no_usable_file_and_the_next_use_joins(parts, monkeypatch):
    spec, root, content, _ = parts

    def boom(done):
        if done > 300_000:
            raise OSError("simulated crash")

    monkeypatch.setattr(joined, "_after_chunk", boom)
    with pytest.raises(ModelError, match="simulated crash"):
        joined.ensure_joined(spec, root)
    assert not (root / spec.name).exists() and not joined.is_joined(spec, root)
    assert not list(root.glob("fake-model.tmp-*"))
    monkeypatch.setattr(joined, "_after_chunk", lambda done: None)
    assert (joined.ensure_joined(spec, root) / "model.bin").read_bytes() == content


def test_a_join_killed_mid_write_is_never_used_and_is_redone(parts):
    spec, root, content, dirs = parts
    script = textwrap.dedent(f"""
        import time
        from pathlib import Path
        from playground.core import joined, packages
        dirs = {{k: Path(v) for k, v in {{{", ".join(f"{k!r}: {str(v)!r}" for k, v in dirs.items())}}}.items()}}
        packages.module_dir = dirs.get
        joined.CHUNK = 64 * 1024
        joined._after_chunk = lambda done: time.sleep(0.05)
        spec = joined.JoinSpec({spec.name!r}, "model.bin",
            (joined.Source("fake_pkg1", "data/model.bin.part1", "a"), joined.Source("fake_pkg2", "data/model.bin.part2", "b")),
            (joined.Source("fake_pkg2", "data/config.json", "b"),))
        joined.ensure_joined(spec, Path({str(root)!r}))
    """)
    child = subprocess.Popen([sys.executable, "-c", script], cwd=Path(__file__).parents[2])
    deadline = time.monotonic() + 30
    half = None
    while time.monotonic() < deadline:
        found = [p / "model.bin" for p in root.glob("fake-model.tmp-*") if (p / "model.bin").is_file()]
        if found and found[0].stat().st_size > 200_000:
            half = found[0]
            break
        time.sleep(0.01)
    assert half is not None, "the child never started writing"
    os.kill(child.pid, signal.SIGKILL)
    child.wait(10)
    assert 0 < half.stat().st_size < len(content)  # a half file exists, but only in the private folder
    assert not (root / spec.name).exists() and not joined.is_joined(spec, root)
    folder = joined.ensure_joined(spec, root)  # the lock died with the child: the next use joins again
    assert (folder / "model.bin").read_bytes() == content
    assert not list(root.glob("fake-model.tmp-*"))  # the killed join's leftovers are gone


def test_concurrent_first_uses_get_one_complete_folder(parts):
    spec, root, content, _ = parts
    out, errors = [], []

    def use():
        try:
            out.append(joined.ensure_joined(spec, root))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=use) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(out)) == 1
    assert (out[0] / "model.bin").read_bytes() == content


def test_a_damaged_part_or_an_upgraded_package_is_noticed(parts, monkeypatch):
    spec, root, content, dirs = parts
    folder = joined.ensure_joined(spec, root)
    (folder / "model.bin").write_bytes(content[:1000])  # truncated by hand: not used, joined again
    assert not joined.is_joined(spec, root)
    assert (joined.ensure_joined(spec, root) / "model.bin").read_bytes() == content
    monkeypatch.setattr(joined, "_record_hash", lambda source: "not-the-hash")
    (dirs["fake_pkg2"] / "data" / "model.bin.part2").write_bytes(b"x" * 10)  # another version of the package
    assert not joined.is_joined(spec, root)
    with pytest.raises(ModelError, match="damaged.*reinstall the 'fake-pkg-1' package"):
        joined.ensure_joined(spec, root)


def test_missing_package_is_named(parts, monkeypatch):
    spec, root, _, dirs = parts
    monkeypatch.setattr(packages, "module_dir", lambda m: None if m == "fake_pkg2" else dirs[m])
    with pytest.raises(ModelError, match="install the 'fake-pkg-2' package"):
        joined.ensure_joined(spec, root)


def test_the_bundled_whisper_base_joins_into_the_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("PLAYGROUND_HOME", str(tmp_path))
    entry = next(e for e in tasks.catalog("speech-recognition") if e.id == "bundled/whisper-base")
    assert entry.available and entry.licence == "MIT" and entry.size_bytes > 140_000_000
    assert entry.extra["joined"] is False  # listing never joins
    folder = models.bundled_path("bundled/whisper-base")
    assert folder.parent == tmp_path / "cache" / "bundled"
    assert {"model.bin", "config.json", "tokenizer.json", "vocabulary.json"} <= {p.name for p in folder.iterdir()}
    assert (folder / "model.bin").stat().st_size == json.loads((folder / joined.MANIFEST).read_text())["size"]
    ids = [e.id for e in tasks.catalog("speech-recognition")]
    assert ids.index("bundled/whisper-tiny.en") < ids.index("bundled/whisper-base")


def _with_sums(spec, dirs, line: str):
    """The fake spec checked against a SHA256SUMS file in its second package."""
    import dataclasses

    (dirs["fake_pkg2"] / "data" / "SHA256SUMS").write_text(line)
    return dataclasses.replace(spec, sums=joined.Source("fake_pkg2", "data/SHA256SUMS", "fake-pkg-2"))


def test_the_joined_file_is_checked_against_the_packages_sha256sums(parts):
    import hashlib

    spec, root, content, dirs = parts
    spec = _with_sums(spec, dirs, f"{hashlib.sha256(content).hexdigest()}  model.bin\n")
    folder = joined.ensure_joined(spec, root)
    assert (folder / "model.bin").read_bytes() == content and (folder / "SHA256SUMS").is_file()
    assert joined.is_joined(spec, root)


def test_a_join_that_disagrees_with_sha256sums_is_never_published(parts):
    spec, root, _, dirs = parts
    spec = _with_sums(spec, dirs, f"{'0' * 64}  model.bin\n")
    with pytest.raises(ModelError, match="differs from its package's SHA256SUMS.*reinstall"):
        joined.ensure_joined(spec, root)
    assert not (root / spec.name).exists() and not list(root.glob("fake-model.tmp-*"))


def test_sha256sums_without_the_file_is_an_error_not_a_pass(parts):
    spec, root, _, dirs = parts
    spec = _with_sums(spec, dirs, f"{'0' * 64}  other.bin\n")
    with pytest.raises(ModelError, match="lists no SHA-256 for model.bin"):
        joined.ensure_joined(spec, root)
