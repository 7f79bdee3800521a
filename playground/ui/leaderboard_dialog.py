"""Tools > Compare on your data: a leaderboard of two or more models on one labelled set.

The models are picked with the one model picker (the task's first, then "Add model"); the data
is a folder of class sub-folders or a labelled CSV/TSV (classifiers), or recordings with their
reference transcripts beside them (speech). The comparison is one job on its own "compare"
lane (`core.compare.compare`, the engine `playground compare` runs): each model's row fills in
as it finishes; the table ends best first. Clicking a classifier's row opens its errors in the
evaluation view the Train tab uses; a speech row lists each recording's transcript and edits.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView, QComboBox, QDialog, QFileDialog, QFormLayout, QHBoxLayout, QHeaderView, QLabel, QLineEdit,
    QProgressBar, QPushButton, QSplitter, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget,
)

from playground.core import compare as core_compare
from playground.core.jobs import Job
from playground.ui.jobs import show_progress
from playground.ui.widgets.compare_models import CompareModels
from playground.ui.widgets.model_picker import ModelPicker

LANE = "compare"  # its own lane: a leaderboard never waits behind a training run, nor delays one's start
METRIC_NAMES = {"accuracy": "Accuracy", "macro_f1": "Macro-F1", "wer": "WER", "cer": "CER"}
TASK_NAMES = {"image-classification": "Image classifiers", "text-classification": "Text classifiers",
              "audio-classification": "Sound classifiers", core_compare.SPEECH: "Speech recognition"}
DATA_HINTS = {"image-classification": "a folder of class sub-folders of images",
              "text-classification": "a labelled CSV/TSV file (text and label columns)",
              "audio-classification": "a folder of class sub-folders of sounds",
              core_compare.SPEECH: "a folder of recordings, each with its reference transcript beside it "
                                   "(clip.wav + clip.txt or clip.srt)"}


def _size(n: int | None) -> str:
    if n is None:
        return ""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return ""


class _Cell(QTableWidgetItem):
    def __init__(self, text: str, value=None):
        super().__init__(text)
        self.value = value

    def __lt__(self, other):  # noqa: D105 - numbers sort as numbers, empty cells last
        a, b = self.value, getattr(other, "value", None)
        if isinstance(a, int | float) and isinstance(b, int | float):
            return a < b
        return (a is None, self.text()) < (b is None, other.text())


class LeaderboardDialog(QDialog):
    finished_comparison = Signal(object)  # core.compare.Comparison

    def __init__(self, ctx, parent: QWidget | None = None, task: str = "image-classification"):
        super().__init__(parent)
        self.ctx = ctx
        self.setWindowTitle("Compare models on your data")
        self.resize(980, 640)
        self.handle = None
        self.comparison: core_compare.Comparison | None = None
        self.rows: dict[int, core_compare.Row] = {}
        self._runner = ctx.runner(LANE, self) if getattr(ctx, "lanes", None) is not None else None

        self.task_combo = QComboBox()
        for task_id in core_compare.TASKS:
            self.task_combo.addItem(TASK_NAMES.get(task_id, task_id), task_id)
        self.task_combo.setAccessibleName("Kind of models")
        self.picker_box = QVBoxLayout()
        self.picker: ModelPicker | None = None
        self.compare: CompareModels | None = None
        self.data_edit = QLineEdit()
        self.data_edit.setAccessibleName("Labelled data")
        folder_button = QPushButton("Folder...")
        folder_button.clicked.connect(self._choose_folder)
        file_button = QPushButton("File...")
        file_button.clicked.connect(self._choose_file)
        data_row = QHBoxLayout()
        data_row.addWidget(self.data_edit, 1)
        data_row.addWidget(folder_button)
        data_row.addWidget(file_button)
        form = QFormLayout()
        form.addRow("Models of:", self.task_combo)
        form.addRow("Data:", data_row)

        self.run_button = QPushButton("Compare")
        self.run_button.setToolTip("Score every model on the data (Ctrl+Enter)")
        self.run_button.clicked.connect(self.run)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.export_button = QPushButton("Export...")
        self.export_button.setToolTip("Save the table as CSV or JSON")
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(self._choose_export)
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(12)
        self.progress.setVisible(False)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.progress, 1)

        self.table = QTableWidget(0, 0)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.setMinimumHeight(120)  # a small window still shows the heading and three rows
        self.table.itemSelectionChanged.connect(self._open_row)
        self.details_title = QLabel("Click a row to see its errors.")
        self.details = QWidget()  # the evaluation view (classifiers) or the recordings table (speech)
        self.details_layout = QVBoxLayout(self.details)
        self.details_layout.setContentsMargins(0, 0, 0, 0)
        self.details_layout.addWidget(self.details_title)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.details)
        split.setSizes([220, 320])

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(self.picker_box)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addWidget(split, 1)
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            QShortcut(QKeySequence(keys), self, activated=self.run)

        self.task_combo.currentIndexChanged.connect(lambda _i: self._build_pickers())
        self.task_combo.setCurrentIndex(max(0, self.task_combo.findData(task)))
        self._build_pickers()

    # -- choosing ------------------------------------------------------------------------------
    @property
    def task(self) -> str:
        return str(self.task_combo.currentData())

    def _build_pickers(self) -> None:
        """The task's picker and the Compare pickers (always on here: a leaderboard has two or more)."""
        for widget in (self.picker, self.compare):
            if widget is not None:
                widget.setParent(None)
                widget.deleteLater()
        self.picker = ModelPicker(self.ctx, self.task, label="Model 1:", remember_choice=False)
        self.compare = CompareModels(self.ctx, self.picker)
        self.picker_box.addWidget(self.picker)
        self.picker_box.addWidget(self.compare)
        self.compare.switch.setChecked(True)
        self.data_edit.setPlaceholderText(DATA_HINTS.get(self.task, ""))

    def model_ids(self) -> list[str]:
        return self.compare.model_ids() if self.compare is not None else []

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose the labelled data folder")
        if folder:
            self.data_edit.setText(folder)

    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose the labelled data", "",
                                              "Tables (*.csv *.tsv *.tab);;Audio (*.wav *.mp3 *.flac *.ogg);;All files (*)")
        if path:
            self.data_edit.setText(path)

    # -- running ------------------------------------------------------------------------------
    def run(self) -> None:
        if self.handle is not None:
            return
        models = self.model_ids()
        data = self.data_edit.text().strip()
        if len(models) < 2:
            self._say("Pick two or more different models to compare.", error=True)
            return
        if not data:
            self._say(f"Choose the data: {DATA_HINTS.get(self.task, 'a labelled set')}.", error=True)
            return
        if self._runner is None:
            self._say("No worker to run jobs on.", error=True)
            return
        self.comparison = None
        self.rows = {}
        self._reset_table(models)
        self.handle = self._runner.submit(
            Job(core_compare.compare, (models, data), name=f"compare {len(models)} models"),
            on_event=self._on_event, on_progress=self._on_progress, on_result=self._on_result,
            on_error=lambda m: self._say(m, error=True), on_cancelled=lambda: self._say("Cancelled."),
            on_finished=self._on_finished)
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.export_button.setEnabled(False)
        self.progress.setVisible(True)
        self._say(f"Comparing {len(models)} models on {Path(data).name}, one after another...")

    def cancel(self) -> None:
        if self.handle is not None:
            self.handle.cancel()

    def _on_progress(self, fraction, text: str) -> None:
        show_progress(self.progress, fraction)
        if text:
            self._say(text)

    def _on_event(self, event) -> None:
        if isinstance(event, core_compare.RowDone):
            self.rows[event.index] = event.row
            self._fill_row(event.index, event.row)

    def _on_result(self, comparison) -> None:
        self.comparison = comparison
        self.rows = dict(enumerate(comparison.rows))
        ranked = comparison.ranked()
        self._reset_table([r.model for r in ranked])
        order = {id(r): i for i, r in enumerate(comparison.rows)}
        for row_index, row in enumerate(ranked):
            self._fill_row(row_index, row, source=order[id(row)])
        best = ranked[0]
        first = comparison.metrics[0]
        if best.ok:
            self._say(f"Best on {Path(comparison.data).name}: {self._name(best.model)} "
                      f"({METRIC_NAMES[first]} {best.metrics[first]:.4f}). Click a row to see its errors.")
        self.export_button.setEnabled(True)
        self.finished_comparison.emit(comparison)

    def _on_finished(self) -> None:
        self.handle = None
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.progress.setVisible(False)

    def _say(self, text: str, error: bool = False) -> None:
        self.status.setStyleSheet("color: #b00020" if error else "")
        self.status.setText(text)

    # -- the table -----------------------------------------------------------------------------
    def headings(self) -> list[str]:
        metrics = core_compare.METRICS[self.task]
        return (["Model"] + [METRIC_NAMES[m] for m in metrics]
                + ["Examples", "Examples/s", "Size", "Peak memory", "Error"])

    def _reset_table(self, models: list[str]) -> None:
        self.table.setSortingEnabled(False)
        self.table.clear()
        self.table.setColumnCount(len(self.headings()))
        self.table.setHorizontalHeaderLabels(self.headings())
        self.table.setRowCount(len(models))
        for r, model in enumerate(models):
            cell = _Cell(self._name(model))
            cell.setToolTip(model)
            self.table.setItem(r, 0, cell)
            self.table.setItem(r, 1, _Cell("waiting..."))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)

    def _fill_row(self, r: int, row: core_compare.Row, source: int | None = None) -> None:
        metrics = core_compare.METRICS[self.task]
        values = [row.metrics.get(m) for m in metrics]
        rate = row.examples_per_s
        cells = ([_Cell("" if v is None else f"{v:.4f}", v) for v in values]
                 + [_Cell(str(row.examples), row.examples), _Cell("" if rate is None else f"{rate:.1f}", rate),
                    _Cell(_size(row.size_bytes), row.size_bytes),
                    _Cell(_size(row.peak_memory_bytes), row.peak_memory_bytes), _Cell(row.error or "")])
        for c, cell in enumerate(cells, 1):
            self.table.setItem(r, c, cell)
        self.table.item(r, 0).setData(Qt.ItemDataRole.UserRole, r if source is None else source)
        if self.comparison is not None:
            self.table.setSortingEnabled(True)

    def _name(self, model: str) -> str:
        return self.compare.display_name(model) if self.compare is not None else model

    def selected_row(self) -> core_compare.Row | None:
        items = self.table.selectedItems()
        if not items:
            return None
        source = self.table.item(items[0].row(), 0).data(Qt.ItemDataRole.UserRole)
        return self.rows.get(source) if source is not None else None

    def _open_row(self) -> None:
        """A row's errors: the evaluation view for a classifier, each recording's edits for speech."""
        row = self.selected_row()
        while self.details_layout.count() > 1:
            item = self.details_layout.takeAt(1)
            if item.widget() is not None:
                item.widget().deleteLater()
        if row is None or not row.ok:
            self.details_title.setText(row.error if row is not None and row.error else "Click a row to see its errors.")
            return
        self.details_title.setText(f"Errors of {self._name(row.model)}")
        if row.evaluation is not None:
            from playground.ui.widgets.evaluation_view import EvaluationView

            view = EvaluationView()
            view.show_evaluation(row.evaluation)
            self.details_layout.addWidget(view, 1)
        elif row.files:
            table = QTableWidget(len(row.files), 4)
            table.setHorizontalHeaderLabels(["Recording", "Word edits", "Reference", "Transcript"])
            table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
            for r, f in enumerate(row.files):
                for c, value in enumerate((Path(f.path).name, f"{f.word_edits} / {f.words}", f.reference,
                                           f.hypothesis)):
                    table.setItem(r, c, QTableWidgetItem(value))
            table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
            self.details_layout.addWidget(table, 1)
        self.details_view = self.details_layout.itemAt(self.details_layout.count() - 1).widget()

    # -- export --------------------------------------------------------------------------------
    def _choose_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the leaderboard", "leaderboard.csv",
                                              "CSV (*.csv);;JSON (*.json)")
        if path:
            self.export(path)

    def export(self, path: str) -> None:
        if self.comparison is None:
            return
        try:
            self.comparison.save(path)
        except OSError as exc:
            self._say(f"Could not save {Path(path).name}: {exc.strerror or exc}", error=True)
            return
        self._say(f"Saved {Path(path).name}.")


def show_leaderboard(window, task: str | None = None) -> LeaderboardDialog:
    dialog = LeaderboardDialog(window.ctx, window, task or "image-classification")
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    return dialog

