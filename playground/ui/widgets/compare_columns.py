"""The views of a comparison. Columns: one per model, each with its title, its output and its own
figures (timing, rate), in a splitter so a person can widen the one they read (Generate). A table:
one row per model with its answer and time, the answers that differ from the first highlighted
(Classify, Zero-shot labels, Entities, Translate)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QAbstractItemView, QHeaderView, QLabel, QSizePolicy, QSplitter, QTableWidget, QTableWidgetItem, QTextEdit,
    QVBoxLayout, QWidget,
)

DIFFERS = QColor("#fff2b3")  # a model whose answer differs from the first model's
ERROR = QColor("#b00020")


class CompareColumn(QWidget):
    def __init__(self, title: str, model_id: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.model_id = model_id
        self.title = QLabel(title)
        self.title.setToolTip(model_id)
        self.title.setStyleSheet("font-weight: bold")
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # elided by width
        self.output = QTextEdit()
        self.output.setReadOnly(True)
        self.output.setAccessibleName(f"Output of {title}")
        self.output.setMinimumWidth(120)
        self.stats = QLabel("Waiting for its turn...")
        self.stats.setWordWrap(True)
        self.stats.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.stats.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.stats.setMinimumWidth(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.output, 1)
        layout.addWidget(self.stats)
        self.pending: list[str] = []
        self.tokens = 0
        self.first_at: float | None = None
        self.done = False

    def append(self, text: str, color: str | None = None) -> None:
        cursor = self.output.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        fmt = QTextCharFormat()
        if color:
            fmt.setForeground(QColor(color))
        cursor.insertText(text, fmt)
        bar = self.output.verticalScrollBar()
        if bar.value() >= bar.maximum() - 40:
            bar.setValue(bar.maximum())

    def flush(self) -> bool:
        if not self.pending:
            return False
        self.append("".join(self.pending))
        self.pending.clear()
        return True

    def fail(self, message: str) -> None:
        self.done = True
        self.stats.setStyleSheet("color: #b00020")
        self.stats.setText(message)


class CompareColumns(QSplitter):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.setObjectName("compareColumns")
        self.setChildrenCollapsible(False)
        self.columns: list[CompareColumn] = []

    def reset(self, titled_ids: list[tuple[str, str]]) -> list[CompareColumn]:
        for column in self.columns:
            column.setParent(None)
            column.deleteLater()
        self.columns = [CompareColumn(title, model_id) for title, model_id in titled_ids]
        for column in self.columns:
            self.addWidget(column)
        self.setSizes([1] * len(self.columns))  # equal widths
        return self.columns


class CompareTable(QTableWidget):
    COLUMNS = ("Model", "Answer", "Time")

    def __init__(self, parent: QWidget | None = None):
        super().__init__(0, len(self.COLUMNS), parent)
        self.setObjectName("compareTable")
        self.setHorizontalHeaderLabels(list(self.COLUMNS))
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setWordWrap(True)
        self.verticalHeader().setVisible(False)
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.setColumnWidth(0, 180)
        self.setMinimumHeight(90)

    def reset(self, names: list[str], model_ids: list[str]) -> None:
        self.setRowCount(len(names))
        for row, (name, model_id) in enumerate(zip(names, model_ids, strict=True)):
            item = QTableWidgetItem(name)
            item.setToolTip(model_id)
            self.setItem(row, 0, item)
            self.setItem(row, 1, QTableWidgetItem("Waiting for its turn..."))
            self.setItem(row, 2, QTableWidgetItem(""))

    def answer(self, row: int) -> str:
        item = self.item(row, 1)
        return item.text() if item is not None else ""

    def set_state(self, row: int, text: str, error: bool = False) -> None:
        item = QTableWidgetItem(text)
        if error:
            item.setForeground(QBrush(ERROR))
        self.setItem(row, 1, item)

    def set_answer(self, row: int, answer: str, seconds: float | None) -> None:
        item = QTableWidgetItem(answer)
        item.setToolTip(answer)
        self.setItem(row, 1, item)
        self.setItem(row, 2, QTableWidgetItem("" if seconds is None else f"{seconds:.2f} s"))
        self.resizeRowToContents(row)

    def highlight(self, rows: list[int]) -> None:
        for row in range(self.rowCount()):
            for col in range(self.columnCount()):
                item = self.item(row, col)
                if item is not None:
                    item.setBackground(QBrush(DIFFERS) if row in rows else QBrush())

    def highlighted(self) -> list[int]:
        return [r for r in range(self.rowCount())
                if self.item(r, 1) is not None and self.item(r, 1).background().color() == DIFFERS]
