"""One background QThread that runs engine jobs from a queue.

`Worker.submit(job)` returns a `JobHandle` whose Qt signals are delivered on
the UI thread (the handle lives there; emits from the worker thread are
queued by Qt). Cancellation is cooperative: the job checks a flag between
units of work; the thread is never terminated.
"""

from __future__ import annotations

import enum
import logging
import os
import queue
import sys
import threading
import time
import traceback

from PySide6.QtCore import QObject, QThread, QTimer, Signal

from playground.core.errors import Cancelled, PlaygroundError, friendly_message
from playground.core import runner
from playground.core.jobs import Job, JobContext, Progress

log = logging.getLogger(__name__)

# Threads whose job did not honour cancel in time (e.g. stuck in a long import):
# kept referenced so Qt never destroys a running QThread; `run_app` joins them
# after the event loop ends, while the interpreter is still whole.
_orphans: list[QThread] = []


def join_orphans() -> None:
    while _orphans:
        _orphans.pop().wait()


class JobState(enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class JobHandle(QObject):
    """The UI's view of one submitted job."""

    started = Signal()
    progress = Signal(object, str)  # fraction (float or None), text
    event = Signal(object)  # any non-progress event the job emits
    result = Signal(object)
    error = Signal(str)
    cancelled = Signal()
    finished = Signal()  # always last, whatever the outcome

    def __init__(self, job: Job, parent: QObject | None = None):
        super().__init__(parent)
        self.job = job
        self.name = job.name
        self.lane = ""  # which of the app's lanes runs it (set by `Lanes.submit`)
        self.state = JobState.QUEUED
        self.error_message: str | None = None
        self.value = None
        self._cancel = threading.Event()

    def cancel(self) -> None:
        """Ask the job to stop at its next check (the worker drops it if still queued)."""
        self._cancel.set()

    @property
    def is_cancel_requested(self) -> bool:
        return self._cancel.is_set()

    @property
    def is_finished(self) -> bool:
        return self.state in (JobState.DONE, JobState.FAILED, JobState.CANCELLED)

    def _sink(self, item: object) -> None:
        # Runs on the worker thread; the emits are queued to the UI thread.
        if isinstance(item, Progress):
            self.progress.emit(item.fraction, item.text)
        else:
            self.event.emit(item)


class _Thread(QThread):
    def __init__(self, owner: Worker):
        super().__init__()
        self._owner = owner
        self.setObjectName("playground-worker")

    def run(self) -> None:
        _yield_to_the_ui()
        self._owner._loop()


# How much lower than the UI thread jobs run (Linux nice steps). The UI thread is idle
# almost always, so this costs a job nothing; but when the UI paints (a live plot, the
# level meter) it gets a core at once instead of sharing it with torch's busy threads
# (benchmarks/train.py: UI stalls of 60-90 ms during training on 2 cores without it).
JOB_NICENESS = 10


def _yield_to_the_ui() -> None:
    """Lower this (worker) thread's CPU priority; torch's compute threads, which it
    creates later, inherit it. Raising it back would need privileges: only worker
    threads call this."""
    if hasattr(os, "setpriority") and sys.platform.startswith("linux"):
        try:  # Linux nice values are per thread
            tid = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + JOB_NICENESS))
        except OSError:
            pass
    else:  # macOS / Windows: Qt maps this to the OS thread priority
        QThread.currentThread().setPriority(QThread.Priority.LowPriority)


class Worker(QObject):
    """The app's single job runner."""

    job_started = Signal(object)  # JobHandle
    job_finished = Signal(object)  # JobHandle

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._queue: queue.Queue[JobHandle | None] = queue.Queue()
        self._current: JobHandle | None = None
        self._lock = threading.Lock()
        self._stopping = False
        self._deferred: list[JobHandle] = []
        self._thread = _Thread(self)
        self._thread.start()
        # A worker deleted with its parent widget (without shutdown) still stops its
        # thread: Qt must never destroy a running QThread.
        self.destroyed.connect(lambda *_: self._abandon())

    # -- UI thread API -----------------------------------------------------
    def submit(self, job: Job) -> JobHandle:
        if self._stopping:
            raise RuntimeError("The worker is shutting down.")
        handle = JobHandle(job)
        # Queue it on the next event-loop turn, so the caller can connect the
        # handle's signals first: a fast job could otherwise finish unseen.
        if not self._deferred:
            QTimer.singleShot(0, self._flush)
        self._deferred.append(handle)
        return handle

    def _flush(self) -> None:
        pending, self._deferred = self._deferred, []
        for handle in pending:
            self._queue.put(handle)

    @property
    def current(self) -> JobHandle | None:
        with self._lock:
            return self._current

    def cancel_all(self) -> None:
        with self._lock:
            current = self._current
        if current is not None:
            current.cancel()
        for handle in self._pending():
            handle.cancel()

    def shutdown(self, timeout: float = 5.0) -> bool:
        """Cancel everything and join the thread; True if it ended in time.

        Lanes made on top of this worker (a tab tested alone gives its live and model-listing
        lanes threads of their own) are joined too: a thread left running aborts at exit.
        """
        deadline = time.monotonic() + timeout
        others = self.findChildren(Worker)
        for w in others:
            w.cancel_all()
        ended = True
        if self._thread.isRunning():
            self._stopping = True
            self.cancel_all()
            self._flush()  # they run as cancelled, so their finished signals still fire
            self._queue.put(None)
            ended = self._thread.wait(int(timeout * 1000))
            if not ended:
                log.error("worker did not stop within %.1f s (job: %s)", timeout, self.current and self.current.name)
                _orphans.append(self._thread)
        for w in others:
            ended = w.shutdown(max(0.1, deadline - time.monotonic())) and ended
        return bool(ended)

    def _abandon(self) -> None:
        try:
            if not self._thread.isRunning():
                return
        except RuntimeError:  # the thread object is already gone
            return
        self._stopping = True
        with self._lock:
            current = self._current
        for handle in ([current] if current else []) + self._pending():
            handle.cancel()
        self._queue.put(None)
        if not self._thread.wait(5000):
            _orphans.append(self._thread)

    def is_running(self) -> bool:
        return self._thread.isRunning()

    def _pending(self) -> list[JobHandle]:
        with self._queue.mutex:
            return self._deferred + [h for h in self._queue.queue if h is not None]

    # -- worker thread -----------------------------------------------------
    def _loop(self) -> None:
        while True:
            handle = self._queue.get()
            if handle is None:
                return
            self._run(handle)

    def _run(self, handle: JobHandle) -> None:
        if handle.is_cancel_requested or self._stopping:
            handle.state = JobState.CANCELLED
            handle.cancelled.emit()
            handle.finished.emit()
            return
        with self._lock:
            self._current = handle
        handle.state = JobState.RUNNING
        handle.started.emit()
        self._announce(self.job_started, handle)
        t0 = time.perf_counter()
        try:
            value = runner.run(handle.job, JobContext(handle._sink, handle._cancel))
        except Cancelled:
            handle.state = JobState.CANCELLED
            handle.cancelled.emit()
        except BaseException as exc:  # a job must never take the app down
            handle.state = JobState.FAILED
            handle.error_message = friendly_message(exc)
            if isinstance(exc, PlaygroundError):  # expected: the message says it all
                log.info("job '%s' failed: %s", handle.name, handle.error_message)
            else:
                log.error("job '%s' failed: %s\n%s", handle.name, handle.error_message, traceback.format_exc())
            handle.error.emit(handle.error_message)
        else:
            # A job that returns normally after a cancel request chose to
            # stop gracefully (e.g. generation keeps its partial text).
            handle.state = JobState.DONE
            handle.value = value
            handle.result.emit(value)
        finally:
            with self._lock:
                self._current = None
            log.debug("job '%s' %s in %.2f s", handle.name, handle.state.value, time.perf_counter() - t0)
            handle.finished.emit()
            self._announce(self.job_finished, handle)

    @staticmethod
    def _announce(signal, handle: JobHandle) -> None:
        try:
            signal.emit(handle)
        except RuntimeError:  # the window (and this QObject) is already gone at shutdown
            pass


# A live recording can last an hour, and the model store's scan must never hold up a tab's jobs:
# even a tab tested alone with one worker gives these lanes their own thread.
SEPARATE_EVEN_IN_TESTS = ("live", "models")


class Lanes(QObject):
    """Named workers, so that jobs of one kind never wait behind another.

    Training runs in the "train" lane, each tab's inference in its own lane, live
    speech in "live", model listings in "models" (see `LANES`). A lane is created
    on first use. Inside a lane jobs run one at a time, in order, as before.
    """

    job_started = Signal(object)  # JobHandle (its `lane` attribute names the lane)
    job_finished = Signal(object)

    def __init__(self, parent: QObject | None = None, single: Worker | None = None):
        super().__init__(parent)
        self._workers: dict[str, Worker] = {}
        self._single = single  # tests: every lane is this one worker
        self._stopping = False
        if single is not None:
            single.job_started.connect(self.job_started)
            single.job_finished.connect(self.job_finished)

    def worker(self, lane: str) -> Worker:
        if self._single is not None and lane not in SEPARATE_EVEN_IN_TESTS:
            return self._single
        w = self._workers.get(lane)
        if w is None:
            if self._stopping:
                raise RuntimeError("The app is shutting down.")
            w = Worker(self)
            w.setObjectName(f"lane-{lane}")
            w.job_started.connect(self.job_started)
            w.job_finished.connect(self.job_finished)
            self._workers[lane] = w
        return w

    def submit(self, job: Job, lane: str) -> JobHandle:
        handle = self.worker(lane).submit(job)
        handle.lane = lane
        return handle

    def names(self) -> list[str]:
        return list(self._workers)

    def _existing(self, lane: str) -> Worker | None:
        if self._single is not None and lane not in SEPARATE_EVEN_IN_TESTS:
            return self._single
        return self._workers.get(lane)

    def busy(self, lane: str) -> bool:
        w = self._existing(lane)
        return w is not None and (w.current is not None or bool(w._pending()))

    def cancel(self, lane: str) -> None:
        w = self._existing(lane)
        if w is not None:
            w.cancel_all()

    def cancel_all(self) -> None:
        for w in self._all():
            w.cancel_all()

    def _all(self) -> list[Worker]:
        return ([self._single] if self._single is not None else []) + list(self._workers.values())

    def shutdown(self, timeout: float = 5.0) -> bool:
        """Cancel every lane first, then join them all within `timeout` seconds in total."""
        self._stopping = True
        workers = self._all()
        for w in workers:
            w.cancel_all()
        deadline = time.monotonic() + timeout
        ok = True
        for w in workers:
            ok &= w.shutdown(timeout=max(0.1, deadline - time.monotonic()))
        return ok

    def is_running(self) -> bool:
        return any(w.is_running() for w in self._all())
