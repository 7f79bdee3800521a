"""Fill mask: a masked language model proposes the missing word(s)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSpinBox, QSplitter

from playground.core.errors import InputError
from playground.core.jobs import Job
from playground.ui.widgets.text_panel_base import TextPanel
from playground.ui.widgets.text_score_bars import TextScoreBars

TITLE = "Fill mask"
ORDER = 70


class FillMaskPanel(TextPanel):
    TASK = "fill-mask"
    MODEL_PLACEHOLDER = "a masked language model: Hub id (e.g. distilbert/distilroberta-base) or folder"
    RUN_TEXT = "Fill"
    OUTPUTS = ("bars",)

    def __init__(self, ctx, parent=None):
        super().__init__(ctx, parent)
        self.input = self.text_input("Write [MASK] (or <mask>) where a word is missing, e.g. "
                                     "'Paris is the [MASK] of France.'", "Text with a mask")
        self.input.setPlainText("Paris is the [MASK] of France.")
        self.top_k = QSpinBox()
        self.top_k.setRange(1, 50)
        self.top_k.setValue(5)
        self.top_k.setPrefix("top ")
        self.bars = TextScoreBars()
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.input)
        split.addWidget(self.bars)
        split.setSizes([120, 300])
        row = self.run_row()
        row.insertWidget(2, self.top_k)
        self.layout_.addLayout(row)
        self.layout_.addWidget(self.notice)
        self.layout_.addWidget(split, 1)

    def main_input(self):
        return self.input

    def make_job(self) -> Job:
        from playground.core import text

        value = text.clean_texts([self.input.toPlainText()])[0]
        if not self.model_id():
            raise InputError("Pick a fill-mask model (a Hub id such as distilbert/distilroberta-base, or a folder).")
        return Job(text.fill_mask, (value, self.model_id()), {"top_k": self.top_k.value()}, name="fill mask")

    def show_result(self, result) -> None:
        groups = []
        for i, fills in enumerate(result.fills):
            title = f"Mask {i + 1}" if len(result.fills) > 1 else f"Best: {fills[0].sequence}" if fills else ""
            groups.append((title, [(f.token, f.score) for f in fills]))
        self.bars.set_groups(groups)


def build(ctx):
    return FillMaskPanel(ctx)
