"""The Speech tab's Compare view: one recording through two (up to four) models, side by side.

Each model transcribes the file as its own job on the speech lane (one after another, as every job
of a lane runs); its column fills as its segments come, then shows its real-time factor and time.
When every model is done, a last small job on the same lane aligns the transcripts word by word
(`core/word_diff.py`): the words that differ from the first model's transcript are highlighted, each
column gets its WER against the first, and against the reference transcript lying beside the audio
(clip.txt or clip.srt) when there is one. Cancel (or Esc) cancels every run. What the comparison
has to say (running, stopped, the reference found) goes out as `message` for the tab's message line.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QPushButton, QVBoxLayout, QWidget

from playground.core import word_diff
from playground.core.jobs import Job
from playground.core.transcript import Transcript
from playground.ui.widgets.compare_columns import DIFFERS, CompareColumn, CompareColumns
from playground.ui.widgets.deferred import lazy_module

file_transcription = lazy_module("playground.core.speech.file_transcription")

LANE = "speech"
STOPPED = "Stopped."
FIGURE_LINES = 4  # real-time factor, with loading, WER against the first, WER against the reference
ERROR_COLOUR = "#b00020"


def timing_text(result: Transcript, wall: float | None) -> str:
    """A column's figures: real-time factor and the transcription's time; then the time with the load."""
    rtf = result.realtime_factor
    text = f"Real-time factor {rtf:.2f}: {result.elapsed:.1f} s" if rtf is not None else f"{result.elapsed:.1f} s"
    if wall is not None and wall > result.elapsed + 0.05:
        text += f"\n{wall:.1f} s with loading"
    return text


class SpeechComparison(QWidget):
    """Columns of one recording's transcripts by several models. `name(model_id)`: a column's title."""

    finished = Signal(object)  # the word_diff.Comparison, or None (stopped, or fewer than two transcripts)
    busy_changed = Signal(bool)
    message = Signal(str, bool)  # a sentence for the tab's message line, is it an error
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
        self.summary = ""  # the last message
        # Placed by the tab (beside its message line), shown while a comparison runs.
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("speechCompareCancel")
        self.cancel_button.setToolTip("Stop every model's transcription (Esc)")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.columns = CompareColumns()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
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
        self._prepare(path, model_ids)
        name = Path(path).name
        for i, model in enumerate(model_ids):
            job = Job(file_transcription.transcribe_file, (self.path,), {"model": model, "options": options},
                      name=f"transcribe {name} with {self._name(model)}")
            handle = self._runner.submit(
                job, on_event=lambda e, i=i: self._on_event(i, e),
                on_progress=lambda f, t, i=i: self._on_progress(i, f, t),
                on_result=lambda r, i=i: self._on_result(i, r),
                on_error=lambda m, i=i: self._failed(i, m),
                on_cancelled=lambda i=i: self.column(i).fail(STOPPED),
                on_finished=lambda i=i: self._run_finished(i))
            handle.started.connect(lambda i=i: self._started.__setitem__(i, time.perf_counter()))
            self.handles[("run", i)] = handle
        self._say(f"Transcribing {name} with {len(model_ids)} models, one after another...")
        self.cancel_button.setVisible(True)
        self.busy_changed.emit(True)
        return True

    def _prepare(self, path: str, model_ids: list[str]) -> None:
        """Empty columns, one per model, for a comparison of `path`."""
        self.path, self.model_ids = str(path), list(model_ids)
        self.results, self._started, self.comparison, self._stopped = {}, {}, None, False
        for column in self.columns.reset([(self._name(m), m) for m in model_ids]):
            # One short figure a line, unwrapped, their height kept from the start: a wrapped label in a
            # splitter gets no height for its width, and the figures would overlap the text.
            column.stats.setWordWrap(False)
            column.stats.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
            column.stats.setMinimumHeight(FIGURE_LINES * column.stats.fontMetrics().lineSpacing() + 2)
            column.output.setMinimumHeight(3 * column.output.fontMetrics().lineSpacing())
            column.title.setToolTip(f"{column.title.text()}\n{column.model_id}")  # elided in a narrow column

    def cancel(self) -> None:
        """Stop every model's run (the running one at its next check; the queued ones never start)."""
        if not self.handles:
            return
        self._stopped = True
        for handle in list(self.handles.values()):
            handle.cancel()

    def _on_event(self, i: int, event) -> None:
        if isinstance(event, file_transcription.FileSegment) and event.segment.text.strip():
            column = self.column(i)
            column.append(("" if column.output.document().isEmpty() else " ") + event.segment.text.strip())

    def _on_progress(self, i: int, fraction, text: str) -> None:
        if text and not self.column(i).done:
            self._set_stats(i, text if fraction is None else f"{text} ({fraction:.0%})")

    def _on_result(self, i: int, result: Transcript) -> None:
        self.results[i] = result
        started = self._started.get(i)
        column = self.column(i)
        column.done = True
        column.output.setPlainText(result.text)  # the text the alignment's places refer to
        self._set_stats(i, timing_text(result, None if started is None else time.perf_counter() - started))
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
            on_result=lambda c: self._show_alignment(done, c),
            on_error=lambda m: self._say(m, error=True),
            on_cancelled=lambda: self._say(STOPPED),
            on_finished=self._diff_finished)

    def _diff_finished(self) -> None:
        self.handles.pop("diff", None)
        self._end()

    def _say(self, text: str, error: bool = False) -> None:
        self.summary = text
        self.message.emit(text, error)

    def _set_stats(self, i: int, text: str) -> None:
        self.column(i).stats.setText(text)
        self.column(i).stats.setToolTip(text)

    def _failed(self, i: int, message: str) -> None:
        """The reason in the column's text (it may be long: the text area scrolls), after what came."""
        column = self.column(i)
        column.append(("\n\n" if not column.output.document().isEmpty() else "") + message, ERROR_COLOUR)
        column.fail("Failed.")

    def _end(self) -> None:
        self.cancel_button.setVisible(False)
        self.busy_changed.emit(False)
        self.finished.emit(self.comparison)

    # -- the word-level comparison ------------------------------------------------------------
    def _show_alignment(self, done: list[int], comparison: word_diff.Comparison) -> None:
        self.comparison = comparison
        first = self._name(self.model_ids[done[0]])
        against = "the first model" if done[0] == 0 else first  # the first one failed: the next is the measure
        for i, item in zip(done, comparison.transcripts, strict=True):
            column = self.column(i)
            highlight(column, item.text, item.differs)
            figures = [column.stats.text()]
            if item.wer_vs_first is not None:
                figures.append(f"WER {item.wer_vs_first:.2f} against {against}")
            if item.wer_vs_reference is not None:
                figures.append(f"WER {item.wer_vs_reference:.2f} against the reference")
            self._set_stats(i, "\n".join(figures))
            words = (f"{len(item.differs)} words differ from {first}'s transcript" if item.wer_vs_first is not None
                     else "The transcript the others are measured against")
            column.stats.setToolTip(f"{column.stats.text()}\n{words}")
        changed = sum(len(t.differs) for t in comparison.transcripts[1:])
        seconds = self.results[done[0]].duration
        agree = (f"{seconds:.1f} s of audio: all transcripts agree word for word." if not changed else
                 f"{seconds:.1f} s of audio: the words that differ from {first}'s transcript are highlighted.")
        if comparison.reference_path:
            ref = f" Reference: {Path(comparison.reference_path).name}, beside the audio."
        else:
            stem = Path(self.path).stem
            ref = f" No reference transcript beside the audio ({stem}.txt or {stem}.srt)."
        self._say(agree + ref)

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
