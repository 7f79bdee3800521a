"""Train tab (the view): fine-tune an image or text classifier, or train a character-level GPT, with live curves.

The tab builds the widgets, turns their values into a `TrainOptions`, forwards the
actions to its `TrainController` (playground.ui.train_controller: data checks, runs,
pause/resume/cancel, events -> state, all on the "train" lane) and renders the
controller's signals. Step events are appended to the plot's buffers as they
arrive; the plot and the status line are redrawn by timers (at most 20 and 4
times a second), so the window stays responsive.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QFrame, QGroupBox, QHBoxLayout, QLabel,
    QLineEdit, QMessageBox, QPushButton, QScrollArea, QSpinBox, QSplitter, QVBoxLayout, QWidget,
)

from playground.core.training import defaults as tdefaults
from playground.core.training import preview as tpreview
from playground.core.training.distributed import local_slots
from playground.ui.evaluation_panel import EvaluationPanel
from playground.ui.sound_recorder import SoundRecorder
from playground.ui.train_controller import KINDS, LM_BASES, TrainController, TrainOptions
from playground.ui.widgets.deferred import Deferred
from playground.ui.widgets.model_picker import ModelPicker


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
        self.controller = c = TrainController(ctx, self)
        self.extra_options: dict = {}  # advanced job options (model size ...) merged into the job's arguments

        # -- data --------------------------------------------------------------------
        self.kind_combo = QComboBox()
        for key, text in KINDS:
            self.kind_combo.addItem(text, key)
        self.kind_combo.setAccessibleName("Job type")
        self.kind_combo.currentIndexChanged.connect(self._on_kind_changed)
        self.drop = DropArea("Drop a folder of class sub-folders, a CSV/TSV, a JSONL of examples or a text file here")
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
        # Sound classes: hold a button to record one-second clips into a class (shown for that job).
        self.sound_recorder = SoundRecorder(parent=self)
        self.sound_recorder.recorded.connect(self.set_data)
        self.sound_recorder.status.connect(lambda text: self.data_label.setText(text))
        form.addRow(self.sound_recorder)

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
        self.image_size.setValue(tdefaults.IMAGE_SIZE)
        # Language model (LoRA): the base to tune (a bundled id, a folder or a Hub id) and the adapter's rank.
        # The one model picker (text-generation models: the bundled two, yours, folders, Hub ids); choosing a
        # base here does not change Generate's default model.
        self.base_picker = ModelPicker(ctx, "text-generation", default=LM_BASES[0], label="", remember_choice=False,
                                       placeholder="a bundled model, a model folder or a Hub id")
        self.base_picker.setAccessibleName("Base model")
        self.base_picker.setToolTip("The language model to tune: a bundled one, a model folder or a Hub id")
        self.lora_rank = QSpinBox()
        self.lora_rank.setRange(1, 512)
        self.lora_rank.setValue(tdefaults.LORA_RANK)
        self.lora_rank.setToolTip("LoRA rank on every projection: larger learns more, trains a little slower")
        self.device_combo = QComboBox()
        self.device_combo.setAccessibleName("Training device")
        # "Default" is the device chosen in Settings (itself "automatic" unless the user picked one).
        for label, value in (("Default (Settings)", None), ("Best available", "auto"), ("CPU", "cpu"),
                             ("NVIDIA GPU (CUDA)", "cuda"), ("Apple GPU (MPS)", "mps")):
            self.device_combo.addItem(label, value)
        self.processes = QSpinBox()
        self.processes.setRange(1, max(1, local_slots()))
        self.processes.setValue(1)
        self.processes.setAccessibleName("Processes")
        self.processes.setToolTip("Data-parallel training: this many processes share each batch (one per GPU, or "
                                  "CPU processes). 1 trains inside the app; more run 'playground finetune --nproc N'.")
        self.head_only = QCheckBox("Train only the head")
        self.head_only.setToolTip("Freeze the pre-trained network; faster, needs less data")
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("model name")
        self.name_edit.setAccessibleName("Model name")
        self.name_edit.textChanged.connect(c.set_name)
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
        self.base_label = QLabel("Base model")
        self.rank_label = QLabel("LoRA rank")
        opts.addRow(self.base_label, self.base_picker)
        opts.addRow(self.rank_label, self.lora_rank)
        opts.addRow("Device", self.device_combo)
        opts.addRow("Processes", self.processes)
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
        self.runs_button = QPushButton("Runs...")
        self.runs_button.setToolTip("Every saved run side by side: settings, data, duration, device and results")
        self.runs_button.clicked.connect(self.show_runs)
        exports = QHBoxLayout()
        exports.addWidget(self.export_csv_button)
        exports.addWidget(self.export_png_button)
        exports.addWidget(self.runs_button)

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
        self._plot_slot = Deferred(_make_plot, QSize(640, 420), QSize(320, 240))
        # Below the curves: the run's evaluation (confusion matrix, examples) and its ONNX export.
        self.evaluation = EvaluationPanel(ctx, self)
        self._last_options: TrainOptions | None = None
        # The evaluation scrolls when the window is small: its table and matrix are never cut.
        evaluation_scroll = QScrollArea()
        evaluation_scroll.setWidget(self.evaluation)
        evaluation_scroll.setWidgetResizable(True)
        evaluation_scroll.setFrameShape(QFrame.Shape.NoFrame)
        evaluation_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._evaluation_scroll = evaluation_scroll
        self._fit_evaluation_width()
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self._plot_slot)
        right.addWidget(evaluation_scroll)
        right.setChildrenCollapsible(False)  # the live curves never vanish behind the evaluation
        right.setStretchFactor(0, 3)
        right.setStretchFactor(1, 1)
        self._right = right
        self.evaluation.evaluated.connect(lambda _e: self._make_room_for_evaluation())
        self.evaluation.compared.connect(lambda _c: self._make_room_for_evaluation())  # before and after, too
        # The options scroll on a short screen instead of making the whole window taller than it.
        scroll = QScrollArea()
        scroll.setWidget(left)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(left.minimumWidth() + 16)
        scroll.setMaximumWidth(left.maximumWidth() + 16)
        split = QSplitter()
        split.addWidget(scroll)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(split)

        c.data_changed.connect(self._on_data_changed)
        c.preview_started.connect(lambda: self.data_label.setText("Checking the data..."))
        c.preview_ready.connect(self._on_preview)
        c.preview_failed.connect(
            lambda message: self.data_label.setText(f"<span style='color:#c00000'>{message}</span>"))
        c.name_changed.connect(self.name_edit.setText)
        c.resume_available.connect(self._on_resume_available)
        c.running_changed.connect(self._set_running)
        c.new_run.connect(self._start_plot)
        c.total_steps.connect(lambda n: self.plot.set_total_steps(n))
        c.step.connect(lambda e: self.plot.add_step(e.step, e.loss, e.lr))
        c.epoch.connect(lambda e: self.plot.add_epoch(e.epoch, e.step, e.val_loss, e.val_accuracy))
        c.status.connect(self.status_label.setText)
        c.failed.connect(lambda message: self.status_label.setText(
            f"<span style='color:#c00000'>Training failed: {message}</span>"))
        c.model_saved.connect(self.model_saved)
        c.finished.connect(self._evaluate_run)
        self._on_kind_changed()
        self._set_running(False, False)

    @property
    def plot(self):
        """The live loss/accuracy plot (a `TrainPlot`; made on first use if the tab was not painted yet)."""
        return self._plot_slot.widget()

    def _start_plot(self, label: str) -> None:
        """A new run's curves; a language model's "accuracy" is the exact match of its greedy answers."""
        self.plot.start_run(label)
        self.plot.acc_plot.setTitle("Validation exact match" if self.kind == "lm" else "Validation accuracy")

    # -- the controller's state, under the tab's names ------------------------------------------
    @property
    def handle(self):
        return self.controller.handle

    @handle.setter
    def handle(self, value) -> None:
        self.controller.handle = value

    @property
    def control(self):
        return self.controller.control

    @property
    def preview(self):
        return self.controller.preview

    @property
    def last_step(self):
        return self.controller.last_step

    @property
    def last_result(self):
        return self.controller.last_result

    @property
    def messages(self) -> list[str]:
        return self.controller.messages

    @property
    def status_timer(self):
        return self.controller.status_timer

    # -- data ----------------------------------------------------------------------------
    @property
    def kind(self) -> str:
        return self.kind_combo.currentData()

    def _on_kind_changed(self, *_):
        self._apply_kind()
        path = self.path_edit.text().strip()
        if path and tpreview.guess_kind(path) in (None, self.kind):  # None: a missing path, said again
            self._check_data()

    def _apply_kind(self) -> None:
        """The kind's default options and the widgets it uses."""
        kind = self.kind
        d = tdefaults.for_kind(kind)
        (self.steps if d.by_steps else self.epochs).setValue(d.length)
        self.batch.setValue(d.batch_size)
        self.lr.setValue(d.lr)
        self.val_share.setValue(d.val_share)
        self.patience.setValue(d.patience)
        for w in (self.epochs, self.epochs_label):
            w.setVisible(kind != "charlm")
        for w in (self.steps, self.steps_label):
            w.setVisible(kind == "charlm")
        for w in (self.image_size, self.size_label):
            w.setVisible(kind == "image")
        for w in (self.base_picker, self.base_label, self.lora_rank, self.rank_label):
            w.setVisible(kind == "lm")
        for w in (self.text_col, self.label_col, self.text_col_label, self.label_col_label):
            w.setVisible(kind == "text")
        self.head_only.setVisible(kind in ("image", "text"))
        self.sound_recorder.setVisible(kind == "sound")

    def _browse(self) -> None:
        if self.kind in ("image", "sound"):
            path = QFileDialog.getExistingDirectory(self, "Folder of class sub-folders")
        else:
            filt = {"text": "Tables (*.csv *.tsv *.tab)",
                    "lm": "Examples (*.jsonl *.csv *.tsv *.txt);;All files (*)"}.get(self.kind, "Text (*.txt *.md *.*)")
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
        if path != self.controller.data_path:
            self.set_data(path)

    def set_data(self, path: str) -> None:
        """New data (refused with a status line while a run goes on); `_on_data_changed` shows it."""
        self.controller.set_data(path, self.kind)

    def _on_data_changed(self, path: str, kind: str) -> None:
        self.path_edit.setText(path)
        self.text_col.clear()
        self.label_col.clear()
        index = next(i for i, (k, _) in enumerate(KINDS) if k == kind)
        if index != self.kind_combo.currentIndex():
            self.kind_combo.blockSignals(True)  # the controller checks the new data itself
            self.kind_combo.setCurrentIndex(index)
            self.kind_combo.blockSignals(False)
            self._apply_kind()

    def _check_data(self) -> None:
        self.controller.check_data(self.kind, self.path_edit.text(), self.text_col.currentText() or None,
                                   self.label_col.currentText() or None)

    def _on_preview(self, p: tpreview.DataPreview) -> None:
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

    def output_dir(self) -> Path:
        return self.controller.output_dir()

    def _update_resume(self) -> None:
        self.controller.update_resume()

    def _on_resume_available(self, has: bool) -> None:
        self.resume_box.setEnabled(has)
        self.resume_box.setChecked(has)
        self.resume_box.setToolTip("A checkpoint of an interrupted run with this name exists" if has else
                                   "No checkpoint for this name")

    # -- running ---------------------------------------------------------------------------
    def options(self) -> TrainOptions:
        """The widgets' values, as the controller takes them."""
        return TrainOptions(
            kind=self.kind, path=self.path_edit.text().strip(), name=self.name_edit.text(),
            epochs=self.epochs.value(), steps=self.steps.value(), batch_size=self.batch.value(),
            lr=self.lr.value(), val_share=self.val_share.value(), patience=self.patience.value(),
            image_size=self.image_size.value(), device=self.device_combo.currentData(),
            head_only=self.head_only.isChecked(), resume=self.resume_box.isChecked(),
            text_column=self.text_col.currentText() or None, label_column=self.label_col.currentText() or None,
            processes=self.processes.value(), extra=self._lm_options() | dict(self.extra_options))

    def _lm_options(self) -> dict:
        if self.kind != "lm":
            return {}
        return {"base": self.base_picker.model_id() or LM_BASES[0], "lora_rank": self.lora_rank.value()}

    def job_arguments(self) -> tuple[tuple, dict]:
        return self.options().job_arguments(self.controller.control)

    def start(self) -> None:
        self._last_options = self.options()
        self.controller.start(self._last_options)

    def _evaluate_run(self, result) -> None:
        """Every finished classifier run is evaluated on its validation split (the panel shows it)."""
        if result is not None:
            self.evaluation.evaluate_run(result, self._last_options)

    def _fit_evaluation_width(self) -> None:
        """The evaluation column is as wide as its per-class table (it scrolls up and down, never sideways)."""
        scroll = self._evaluation_scroll
        width = self.evaluation.narrowest_width() + scroll.verticalScrollBar().sizeHint().width()
        scroll.setMinimumWidth(width)

    def _make_room_for_evaluation(self) -> None:
        """An evaluation (summary, table, matrix, examples) gets at least half the height below the curves."""
        self._fit_evaluation_width()
        sizes = self._right.sizes()
        total = sum(sizes)
        if total and sizes[1] < total // 2:
            self._right.setSizes([total - total // 2, total // 2])

    def pause(self) -> None:
        self.controller.pause()

    def resume(self) -> None:
        self.controller.resume()

    def cancel(self) -> None:
        self.controller.cancel()

    def _set_running(self, running: bool, paused: bool = False) -> None:
        self.start_button.setEnabled(not running and self.controller.preview is not None)
        self.pause_button.setEnabled(running and not paused)
        self.resume_button.setEnabled(running and paused)
        self.cancel_button.setEnabled(running)
        for w in (self.kind_combo, self.path_edit, self.browse_button, self.drop, self.name_edit, self.processes):
            w.setEnabled(not running)

    # -- events (tests and tools feed the controller through these) ------------------------------
    def _on_event(self, event) -> None:
        self.controller.on_event(event)

    def _refresh_status(self) -> None:
        self.controller.refresh_status()

    def _on_result(self, result) -> None:
        self.controller.on_result(result)

    # -- export ----------------------------------------------------------------------------
    def show_runs(self):
        """The runs table (a window of its own, so it can sit beside the curves)."""
        from playground.ui.runs_dialog import RunsDialog

        dialog = RunsDialog(self.ctx, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        self.runs_dialog = dialog
        return dialog

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
        self.controller.shutdown()
        self.sound_recorder.shutdown()
        if self._plot_slot.is_built:
            self.plot.timer.stop()


def _make_plot() -> QWidget:
    from playground.ui.widgets.train_plot import TrainPlot  # imports pyqtgraph and numpy

    return TrainPlot()


def build(ctx) -> QWidget:
    return TrainTab(ctx)
