"""Models shipped in pieces across packages, joined once into the model cache.

A package index limits the size of one file, so a model can arrive as
`model.bin.part1` in one package and `model.bin.part2` (plus its small files) in
another. At first use the parts are joined into `cache_dir()/bundled/<name>`:

- everything is written into a private temporary folder beside the target;
- each part is checked against the hash its package's RECORD gives (when the
  installer kept one), the joined file's size against the parts' sizes, and the
  joined file is read back and its SHA-256 compared with the stream's (and with
  the package's own SHA256SUMS, when the spec names one);
- a manifest goes in last, then one `rename` of the folder publishes it; a
  folder without its manifest (or whose sizes disagree) is never used;
- a lock file (`flock`, released by the kernel when its holder dies) makes
  concurrent first uses wait for one join; without the lock the rename is
  still the single commit point, so a loser discards its copy.

A join killed half-way leaves only a `.tmp-*` folder, removed by the next join.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from playground.core import packages
from playground.core.errors import ModelError

MANIFEST = "joined.json"
CHUNK = 4 * 1024 * 1024
_thread_lock = threading.Lock()


def _after_chunk(done: int) -> None:
    """Called after each chunk written (tests slow it down or raise from it)."""


@dataclass(frozen=True)
class Source:
    module: str  # import name of the package holding the file
    relpath: str  # path inside the module's folder
    package: str  # pip name, for the "install ..." message


@dataclass(frozen=True)
class JoinSpec:
    name: str  # folder name under cache_dir()/bundled
    target: str  # the joined file's name
    parts: tuple[Source, ...]  # concatenated in this order
    files: tuple[Source, ...] = ()  # copied as they are (config, tokenizer ...)
    sums: Source | None = None  # a `sha256sum`-style file that names the joined file's SHA-256 (copied too)

    @property
    def sources(self) -> tuple[Source, ...]:
        return self.parts + self.files + ((self.sums,) if self.sums is not None else ())

    @property
    def packages(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.package for s in self.sources))


def source_paths(spec: JoinSpec) -> list[tuple[Source, Path]]:
    """Each source file's path; ModelError naming the missing package."""
    out = []
    for s in spec.sources:
        base = packages.module_dir(s.module)
        if base is None:
            raise ModelError(f"A part of this model is not installed: install the '{s.package}' package.")
        path = base / s.relpath
        if not path.is_file():
            raise ModelError(f"'{path}' is missing; reinstall the '{s.package}' package.")
        out.append((s, path))
    return out


def expected_sha256(spec: JoinSpec, sources: list[tuple[Source, Path]]) -> str | None:
    """The joined file's SHA-256 as the spec's SHA256SUMS file lists it (None: the spec names none)."""
    if spec.sums is None:
        return None
    path = next(p for s, p in sources if s == spec.sums)
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[1].lstrip("*") == spec.target and len(fields[0]) == 64:
            return fields[0].lower()
    raise ModelError(f"'{path}' lists no SHA-256 for {spec.target}; reinstall the '{spec.sums.package}' package.")


def source_size(spec: JoinSpec) -> int:
    return sum(p.stat().st_size for _, p in source_paths(spec))


def default_root() -> Path:
    from playground.core import paths

    return paths.cache_dir() / "bundled"


def target_folder(spec: JoinSpec, root: Path | None = None) -> Path:
    return (root or default_root()) / spec.name


def _record_hash(source: Source) -> str | None:
    """The urlsafe-base64 SHA-256 the package's RECORD lists for this file, if any."""
    from importlib import metadata

    try:
        dist = metadata.distribution(source.package)
    except metadata.PackageNotFoundError:
        return None
    want = f"{source.module}/{source.relpath}".replace(os.sep, "/")
    for f in dist.files or ():
        if str(f).replace(os.sep, "/") == want and f.hash is not None and f.hash.mode == "sha256":
            return f.hash.value
    return None


def _b64(digest: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _manifest(spec: JoinSpec, sources: list[tuple[Source, Path]], size: int, sha256: str) -> dict:
    return {"name": spec.name, "target": spec.target, "size": size, "sha256": sha256,
            "sources": [[f"{s.module}/{s.relpath}", p.stat().st_size] for s, p in sources]}


def is_joined(spec: JoinSpec, root: Path | None = None) -> bool:
    """The folder is published, complete and made from the parts installed now (stat calls only)."""
    folder = target_folder(spec, root)
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        sources = source_paths(spec)
    except (OSError, ValueError, ModelError):
        return False
    if not isinstance(data, dict):
        return False
    want = [[f"{s.module}/{s.relpath}", p.stat().st_size] for s, p in sources]
    if data.get("sources") != want:
        return False  # a package was upgraded (or damaged): join again
    try:
        if (folder / spec.target).stat().st_size != data.get("size"):
            return False
        return all((folder / Path(s.relpath).name).is_file() for s in spec.files)
    except OSError:
        return False


@contextlib.contextmanager
def _locked(root: Path, name: str) -> Iterator[None]:
    """One joiner at a time across threads and processes (released if the holder dies)."""
    with _thread_lock, open(root / f".{name}.lock", "a+b") as fh:
        try:
            import fcntl
        except ImportError:  # Windows: msvcrt locks a byte range
            fcntl = None
        if fcntl is not None:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        else:  # pragma: no cover - not this platform
            import msvcrt

            fh.seek(0)
            while True:
                try:
                    msvcrt.locking(fh.fileno(), msvcrt.LK_LOCK, 1)
                    break
                except OSError:
                    continue
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def ensure_joined(spec: JoinSpec, root: Path | None = None, progress=None) -> Path:
    """The joined folder, joining it first if needed; `progress(fraction, text)` is optional."""
    root = root or default_root()
    if is_joined(spec, root):
        return target_folder(spec, root)
    root.mkdir(parents=True, exist_ok=True)
    with _locked(root, spec.name):
        if is_joined(spec, root):  # another process joined it while we waited
            return target_folder(spec, root)
        for stale in root.glob(f"{spec.name}.tmp-*"):  # a join that was killed: we hold the lock
            shutil.rmtree(stale, ignore_errors=True)
        return _join(spec, root, progress)


def _join(spec: JoinSpec, root: Path, progress) -> Path:
    import hashlib  # here, not at the top: the window's start-up imports this module, and joins are rare
    import uuid

    sources = source_paths(spec)
    want_sha256 = expected_sha256(spec, sources)
    parts = sources[:len(spec.parts)]
    total = sum(p.stat().st_size for _, p in parts)
    tmp = root / f"{spec.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        stream = hashlib.sha256()
        done = 0
        with open(tmp / spec.target, "wb") as out:
            for source, path in parts:
                own = hashlib.sha256()
                with open(path, "rb") as fh:
                    while chunk := fh.read(CHUNK):
                        out.write(chunk)
                        stream.update(chunk)
                        own.update(chunk)
                        done += len(chunk)
                        if progress is not None:
                            progress(done / total if total else None, f"Preparing {spec.name}: joining its parts")
                        _after_chunk(done)
                want = _record_hash(source)
                if want is not None and _b64(own.digest()) != want:
                    raise ModelError(f"'{path.name}' is damaged (its hash does not match its package's record); "
                                     f"reinstall the '{source.package}' package.")
            out.flush()
            os.fsync(out.fileno())
        joined = tmp / spec.target
        if joined.stat().st_size != total:
            raise ModelError(f"Joining {spec.name} wrote {joined.stat().st_size} bytes instead of {total}.")
        check = hashlib.sha256()
        with open(joined, "rb") as fh:
            while chunk := fh.read(CHUNK):
                check.update(chunk)
        if check.hexdigest() != stream.hexdigest():
            raise ModelError(f"Joining {spec.name}: the file read back differs from what was written (disk error?).")
        if want_sha256 is not None and stream.hexdigest() != want_sha256:
            raise ModelError(f"Joining {spec.name} gave a file whose SHA-256 differs from its package's SHA256SUMS "
                             f"(a part is damaged or from another version); reinstall the "
                             f"{', '.join(repr(p) for p in spec.packages)} packages.")
        for _source, path in sources[len(spec.parts):]:
            shutil.copyfile(path, tmp / path.name)
        manifest = tmp / MANIFEST
        manifest.write_text(json.dumps(_manifest(spec, sources, total, stream.hexdigest())), encoding="utf-8")
        with open(manifest, "rb") as fh:
            os.fsync(fh.fileno())
        final = target_folder(spec, root)
        if final.exists():  # damaged or made from other parts: move it aside, then publish ours
            aside = root / f"{spec.name}.tmp-old-{uuid.uuid4().hex[:8]}"
            os.rename(final, aside)
            shutil.rmtree(aside, ignore_errors=True)
        try:
            os.rename(tmp, final)
        except OSError:
            if not is_joined(spec, root):  # lost a lock-free race to a complete folder: keep the winner
                raise
        return final
    except OSError as exc:
        if getattr(exc, "errno", None) == 28:
            raise ModelError(f"Disk full while preparing {spec.name} in {root}.") from exc
        raise ModelError(f"Cannot prepare {spec.name} in {root}: {exc}") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
