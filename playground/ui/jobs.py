"""The one way a tab or panel runs a job: `JobRunner`.

It submits to the tab's lane (so a tab never waits behind training or another
tab), fills in the settings every loader must honour, routes progress, events,
the result and errors to the caller's handlers, and drops stale results: a job
submitted under a `key` replaces (and cancels) the previous job with that key,
whose late result or error is then never shown.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable

from PySide6.QtCore import QObject

from playground.core.jobs import Job

log = logging.getLogger(__name__)

# Job arguments taken from Settings when the job function has them and the caller did not set them.
SETTINGS_ARGUMENTS = ("trust_remote_code", "backend")  # backend: text generation's path


GENERATION_BACKENDS = ("auto", "transformers", "ctranslate2")


def show_progress(bar, fraction, label=None, text: str = "") -> None:
    """Render a job's progress on a QProgressBar: busy (no fraction yet) or a share of 1000; the text on a label."""
    if fraction is None:
        bar.setRange(0, 0)
    else:
        bar.setRange(0, 1000)
        bar.setValue(int(fraction * 1000))
    if text and label is not None:
        label.setText(text)
        label.setToolTip(text)


def accepts(fn: Callable, name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params  # explicitly: **options may be handed on to code that does not take it


def with_settings(job: Job, settings) -> Job:
    """The job with the user's loading settings (remote code ...) filled in where it takes them."""
    if settings is None:
        return job
    from playground.settings import Key

    backend = str(settings.get(Key.GENERATION_BACKEND) or "auto")
    values = {"trust_remote_code": bool(settings.get(Key.TRUST_REMOTE_CODE)),
              "backend": backend if backend in GENERATION_BACKENDS else "auto"}
    for name in SETTINGS_ARGUMENTS:
        if name not in job.kwargs and accepts(job.fn, name):
            job.kwargs[name] = values[name]
    return job


class JobRunner(QObject):
    """Submit jobs to one lane on behalf of one tab or panel."""

    def __init__(self, ctx, lane: str, parent: QObject | None = None, show: bool = True):
        super().__init__(parent)
        self.ctx = ctx
        self.lane = lane
        self.show = show
        self._handles: set = set()
        self._latest: dict[object, object] = {}  # key -> the handle whose outcome still counts

    def submit(self, job: Job, *, on_result=None, on_error=None, on_event=None, on_progress=None,
               on_cancelled=None, on_finished=None, key: object = None, show: bool | None = None):
        """Run `job`; handlers are called on the UI thread. Returns the JobHandle."""
        lanes = getattr(self.ctx, "lanes", None)
        if lanes is None:
            raise RuntimeError("No worker to run jobs on.")
        job = with_settings(job, getattr(self.ctx, "settings", None))
        if key is not None:
            previous = self._latest.get(key)
            if previous is not None and not previous.is_finished:
                previous.cancel()
        handle = lanes.submit(job, self.lane)
        handle.setProperty("show_in_status", self.show if show is None else show)
        if key is not None:
            self._latest[key] = handle

        def current() -> bool:
            return key is None or self._latest.get(key) is handle

        def guard(fn):
            return (lambda *a: fn(*a) if current() else None) if fn is not None else None

        for signal, fn in ((handle.result, guard(on_result)), (handle.error, guard(on_error)),
                           (handle.event, guard(on_event)), (handle.progress, guard(on_progress)),
                           (handle.cancelled, guard(on_cancelled))):
            if fn is not None:
                signal.connect(fn)
        self._handles.add(handle)

        def finished(h=handle) -> None:
            self._handles.discard(h)
            if key is not None and self._latest.get(key) is h:
                del self._latest[key]
            if on_finished is not None:
                on_finished()

        handle.finished.connect(finished)
        return handle

    @property
    def busy(self) -> bool:
        return any(not h.is_finished for h in self._handles)

    def is_current(self, handle, key: object) -> bool:
        return self._latest.get(key) is handle

    def cancel(self, key: object = None) -> None:
        """Cancel this runner's jobs (only the one under `key` when given)."""
        if key is not None:
            h = self._latest.get(key)
            if h is not None:
                h.cancel()
            return
        for h in list(self._handles):
            h.cancel()
