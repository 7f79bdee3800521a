"""Tokens: how a model's tokenizer splits the text, with ids, spans and counts."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QSplitter, QTableWidget, QTableWidgetItem

from playground.core.jobs import Job
from playground.ui.widgets.text_panel_base import TextPanel

TITLE = "Tokens"
ORDER = 80
MAX_ROWS = 5000


class TokensPanel(TextPanel):
    TASK = "tokens"
    RUN_TEXT = "Tokenize"
    OUTPUTS = ("summary", "table")

    def __init__(self, ctx, parent=None):
        super().__init__(ctx, parent)
        self.input = self.text_input("Type any text: any script and emoji", "Text to tokenize")
        self.summary = QLabel("")
        self.summary.setObjectName("tokenCounts")
        self.summary.setWordWrap(True)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["#", "Token", "Id", "Characters"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.table.setAccessibleName("Tokens")
        self.table.verticalHeader().setDefaultSectionSize(22)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.input)
        split.addWidget(self.table)
        split.setSizes([140, 320])
        self.add_run_row()
        self.layout_.addWidget(self.summary)
        self.layout_.addWidget(split, 1)

    def main_input(self):
        return self.input

    def make_job(self) -> Job:
        from playground.core import text

        value = text.clean_texts([self.input.toPlainText()])[0]
        return Job(text.tokenize, (value, self.model_id()), name="tokenize")

    def notices(self, result) -> list[str]:
        if result.over_limit:
            return [f"{result.n_tokens} tokens is over this model's limit of {result.max_tokens}: tasks that use "
                    f"it see only the first {result.max_tokens}."]
        return []

    def show_result(self, result) -> None:
        limit = f", model limit {result.max_tokens}" if result.max_tokens else ""
        self.summary.setText(f"{result.n_tokens} tokens, {result.n_chars} characters, {result.n_words} words "
                             f"({result.n_chars / max(result.n_tokens, 1):.1f} characters per token{limit})")
        rows = result.tokens[:MAX_ROWS]
        self.table.setRowCount(len(rows))
        grey = QColor(128, 128, 128)
        for r, tok in enumerate(rows):
            span = result.text[tok.start:tok.end] if tok.start is not None and tok.end else ""
            cells = [str(r), tok.token, str(tok.id), span]
            for c, value in enumerate(cells):
                item = QTableWidgetItem(value)
                if tok.special:
                    item.setForeground(grey)
                    item.setToolTip("special token")
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()

    def token_rows(self) -> list[tuple[str, int]]:
        return [(self.table.item(r, 1).text(), int(self.table.item(r, 2).text())) for r in range(self.table.rowCount())]


def build(ctx):
    return TokensPanel(ctx)
