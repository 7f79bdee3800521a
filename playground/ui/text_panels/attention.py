"""Attention view: self-attention of an encoder (BERT-like) or decoder (GPT-like) model as a heatmap.

All layers and heads are computed once per run; choosing a layer, a head or
the average over heads only redraws.
"""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSpinBox

from playground.core.jobs import Job
from playground.ui.widgets.text_panel_base import TextPanel

TITLE = "Attention"
ORDER = 90
AVERAGE = "Average over heads"


class AttentionPanel(TextPanel):
    TASK = "attention"
    RUN_TEXT = "Show attention"
    OUTPUTS = ("heatmap", "kind", "layer", "head")

    def __init__(self, ctx, parent=None):
        super().__init__(ctx, parent)
        from playground.ui.widgets.text_attention_map import TextAttentionMap

        self.input = self.text_input("A sentence to look into, e.g. 'The animal didn't cross the street because "
                                     "it was too tired.'", "Text for the attention view")
        self.input.setPlainText("The animal didn't cross the street because it was too tired.")
        self.input.setMaximumHeight(90)
        self.layout_.addWidget(self.input)
        controls = QHBoxLayout()
        self.max_tokens = QSpinBox()
        self.max_tokens.setRange(4, 256)
        self.max_tokens.setValue(48)
        self.max_tokens.setPrefix("max ")
        self.max_tokens.setSuffix(" tokens")
        self.layer = QComboBox()
        self.layer.setAccessibleName("Layer")
        self.head = QComboBox()
        self.head.setAccessibleName("Head")
        self.head.setMinimumContentsLength(len(AVERAGE))
        self.head.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.layer.currentIndexChanged.connect(self.redraw)
        self.head.currentIndexChanged.connect(self.redraw)
        row = self.run_row()
        row.insertWidget(2, self.max_tokens)
        self.layout_.addLayout(row)
        controls.addWidget(QLabel("Layer:"))
        controls.addWidget(self.layer)
        controls.addWidget(QLabel("Head:"))
        controls.addWidget(self.head)
        self.kind = QLabel("")
        self.kind.setWordWrap(True)  # "N tokens; decoder: each token sees only the tokens before it" shares its row
        controls.addWidget(self.kind, 1)
        self.layout_.addLayout(controls)
        self.layout_.addWidget(self.notice)
        self.heatmap = TextAttentionMap()
        self.layout_.addWidget(self.heatmap, 1)

    def main_input(self):
        return self.input

    def make_job(self) -> Job:
        from playground.core import text

        value = text.clean_texts([self.input.toPlainText()])[0]
        return Job(text.attention, (value, self.model_id()), {"max_tokens": self.max_tokens.value()},
                   name="attention map")

    def notices(self, result) -> list[str]:
        if result.truncated:
            return [f"The text is longer than {result.max_tokens} tokens: only the first {result.max_tokens} are shown."]
        return []

    def show_result(self, result) -> None:
        keep_layer = self.layer.currentIndex()
        keep_head = self.head.currentIndex()
        for combo in (self.layer, self.head):
            combo.blockSignals(True)
            combo.clear()
        self.layer.addItems([f"{i + 1} of {result.layers}" for i in range(result.layers)])
        self.head.addItems([AVERAGE] + [f"{i + 1} of {result.heads}" for i in range(result.heads)])
        self.layer.setCurrentIndex(keep_layer if 0 <= keep_layer < result.layers else result.layers - 1)
        self.head.setCurrentIndex(keep_head if 0 <= keep_head <= result.heads else 0)
        for combo in (self.layer, self.head):
            combo.blockSignals(False)
        what = "decoder: each token sees only the tokens before it" if result.kind == "decoder" else \
            "encoder: every token sees every token"
        self.kind.setText(f"{len(result.tokens)} tokens; {what}")
        self.redraw()

    def selected(self) -> tuple[int, int | None]:
        head = self.head.currentIndex()
        return max(self.layer.currentIndex(), 0), (None if head <= 0 else head - 1)

    def redraw(self) -> None:
        result = self.last_result
        if result is None or self.layer.count() == 0:
            return
        layer, head = self.selected()
        self.heatmap.set_matrix(result.matrix(layer, head), result.tokens)


def build(ctx):
    return AttentionPanel(ctx)
