"""The Train tab's logic, without a widget: data checks, runs, pause/resume/cancel, events -> state.

`TrainController` runs everything on the "train" lane (through one `JobRunner`), so
the other tabs never wait for a data check or a run. The view (`train_tab.TrainTab`)
turns its widgets into a `TrainOptions`, calls the controller and renders its signals;
tests drive the controller alone, with no window and no widget.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from playground.core.jobs import Job
from playground.core.training import data as tdata
from playground.core.training import defaults as tdefaults
from playground.core.training import preview as tpreview
from playground.ui.widgets.deferred import lazy_module

# Read after the first paint only (a run's events, a checkpoint's presence): not worth the start-up.
if TYPE_CHECKING:
    from playground.core.training.loop import TrainControl

ckpt = lazy_module("playground.core.training.checkpoint")
ev = lazy_module("playground.core.training.events")

# Short enough for the Job combo at the window's minimum width (the drop area says what data each takes).
KINDS = (("image", "Image classifier (class sub-folders)"),
         ("text", "Text classifier (CSV / TSV)"),
         ("charlm", "Character-level GPT (text file)"),
         ("sound", "Sound classes (record clips or a folder)"),
         ("lm", "Language model (LoRA)"))
LM_BASES = (tdefaults.LM_BASE, "bundled/gemma-3-270m")  # the bundled chat model, the bundled base
EVENT_INTERVAL_S = 0.05
STATUS_INTERVAL_MS = 250  # 4 status lines a second: each one relayouts the panel
PREVIEW_KEY = "preview"  # a new data check replaces the previous one (its late outcome is dropped)


@dataclass
class TrainOptions:
    """What one run is asked to do. `None` fields take the kind's defaults (`core.training.defaults`);
    `name=None` is the controller's current name; `device=None` is the Settings device."""

    kind: str
    path: str
    name: str | None = None
    epochs: int | None = None  # image / text
    steps: int | None = None  # charlm
    batch_size: int | None = None
    lr: float | None = None
    val_share: float | None = None
    patience: int | None = None
    image_size: int = tdefaults.IMAGE_SIZE
    device: str | None = None
    head_only: bool = False
    resume: bool = False
    text_column: str | None = None
    label_column: str | None = None
    processes: int = 1  # > 1: data parallel, the CLI's launcher (torch.distributed.run) in a subprocess
    extra: dict = field(default_factory=dict)  # advanced job options (model size ...), merged last

    def __post_init__(self) -> None:
        d = tdefaults.for_kind(self.kind)  # ValueError for an unknown kind
        if d.by_steps and self.steps is None:
            self.steps = d.length
        elif not d.by_steps and self.epochs is None:
            self.epochs = d.length
        if self.batch_size is None:
            self.batch_size = d.batch_size
        if self.lr is None:
            self.lr = d.lr
        if self.val_share is None:
            self.val_share = d.val_share
        if self.patience is None:
            self.patience = d.patience

    def job_arguments(self, control: TrainControl | None = None) -> tuple[tuple, dict]:
        """The training job's (args, kwargs)."""
        kwargs = {"name": (self.name or "").strip() or None, "resume": self.resume,
                  "batch_size": self.batch_size, "lr": self.lr, "val_share": self.val_share,
                  "patience": self.patience, "device": self.device, "control": control,
                  # Every Qt signal emit costs the worker->UI hop (and, in PySide6 6.12.0, leaks a
                  # reference to True): the plot needs at most ~20 points a second.
                  "event_interval": EVENT_INTERVAL_S}
        if self.kind == "image":
            kwargs |= {"epochs": self.epochs, "head_only": self.head_only, "image_size": self.image_size}
        elif self.kind == "text":
            kwargs |= {"epochs": self.epochs, "head_only": self.head_only,
                       "text_column": self.text_column or None, "label_column": self.label_column or None}
        elif self.kind in ("sound", "lm"):  # lm: base, LoRA rank ... come in `extra`
            kwargs |= {"epochs": self.epochs}
        else:
            kwargs |= {"steps": self.steps}
        return (self.path.strip(), None), kwargs | dict(self.extra)


class TrainController(QObject):
    """State and actions of the Train tab; the view renders the signals."""

    # data
    data_changed = Signal(str, str)  # path, guessed kind: new data was accepted (its check follows)
    preview_started = Signal()  # a data check was submitted
    preview_ready = Signal(object)  # tpreview.DataPreview
    preview_failed = Signal(str)
    name_changed = Signal(str)  # the controller proposes a model name (new data, the next run)
    resume_available = Signal(bool)  # a checkpoint exists for the current name
    # runs
    running_changed = Signal(bool, bool)  # running, paused: what can be pressed may have changed
    new_run = Signal(str)  # a run was submitted; its label for the plot
    total_steps = Signal(int)  # the run's step count (its RunStarted event)
    step = Signal(object)  # ev.StepEvent
    epoch = Signal(object)  # ev.EpochEvent
    status = Signal(str)  # a plain status line
    failed = Signal(str)  # the run failed with this message
    finished = Signal(object)  # the run ended: its TrainResult, or None (failed or cancelled)
    model_saved = Signal(str)  # the new model's folder: model pickers can refresh

    def __init__(self, ctx, parent: QObject | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self._runner = ctx.runner("train", self)  # training and its data checks: the "train" lane
        self.handle = None  # the running job's JobHandle
        self.control: TrainControl | None = None
        self.preview: tpreview.DataPreview | None = None
        self.data_path = ""  # the path of the accepted data
        self.name = ""  # the model name, as the user typed it ("" = none yet)
        self.last_step: ev.StepEvent | None = None
        self.last_result: ev.TrainResult | None = None
        self.run_name = ""
        self.live_id: str | None = None  # the running job's latest checkpoint, once it has one
        self.messages: list[str] = []
        self.status_text = ""
        self.started_at = 0.0
        self._status_dirty = False
        self.status_timer = QTimer(self)
        self.status_timer.setInterval(STATUS_INTERVAL_MS)
        self.status_timer.timeout.connect(self.refresh_status)
        self.status_timer.start()

    # -- state -----------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.handle is not None

    @property
    def paused(self) -> bool:
        return bool(self.running and self.control is not None and self.control.paused)

    @property
    def can_start(self) -> bool:
        return not self.running and self.preview is not None

    def _say(self, text: str) -> None:
        self.status_text = text
        self.status.emit(text)

    def _state(self) -> None:
        self.running_changed.emit(self.running, self.paused)

    # -- data ------------------------------------------------------------------------------
    def set_data(self, path: str, current_kind: str = "charlm") -> bool:
        """New training data (a drop, File > Open, the path field): checked at once.
        Refused while a run goes on; the job type follows data that says what it is for
        (`data_changed`); a path that does not exist keeps `current_kind` (the check says why)."""
        if not path:
            return False
        if self.running:
            self._say("Training is running: cancel it before choosing other data.")
            return False
        kind = tpreview.guess_kind(path) or current_kind
        self.data_path = path
        self.data_changed.emit(path, kind)
        self._propose_name("")  # the check proposes one for this data
        self.check_data(kind, path)
        return True

    def check_data(self, kind: str, path: str, text_column: str | None = None,
                   label_column: str | None = None) -> None:
        """Check `path` as `kind` data (the columns of a table as chosen); a newer check wins."""
        path = path.strip()
        if not path:
            return
        self.preview = None
        self.preview_started.emit()
        self._state()
        kwargs = {"text_column": text_column or None, "label_column": label_column or None}
        self._runner.submit(Job(tpreview.preview, (kind, path), kwargs, name="check training data"),
                            on_result=self._on_preview, on_error=self._on_preview_error,
                            key=PREVIEW_KEY, show=False)

    def _on_preview(self, p: tpreview.DataPreview) -> None:
        self.preview = p
        self.preview_ready.emit(p)
        if not self.name.strip():
            base = p.suggested_name
            self._propose_name(base if ckpt.has_checkpoint(tdata.output_dir_for(base))
                               else tdata.unique_output_dir(base).name)
        else:
            self.update_resume()
        self._state()

    def _on_preview_error(self, message: str) -> None:
        self.preview = None
        self.preview_failed.emit(message)
        self._state()

    # -- the model name and its checkpoint ------------------------------------------------------
    def set_name(self, name: str) -> None:
        """The user changed the model name."""
        if name == self.name:
            return
        self.name = name
        self.update_resume()

    def _propose_name(self, name: str) -> None:
        self.name = name
        self.name_changed.emit(name)
        self.update_resume()

    def output_dir(self) -> Path:
        return tdata.output_dir_for(self.name.strip() or "model")

    @property
    def can_resume(self) -> bool:
        try:
            return ckpt.has_checkpoint(self.output_dir())
        except Exception:
            return False

    def update_resume(self) -> None:
        self.resume_available.emit(self.can_resume)

    # -- running ---------------------------------------------------------------------------
    def start(self, options: TrainOptions) -> bool:
        """Start a run; False (with a status line) when there is no valid data, or a run goes on."""
        if self.running:
            return False
        if self.preview is None:
            self._say("Choose valid training data first.")
            return False
        from playground.core.training import job_for
        from playground.core.training.loop import TrainControl

        if options.name is None:
            options.name = self.name
        self.control = TrainControl()
        args, kwargs = options.job_arguments(self.control)
        name = kwargs["name"] or "model"
        self.run_name = name
        self.new_run.emit(f"{name}{' (resumed)' if kwargs['resume'] else ''}")
        self.last_step = None
        self.last_result = None
        self.messages = []  # the last run's epochs and warnings are not this run's
        self.started_at = time.monotonic()
        if options.processes > 1:
            from playground.core.training.launch import train_in_processes

            job = Job(train_in_processes, (options.kind, *args), kwargs | {"processes": options.processes},
                      name=f"train {name} ({options.processes} processes)")
        else:
            job = Job(job_for(options.kind), args, kwargs, name=f"train {name}")
        self.handle = self._runner.submit(
            job,
            on_event=self.on_event, on_result=self.on_result, on_error=self.on_error,
            on_cancelled=self.on_cancelled, on_finished=self.on_finished)
        self._say("Starting...")
        self._state()
        return True

    def pause(self) -> None:
        if self.control is not None and self.handle is not None:
            self.control.pause()
            self._say("Pausing at the next step...")
            self._state()

    def resume(self) -> None:
        if self.control is not None:
            self.control.resume()
            self._state()

    def cancel(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
            if self.control is not None:
                self.control.resume()  # a paused job wakes up, sees the cancel and saves a checkpoint
            self._say("Cancelling: saving a checkpoint...")

    def shutdown(self) -> None:
        """The window is closing: stop the run (its checkpoint is saved) and the status timer."""
        if self.handle is not None:
            self.cancel()
        self.status_timer.stop()

    # -- events (called for every event: keep them cheap) -----------------------------------
    def on_event(self, event) -> None:
        if isinstance(event, ev.StepEvent):
            self.last_step = event
            self._status_dirty = True
            self.step.emit(event)
        elif isinstance(event, ev.EpochEvent):
            acc = f", val accuracy {event.val_accuracy:.3f}" if event.val_accuracy is not None else ""
            self.messages.append(f"Epoch {event.epoch}: val loss {event.val_loss:.4f}{acc}")
            self._status_dirty = True
            self.epoch.emit(event)
        elif isinstance(event, ev.DataReport):
            for w in event.warnings:
                self.messages.append(f"Warning: {w}")
            self._status_dirty = True
        elif isinstance(event, ev.Paused):
            self._say(f"Paused at step {event.step}.")
            self._state()
        elif isinstance(event, ev.Resumed):
            self._status_dirty = True
            self._state()
        elif isinstance(event, ev.EarlyStopped):
            self.messages.append(f"Early stop after epoch {event.epoch} (best epoch {event.best_epoch}).")
        elif isinstance(event, ev.RunStarted):
            self.total_steps.emit(event.total_steps)
        elif isinstance(event, ev.DeviceFallback):
            self.messages.append(event.message)
            self._status_dirty = True
        elif isinstance(event, ev.LiveCheckpoint):
            self._offer_live(event)
        elif isinstance(event, ev.DoneEvent):
            self.model_saved.emit(event.model_dir)
            self._refresh_store()

    def _offer_live(self, event: ev.LiveCheckpoint) -> None:
        """The running job's model as it is now goes first in its task's pickers (Text > Generate)."""
        store = getattr(self.ctx, "store", None)
        if store is None:
            return
        from playground.core.models import ModelEntry

        loss = f", val loss {event.val_loss:.4f}" if event.val_loss is not None else ""
        if self.live_id is None:
            self.messages.append("Try it while it trains: Text > Generate lists the latest checkpoint.")
            self._status_dirty = True
        self.live_id = event.path
        store.set_live(ModelEntry(
            id=event.path, task=event.task, display_name=f"{self.run_name}: latest checkpoint, step {event.step}",
            source="training", licence="yours", location=event.path, available=True, extra={"step": event.step},
            description=f"The running job's model at step {event.step} (epoch {event.epoch}{loss}); generating "
                        "from it does not stop the training."))

    def _refresh_store(self) -> None:
        """The new model appears at once in every model picker of its task (the store tells them)."""
        store = getattr(self.ctx, "store", None)
        if store is not None:
            store.refresh(now=True)

    def refresh_status(self) -> None:
        """The status timer: the step line and the last messages, when something changed."""
        if not self._status_dirty or self.handle is None:
            return
        self._status_dirty = False
        if self.control is not None and self.control.paused:
            return
        s = self.last_step
        parts = []
        if s is not None:
            left = fmt_seconds(s.time_left_s) if s.time_left_s is not None else "?"
            parts.append(f"Step {s.step}/{s.total_steps} (epoch {s.epoch}), loss {s.loss:.4f}, "
                         f"{s.samples_per_s:.1f} samples/s, {left} left")
        parts += self.messages[-3:]
        self._say("\n".join(parts) or "Preparing...")

    def on_result(self, result) -> None:
        # The outcome replaces the step line for good: the status timer may still fire before
        # the job's finished signal arrives, and must not write the step line back.
        self._status_dirty = False
        self.last_result = result
        metric = (f"val accuracy {result.val_accuracy:.3f}" if result.val_accuracy is not None
                  and result.task != "text-generation" else f"val loss {result.val_loss:.4f}")
        self._say(f"Saved {result.model_dir} ({metric}). It is now in the model pickers.")
        show = getattr(self.ctx, "show_status", None)
        if show is not None:
            show(f"Model saved: {Path(result.model_dir).name}")

    def on_error(self, message: str) -> None:
        self._status_dirty = False
        self.status_text = f"Training failed: {message}"
        self.failed.emit(message)

    def on_cancelled(self) -> None:
        self._status_dirty = False
        self._say("Cancelled. The last checkpoint is kept: press Start with "
                  "'Resume from the last checkpoint' ticked to continue.")

    def on_finished(self) -> None:
        self.handle = None
        self.control = None
        store = getattr(self.ctx, "store", None)
        if self.live_id is not None and store is not None:
            store.end_live(self.live_id, self.last_result.model_dir if self.last_result is not None else "")
        self.live_id = None
        self._state()
        self.update_resume()
        if self.last_result is not None:  # the next run gets a fresh name
            self._propose_name(tdata.unique_output_dir(self.name.strip() or "model").name)
        self.finished.emit(self.last_result)


def fmt_seconds(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds} s"
