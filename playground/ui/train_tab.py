"""Train tab: fine-tune an image or text classifier, or train a character-level GPT, with live curves.

The tab only builds arguments and renders events: the jobs live in
`playground.core.training` and run on the worker. Step events are appended to
the plot's buffers as they arrive; the plot and the labels are redrawn by
timers (at most 20 times a second), so the window stays responsive.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QFrame, QGroupBox, QHBoxLayout, QLabel,
    QLineEdit, QMessageBox, QPushButton, QSpinBox, QSplitter, QVBoxLayout, QWidget,
)

from playground.core.jobs import Job
from playground.core.training import checkpoint as ckpt
from playground.core.training import data as tdata
from playground.core.training import events as ev
from playground.core.training.loop import TrainControl
from playground.ui.widgets.deferred import Deferred

KINDS = (("image", "Image classifier (folder of class sub-folders)"),
         ("text", "Text classifier (CSV / TSV)"),
         ("charlm", "Character-level GPT (text file)"))
EVENT_INTERVAL_S = 0.05
DEFAULTS = {  # epochs (or steps), batch size, learning rate
    "image": (3, 32, 1e-3),
    "text": (4, 16, 5e-5),
    "charlm": (2000, 32, 2e-3),
}


class DropArea(QLabel):
    """A frame that accepts dropped files and folders."""

    dropped = Signal(list)

    def __init__(self, text: str):
        super().__init__(text)
        self.setObjectName("trainDrop")
        self.setAcceptDrops(True)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWordWrap(True)
        self.setMinimumHeight(56)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setFrameShadow(QFrame.Shadow.Sunken)
        self.setAccessibleName("Training data drop area")

    def dragEnterEvent(self, event) -> None:  # noqa: N802 (Qt name)
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 (Qt name)
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            self.dropped.emit(paths)
            event.acceptProposedAction()


class TrainTab(QWidget):
    model_saved = Signal(str)  # the new model's folder: model pickers can refresh

    def __init__(self, ctx):
        super().__init__()
        self.ctx = ctx
        self._jobs = None
        self.handle = None
        self.control: TrainControl | None = None
        self.preview: tdata.DataPreview | None = None
        self._data_path = ""  # the path the preview was made for
        self._preview_handle = None
        self.last_step: ev.StepEvent | None = None
        self.last_result = None
        self.messages: list[str] = []
        self._status_dirty = False
        self._run_started_at = 0.0
        self.extra_options: dict = {}  # advanced job options (model size ...) merged into the job's arguments

        # -- data --------------------------------------------------------------------
        self.kind_combo = QComboBox()
        for key, text in KINDS:
            self.kind_combo.addItem(text, key)
        self.kind_combo.setAccessibleName("Job type")
        self.kind_combo.currentIndexChanged.connect(self._on_kind_changed)
        self.drop = DropArea("Drop a folder of class sub-folders, a CSV/TSV or a text file here")
        self.drop.dropped.connect(self.open_paths)
        self.browse_button = QPushButton("Browse...")
        self.browse_button.clicked.connect(self._browse)
        self.path_edit = QLineEdit()
        self.path_edit.setPlaceholderText("Training data")
        self.path_edit.setAccessibleName("Training data path")
        self.path_edit.editingFinished.connect(self._on_path_edited)
        self.text_col = QComboBox()
        self.label_col = QComboBox()
        self.text_col.setAccessibleName("Text column")
        self.label_col.setAccessibleName("Label column")
        self.text_col.activated.connect(lambda _=0: self._check_data())
        self.label_col.activated.connect(lambda _=0: self._check_data())
        self.data_label = QLabel("No data yet.")
        self.data_label.setObjectName("trainDataLabel")
        self.data_label.setWordWrap(True)
        self.data_label.setTextFormat(Qt.TextFormat.RichText)

        data_box = QGroupBox("Data")
        form = QFormLayout(data_box)
        form.addRow("Job", self.kind_combo)
        form.addRow(self.drop)
        row = QHBoxLayout()
        row.addWidget(self.path_edit, 1)
        row.addWidget(self.browse_button)
        form.addRow("Path", row)
        self.text_col_label = QLabel("Text column")
        self.label_col_label = QLabel("Label column")
        form.addRow(self.text_col_label, self.text_col)
        form.addRow(self.label_col_label, self.label_col)
        form.addRow(self.data_label)

        # -- options -------------------------------------------------------------------
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 1000)
        self.steps = QSpinBox()
        self.steps.setRange(10, 1_000_000)
        self.steps.setSingleStep(100)
        self.batch = QSpinBox()
        self.batch.setRange(1, 4096)
        self.lr = QDoubleSpinBox()
        self.lr.setDecimals(6)
        self.lr.setRange(1e-6, 1.0)
        self.lr.setSingleStep(1e-4)
        self.val_share = QDoubleSpinBox()
        self.val_share.setRange(0.05, 0.5)
        self.val_share.setSingleStep(0.05)
        self.val_share.setValue(0.2)
        self.patience = QSpinBox()
        self.patience.setRange(0, 100)
        self.patience.setValue(3)
        self.patience.setToolTip("Stop after this many epochs without a better validation loss (0: never)")
        self.image_size = QSpinBox()
        self.image_size.setRange(16, 1024)
        self.image_size.setValue(224)
        self.device_combo = QComboBox()
        self.device_combo.setAccessibleName("Training device")
        # "Default" is the device chosen in Settings (itself "automatic" unless the user picked one).
        for label, value in (("Default (Settings)", None), ("Best available", "auto"), ("CPU", "cpu"),
                             ("NVIDIA GPU (CUDA)", "cuda"), ("Apple GPU (MPS)", "mps")):
            self.device_combo.addItem(label, value)
        self.head_only = QCheckBox("Train only the head")
        self.head_only.setToolTip("Freeze the pre-trained network; faster, needs less data")
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("model name")
        self.name_edit.setAccessibleName("Model name")
        self.name_edit.textChanged.connect(lambda _t: self._update_resume())
        self.resume_box = QCheckBox("Resume from the last checkpoint")
        self.resume_box.setEnabled(False)

        opt_box = QGroupBox("Options")
        opts = QFormLayout(opt_box)
        self.epochs_label = QLabel("Epochs")
        self.steps_label = QLabel("Steps")
        self.size_label = QLabel("Image size")
        opts.addRow(self.epochs_label, self.epochs)
        opts.addRow(self.steps_label, self.steps)
        opts.addRow("Batch size", self.batch)
        opts.addRow("Learning rate", self.lr)
        opts.addRow("Validation share", self.val_share)
        opts.addRow("Early stopping patience", self.patience)
        opts.addRow(self.size_label, self.image_size)
        opts.addRow("Device", self.device_combo)
        opts.addRow(self.head_only)
        opts.addRow("Save as", self.name_edit)
        opts.addRow(self.resume_box)

        # -- run controls ----------------------------------------------------------------
        self.start_button = QPushButton("Start")
        self.start_button.setObjectName("trainStart")
        self.pause_button = QPushButton("Pause")
        self.resume_button = QPushButton("Resume")
        self.cancel_button = QPushButton("Cancel")
        self.start_button.clicked.connect(self.start)
        self.pause_button.clicked.connect(self.pause)
        self.resume_button.clicked.connect(self.resume)
        self.cancel_button.clicked.connect(self.cancel)
        buttons = QHBoxLayout()
        for b in (self.start_button, self.pause_button, self.resume_button, self.cancel_button):
            buttons.addWidget(b)
        self.status_label = QLabel("Ready.")
        self.status_label.setObjectName("trainStatus")
        self.status_label.setWordWrap(True)
        self.export_csv_button = QPushButton("Export CSV...")
        self.export_png_button = QPushButton("Export PNG...")
        self.export_csv_button.clicked.connect(self._export_csv)
        self.export_png_button.clicked.connect(self._export_png)
        exports = QHBoxLayout()
        exports.addWidget(self.export_csv_button)
        exports.addWidget(self.export_png_button)

        left = QWidget()
        lv = QVBoxLayout(left)
        lv.addWidget(data_box)
        lv.addWidget(opt_box)
        lv.addLayout(buttons)
        lv.addWidget(self.status_label)
        lv.addLayout(exports)
        lv.addStretch(1)
        left.setMinimumWidth(330)
        left.setMaximumWidth(460)

        # The plot (pyqtgraph, numpy) is made just after the tab's first paint, or when first needed.
        self._plot_slot = Deferred(_make_plot)
        split = QSplitter()
        split.addWidget(left)
        split.addWidget(self._plot_slot)
        split.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(split)

        self.status_timer = QTimer(self)
        self.status_timer.setInterval(250)  # 4 status lines a second: each one relayouts the panel
        self.status_timer.timeout.connect(self._refresh_status)
        self.status_timer.start()
        self._on_kind_changed()
        self._set_running(False)

    @property
    def plot(self):
        """The live loss/accuracy plot (a `TrainPlot`; made on first use if the tab was not painted yet)."""
        return self._plot_slot.widget()

    # -- data ----------------------------------------------------------------------------
    @property
    def kind(self) -> str:
        return self.kind_combo.currentData()

    def _on_kind_changed(self, *_):
        kind = self.kind
        epochs, batch, lr = DEFAULTS[kind]
        if kind == "charlm":
            self.steps.setValue(epochs)
        else:
            self.epochs.setValue(epochs)
        self.batch.setValue(batch)
        self.lr.setValue(lr)
        self.patience.setValue(0 if kind == "charlm" else 3)
        for w in (self.epochs, self.epochs_label):
            w.setVisible(kind != "charlm")
        for w in (self.steps, self.steps_label):
            w.setVisible(kind == "charlm")
        for w in (self.image_size, self.size_label):
            w.setVisible(kind == "image")
        for w in (self.text_col, self.label_col, self.text_col_label, self.label_col_label):
            w.setVisible(kind == "text")
        self.head_only.setVisible(kind != "charlm")
        path = self.path_edit.text().strip()
        if path and tdata.guess_kind(path) == kind:
            self._check_data()

    def _browse(self) -> None:
        if self.kind == "image":
            path = QFileDialog.getExistingDirectory(self, "Folder of class sub-folders")
        else:
            filt = "Tables (*.csv *.tsv *.tab)" if self.kind == "text" else "Text (*.txt *.md *.*)"
            path, _ = QFileDialog.getOpenFileName(self, "Training data", "", filt)
        if path:
            self.set_data(path)

    def open_paths(self, paths: list[str]) -> None:
        """File > Open and drops: the first path is the training data; the job type follows it."""
        if paths:
            self.set_data(paths[0])

    def _on_path_edited(self) -> None:
        # editingFinished also fires on focus loss, e.g. when Start disables the field:
        # only a changed path is new data.
        path = self.path_edit.text().strip()
        if path != self._data_path:
            self.set_data(path)

    def set_data(self, path: str) -> None:
        if not path:
            return
        if self.handle is not None:
            self.status_label.setText("Training is running: cancel it before choosing other data.")
            return
        kind = tdata.guess_kind(path)
        self._data_path = path
        self.path_edit.setText(path)
        self.text_col.clear()
        self.label_col.clear()
        self.name_edit.clear()
        index = next(i for i, (k, _) in enumerate(KINDS) if k == kind)
        if index != self.kind_combo.currentIndex():
            self.kind_combo.setCurrentIndex(index)  # checks the data too
        else:
            self._check_data()

    def _check_data(self) -> None:
        path = self.path_edit.text().strip()
        if not path:
            return
        self.preview = None
        self.data_label.setText("Checking the data...")
        self.start_button.setEnabled(False)
        kwargs = {"text_column": self.text_col.currentText() or None,
                  "label_column": self.label_col.currentText() or None}
        handle = self._run(Job(tdata.preview, (self.kind, path), kwargs, name="check training data"), show=False)
        self._preview_handle = handle
        handle.result.connect(lambda p, h=handle: self._on_preview(h, p))
        handle.error.connect(lambda msg, h=handle: self._on_preview_error(h, msg))

    def _on_preview(self, handle, p: tdata.DataPreview) -> None:
        if handle is not self._preview_handle:
            return
        self.preview = p
        if p.columns:
            for combo, value in ((self.text_col, p.text_column), (self.label_col, p.label_column)):
                combo.blockSignals(True)
                combo.clear()
                combo.addItems(p.columns)
                combo.setCurrentText(value)
                combo.blockSignals(False)
        labels = ""
        if p.counts:
            shown = ", ".join(f"{k} ({v})" for k, v in list(p.counts.items())[:12])
            labels = f"<br>{shown}{' ...' if len(p.counts) > 12 else ''}"
        warnings = "".join(f"<br><span style='color:#b35900'>&#9888; {w}</span>" for w in p.warnings)
        self.data_label.setText(f"<b>{p.summary}</b>{labels}{warnings}")
        if not self.name_edit.text():
            base = p.suggested_name
            name = base if ckpt.has_checkpoint(tdata.output_dir_for(base)) else tdata.unique_output_dir(base).name
            self.name_edit.setText(name)
        self._update_resume()
        self._set_running(self.handle is not None)

    def _on_preview_error(self, handle, message: str) -> None:
        if handle is not self._preview_handle:
            return
        self.preview = None
        self.data_label.setText(f"<span style='color:#c00000'>{message}</span>")
        self._set_running(self.handle is not None)

    def output_dir(self) -> Path:
        return tdata.output_dir_for(self.name_edit.text().strip() or "model")

    def _update_resume(self) -> None:
        try:
            has = ckpt.has_checkpoint(self.output_dir())
        except Exception:
            has = False
        self.resume_box.setEnabled(has)
        self.resume_box.setChecked(has)
        self.resume_box.setToolTip("A checkpoint of an interrupted run with this name exists" if has else
                                   "No checkpoint for this name")

    # -- running ---------------------------------------------------------------------------
    def _run(self, job: Job, show: bool = True):
        """Training and its data checks run in the "train" lane: the other tabs never wait for them."""
        if self._jobs is None:
            self._jobs = self.ctx.runner("train", self)
        return self._jobs.submit(job, show=show)

    def job_arguments(self) -> tuple[tuple, dict]:
        kind = self.kind
        kwargs = {"name": self.name_edit.text().strip() or None, "resume": self.resume_box.isChecked(),
                  "batch_size": self.batch.value(), "lr": self.lr.value(), "val_share": self.val_share.value(),
                  "patience": self.patience.value(), "device": self.device_combo.currentData(),
                  "control": self.control,
                  # Every Qt signal emit costs the worker->UI hop (and, in PySide6 6.12.0, leaks a
                  # reference to True): the plot needs at most ~20 points a second.
                  "event_interval": EVENT_INTERVAL_S}
        if kind == "image":
            kwargs |= {"epochs": self.epochs.value(), "head_only": self.head_only.isChecked(),
                       "image_size": self.image_size.value()}
        elif kind == "text":
            kwargs |= {"epochs": self.epochs.value(), "head_only": self.head_only.isChecked(),
                       "text_column": self.text_col.currentText() or None,
                       "label_column": self.label_col.currentText() or None}
        else:
            kwargs |= {"steps": self.steps.value()}
        return (self.path_edit.text().strip(), None), kwargs | self.extra_options

    def start(self) -> None:
        if self.handle is not None:
            return
        if self.preview is None:
            self.status_label.setText("Choose valid training data first.")
            return
        from playground.core.training import job_for

        self.control = TrainControl()
        args, kwargs = self.job_arguments()
        name = kwargs["name"] or "model"
        self.plot.start_run(f"{name}{' (resumed)' if kwargs['resume'] else ''}")
        self.last_step = None
        self.last_result = None
        self._run_started_at = time.monotonic()
        self.handle = self._run(Job(job_for(self.kind), args, kwargs, name=f"train {name}"))
        self.handle.event.connect(self._on_event)
        self.handle.result.connect(self._on_result)
        self.handle.error.connect(self._on_error)
        self.handle.cancelled.connect(self._on_cancelled)
        self.handle.finished.connect(self._on_finished)
        self.status_label.setText("Starting...")
        self._set_running(True)

    def pause(self) -> None:
        if self.control is not None and self.handle is not None:
            self.control.pause()
            self.status_label.setText("Pausing at the next step...")
            self._set_running(True)

    def resume(self) -> None:
        if self.control is not None:
            self.control.resume()
            self._set_running(True)

    def cancel(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
            if self.control is not None:
                self.control.resume()  # a paused job wakes up, sees the cancel and saves a checkpoint
            self.status_label.setText("Cancelling: saving a checkpoint...")

    def _set_running(self, running: bool) -> None:
        paused = bool(running and self.control is not None and self.control.paused)
        self.start_button.setEnabled(not running and self.preview is not None)
        self.pause_button.setEnabled(running and not paused)
        self.resume_button.setEnabled(running and paused)
        self.cancel_button.setEnabled(running)
        for w in (self.kind_combo, self.path_edit, self.browse_button, self.drop, self.name_edit):
            w.setEnabled(not running)

    # -- events (called for every event: keep them cheap) -----------------------------------
    def _on_event(self, event) -> None:
        if isinstance(event, ev.StepEvent):
            self.plot.add_step(event.step, event.loss, event.lr)
            self.last_step = event
            self._status_dirty = True
        elif isinstance(event, ev.EpochEvent):
            self.plot.add_epoch(event.epoch, event.step, event.val_loss, event.val_accuracy)
            acc = f", val accuracy {event.val_accuracy:.3f}" if event.val_accuracy is not None else ""
            self.messages.append(f"Epoch {event.epoch}: val loss {event.val_loss:.4f}{acc}")
            self._status_dirty = True
        elif isinstance(event, ev.DataReport):
            for w in event.warnings:
                self.messages.append(f"Warning: {w}")
            self._status_dirty = True
        elif isinstance(event, ev.Paused):
            self.status_label.setText(f"Paused at step {event.step}.")
            self._set_running(True)
        elif isinstance(event, ev.Resumed):
            self._status_dirty = True
            self._set_running(True)
        elif isinstance(event, ev.EarlyStopped):
            self.messages.append(f"Early stop after epoch {event.epoch} (best epoch {event.best_epoch}).")
        elif isinstance(event, ev.RunStarted):
            self.plot.set_total_steps(event.total_steps)
        elif isinstance(event, ev.DeviceFallback):
            self.messages.append(event.message)
            self._status_dirty = True
        elif isinstance(event, ev.DoneEvent):
            self.model_saved.emit(event.model_dir)
            self._refresh_pickers(event.task)

    def _refresh_pickers(self, task: str) -> None:
        """The new model appears at once in every model picker of its task (the store tells them)."""
        store = getattr(self.ctx, "store", None)
        if store is not None:
            store.refresh(now=True)

    def _refresh_status(self) -> None:
        if not self._status_dirty or self.handle is None:
            return
        self._status_dirty = False
        if self.control is not None and self.control.paused:
            return
        s = self.last_step
        parts = []
        if s is not None:
            left = _fmt_seconds(s.time_left_s) if s.time_left_s is not None else "?"
            parts.append(f"Step {s.step}/{s.total_steps} (epoch {s.epoch}), loss {s.loss:.4f}, "
                         f"{s.samples_per_s:.1f} samples/s, {left} left")
        parts += self.messages[-3:]
        self.status_label.setText("\n".join(parts) or "Preparing...")

    def _on_result(self, result) -> None:
        # The outcome replaces the step line for good: the status timer may still fire before
        # the job's finished signal arrives, and must not write the step line back.
        self._status_dirty = False
        self.last_result = result
        metric = (f"val accuracy {result.val_accuracy:.3f}" if result.val_accuracy is not None
                  and result.task != "text-generation" else f"val loss {result.val_loss:.4f}")
        self.status_label.setText(f"Saved {result.model_dir} ({metric}). It is now in the model pickers.")
        self.ctx.show_status(f"Model saved: {Path(result.model_dir).name}")

    def _on_error(self, message: str) -> None:
        self._status_dirty = False
        self.status_label.setText(f"<span style='color:#c00000'>Training failed: {message}</span>")

    def _on_cancelled(self) -> None:
        self._status_dirty = False
        self.status_label.setText("Cancelled. The last checkpoint is kept: press Start with "
                                  "'Resume from the last checkpoint' ticked to continue.")

    def _on_finished(self) -> None:
        self.handle = None
        self.control = None
        self._set_running(False)
        self._update_resume()
        if self.last_result is not None:  # the next run gets a fresh name
            self.name_edit.setText(tdata.unique_output_dir(self.name_edit.text().strip() or "model").name)

    # -- export ----------------------------------------------------------------------------
    def _export_csv(self) -> None:
        if self.plot.current is None:
            self.status_label.setText("Nothing to export yet.")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export metrics", f"{self.plot.current.name}.csv", "CSV (*.csv)")
        if path:
            self.plot.export_csv(path)

    def _export_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export plot", "training.png", "PNG (*.png)")
        if path:
            try:
                self.plot.export_png(path)
            except OSError as exc:
                QMessageBox.warning(self, "Export", str(exc))

    def shutdown(self) -> None:
        """The window is closing: stop the run (its checkpoint is saved) and the timers."""
        if self.handle is not None:
            self.cancel()
        self.status_timer.stop()
        if self._plot_slot.is_built:
            self.plot.timer.stop()


def _make_plot() -> QWidget:
    from playground.ui.widgets.train_plot import TrainPlot  # imports pyqtgraph and numpy

    return TrainPlot()


def _fmt_seconds(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds} s"


def build(ctx) -> QWidget:
    return TrainTab(ctx)
