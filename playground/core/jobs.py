"""The job protocol shared by the GUI worker, the CLI and the tests.

A job is a plain function `fn(ctx, *args, **kwargs)` from `playground.core`.
It reports through `ctx.progress(...)` and `ctx.emit(event)` and checks
`ctx.check_cancelled()` between units of work (a batch, a step, a token).
If `fn` is a generator, every yielded value is emitted as an event and the
cancel flag is checked between yields (superqt's worker vocabulary); its
return value is the job's result.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from playground.core.errors import Cancelled


@dataclass(frozen=True)
class Progress:
    """Fraction in [0, 1], or None when the amount of work is unknown."""

    fraction: float | None
    text: str = ""


EventSink = Callable[[object], None]


class JobContext:
    """What a running job sees: a way to report, and the cancel flag."""

    def __init__(self, sink: EventSink | None = None, cancel_event: threading.Event | None = None):
        self._sink = sink
        self._cancel = cancel_event or threading.Event()
        self.events_emitted = 0  # results-bearing events (not progress) the job has sent

    def emit(self, event: object) -> None:
        if not isinstance(event, Progress):
            self.events_emitted += 1
        if self._sink is not None:
            self._sink(event)

    def progress(self, fraction: float | None, text: str = "") -> None:
        if fraction is not None:
            fraction = min(1.0, max(0.0, float(fraction)))
        self.emit(Progress(fraction, text))

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check_cancelled(self) -> None:
        if self._cancel.is_set():
            raise Cancelled()


@dataclass
class Job:
    """A unit of work for the worker: the engine function and its arguments."""

    fn: Callable[..., Any]
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    name: str = ""

    def __post_init__(self) -> None:
        if not self.name:
            self.name = getattr(self.fn, "__name__", "job").replace("_", " ")

    def run(self, ctx: JobContext) -> Any:
        """Run once on the calling thread (`playground.core.runner` adds the device policy)."""
        ctx.check_cancelled()
        out = self.fn(ctx, *self.args, **self.kwargs)
        if inspect.isgenerator(out):
            return drain(out, ctx)
        return out


def drain(gen, ctx: JobContext) -> Any:
    """Run a generator job: emit each yielded event, stop at the next yield after cancel."""
    try:
        while True:
            ctx.check_cancelled()
            event = next(gen)
            ctx.emit(event)
    except StopIteration as stop:
        return stop.value
    finally:
        gen.close()
