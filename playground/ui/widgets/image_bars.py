"""Horizontal score bars for top-k predictions; click a bar to pick its class."""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

ROW_H = 26


class ScoreBars(QWidget):
    """Rows of `label  [bar] score`; one row can be selected (keyboard Up/Down or a click)."""

    selected = Signal(int)  # row

    def __init__(self, parent: QWidget | None = None, min_width: int = 320):
        super().__init__(parent)
        self._min_width = min_width  # a comparison's columns are narrower than the one view
        self._rows: list[tuple[str, float]] = []
        self._current = -1
        self._message = ""
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)
        self.setAccessibleName("Predictions")

    # -- data -----------------------------------------------------------------
    def set_rows(self, rows: list[tuple[str, float]], current: int = 0) -> None:
        self._rows = list(rows)
        self._message = ""
        self._current = current if 0 <= current < len(self._rows) else (0 if self._rows else -1)
        self.setAccessibleDescription("; ".join(f"{label} {score:.1%}" for label, score in self._rows))
        self.setToolTip("Click a class to see where the model looks for it (Grad-CAM)" if self._rows else "")
        self.updateGeometry()
        self.update()

    def set_message(self, text: str) -> None:
        self._rows = []
        self._current = -1
        self._message = text
        self.setAccessibleDescription(text)
        self.updateGeometry()
        self.update()

    def rows(self) -> list[tuple[str, float]]:
        return list(self._rows)

    def message(self) -> str:
        return self._message

    def current(self) -> int:
        return self._current

    def set_current(self, row: int) -> None:
        if 0 <= row < len(self._rows) and row != self._current:
            self._current = row
            self.update()
            self.selected.emit(row)

    # -- Qt -----------------------------------------------------------------------
    def sizeHint(self) -> QSize:  # noqa: N802
        lines = len(self._rows) if self._rows else 2
        return QSize(320, lines * ROW_H + 8)

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(min(self._min_width, 320), self.sizeHint().height())

    def mousePressEvent(self, event) -> None:  # noqa: N802
        row = int((event.position().y() - 4) // ROW_H)
        self.set_current(row)
        super().mousePressEvent(event)

    def keyPressEvent(self, event) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Down:
            self.set_current(self._current + 1)
        elif event.key() == Qt.Key.Key_Up:
            self.set_current(self._current - 1)
        else:
            super().keyPressEvent(event)

    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        text_color = pal.color(QPalette.ColorRole.WindowText)
        if not self._rows:
            p.setPen(QColor("#c0392b") if self._message else text_color)
            p.drawText(self.rect().adjusted(6, 4, -6, -4), Qt.TextFlag.TextWordWrap, self._message)
            return
        fm = QFontMetrics(self.font())
        label_w = min(max(fm.horizontalAdvance(label) for label, _ in self._rows) + 12, int(self.width() * 0.45))
        score_w = fm.horizontalAdvance("100.0%") + 10
        bar_x = label_w
        bar_w = max(10, self.width() - label_w - score_w - 6)
        accent = pal.color(QPalette.ColorRole.Highlight)
        for i, (label, score) in enumerate(self._rows):
            y = 4 + i * ROW_H
            if i == self._current:
                sel = QColor(accent)
                sel.setAlpha(40)
                p.fillRect(QRectF(0, y, self.width(), ROW_H), sel)
            p.setPen(text_color)
            elided = fm.elidedText(label, Qt.TextElideMode.ElideRight, label_w - 8)
            p.drawText(QRectF(4, y, label_w - 8, ROW_H), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, elided)
            track = QColor(text_color)
            track.setAlpha(30)
            p.fillRect(QRectF(bar_x, y + 6, bar_w, ROW_H - 12), track)
            bar = QColor(accent)
            if i != self._current:
                bar.setAlpha(170)
            p.fillRect(QRectF(bar_x, y + 6, bar_w * max(0.0, min(1.0, score)), ROW_H - 12), bar)
            p.drawText(QRectF(bar_x + bar_w + 4, y, score_w, ROW_H),
                       Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, f"{score:.1%}")
