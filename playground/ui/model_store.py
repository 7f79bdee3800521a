"""The app's one model store: every picker's list, and the signal that a list changed.

It rescans (on its own lane, never blocking a tab) when it is told that a model
was trained, downloaded, deleted or a folder added, and when the models folder
changes on disk: another process (`playground finetune --name N`, a copy from
another machine) saving a model there shows up in every picker of its task
without a restart. Pickers read `entries(task)` and listen to `changed`.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal

from playground.core import paths, tasks
from playground.core.jobs import Job
from playground.ui.jobs import JobRunner

log = logging.getLogger(__name__)

RESCAN_DELAY_MS = 150  # a model is written as several files: one rescan after the burst


def _scan(ctx, extra_folders):
    return tasks.snapshot(ctx, extra_folders), str(paths.models_dir())


class ModelStore(QObject):
    changed = Signal(object)  # frozenset of the task ids whose model lists changed
    ready = Signal()  # the first scan is in
    defaults_changed = Signal()  # the user's default models changed (Settings): pickers follow

    def __init__(self, ctx, parent: QObject | None = None, watch: bool = True):
        super().__init__(parent)
        self.ctx = ctx
        self._lists: dict[str, list] = {}
        self._live: dict[str, object] = {}  # id -> entry of a running job's latest checkpoint
        self._successors: dict[str, str] = {}  # a finished job's live id -> the model it saved
        self._scanned = False
        self._dirty = False
        self._runner = JobRunner(ctx, "models", self, show=False)
        self._timer = QTimer(self, singleShot=True, interval=RESCAN_DELAY_MS, timeout=self._rescan)
        self._watcher = QFileSystemWatcher(self) if watch else None
        if self._watcher is not None:
            self._watcher.directoryChanged.connect(lambda _p: self.refresh())
            self._watcher.fileChanged.connect(lambda _p: self.refresh())

    # -- reading -----------------------------------------------------------------------
    @property
    def scanned(self) -> bool:
        return self._scanned

    def entries(self, task: str) -> list:
        task = tasks.get(task).id
        live = [e for e in self._live.values() if e.task == task]
        return live + list(self._lists.get(task, ()))

    def find(self, model_id: str):
        if model_id in self._live:
            return self._live[model_id]
        for lst in self._lists.values():
            for e in lst:
                if e.id == model_id:
                    return e
        return None

    def successor(self, model_id: str) -> str:
        """The model a finished job saved, for a picker that showed its live checkpoint ("" if none)."""
        return self._successors.get(model_id, "")

    # -- a running job's model ------------------------------------------------------------
    def set_live(self, entry) -> None:
        """List (or update) a running job's latest checkpoint first in its task's pickers."""
        self._live[entry.id] = entry
        self._successors.pop(entry.id, None)
        self.changed.emit(frozenset({entry.task}))

    def end_live(self, model_id: str, saved: str = "") -> None:
        """The job ended: its checkpoint leaves the lists; pickers that showed it move to `saved`."""
        entry = self._live.pop(model_id, None)
        if entry is None:
            return
        if saved:
            self._successors[model_id] = saved
        self.changed.emit(frozenset({entry.task}))

    # -- updating -----------------------------------------------------------------------
    def refresh(self, now: bool = False) -> None:
        """Rescan soon (several calls in a burst make one scan)."""
        if now:
            self._timer.stop()
            self._rescan()
        else:
            self._timer.start()

    def _rescan(self) -> None:
        if self._runner.busy:  # one scan at a time; another follows when it ends
            self._dirty = True
            return
        settings = getattr(self.ctx, "settings", None)
        folders = settings.local_model_folders() if settings is not None else []
        try:
            self._runner.submit(Job(_scan, (folders,), name="list models"), on_result=self._on_scan,
                                on_error=lambda msg: log.warning("model scan failed: %s", msg),
                                on_finished=self._after_scan)
        except RuntimeError:  # shutting down
            pass

    def _after_scan(self) -> None:
        if self._dirty:
            self._dirty = False
            self._timer.start()

    def _on_scan(self, value) -> None:
        lists, root = value
        changed = frozenset(t for t in set(lists) | set(self._lists)
                            if _ids(lists.get(t, ())) != _ids(self._lists.get(t, ())))
        self._lists = lists
        first = not self._scanned
        self._scanned = True
        self._watch(root, lists)
        if changed:
            self.changed.emit(changed)
        if first:
            self.ready.emit()

    def _watch(self, root: str, lists: dict) -> None:
        """The models folder and each model folder in it (a marker written late is a change too)."""
        if self._watcher is None:
            return
        from pathlib import Path

        wanted = {root}
        try:
            wanted |= {str(p) for p in Path(root).iterdir() if p.is_dir() and not p.name.startswith(".")}
        except OSError:
            pass
        have = set(self._watcher.directories())
        gone = have - wanted
        if gone:
            self._watcher.removePaths(sorted(gone))
        new = wanted - have
        if new:
            self._watcher.addPaths(sorted(new))
            # A marker written between this scan's look and the watch on its folder would go
            # unseen: one more look once the new folders are watched.
            if have:
                self.refresh()


def _ids(entries) -> tuple:
    return tuple((e.id, e.available, e.display_name) for e in entries)
