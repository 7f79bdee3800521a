"""Before and after, shown: a LoRA run's prompts answered by its base and by the tuned model.

`BeforeAfterView.show_evaluation(evaluation)` takes a `core.evaluate_lm.LMEvaluation`: a header
line with each model's exact match and loss, and one row per prompt with the expected response and
both greedy answers, each marked right (green, a check) or wrong (red, a cross).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from playground.core.wording import plural

RIGHT, WRONG = "\u2713", "\u2717"
RIGHT_BRUSH, WRONG_BRUSH = QBrush(QColor(214, 240, 214)), QBrush(QColor(248, 218, 218))
COLUMNS = ["Prompt", "Expected", "Base", "Tuned"]
SEPARATOR = " &nbsp;\u2192&nbsp; "


def score_line(score) -> str:
    """'exact match 93.8%, loss 0.116' (plain text: 'loss 2.345, perplexity 10.4')."""
    if score.exact_match is None:
        return f"loss {score.loss:.3f}, perplexity {score.perplexity:.1f}"
    return f"exact match {score.exact_match:.1%}, loss {score.loss:.3f}"


def header_text(evaluation) -> str:
    """Each model's numbers (base, then tuned), on how many examples, and how many the tuning changed."""
    names = {"base": "Base", "tuned": "Tuned" if evaluation.base_model else "Model"}
    parts = [f"<b>{names[s.role]}</b> ({Path(s.model).name or s.model}): {score_line(s)}" for s in evaluation.scores]
    noun = "validation example" if evaluation.split == "validation" else "example"
    line = f"{SEPARATOR.join(parts)} on {plural(evaluation.examples, noun)}"
    if evaluation.rows and evaluation.base_model:
        line += (f". {evaluation.changed} changed: {evaluation.fixed} now right, "
                 f"{evaluation.changed - evaluation.fixed} now wrong.")
    return line


class BeforeAfterView(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.evaluation = None
        self.summary = QLabel("No comparison yet.")
        self.summary.setObjectName("beforeAfterSummary")
        self.summary.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("beforeAfterTable")
        self.table.setAccessibleName("Prompts with the expected response, the base's and the tuned model's answers")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(True)
        header = self.table.horizontalHeader()
        for column in range(len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Stretch)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)

    def narrowest_width(self) -> int:
        return 4 * 90

    def show_evaluation(self, evaluation) -> None:
        self.evaluation = evaluation
        self.summary.setText(header_text(evaluation))
        self.table.setVisible(bool(evaluation.rows))  # plain text: the numbers alone
        self.table.setColumnHidden(2, not evaluation.base_model)
        self.table.setRowCount(len(evaluation.rows))
        for r, row in enumerate(evaluation.rows):
            self.table.setItem(r, 0, QTableWidgetItem(row.prompt))
            self.table.setItem(r, 1, QTableWidgetItem(row.expected))
            self.table.setItem(r, 2, self._answer(row.base, row.base_match))
            self.table.setItem(r, 3, self._answer(row.tuned, row.tuned_match))
        self.table.resizeRowsToContents()

    @staticmethod
    def _answer(text: str | None, match: bool | None) -> QTableWidgetItem:
        if text is None:
            return QTableWidgetItem("")
        item = QTableWidgetItem(f"{RIGHT if match else WRONG} {text or '(no answer)'}")  # a bare mark reads as a glitch
        item.setBackground(RIGHT_BRUSH if match else WRONG_BRUSH)
        item.setToolTip("matches the expected response" if match else "differs from the expected response")
        return item

    def marks(self, column: int) -> list[bool]:
        """Which rows of an answer column (2 base, 3 tuned) are marked right."""
        return [self.table.item(r, column).text().startswith(RIGHT) for r in range(self.table.rowCount())]
