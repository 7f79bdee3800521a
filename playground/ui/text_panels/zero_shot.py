"""Zero-shot: the user's candidate labels scored for a text, with no training.

Offline with the bundled MiniLM (label-sentence similarity); NLI models
(e.g. facebook/bart-large-mnli) go through the zero-shot pipeline.
"""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QFormLayout, QLineEdit, QSplitter
from PySide6.QtCore import Qt

from playground.core.jobs import Job
from playground.ui.widgets.text_panel_base import TextPanel, top_labels_text, truncation_notice
from playground.ui.text_panels._why import WhyWords
from playground.ui.widgets.text_score_bars import TextScoreBars

TITLE = "Zero-shot labels"
ORDER = 20


class ZeroShotPanel(TextPanel):
    TASK = "zero-shot-classification"
    COMPARE = True
    RUN_TEXT = "Score labels"
    OUTPUTS = ("bars", "why_view")

    def __init__(self, ctx, parent=None):
        super().__init__(ctx, parent)
        form = QFormLayout()
        self.labels = QLineEdit("positive, negative, neutral")
        self.labels.setAccessibleName("Candidate labels")
        self.labels.setPlaceholderText("sports, politics, cooking ...")
        self.template = QLineEdit("This text is about {}.")
        self.template.setAccessibleName("Label template")
        self.template.setToolTip("Each label is put into this sentence at {} before it is compared")
        self.per_line = QCheckBox("One text per line")
        self.multi = QCheckBox("Labels are independent (multi-label)")
        form.addRow("Labels:", self.labels)
        form.addRow("Template:", self.template)
        self.layout_.addLayout(form)
        self.input = self.text_input("Type or paste the text to label (any language, emoji welcome)", "Text to label")
        self.bars = TextScoreBars()
        self.why = WhyWords(self, self._why_job)
        self.why_view = self.why.view
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.input)
        split.addWidget(self.bars)
        split.addWidget(self.why_view)
        split.setSizes([160, 300, 120])
        opts = self.run_row()
        opts.insertWidget(2, self.per_line)
        opts.insertWidget(3, self.multi)
        self.layout_.addLayout(opts)
        self.layout_.addWidget(self.why.check)  # its own line: the run row stays narrow
        self.layout_.addWidget(self.notice)
        self.layout_.addWidget(split, 1)

    def main_input(self):
        return self.input

    def make_job(self, model_id: str | None = None) -> Job:
        from playground.core import text

        model = self.model_id() if model_id is None else model_id
        raw = self.input.toPlainText()
        texts = [t for t in raw.splitlines() if t.strip()] if self.per_line.isChecked() else [raw]
        labels = text.parse_labels(self.labels.text())
        texts = text.clean_texts(texts)
        return Job(text.zero_shot, (texts, labels), {"model": model, "template": self.template.text(),
                                                     "multi_label": self.multi.isChecked()}, name="zero-shot labels")

    def compare_answer(self, result) -> str:
        return top_labels_text(result)

    def compare_key(self, result):
        return tuple(item.scores[0].label if item.scores else "" for item in result.items)

    def notices(self, result) -> list[str]:
        return truncation_notice(result.truncated, result.max_tokens)

    def show_result(self, result) -> None:
        groups = [(item.text if len(result.items) > 1 else "", item.scores) for item in result.items]
        self.bars.set_groups(groups)
        self.why.explain(result)

    def _why_job(self, text: str, label: str) -> Job:
        from playground.core import text as text_core
        from playground.core.explain import text as explain_text

        labels = [s.label for s in self.last_result.items[0].scores]
        return Job(explain_text.explain_zero_shot, (text, labels, label),
                   {"model": self.last_result.model, "template": self.template.text() or text_core.DEFAULT_TEMPLATE},
                   name="why these words")


def build(ctx):
    return ZeroShotPanel(ctx)
