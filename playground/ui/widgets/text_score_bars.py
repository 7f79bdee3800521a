"""Labels with their scores as horizontal bars, best first."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QProgressBar, QScrollArea, QVBoxLayout, QWidget

MAX_ROWS = 200


class TextScoreBars(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        self._scroll = QScrollArea()
        self._scroll.setWidgetResizable(True)
        self._scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        outer.addWidget(self._scroll)
        self._rows: list[tuple[str, float]] = []
        self._body = QWidget()
        self._grid = QGridLayout(self._body)
        self._grid.setColumnStretch(1, 1)
        self._scroll.setWidget(self._body)

    def clear(self) -> None:
        self.set_scores([])

    def set_scores(self, scores, title: str = "") -> None:
        """scores: iterable of (label, score in [0, 1]) or objects with .label and .score."""
        self.set_groups([(title, scores)])

    def set_groups(self, groups) -> None:
        """Several titled groups of bars (one per text), e.g. [(text, scores), ...]."""
        self._rows = []
        body = QWidget()
        grid = QGridLayout(body)
        grid.setColumnStretch(1, 1)
        grid.setVerticalSpacing(4)
        r = 0
        for title, scores in groups:
            rows = [(s.label, float(s.score)) if hasattr(s, "label") else (str(s[0]), float(s[1]))
                    for s in scores][:MAX_ROWS]
            self._rows.extend(rows)
            if title:
                head = QLabel(title if len(title) < 300 else title[:300] + "...")
                head.setWordWrap(True)
                head.setTextFormat(Qt.TextFormat.PlainText)
                head.setStyleSheet("font-weight: bold; margin-top: 6px")
                grid.addWidget(head, r, 0, 1, 3)
                r += 1
            r = self._add_rows(grid, r, rows)
        grid.setRowStretch(r, 1)
        self._body = body
        self._scroll.setWidget(body)

    def _add_rows(self, grid, r: int, rows) -> int:
        for label, score in rows:
            name = QLabel(label)
            name.setTextFormat(Qt.TextFormat.PlainText)
            name.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setValue(round(max(0.0, min(1.0, score)) * 1000))
            bar.setTextVisible(False)
            bar.setMaximumHeight(14)
            bar.setAccessibleName(f"{label}: {score:.1%}")
            value = QLabel(f"{score:6.1%}")
            value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            value.setMinimumWidth(52)
            grid.addWidget(name, r, 0)
            grid.addWidget(bar, r, 1)
            grid.addWidget(value, r, 2)
            r += 1
        return r

    def rows(self) -> list[tuple[str, float]]:
        """What is shown (for tests and accessibility)."""
        return list(self._rows)
