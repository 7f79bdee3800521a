"""What models are on disk, how big they are, and deleting or downloading them (no Qt).

One list of four kinds:
- bundled: weights inside installed Python packages (never deleted by the app);
- hub: repos in the Hugging Face cache (`huggingface_hub.scan_cache_dir`);
- finetuned: folders with a `playground_model.json` marker in the models folder;
- local: other model folders the user keeps in the models folder, or added by path.

Deleting checks, before touching anything, that the target is what the list
says it is and lies where such models live: a Hub repo inside the Hub cache, a
fine-tuned or local folder strictly inside the models folder. Package files
and anything under the Python installation are refused.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from playground.core import models, packages, paths, tasks
from playground.core.errors import InputError, ModelError
from playground.core.jobs import JobContext
from playground.core.wording import plural

log = logging.getLogger(__name__)

SOURCES = ("bundled", "hub", "finetuned", "local")
@dataclass
class StoredModel:
    """One row of the model manager."""

    id: str
    name: str
    task: str
    source: str  # "bundled" | "hub" | "finetuned" | "local"
    location: str | None
    size_bytes: int | None
    available: bool = True
    package: str | None = None  # bundled: the pip package that provides it
    note: str = ""  # why it is unavailable, or a short description
    deletable: bool = False
    revisions: tuple[str, ...] = ()  # hub: the cached commit hashes
    licence: str = ""
    terms: bool = False  # bundled: its package carries the licence's text (models.terms_html)

    def to_dict(self) -> dict:
        return asdict(self)


# -- listing ----------------------------------------------------------------------


def default_hub_cache() -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def _disk_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    total = 0
    for p in path.rglob("*"):
        try:
            if p.is_file() and not p.is_symlink():
                total += p.stat().st_size
        except OSError:
            continue
    return total


def _bundled_and_finetuned() -> list[StoredModel]:
    out = []
    for e in tasks.catalog(include_hub=False):
        if e.source == "bundled":
            note = e.description if e.available else (
                e.unavailable_reason or f"Not installed: install the '{e.package}' package.")
            out.append(StoredModel(e.id, e.display_name, e.task, "bundled", e.location, e.size_bytes,
                                   available=e.available, package=e.package, note=note, deletable=False,
                                   licence=e.licence, terms=models.terms_path(e.id) is not None))
        elif e.source == "finetuned":
            out.append(StoredModel(e.id, e.display_name, e.task, "finetuned", e.location, e.size_bytes,
                                   note=e.description or "Fine-tuned in the Train tab", deletable=True))
    return out


def _hub_models(hub_cache: Path | None) -> list[StoredModel]:
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    cache = Path(hub_cache) if hub_cache is not None else default_hub_cache()
    if not cache.is_dir():
        return []
    try:
        info = scan_cache_dir(cache)
    except CacheNotFound:
        return []
    for warning in info.warnings:
        log.warning("Hub cache: %s", warning)
    out = []
    for repo in sorted(info.repos, key=lambda r: r.repo_id.lower()):
        if repo.repo_type != "model":
            continue
        revisions = sorted(repo.revisions, key=lambda r: r.last_modified, reverse=True)
        snapshot = revisions[0].snapshot_path if revisions else None
        name = next((s[2] for s in tasks.hub_suggestions() if s[0] == repo.repo_id), repo.repo_id)
        out.append(StoredModel(
            repo.repo_id, name, tasks.guess_kind(snapshot, repo.repo_id), "hub", str(repo.repo_path), repo.size_on_disk,
            note=f"Hugging Face cache, {plural(len(revisions), 'revision')}", deletable=True,
            revisions=tuple(r.commit_hash for r in revisions)))
    return out


def _local_models(extra_folders: Iterable[str | os.PathLike[str]]) -> list[StoredModel]:
    out = []
    root = paths.models_dir()
    seen: set[Path] = set()
    candidates = [(p, True) for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith(".")]
    candidates += [(Path(p).expanduser(), False) for p in extra_folders]
    for folder, in_store in candidates:
        try:
            resolved = folder.resolve()
        except OSError:
            continue
        if resolved in seen:
            continue
        seen.add(resolved)
        if in_store and models.read_marker(folder) is not None:
            continue  # listed as fine-tuned
        if not folder.is_dir():
            if not in_store:
                out.append(StoredModel(str(folder), folder.name, "unknown", "local", str(folder), None,
                                       available=False, note="Folder not found", deletable=False))
            continue
        if not tasks.looks_like_model(folder):
            continue
        out.append(StoredModel(
            str(folder), folder.name, tasks.guess_kind(folder), "local", str(folder), _disk_size(folder),
            note="In the models folder" if in_store else "Added by path (files are never deleted by the app)",
            deletable=in_store))
    return out


def list_models(ctx: JobContext | None = None, extra_folders: Iterable[str] = (),
                hub_cache: str | os.PathLike[str] | None = None) -> list[StoredModel]:
    """Every model on this machine (a job function: `ctx` may be None)."""
    entries = _bundled_and_finetuned()
    try:
        entries += _hub_models(Path(hub_cache) if hub_cache is not None else None)
    except Exception as exc:  # a broken cache must not hide the other models
        log.warning("could not scan the Hugging Face cache: %s", exc)
    entries += _local_models(extra_folders)
    order = {s: i for i, s in enumerate(SOURCES)}
    return sorted(entries, key=lambda m: (order.get(m.source, 9), m.task, m.name.lower()))


# -- deleting -------------------------------------------------------------------


def _protected_roots() -> list[Path]:
    """Where package files live: deleting anything below these is refused."""
    roots = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix)}
    for b in models.BUNDLED:
        found = packages.module_dir(b.module)
        if found is not None:
            roots.add(found)
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        roots.add(Path(frozen))
    out = []
    for r in roots:
        try:
            out.append(r.resolve())
        except OSError:
            continue
    return out


def _inside(child: Path, parent: Path) -> bool:
    try:
        child.relative_to(parent)
    except ValueError:
        return False
    return True


def _check_not_protected(target: Path) -> None:
    for root in _protected_roots():
        if _inside(target, root) or _inside(root, target):
            raise InputError(f"Refusing to delete '{target}': it holds installed package files.")


def _remove_folder(folder: Path) -> None:
    """Rename first, then remove: a crash never leaves a half model under the model's name."""
    trash = folder.with_name(f".deleting-{folder.name}-{uuid.uuid4().hex[:8]}")
    folder.rename(trash)
    shutil.rmtree(trash, ignore_errors=False)


def _forget_loaded(location: str) -> None:
    """Drop loaded copies of the model from the in-memory cache."""
    with models.cache._lock:
        for key in list(models.cache._items):
            if any(isinstance(k, str | Path) and str(k).startswith(location) for k in key):
                del models.cache._items[key]


def delete_model(ctx: JobContext | None, entry: StoredModel,
                 hub_cache: str | os.PathLike[str] | None = None) -> str:
    """Delete a model's files after checking it is deletable; returns what was freed, in words."""
    if entry.source == "bundled":
        raise InputError(f"{entry.name} is bundled with the '{entry.package}' package; uninstall the package instead.")
    if not entry.location:
        raise InputError(f"'{entry.name}' has no folder on disk.")
    target = Path(entry.location)
    if target.is_symlink():
        raise InputError(f"Refusing to delete '{target}': it is a symbolic link.")
    target = target.resolve()
    if not target.is_dir():
        raise InputError(f"'{target}' does not exist any more.")
    _check_not_protected(target)

    if entry.source == "hub":
        cache = (Path(hub_cache) if hub_cache is not None else default_hub_cache()).resolve()
        if target.parent != cache or not target.name.startswith("models--"):
            raise InputError(f"Refusing to delete '{target}': it is not a model in the Hugging Face cache ({cache}).")
        from huggingface_hub import scan_cache_dir

        info = scan_cache_dir(cache)
        repo = next((r for r in info.repos if r.repo_path.resolve() == target), None)
        if repo is None:
            raise InputError(f"'{entry.id}' is not in the Hugging Face cache any more.")
        # The whole repo folder (not `delete_revisions`, which matches commit hashes across all repos).
        freed = repo.size_on_disk
        _remove_folder(target)
    elif entry.source in ("finetuned", "local"):
        root = paths.models_dir().resolve()
        if target == root or not _inside(target, root):
            raise InputError(f"Refusing to delete '{target}': only folders inside the models folder ({root}) "
                             "are deleted by the app.")
        if entry.source == "finetuned" and models.read_marker(target) is None:
            raise InputError(f"Refusing to delete '{target}': it is not a fine-tuned model folder "
                             f"(no {models.FINETUNED_MARKER}).")
        freed = _disk_size(target)
        _remove_folder(target)
    else:
        raise InputError(f"Unknown model source '{entry.source}'.")
    _forget_loaded(str(target))
    log.info("deleted %s model %s (%s)", entry.source, entry.id, target)
    from playground.core.devices import format_bytes

    return f"Deleted {entry.name}, freed {format_bytes(freed)}."


# -- downloading ------------------------------------------------------------------


def download_model(ctx: JobContext | None, repo_id: str, token: str | None = None,
                   hub_cache: str | os.PathLike[str] | None = None) -> StoredModel:
    """Download a Hub model with byte progress and Cancel (a job); returns its new row."""
    ctx = ctx or JobContext()
    repo_id = (repo_id or "").strip()
    ref = models.resolve(repo_id)
    if ref.kind != "hub":
        raise InputError(f"'{repo_id}' is not a Hugging Face model id (like 'openai-community/gpt2').")
    ctx.progress(None, f"Looking up {repo_id} on the Hugging Face Hub")
    folder = models.hub_download(repo_id, ctx, token=token or os.environ.get("HF_TOKEN") or None)
    for entry in _hub_models(Path(hub_cache) if hub_cache is not None else None):
        if entry.id == repo_id:
            return entry
    raise ModelError(f"Downloaded '{repo_id}' to {folder}, but it is not in the Hugging Face cache listing.")
