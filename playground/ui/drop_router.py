"""Drop anywhere: dropped files go to the tab that handles their type.

- images, or a folder of images -> Image tab
- audio files, or a folder of audio -> Speech tab
- a folder of class sub-folders (each holding images, audio or text), a CSV,
  a TSV, a JSON-lines or a .txt file -> Train tab
Mixed drops are split by type; each tab gets its share through its
`open_paths(paths)`, and the tab that got the most ends up shown.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from playground.core.imageio import is_image_path

AUDIO_SUFFIXES = frozenset({".wav", ".mp3", ".flac", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".wma", ".aiff",
                            ".aif", ".webm"})
TABLE_SUFFIXES = frozenset({".csv", ".tsv", ".txt", ".jsonl"})
# Tab index of each target in the main window (Text, Image, Speech, Train).
TARGET_TABS = {"image": 1, "speech": 2, "train": 3}
TARGET_TITLES = {"image": "Image", "speech": "Speech", "train": "Train"}
_SCAN_LIMIT = 200  # files looked at per folder when deciding its type


def is_audio_path(path: str | os.PathLike[str]) -> bool:
    return Path(path).suffix.lower() in AUDIO_SUFFIXES


def _kind_of_file(path: Path) -> str | None:
    if is_image_path(path):
        return "image"
    if is_audio_path(path):
        return "audio"
    if path.suffix.lower() in TABLE_SUFFIXES:
        return "table"
    return None


def _files(folder: Path) -> list[Path]:
    out = []
    try:
        with os.scandir(folder) as it:
            for entry in it:
                if entry.name.startswith("."):
                    continue
                if entry.is_file():
                    out.append(Path(entry.path))
                    if len(out) >= _SCAN_LIMIT:
                        break
    except OSError:
        pass
    return out


def _subfolders(folder: Path) -> list[Path]:
    try:
        return sorted(Path(e.path) for e in os.scandir(folder) if e.is_dir() and not e.name.startswith("."))
    except OSError:
        return []


def _folder_kinds(folder: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for f in _files(folder):
        kind = _kind_of_file(f)
        if kind:
            counts[kind] = counts.get(kind, 0) + 1
    return counts


def classify_path(path: str | os.PathLike[str]) -> str | None:
    """"image" | "speech" | "train", or None for something no tab opens."""
    p = Path(path)
    if p.is_dir():
        subs = _subfolders(p)
        class_folders = [s for s in subs if _folder_kinds(s)]
        # A labelled data set: at least two sub-folders with data, more of them than loose files.
        if len(class_folders) >= 2:
            return "train"
        counts = _folder_kinds(p)
        if not counts:
            return None
        best = max(counts, key=lambda k: counts[k])
        return {"image": "image", "audio": "speech", "table": "train"}[best]
    kind = _kind_of_file(p)
    return {"image": "image", "audio": "speech", "table": "train", None: None}[kind]


@dataclass
class Routing:
    """Dropped paths grouped by target tab, in drop order; `unknown` holds the rest."""

    groups: dict[str, list[str]] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)

    @property
    def main_target(self) -> str | None:
        """The target with the most paths (ties: the first dropped)."""
        if not self.groups:
            return None
        return max(self.groups, key=lambda t: len(self.groups[t]))


def classify(paths: Iterable[str | os.PathLike[str]]) -> Routing:
    routing = Routing()
    for raw in paths:
        path = str(raw)
        target = classify_path(path)
        if target is None:
            routing.unknown.append(path)
        else:
            routing.groups.setdefault(target, []).append(path)
    return routing


def short_names(paths: Iterable[str | os.PathLike[str]], limit: int = 3) -> str:
    """`a.png, b.wav, c.csv...`: the first few file names, for a status message."""
    paths = list(paths)
    return ", ".join(Path(p).name or str(p) for p in paths[:limit]) + ("..." if len(paths) > limit else "")


def route(window, paths: Iterable[str | os.PathLike[str]], label: str = "Dropped") -> Routing:
    """Send each group to its tab's `open_paths`; returns what went where.
    `label` starts the status message ("Dropped", or "Opened" for files named at start)."""
    routing = classify(paths)
    messages = []
    main = routing.main_target
    # The main target last, so its tab is the one left showing.
    order = [t for t in routing.groups if t != main] + ([main] if main else [])
    for target in order:
        index = TARGET_TABS[target]
        window.tabs.setCurrentIndex(index)
        page = window.page(index)
        opener = getattr(page, "open_paths", None)
        group = routing.groups[target]
        if callable(opener):
            opener(list(group))
            messages.append(f"{len(group)} to {TARGET_TITLES[target]}")
        else:
            messages.append(f"the {TARGET_TITLES[target]} tab cannot open files yet")
    if routing.unknown:
        messages.append(f"not opened (unknown type): {short_names(routing.unknown)}")
    if messages:
        window.statusBar().showMessage(f"{label}: " + "; ".join(messages), 8000)
    return routing


def paths_from_mime(mime) -> list[str]:
    """Local file paths carried by a QMimeData (file URLs only)."""
    if mime is None or not mime.hasUrls():
        return []
    return [url.toLocalFile() for url in mime.urls() if url.isLocalFile() and url.toLocalFile()]


# -- drops on tabs that take drops themselves ------------------------------------------

_TAB_TARGETS = {index: target for target, index in TARGET_TABS.items()}


def _intercept_class():
    from PySide6.QtCore import QEvent, QObject

    class DropInterceptor(QObject):
        """Event filter on a tab's own drop sites: a drop that belongs (partly) elsewhere is routed.

        A drop whose files all belong to the tab under the cursor is left to
        that tab (it may have its own drop zones); a mixed or foreign drop is
        split by type like a drop anywhere else on the window.
        """

        TYPES = (QEvent.Type.DragEnter, QEvent.Type.DragMove, QEvent.Type.Drop)

        def __init__(self, window):
            super().__init__(window)
            self.window = window
            self._last: tuple[tuple[str, ...], int, bool] | None = None

        def watch(self, content, index: int) -> None:
            from PySide6.QtWidgets import QWidget

            for widget in [content, *content.findChildren(QWidget)]:
                if widget.acceptDrops() and widget.property("pg_drop_tab") is None:
                    widget.setProperty("pg_drop_tab", index)
                    widget.installEventFilter(self)

        def _foreign(self, paths: list[str], index: int) -> bool:
            key = (tuple(paths), index)
            if self._last is not None and self._last[:2] == key:
                return self._last[2]
            routing = classify(paths)
            own = _TAB_TARGETS.get(index)
            foreign = any(target != own for target in routing.groups)
            self._last = (*key, foreign)
            return foreign

        def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt name)
            if event.type() not in self.TYPES:
                return False
            index = obj.property("pg_drop_tab")
            paths = paths_from_mime(event.mimeData())
            if index is None or not paths or not self._foreign(paths, int(index)):
                return False
            event.acceptProposedAction()
            if event.type() == QEvent.Type.Drop:
                self._last = None
                route(self.window, paths)
            return True

    return DropInterceptor


def interceptor(window):
    """The window's drop interceptor (created on first use)."""
    existing = getattr(window, "_drop_interceptor", None)
    if existing is None:
        existing = _intercept_class()(window)
        window._drop_interceptor = existing
    return existing
