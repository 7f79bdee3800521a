"""Side-by-side columns for a comparison: one per model, each with its title, its output and its
own figures (timing, rate). The columns sit in a splitter, so a person can widen the one they read."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QLabel, QSizePolicy, QSplitter, QTextEdit, QVBoxLayout, QWidget


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
