"""Summarize: a sequence-to-sequence model (BART, T5, ...) or a chat model prompted to summarise."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPlainTextEdit, QSpinBox, QSplitter

from playground.core.errors import InputError
from playground.core.jobs import Job
from playground.ui.widgets.text_panel_base import TextPanel, truncation_notice

TITLE = "Summarize"
ORDER = 75


class SummarizePanel(TextPanel):
    TASK = "summarization"
    MODEL_PLACEHOLDER = "Hub id (e.g. sshleifer/distilbart-cnn-12-6), a folder, or a chat model"
    RUN_TEXT = "Summarize"
    OUTPUTS = ("output",)

    def __init__(self, ctx, parent=None):
        super().__init__(ctx, parent)
        self.input = self.text_input("Paste the text to summarise", "Text to summarise")
        self.length = QSpinBox()
        self.length.setRange(10, 512)
        self.length.setValue(80)
        self.length.setPrefix("at most ")
        self.length.setSuffix(" tokens")
        self.output = QPlainTextEdit()
        self.output.setReadOnly(True)
        self.output.setAccessibleName("Summary")
        self.output.setPlaceholderText("The summary appears here.")
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.input)
        split.addWidget(self.output)
        split.setSizes([260, 160])
        row = self.run_row()
        row.insertWidget(2, self.length)
        self.layout_.addLayout(row)
        self.layout_.addWidget(self.notice)
        self.layout_.addWidget(split, 1)

    def main_input(self):
        return self.input

    def make_job(self) -> Job:
        from playground.core import text

        value = text.clean_texts([self.input.toPlainText()])[0]
        if not self.model_id():
            raise InputError("Pick a summarisation model (a Hub id such as sshleifer/distilbart-cnn-12-6, or a folder).")
        return Job(text.summarize, (value, self.model_id()), {"max_new_tokens": self.length.value()},
                   name="summarize")

    def notices(self, result) -> list[str]:
        return truncation_notice(int(result.truncated), None)

    def show_result(self, result) -> None:
        self.output.setPlainText(result.summary or "(the model returned an empty summary)")


def build(ctx):
    return SummarizePanel(ctx)
