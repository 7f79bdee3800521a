"""The Speech tab's Compare view: one recording through two (up to four) models, side by side.

Each model transcribes the file as its own job on the speech lane (one after another, as every job
of a lane runs); its column fills as its segments come, then shows its real-time factor and time.
When every model is done, a last small job on the same lane aligns the transcripts word by word
(`core/word_diff.py`): the words that differ from the first model's transcript are highlighted, each
column gets its WER against the first, and against the reference transcript lying beside the audio
(clip.txt or clip.srt) when there is one. Cancel (or Esc) cancels every run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from playground.core import word_diff
from playground.core.jobs import Job
from playground.core.transcript import Transcript
from playground.ui.widgets.compare_columns import DIFFERS, CompareColumn, CompareColumns
from playground.ui.widgets.deferred import lazy_module

speech = lazy_module("playground.core.speech")

LANE = "speech"
STOPPED = "Stopped."


def timing_text(result: Transcript, wall: float | None) -> str:
    """A column's figures: real-time factor, the transcription's time for the audio, the load included."""
    rtf = result.realtime_factor
    text = (f"Real-time factor {rtf:.2f} ({result.elapsed:.1f} s for {result.duration:.1f} s of audio)"
            if rtf is not None else f"{result.elapsed:.1f} s")
    if wall is not None and wall > result.elapsed + 0.05:
        text += f"; {wall:.1f} s with loading"
    return text


class SpeechComparison(QWidget):
    """Columns of one recording's transcripts by several models. `name(model_id)`: a column's title."""

    finished = Signal(object)  # the word_diff.Comparison, or None (stopped, or fewer than two transcripts)
    busy_changed = Signal(bool)
    measured = Signal(str, object)  # model id, its real-time factor (for the tab's measured speeds)

    def __init__(self, ctx, name: Callable[[str], str], parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("speechCompare")
        self.ctx = ctx
        self._name = name
        self._runner = None
        self.handles: dict[object, object] = {}  # ("run", i) or "diff" -> its JobHandle
        self.results: dict[int, Transcript] = {}
        self.model_ids: list[str] = []
        self.path = ""
        self.comparison: word_diff.Comparison | None = None
        self._started: dict[int, float] = {}
        self._stopped = False
        self.summary = QLabel("")
        self.summary.setObjectName("speechCompareSummary")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.summary.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.summary.setMinimumWidth(1)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop every model's transcription (Esc)")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.columns = CompareColumns()
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.summary, 1)
        top.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.columns, 1)

    @property
    def busy(self) -> bool:
        return bool(self.handles)

    def column(self, i: int) -> CompareColumn:
        return self.columns.columns[i]

    # -- running ------------------------------------------------------------------------------
    def start(self, path: str, model_ids: list[str], options) -> bool:
        """Transcribe `path` with each model in turn; False when a comparison is already running."""
        if self.busy:
            return False
        if self._runner is None:
            self._runner = self.ctx.runner(LANE, self)
        self.path, self.model_ids = str(path), list(model_ids)
        self.results, self._started, self.comparison, self._stopped = {}, {}, None, False
        self.columns.reset([(self._name(m), m) for m in model_ids])
        name = Path(path).name
        for i, model in enumerate(model_ids):
            job = Job(speech.transcribe_file, (self.path,), {"model": model, "options": options},
                      name=f"transcribe {name} with {self._name(model)}")
            handle = self._runner.submit(
                job, on_event=lambda e, i=i: self._on_event(i, e),
                on_progress=lambda f, t, i=i: self._on_progress(i, f, t),
                on_result=lambda r, i=i: self._on_result(i, r),
                on_error=lambda m, i=i: self.column(i).fail(m),
                on_cancelled=lambda i=i: self.column(i).fail(STOPPED),
                on_finished=lambda i=i: self._run_finished(i))
            handle.started.connect(lambda i=i: self._started.__setitem__(i, time.perf_counter()))
            self.handles[("run", i)] = handle
        self.summary.setStyleSheet("")
        self.summary.setText(f"Transcribing {name} with {len(model_ids)} models, one after another...")
        self.cancel_button.setEnabled(True)
        self.setVisible(True)
        self.busy_changed.emit(True)
        return True

    def cancel(self) -> None:
        """Stop every model's run (the running one at its next check; the queued ones never start)."""
        if not self.handles:
            return
        self._stopped = True
        for handle in list(self.handles.values()):
            handle.cancel()

    def _on_event(self, i: int, event) -> None:
        if isinstance(event, speech.FileSegment) and event.segment.text.strip():
            column = self.column(i)
            column.append(("" if column.output.document().isEmpty() else " ") + event.segment.text.strip())

    def _on_progress(self, i: int, fraction, text: str) -> None:
        if text and not self.column(i).done:
            self.column(i).stats.setText(text if fraction is None else f"{text} ({fraction:.0%})")

    def _on_result(self, i: int, result: Transcript) -> None:
        self.results[i] = result
        started = self._started.get(i)
        column = self.column(i)
        column.done = True
        column.output.setPlainText(result.text)  # the text the alignment's places refer to
        column.stats.setText(timing_text(result, None if started is None else time.perf_counter() - started))
        self.measured.emit(result.model, result.realtime_factor)

    def _run_finished(self, i: int) -> None:
        self.handles.pop(("run", i), None)
        if any(key != "diff" for key in self.handles):
            return
        done = sorted(self.results)
        if self._stopped or len(done) < 2:
            self._say(STOPPED if self._stopped else
                      "Fewer than two models transcribed the file: nothing to compare.", error=not self._stopped)
            self._end()
            return
        self.handles["diff"] = self._runner.submit(
            Job(word_diff.compare_job, ([self.results[i].text for i in done],), {"audio_path": self.path},
                name="compare transcripts"),
            on_result=lambda c: self._show_comparison(done, c),
            on_error=lambda m: self._say(m, error=True),
            on_cancelled=lambda: self._say(STOPPED),
            on_finished=self._diff_finished)

    def _diff_finished(self) -> None:
        self.handles.pop("diff", None)
        self._end()

    def _say(self, text: str, error: bool = False) -> None:
        self.summary.setStyleSheet("color: #c0392b" if error else "")
        self.summary.setText(text)

    def _end(self) -> None:
        self.cancel_button.setEnabled(False)
        self.busy_changed.emit(False)
        self.finished.emit(self.comparison)

    # -- the word-level comparison ------------------------------------------------------------
    def _show_comparison(self, done: list[int], comparison: word_diff.Comparison) -> None:
        self.comparison = comparison
        first = self._name(self.model_ids[done[0]])
        for i, item in zip(done, comparison.transcripts, strict=True):
            column = self.column(i)
            highlight(column, item.text, item.differs)
            figures = [column.stats.text()]
            if item.wer_vs_first is not None:
                figures.append(f"WER against {first}: {item.wer_vs_first:.2f}")
            if item.wer_vs_reference is not None:
                figures.append(f"WER against the reference: {item.wer_vs_reference:.2f}")
            column.stats.setText("\n".join(figures))
            column.stats.setToolTip(f"{len(item.differs)} words differ from {first}'s transcript"
                                    if item.wer_vs_first is not None else "The transcript the others are measured against")
        changed = sum(len(t.differs) for t in comparison.transcripts[1:])
        agree = ("All transcripts agree word for word." if not changed else
                 f"Words that differ from {first}'s transcript are highlighted.")
        if comparison.reference_path:
            ref = f" Reference: {Path(comparison.reference_path).name}, beside the audio."
        else:
            stem = Path(self.path).stem
            ref = f" No reference transcript beside the audio ({stem}.txt or {stem}.srt) for a WER against it."
        self.summary.setStyleSheet("")
        self.summary.setText(agree + ref)
        self.finished.emit(comparison)

    def highlighted_words(self, i: int) -> list[str]:
        """The words highlighted in column `i` (what the view shows as differing)."""
        return highlighted_words(self.column(i))


def highlight(column: CompareColumn, text: str, spans: list[tuple[int, int]]) -> None:
    """Mark character spans of `text` (the column's text) with the comparison's 'differs' colour."""
    fmt = QTextCharFormat()
    fmt.setBackground(QColor(DIFFERS))
    fmt.setForeground(QColor("black"))
    cursor = QTextCursor(column.output.document())
    for start, end in spans:
        cursor.setPosition(_utf16(text, start))  # Qt counts UTF-16 units, Python code points
        cursor.setPosition(_utf16(text, end), QTextCursor.MoveMode.KeepAnchor)
        cursor.mergeCharFormat(fmt)


def highlighted_words(column: CompareColumn) -> list[str]:
    """The highlighted runs of a column's text, in order."""
    words, block = [], column.output.document().begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            frag = it.fragment()
            if frag.charFormat().background().color() == DIFFERS:
                words.append(frag.text())
            it += 1
        block = block.next()
    return words


def _utf16(text: str, index: int) -> int:
    return len(text[:index].encode("utf-16-le")) // 2
