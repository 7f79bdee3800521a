"""The background worker: event order, cancel, errors, shutdown."""

from __future__ import annotations

import threading
import time

import pytest

from playground.core.errors import InputError
from playground.core.jobs import Job, JobContext
from playground.core.runner import run_sync
from playground.worker import JobState


def counting_job(ctx: JobContext, n: int = 3):
    for i in range(n):
        ctx.progress((i + 1) / n, f"step {i + 1}")
        ctx.emit(("item", i))
    return "done"


def generator_job(ctx: JobContext):
    for i in range(3):
        yield i
    return sum(range(3))


def slow_job(ctx: JobContext, started: threading.Event):
    started.set()
    while True:  # a long loop that checks the cancel flag every 10 ms
        ctx.check_cancelled()
        time.sleep(0.01)


def failing_job(ctx: JobContext):
    raise InputError("cat.png: the image is corrupt or truncated.")


def crashing_job(ctx: JobContext):
    return {}["missing"]


def record(qtbot, handle):
    log = []
    handle.started.connect(lambda: log.append("started"))
    handle.progress.connect(lambda f, t: log.append(("progress", round(f, 2), t)))
    handle.event.connect(lambda e: log.append(("event", e)))
    handle.result.connect(lambda r: log.append(("result", r)))
    handle.error.connect(lambda m: log.append(("error", m)))
    handle.cancelled.connect(lambda: log.append("cancelled"))
    handle.finished.connect(lambda: log.append("finished"))
    return log


def test_events_arrive_in_order(qtbot, worker):
    handle = worker.submit(Job(counting_job, kwargs={"n": 2}))
    log = record(qtbot, handle)
    with qtbot.waitSignal(handle.finished, timeout=5000):
        pass
    assert log == [
        "started",
        ("progress", 0.5, "step 1"), ("event", ("item", 0)),
        ("progress", 1.0, "step 2"), ("event", ("item", 1)),
        ("result", "done"), "finished",
    ]
    assert handle.state is JobState.DONE


def test_generator_job_yields_events_and_returns(qtbot, worker):
    handle = worker.submit(Job(generator_job))
    log = record(qtbot, handle)
    with qtbot.waitSignal(handle.finished, timeout=5000):
        pass
    assert log == ["started", ("event", 0), ("event", 1), ("event", 2), ("result", 3), "finished"]


def test_cancel_stops_a_running_job_within_one_second(qtbot, worker):
    started = threading.Event()
    handle = worker.submit(Job(slow_job, args=(started,)))
    log = record(qtbot, handle)
    qtbot.waitUntil(started.is_set, timeout=5000)
    t0 = time.perf_counter()
    with qtbot.waitSignal(handle.finished, timeout=1000):
        handle.cancel()
    assert time.perf_counter() - t0 < 1.0
    assert log[-2:] == ["cancelled", "finished"]
    assert handle.state is JobState.CANCELLED


def test_queued_job_cancelled_before_it_starts_never_runs(qtbot, worker):
    started = threading.Event()
    first = worker.submit(Job(slow_job, args=(started,)))
    ran = []
    second = worker.submit(Job(lambda ctx: ran.append(1)))
    second.cancel()
    qtbot.waitUntil(started.is_set, timeout=5000)
    with qtbot.waitSignal(second.finished, timeout=3000):
        first.cancel()
    assert ran == []
    assert second.state is JobState.CANCELLED


def test_expected_error_becomes_error_signal(qtbot, worker):
    handle = worker.submit(Job(failing_job))
    log = record(qtbot, handle)
    with qtbot.waitSignal(handle.finished, timeout=5000):
        pass
    assert ("error", "cat.png: the image is corrupt or truncated.") in log
    assert handle.state is JobState.FAILED
    # the worker keeps running jobs after a failure
    again = worker.submit(Job(counting_job, kwargs={"n": 1}))
    with qtbot.waitSignal(again.result, timeout=5000) as blocker:
        pass
    assert blocker.args == ["done"]


def test_unexpected_exception_is_readable_not_a_crash(qtbot, worker):
    handle = worker.submit(Job(crashing_job))
    with qtbot.waitSignal(handle.error, timeout=5000) as blocker:
        pass
    assert blocker.args[0] == "KeyError: 'missing'"


def test_shutdown_with_a_job_running_joins_within_five_seconds(qtbot):
    from playground.worker import Worker

    w = Worker()
    started = threading.Event()
    handle = w.submit(Job(slow_job, args=(started,)))
    qtbot.waitUntil(started.is_set, timeout=5000)
    t0 = time.perf_counter()
    assert w.shutdown(timeout=5.0)
    assert time.perf_counter() - t0 < 5.0
    assert not w.is_running()
    assert handle.state is JobState.CANCELLED
    with pytest.raises(RuntimeError):
        w.submit(Job(counting_job))


def test_run_sync_is_the_cli_path():
    events = []
    assert run_sync(Job(counting_job, kwargs={"n": 2}), events.append) == "done"
    assert [e for e in events if isinstance(e, tuple)] == [("item", 0), ("item", 1)]


def _priority(ctx: JobContext):
    import os

    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="Linux per-thread nice values")
def test_jobs_run_below_the_ui_threads_priority(qtbot, worker):
    """When the UI paints during a long job it gets a core at once (training stalled it 60-90 ms)."""
    import os

    from playground.worker import JOB_NICENESS

    ui = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    handle = worker.submit(Job(_priority))
    with qtbot.waitSignal(handle.finished, timeout=30_000):
        pass
    assert handle.value == min(19, ui + JOB_NICENESS)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == ui  # the UI thread is untouched
