"""Running a job: the one place where the device policy wraps every job (GUI lanes, CLI, tests).

`core/jobs.py` stays a leaf (the protocol only); what a run adds lives here,
next to the device and model-cache code it needs: a job that runs out of GPU
memory before it sent any result runs again, whole, on the CPU.
"""

from __future__ import annotations

import threading
from typing import Any

from playground.core import devices, models
from playground.core.jobs import EventSink, Job, JobContext


def run(job: Job, ctx: JobContext) -> Any:
    try:
        return job.run(ctx)
    except Exception as exc:
        if not _retry_on_cpu(exc, ctx):
            raise
    # The GPU ran out of memory before the job sent any result: the whole job again, on the
    # CPU (slower, same answer). Jobs with their own fallback (image batches, training) never
    # get here with a GPU error.
    models.cache.drop_gpu_models()
    devices.free_gpu_memory()
    ctx.progress(None, "Out of GPU memory: running again on the CPU (slower)")
    with devices.forced("cpu"):
        return job.run(ctx)


def _retry_on_cpu(exc: Exception, ctx: JobContext) -> bool:
    # A job that already sent results would send them twice: it reports the error instead.
    return ctx.events_emitted == 0 and devices.forced_device() != "cpu" and devices.is_out_of_memory(exc)


def run_sync(job: Job, sink: EventSink | None = None, cancel_event: threading.Event | None = None) -> Any:
    """Run a job on the calling thread (the CLI and the tests)."""
    return run(job, JobContext(sink, cancel_event))
