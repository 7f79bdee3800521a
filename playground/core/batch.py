"""One batch driver over inputs: what the user gave -> one unit of work per input.

Image classification, object and face detection and multi-file transcription all
go through it, so per-file errors, cancel and progress behave the same in each:

- `expand(ctx, sources, accept)`: files as given, folders walked recursively
  (hidden entries skipped, stable sorted order), URLs kept where the task takes
  them. A missing path, a folder with nothing the task reads, or a file the
  task's cheap `check` refuses becomes an `Item` whose error is already known:
  it gets its own error row, it never aborts the batch.
- `for_each(ctx, items, work, fail, progress_text=...)`: `work(item)` per item.
  A `PlaygroundError` (or any other error but out-of-memory) on one item becomes
  `fail(item, message)` and the rest carry on; cancel is checked between items;
  progress is the fraction done plus "n of N" text. Items run in chunks when the
  task batches them (`chunk`, `finish`: image classification runs one forward
  pass per chunk); results are emitted as each chunk is finished. The returned
  `BatchRun` holds what was done and whether it was cancelled: a cancelled run
  keeps the items finished before the cancel, never a half-done one.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Generic, TypeVar

from playground.core import devices
from playground.core.errors import Cancelled, PlaygroundError
from playground.core.jobs import JobContext

log = logging.getLogger(__name__)

URL_SCHEMES = ("http://", "https://")
R = TypeVar("R")


def is_url(text: str) -> bool:
    return str(text).lower().startswith(URL_SCHEMES)


@dataclass(frozen=True)
class Item:
    """One input of a batch job."""

    source: str  # a file path or a URL, as given (files found in folders: the folder joined with their name)
    index: int = 0  # position in the expanded list
    root: Path | None = None  # the folder given by the user that held it; None when given directly
    error: str | None = None  # known before any work: missing, empty folder, refused by the task's check

    @property
    def path(self) -> Path:
        return Path(self.source)

    @property
    def is_url(self) -> bool:
        return is_url(self.source)

    @property
    def name(self) -> str:
        """How messages name it: the URL, or the file's name."""
        return self.source if self.is_url else (self.path.name or self.source)


@dataclass
class BatchRun(Generic[R]):
    """What `for_each` did: one result per item handled, in order."""

    results: list[R] = field(default_factory=list)
    cancelled: bool = False
    elapsed: float = 0.0  # seconds spent in the loop (expansion and model loading excluded)

    @property
    def rate(self) -> float:
        return len(self.results) / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def failed(self) -> list[R]:
        return [r for r in self.results if getattr(r, "error", None) is not None]

    @property
    def succeeded(self) -> list[R]:
        return [r for r in self.results if getattr(r, "error", None) is None]


# -- expanding the inputs --------------------------------------------------------------


def walk(ctx: JobContext, root: Path, accept: Callable[[str], bool], what: str = "files") -> list[Path]:
    """Files under `root` whose name `accept`s, recursively, hidden ones skipped, sorted; cancellable."""
    found: list[Path] = []
    ctx.progress(None, f"Looking for {what} in {root.name or root}...")
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            if not name.startswith(".") and accept(name):
                found.append(Path(folder) / name)
                if len(found) % 200 == 0:
                    ctx.check_cancelled()
                    ctx.progress(None, f"Looking for {what} in {root.name or root}: {len(found)} found")
    ctx.check_cancelled()
    return sorted(found)


def expand(ctx: JobContext | None, sources: Iterable[str | os.PathLike], accept: Callable[[str], bool], *,
           urls: bool = False, what: str = "files", check: Callable[[Path], Any] | None = None) -> list[Item]:
    """The task's inputs as `Item`s, in the order given, folders expanded in place.

    `accept(name)` chooses the files taken from folders (files given directly are always
    taken: the work says why one cannot be read). `urls`: http(s) sources are kept as
    they are. `what` names the files in messages ("images"). `check(path)`, when given,
    runs on every local file up front (e.g. reading an audio header): the
    `PlaygroundError` it raises becomes the item's error.
    """
    ctx = ctx or JobContext()
    out: list[Item] = []
    for source in sources:
        text = str(source)
        if urls and is_url(text):
            out.append(Item(text))
            continue
        path = Path(text)
        if path.is_dir():
            found = walk(ctx, path, accept, what)
            if found:
                out.extend(Item(str(p), root=path) for p in found)
            else:
                out.append(Item(text, error=f"{path.name or text}: no {what} in this folder."))
        elif not path.exists():
            out.append(Item(text, error=f"{path.name or text}: file not found."))
        else:
            out.append(Item(text))
    if check is not None:
        for i, item in enumerate(out):
            if item.error is None and not item.is_url:
                try:
                    check(item.path)
                except Cancelled:
                    raise
                except PlaygroundError as exc:
                    out[i] = replace(item, error=str(exc))
    return [replace(item, index=i) for i, item in enumerate(out)]


# -- the loop ----------------------------------------------------------------------------


def for_each(ctx: JobContext, items: Sequence[Item], work: Callable[[Item], R], fail: Callable[[Item, str], R], *,
             progress_text: str = "Done {done} of {total}", chunk: int = 1,
             finish: Callable[[list[R]], Any] | None = None, unexpected: str = "cannot be processed",
             emit: bool = True) -> BatchRun[R]:
    """Run `work` on each item; one result per item, emitted (`emit`) as its chunk is finished.

    - An item whose error is already known gets `fail(item, item.error)` without any work.
    - A `PlaygroundError` from `work` becomes `fail(item, message)`; any other error but
      out-of-memory (which must reach the runner's CPU fallback) becomes
      `fail(item, "<name>: <unexpected> (<ErrorType>).")`, logged with its traceback.
    - `Cancelled` (the flag is checked before every item and before `finish`) stops the
      run: the chunk in progress is dropped, the finished ones are kept.
    - `finish(results)` runs once per chunk of `chunk` items, after their `work` (a forward
      pass over the chunk); what it raises (but `Cancelled`) ends the job.
    - After each chunk: `ctx.progress(done / total, progress_text.format(done=, total=, rate=, s=))`,
      `rate` being items per second so far, `s` the plural ending for `total` ("of 1 image{s}").
    """
    total = len(items)
    step = max(1, int(chunk))
    run: BatchRun[R] = BatchRun()
    t0 = time.perf_counter()
    try:
        for start in range(0, total, step):
            part = []
            for item in items[start:start + step]:
                ctx.check_cancelled()
                part.append(_one(item, work, fail, unexpected))
            ctx.check_cancelled()
            if finish is not None:
                finish(part)
            if emit:
                for result in part:
                    ctx.emit(result)
            run.results.extend(part)
            done = len(run.results)
            rate = done / max(time.perf_counter() - t0, 1e-9)
            ctx.progress(done / total, progress_text.format(done=done, total=total, rate=rate,
                                                            s="" if total == 1 else "s"))
    except Cancelled:
        run.cancelled = True
    run.elapsed = time.perf_counter() - t0
    return run


def _one(item: Item, work: Callable[[Item], R], fail: Callable[[Item, str], R], unexpected: str) -> R:
    if item.error is not None:
        return fail(item, item.error)
    try:
        return work(item)
    except Cancelled:
        raise
    except PlaygroundError as exc:
        log.debug("%s: %s", item.source, exc, exc_info=True)
        return fail(item, str(exc) or type(exc).__name__)
    except Exception as exc:  # one broken input must never stop the batch
        if isinstance(exc, MemoryError) or devices.is_out_of_memory(exc):
            raise
        log.warning("%s: %s", item.source, unexpected, exc_info=True)
        return fail(item, f"{item.name}: {unexpected} ({type(exc).__name__}).")
