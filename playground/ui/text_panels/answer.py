"""Answer: a passage and a question; a short answer, highlighted in the passage when it is a span of it."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QLabel, QLineEdit, QSplitter, QTextEdit, QVBoxLayout, QWidget

from playground.core.errors import InputError
from playground.core.jobs import Job
from playground.ui.widgets.text_panel_base import TextPanel

TITLE = "Answer"
ORDER = 40

BUNDLED_ID = "bundled/smollm2-135m-instruct"
HIGHLIGHT = "#ffe08a"


class AnswerPanel(TextPanel):
    TASK = "question-answering"
    MODEL_PLACEHOLDER = "Hub id of an extractive QA model (e.g. distilbert/...-squad), a chat model, or a folder"
    RUN_TEXT = "Answer"
    OUTPUTS = ("answer_label", "detail")

    def __init__(self, ctx, parent=None):
        super().__init__(ctx, parent)
        self.passage = QTextEdit()
        self.passage.setAcceptRichText(False)
        self.passage.setPlaceholderText("Paste the passage that holds the answer")
        self.passage.setAccessibleName("Passage")
        self.passage.setTabChangesFocus(True)
        self.passage.textChanged.connect(self._clear_highlight)
        self.question = QLineEdit()
        self.question.setPlaceholderText("Ask a question about the passage (Enter answers)")
        self.question.setAccessibleName("Question")
        self.question.returnPressed.connect(self.run)
        self.answer_label = QLabel("")
        self.answer_label.setObjectName("answerText")
        self.answer_label.setWordWrap(True)
        self.answer_label.setTextFormat(Qt.TextFormat.PlainText)
        self.answer_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.answer_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.4)
        font.setBold(True)
        self.answer_label.setFont(font)
        self.detail = QLabel("")
        self.detail.setObjectName("answerDetail")
        self.detail.setWordWrap(True)

        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(QLabel("Passage:"))
        top_layout.addWidget(self.passage, 1)
        bottom = QWidget()
        bottom_layout = QVBoxLayout(bottom)
        bottom_layout.setContentsMargins(0, 0, 0, 0)
        bottom_layout.addWidget(QLabel("Question:"))
        bottom_layout.addWidget(self.question)
        bottom_layout.addLayout(self.run_row())
        bottom_layout.addWidget(self.notice)
        bottom_layout.addWidget(self.answer_label)
        bottom_layout.addWidget(self.detail)
        bottom_layout.addStretch(1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(bottom)
        split.setSizes([300, 200])
        self.layout_.addWidget(split, 1)
        self._highlighting = False

    def main_input(self):
        return self.passage

    def open_paths(self, paths: list[str]) -> None:
        from playground.ui.widgets.text_panel_base import read_text_file
        from playground.core.errors import PlaygroundError

        if paths:
            try:
                self.passage.setPlainText(read_text_file(paths[0]))
            except PlaygroundError as exc:
                self.show_error(str(exc))

    def make_job(self) -> Job:
        from playground.core import answer

        passage = self.passage.toPlainText()
        question = self.question.text()
        if not passage.strip():
            raise InputError("Paste a passage to answer the question from.")
        if not question.strip():
            raise InputError("Type a question about the passage.")
        self._asked_passage = passage.strip()
        return Job(answer.answer, (passage, question, self.model_id() or None), name="answer question")

    def show_result(self, result) -> None:
        self.answer_label.setText(result.answer)
        bits = []
        if result.score is not None:
            bits.append(f"score {result.score:.2f}")
        if result.start is not None:
            bits.append("highlighted in the passage")
        else:
            bits.append("not a span of the passage")
        self.detail.setText(", ".join(bits) + f" ({result.model_id})")
        self._highlight(result)

    def _highlight(self, result) -> None:
        self._clear_highlight()
        if result.start is None:
            return
        # The engine works on the stripped passage: map its offsets back to the editor's text.
        offset = self.passage.toPlainText().find(getattr(self, "_asked_passage", ""))
        if offset < 0:
            return
        cursor = QTextCursor(self.passage.document())
        cursor.setPosition(offset + result.start)
        cursor.setPosition(offset + result.end, QTextCursor.MoveMode.KeepAnchor)
        selection = QTextEdit.ExtraSelection()
        selection.cursor = cursor
        fmt = QTextCharFormat()
        fmt.setBackground(QColor(HIGHLIGHT))
        fmt.setForeground(QColor("#000000"))
        selection.format = fmt
        self.passage.setExtraSelections([selection])
        self.passage.setTextCursor(QTextCursor(cursor.document()))
        self.passage.ensureCursorVisible()
        view_cursor = QTextCursor(self.passage.document())
        view_cursor.setPosition(offset + result.start)
        self.passage.setTextCursor(view_cursor)

    def highlighted_text(self) -> str:
        sels = self.passage.extraSelections()
        return sels[0].cursor.selectedText() if sels else ""

    def clear_output(self) -> None:
        super().clear_output()
        self._clear_highlight()

    def _clear_highlight(self) -> None:
        if self.passage.extraSelections():
            self.passage.setExtraSelections([])


def build(ctx):
    return AnswerPanel(ctx)
