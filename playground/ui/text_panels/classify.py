"""Classify: any sequence-classification model (Hub id, folder, or one trained in the Train tab)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QSplitter

from playground.core.errors import InputError
from playground.core.jobs import Job
from playground.ui.widgets.text_panel_base import TextPanel, top_labels_text, truncation_notice
from playground.ui.text_panels._why import WhyWords
from playground.ui.widgets.text_score_bars import TextScoreBars

TITLE = "Classify"
ORDER = 25


class ClassifyPanel(TextPanel):
    TASK = "text-classification"
    COMPARE = True
    MODEL_PLACEHOLDER = "a classifier you trained, a folder, or a Hub id (e.g. distilbert/...-sst-2-english)"
    RUN_TEXT = "Classify"
    OUTPUTS = ("bars", "why_view")

    def __init__(self, ctx, parent=None):
        super().__init__(ctx, parent)
        self.per_line = QCheckBox("One text per line")
        self.input = self.text_input("Type or paste the text to classify", "Text to classify")
        self.bars = TextScoreBars()
        self.why = WhyWords(self, self._why_job)
        self.why_view = self.why.view
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.input)
        split.addWidget(self.bars)
        split.addWidget(self.why_view)
        split.setSizes([160, 300, 120])
        row = self.run_row()
        row.insertWidget(2, self.per_line)
        self.layout_.addLayout(row)
        self.layout_.addWidget(self.why.check)  # its own line: the run row stays narrow
        self.layout_.addWidget(self.notice)
        self.layout_.addWidget(split, 1)
        self._update_empty_state()  # the "Why" line shows once there is a model to explain

    def main_input(self):
        return self.input

    def make_job(self, model_id: str | None = None) -> Job:
        from playground.core import text

        model = self.model_id() if model_id is None else model_id
        raw = self.input.toPlainText()
        texts = [t for t in raw.splitlines() if t.strip()] if self.per_line.isChecked() else [raw]
        texts = text.clean_texts(texts)
        if not model:
            raise InputError("Pick a text-classification model first: train one in the Train tab, choose a "
                             "folder, or type a Hub id.")
        return Job(text.classify, (texts, model), name="classify text")

    def compare_answer(self, result) -> str:
        return top_labels_text(result)

    def compare_key(self, result):
        return tuple(item.scores[0].label if item.scores else "" for item in result.items)

    def notices(self, result) -> list[str]:
        return truncation_notice(result.truncated, result.max_tokens)

    def show_result(self, result) -> None:
        self.bars.set_groups([(item.text if len(result.items) > 1 else "", item.scores) for item in result.items])
        self.why.explain(result)

    def _why_job(self, text: str, label: str) -> Job:
        from playground.core.explain import text as explain_text

        model = self.last_result.model if self.last_result is not None else self.model_id()
        return Job(explain_text.explain_classification, (text, model, label), name="why these words")


def build(ctx):
    return ClassifyPanel(ctx)
