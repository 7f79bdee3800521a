"""What every Text-tab task panel shares: model picker, text input, Run, notices, errors.

A panel subclasses `TextPanel`, builds its own input/output widgets, names
them in `OUTPUTS` (a failed run clears them: an old answer must not stay as if
it were the new one), and implements `make_job()` (returns a core `Job`, or
raises `InputError` for a bad input) and `show_result(result)`. `run()` is what
Ctrl+Enter calls. A panel whose task has no offline model shows, while no model
is chosen, one sentence saying what it needs and the actions that get one.

A panel that can compare (`COMPARE = True`) gets a Compare switch beside its
picker; with two or more models picked, Run submits one job per model (built by
`make_job(model_id)`) to the text lane, where they run one after another, and
calls `begin_compare`, `compare_event`, `compare_result` and `compare_failed`;
Stop (and Esc) cancel all of them.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QSizePolicy, QTableWidget, QVBoxLayout, QWidget,
)

from playground.core import models, tasks
from playground.core.errors import PlaygroundError
from playground.ui.widgets.compare_columns import CompareTable
from playground.ui.widgets.compare_models import CompareModels
from playground.ui.widgets.model_picker import ModelPicker

MAX_INPUT_CHARS = 200_000  # what a panel accepts at all; the model's own limit comes later


class TextPanel(QWidget):
    result_ready = Signal(object)  # after show_result
    compared = Signal(list)  # a comparison ended: each model's result (None where it failed or stopped)
    failed = Signal(str)

    TASK = ""  # the task registry id (playground.core.tasks) of the panel's model picker
    DEFAULT_MODEL: str | None = None
    MODEL_PLACEHOLDER = ""
    RUN_TEXT = "Run"
    OUTPUTS: tuple[str, ...] = ()  # attribute names of the widgets that show a result
    COMPARE = False  # the panel can run one input through several models side by side
    COMPARE_TABLE = True  # ... shown in the base's table (False: the panel has its own view)

    def __init__(self, ctx, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        self.handle = None
        self.last_result = None
        self.layout_ = QVBoxLayout(self)
        self.picker: ModelPicker | None = None
        self.compare: CompareModels | None = None
        self.compare_handles: dict[int, object] = {}  # a comparison's running jobs, by column
        if self.TASK:
            self.picker = ModelPicker(ctx, self.TASK, self.DEFAULT_MODEL, self.MODEL_PLACEHOLDER)
            if self.COMPARE:
                self.compare = CompareModels(ctx, self.picker)
                row = QHBoxLayout()
                row.addWidget(self.picker, 1)
                row.addWidget(self.compare.switch)
                self.layout_.addLayout(row)
                self.layout_.addWidget(self.compare)
            else:
                self.layout_.addWidget(self.picker)
        self.compare_table: CompareTable | None = None
        if self.compare is not None and self.COMPARE_TABLE:  # placed under the notice at the first comparison
            self.compare_table = CompareTable()
            self.compare_table.setVisible(False)
            self.compare.toggled.connect(lambda on: on or self.compare_table.setVisible(False))
        self.empty_state: QWidget | None = None
        self.empty_state = self._build_empty_state()
        self.jobs = ctx.runner("text", self) if getattr(ctx, "lanes", None) is not None else None

        self.run_button = QPushButton(self.RUN_TEXT)
        self.run_button.setToolTip("Run (Ctrl+Enter)")
        self.run_button.setObjectName("textRunButton")
        self.run_button.clicked.connect(self.run)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Cancel this run")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop)
        self.status = QLabel("")
        self.status.setObjectName("textStatus")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.notice = QLabel("")
        self.notice.setObjectName("textNotice")
        self.notice.setWordWrap(True)
        self.notice.setTextFormat(Qt.TextFormat.PlainText)
        self.notice.setStyleSheet("color: #a15c00")
        self.notice.setVisible(False)

    # -- building blocks for subclasses ------------------------------------------------
    def text_input(self, placeholder: str, name: str) -> QPlainTextEdit:
        edit = QPlainTextEdit()
        edit.setPlaceholderText(placeholder)
        edit.setAccessibleName(name)
        edit.setTabChangesFocus(True)
        return edit

    def run_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(self.run_button)
        row.addWidget(self.stop_button)
        row.addWidget(self.status, 1)
        return row

    def add_run_row(self) -> None:
        self.layout_.addLayout(self.run_row())
        self.layout_.addWidget(self.notice)

    def model_id(self) -> str:
        return self.picker.model_id() if self.picker is not None else ""

    # -- the empty state: no model chosen for a task that needs one ----------------------------
    def _build_empty_state(self) -> QWidget | None:
        task = tasks.get(self.TASK) if self.picker is not None else None
        if task is None or task.default or task.optional_model:  # it runs with no model chosen
            return None
        box = QWidget()
        box.setObjectName("textEmptyState")
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        self.empty_text = QLabel(needs_sentence(task, online=not models.hub_offline()))
        self.empty_text.setObjectName("textEmptyStateText")
        self.empty_text.setWordWrap(True)
        self.empty_text.setTextFormat(Qt.TextFormat.PlainText)
        self.empty_text.setStyleSheet("color: #a15c00")
        row.addWidget(self.empty_text, 1)
        self.train_button = self.download_button = None
        if task.train and self._main_tabs() is not None:
            self.train_button = QPushButton("Open the Train tab")
            self.train_button.setToolTip("Train a model for this task on your own examples")
            self.train_button.clicked.connect(self.open_train_tab)
            row.addWidget(self.train_button)
        if task.hub and not models.hub_offline() and callable(getattr(self.ctx.window, "show_model_manager", None)):
            self.download_button = QPushButton(f"Download {task.hub[0].name}...")
            self.download_button.setToolTip(f"Open the model manager to download {task.hub[0].id} (once)")
            self.download_button.clicked.connect(self.open_download)
            row.addWidget(self.download_button)
        self.layout_.addWidget(box)
        self.empty_state = box
        self.picker.changed.connect(self._update_empty_state)
        self.picker.loaded.connect(self._update_empty_state)
        self.picker.combo.editTextChanged.connect(self._update_empty_state)
        self._update_empty_state()
        return box

    def _update_empty_state(self, *_args) -> None:
        if self.empty_state is not None:
            empty = not self.model_id() and not self.picker.available
            self.empty_state.setVisible(empty)
            why = getattr(self, "why", None)  # no model, nothing to explain: the sentence gets its room
            if why is not None:
                why.check.setVisible(not empty)

    def _main_tabs(self):
        return getattr(getattr(self.ctx, "window", None), "tabs", None)

    def open_train_tab(self) -> None:
        tabs = self._main_tabs()
        for i in range(tabs.count() if tabs is not None else 0):
            if tabs.tabText(i).replace("&", "") == "Train":
                tabs.setCurrentIndex(i)
                return

    def open_download(self):
        """The model manager, with the task's suggested Hub model filled in to download."""
        dialog = self.ctx.window.show_model_manager()
        combo = getattr(dialog, "download_combo", None)
        if combo is not None:
            combo.setCurrentText(tasks.get(self.TASK).hub[0].id)
        return dialog

    # -- running ------------------------------------------------------------------------------
    def make_job(self):  # pragma: no cover - every panel overrides it
        raise NotImplementedError

    def show_result(self, result) -> None:  # pragma: no cover
        raise NotImplementedError

    def notices(self, result) -> list[str]:
        """Sentences to show above the results (truncation and the like)."""
        return []

    @property
    def busy(self) -> bool:
        return self.handle is not None or bool(self.compare_handles)

    def compared_models(self) -> list[str]:
        """The models of a comparison (two or more), or [] when the panel runs its one model."""
        return self.compare.model_ids() if self.compare is not None and self.compare.active else []

    def run(self) -> None:
        if self.busy:
            return
        self.set_notice([])
        compared = self.compared_models()
        if compared:
            self.run_compare(compared)
            return
        try:
            job = self.make_job()
        except PlaygroundError as exc:
            self.show_error(str(exc))
            return
        if self.jobs is None:
            self.show_error("No worker to run jobs on.")
            return
        self.handle = self.jobs.submit(job, on_progress=self._on_progress, on_result=self._on_result,
                                       on_error=self._run_failed, on_cancelled=lambda: self.status.setText("Stopped."),
                                       on_finished=self._on_finished, key="run")
        self.run_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.status.setStyleSheet("")
        self.status.setText("Working...")

    def stop(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
        for handle in list(self.compare_handles.values()):
            handle.cancel()

    # -- compare: one input through several models, one job each, one after another on the lane --------
    def run_compare(self, model_ids: list[str]) -> None:
        try:
            jobs = [self.make_job(m) for m in model_ids]
        except PlaygroundError as exc:
            self.show_error(str(exc))
            return
        if self.jobs is None:
            self.show_error("No worker to run jobs on.")
            return
        self.compare_started: dict[int, float] = {}
        self.begin_compare(model_ids)
        for i, job in enumerate(jobs):
            self.compare_handles[i] = handle = self.jobs.submit(
                job, key=("compare", i),
                on_event=lambda e, i=i: self.compare_event(i, e),
                on_progress=lambda f, t, i=i: self.compare_progress(i, f, t),
                on_result=lambda r, i=i: self.compare_result(i, r),
                on_error=lambda m, i=i: self.compare_failed(i, m),
                on_cancelled=lambda i=i: self.compare_failed(i, "Stopped."),
                on_finished=lambda i=i: self._compare_finished(i))
            handle.started.connect(lambda i=i: self.compare_started.__setitem__(i, time.perf_counter()))
        self.run_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.status.setStyleSheet("")
        self.status.setText(f"Comparing {len(model_ids)} models, one after another...")

    def _compare_finished(self, i: int) -> None:
        self.compare_handles.pop(i, None)
        if not self.compare_handles:
            self.run_button.setEnabled(True)
            self.stop_button.setEnabled(False)
            self.status.setText("Compared.")
            self.compare_done()

    def compare_seconds(self, i: int) -> float | None:
        """Wall time of model `i`'s job so far, from when the lane started it (its load included)."""
        started = getattr(self, "compare_started", {}).get(i)
        return None if started is None else time.perf_counter() - started

    # The default comparison view: a table, one row per model (its answer and time), the rows whose
    # answer differs from the first model's highlighted. Panels say what an answer is.
    def compare_answer(self, result) -> str:  # pragma: no cover - table-style compare panels override
        raise NotImplementedError

    def compare_key(self, result):
        """What two models must share to agree (default: the answer's text)."""
        return self.compare_answer(result)

    def begin_compare(self, model_ids: list[str]) -> None:
        self.clear_output()  # the single run's old answer must not sit beside the comparison
        names = [self.compare.display_name(m) for m in model_ids]
        if self.layout_.indexOf(self.compare_table) < 0:
            self.layout_.insertWidget(self.layout_.indexOf(self.notice) + 1, self.compare_table)
        self.compare_table.reset(names, model_ids)
        self.compare_table.setVisible(True)
        self.compare_results: dict[int, object] = {}

    def compare_event(self, i: int, event) -> None:
        pass

    def compare_progress(self, i: int, fraction, text: str) -> None:
        if text:
            self.compare_table.set_state(i, text if fraction is None else f"{text} ({fraction:.0%})")

    def compare_result(self, i: int, result) -> None:
        self.compare_results[i] = result
        self.compare_table.set_answer(i, self.compare_answer(result), self.compare_seconds(i))

    def compare_failed(self, i: int, message: str) -> None:
        self.compare_table.set_state(i, message, error=message != "Stopped.")

    def compare_done(self) -> None:
        results = getattr(self, "compare_results", {})
        keys = {i: self.compare_key(r) for i, r in results.items()}
        if 0 in keys:
            differ = [i for i, k in keys.items() if k != keys[0]]
            self.compare_table.highlight(differ)
            if len(keys) >= 2:
                self.status.setText("All models agree." if not differ else
                                    f"{len(differ)} of {len(keys) - 1} other models differ from the first "
                                    "(highlighted).")
        self.compared.emit([results.get(i) for i in range(self.compare_table.rowCount())])

    def _on_progress(self, fraction, text: str) -> None:
        if text:
            self.status.setText(text if fraction is None else f"{text} ({fraction:.0%})")

    def _on_result(self, result) -> None:
        self.last_result = result
        if self.picker is not None:
            self.picker.remember()
        secs = getattr(result, "seconds", None)
        self.status.setStyleSheet("")
        self.status.setText(f"Done in {secs:.2f} s." if secs else "Done.")
        self.set_notice(self.notices(result))
        self.show_result(result)
        self.result_ready.emit(result)

    def _on_finished(self) -> None:
        self.handle = None
        self.run_button.setEnabled(True)
        self.stop_button.setEnabled(False)

    def _run_failed(self, message: str) -> None:
        self.clear_output()
        self.show_error(message)

    def clear_output(self) -> None:
        """Empty every result widget (`OUTPUTS`): after a failed run nothing old may pass for its answer."""
        self.last_result = None
        for name in self.OUTPUTS:
            clear_widget(getattr(self, name))

    def show_error(self, message: str) -> None:
        self.status.setStyleSheet("color: #c0392b")
        self.status.setText(message)
        self.failed.emit(message)

    def set_notice(self, lines: list[str]) -> None:
        self.notice.setText("\n".join(lines))
        self.notice.setVisible(bool(lines))

    # -- files ----------------------------------------------------------------------------------------
    def main_input(self) -> QPlainTextEdit | None:
        return None

    def open_paths(self, paths: list[str]) -> None:
        """Dropping or opening a text file puts its text in the main input."""
        target = self.main_input()
        if target is None or not paths:
            return
        try:
            target.setPlainText(read_text_file(paths[0]))
        except PlaygroundError as exc:
            self.show_error(str(exc))


def top_labels_text(result) -> str:
    """A classifier's answer in one cell: each text's best label and its score (one line per text)."""
    lines = []
    for item in result.items:
        best = f"{item.scores[0].label} ({item.scores[0].score:.2f})" if item.scores else "(no label)"
        short = item.text if len(item.text) <= 40 else item.text[:39] + "…"
        lines.append(f"{short}: {best}" if len(result.items) > 1 else best)
    return "\n".join(lines)


def clear_widget(widget) -> None:
    if isinstance(widget, QTableWidget):
        widget.setRowCount(0)
    elif isinstance(widget, QLabel):
        widget.setText("")
    else:  # text views, score bars, the attention map, combo boxes
        widget.clear()


def needs_sentence(task: tasks.Task, online: bool) -> str:
    """One sentence: what the task needs, and the ways to get it (no offline model ships for it)."""
    ways = []
    if task.train:
        ways.append("train one in the Train tab")
    if task.hub:
        ways.append(f"download one such as {task.hub[0].name} once" + ("" if online else " (needs a network)"))
    ways.append("choose a model folder")
    how = ", ".join(ways[:-1]) + f" or {ways[-1]}" if len(ways) > 1 else ways[0]
    return f"{task.label} needs {task.needs}, and none is on this computer yet: {how}."


def read_text_file(path: str) -> str:
    from playground.core.errors import InputError

    p = Path(path)
    try:
        raw = p.read_bytes()[: MAX_INPUT_CHARS * 4]
    except OSError as exc:
        raise InputError(f"Cannot read {p.name}: {exc.strerror or exc}.") from exc
    if b"\x00" in raw[:4096]:
        raise InputError(f"{p.name} is not a text file.")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def truncation_notice(count: int, limit: int | None, what: str = "text") -> list[str]:
    if not count:
        return []
    where = f" ({limit} tokens)" if limit else ""
    many = f"{count} {what}s were" if count > 1 else f"The {what} was"
    return [f"{many} longer than the model's limit{where}: only the beginning was used."]
