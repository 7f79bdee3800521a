"""A confusion matrix drawn as a heat map with counts; clicking a cell emits its (true, predicted).

Rows are the true labels, columns the predicted ones, in the order given. A cell's colour is
its share of the row (the recall of the row's class on the diagonal), so a small class's
mistakes show as clearly as a big one's; the count is written in every non-empty cell.
Plain QPainter: no numpy, no pyqtgraph.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFontMetrics, QPainter
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

MAX_CELL = 56
MIN_CELL = 18


def _mix(a: QColor, b: QColor, t: float) -> QColor:
    t = min(1.0, max(0.0, t))
    return QColor(round(a.red() + (b.red() - a.red()) * t), round(a.green() + (b.green() - a.green()) * t),
                  round(a.blue() + (b.blue() - a.blue()) * t))


class ConfusionMatrix(QWidget):
    cell_clicked = Signal(int, int)  # true index, predicted index

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.labels: list[str] = []
        self.matrix: list[list[int]] = []
        self.selected: tuple[int, int] | None = None
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAccessibleName("Confusion matrix")
        self.setToolTip("Rows: true class; columns: predicted class. Click a cell to see its examples.")

    def set_data(self, labels: list[str], matrix: list[list[int]]) -> None:
        self.labels = [str(x) for x in labels]
        self.matrix = [list(r) for r in matrix]
        self.selected = None
        self.updateGeometry()
        self.update()

    # -- geometry ----------------------------------------------------------------------
    def _margin(self) -> int:
        fm = QFontMetrics(self.font())
        widest = max((fm.horizontalAdvance(x[:14]) for x in self.labels), default=0)
        return min(140, widest + 12)

    def _cell(self) -> int:
        n = max(1, len(self.labels))
        m = self._margin()
        room = min(self.width() - m - 8, self.height() - m - 8)
        return max(MIN_CELL, min(MAX_CELL, room // n))

    def cell_rect(self, true: int, predicted: int) -> QRect:
        m, c = self._margin(), self._cell()
        return QRect(m + predicted * c, m + true * c, c, c)

    def cell_at(self, pos: QPoint) -> tuple[int, int] | None:
        m, c = self._margin(), self._cell()
        n = len(self.labels)
        col, row = (pos.x() - m) // c, (pos.y() - m) // c
        if pos.x() < m or pos.y() < m or not (0 <= row < n and 0 <= col < n):
            return None
        return int(row), int(col)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        side = self._margin() + max(1, len(self.labels)) * 36 + 8
        return QSize(side, side)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        # Every cell in view: smaller, the last rows and columns were drawn outside the widget (the
        # evaluation panel scrolls instead).
        side = self._margin() + max(1, len(self.labels)) * MIN_CELL + 8
        return QSize(side, side)

    # -- painting ------------------------------------------------------------------------
    def paintEvent(self, event) -> None:  # noqa: N802 (Qt name)
        if not self.labels:
            return
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        n, m, c = len(self.labels), self._margin(), self._cell()
        low, good, bad = QColor("#f7f7f7"), QColor("#1f6fb2"), QColor("#c0392b")
        fm = QFontMetrics(self.font())
        for i in range(n):
            total = sum(self.matrix[i]) or 1
            for j in range(n):
                v = self.matrix[i][j]
                share = v / total
                colour = _mix(low, good if i == j else bad, share ** 0.6 if v else 0.0)
                r = self.cell_rect(i, j)
                p.fillRect(r, colour)
                p.setPen(QColor("#d0d0d0"))
                p.drawRect(r.adjusted(0, 0, -1, -1))
                if v:
                    p.setPen(QColor("white") if share > 0.45 else QColor("#202020"))
                    p.drawText(r, Qt.AlignmentFlag.AlignCenter, str(v) if fm.horizontalAdvance(str(v)) < c else "+")
        if self.selected is not None:
            p.setPen(QColor("#f1c40f"))
            p.drawRect(self.cell_rect(*self.selected).adjusted(1, 1, -2, -2))
        p.setPen(self.palette().color(self.foregroundRole()))
        for k, label in enumerate(self.labels):
            text = fm.elidedText(label, Qt.TextElideMode.ElideRight, m - 8)
            p.drawText(QRect(2, m + k * c, m - 6, c), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, text)
            p.save()
            p.translate(m + k * c, m - 4)
            p.rotate(-90)
            p.drawText(QRect(0, 0, m - 8, c), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, text)
            p.restore()
        p.end()

    # -- interaction -------------------------------------------------------------------------
    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt name)
        cell = self.cell_at(event.position().toPoint())
        if cell is not None and event.button() == Qt.MouseButton.LeftButton:
            self.select(*cell)
        super().mousePressEvent(event)

    def select(self, true: int, predicted: int) -> None:
        self.selected = (true, predicted)
        self.update()
        self.cell_clicked.emit(true, predicted)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802 (Qt name)
        cell = self.cell_at(event.position().toPoint())
        if cell is not None:
            i, j = cell
            QToolTip.showText(event.globalPosition().toPoint(),
                              f"true {self.labels[i]}, predicted {self.labels[j]}: {self.matrix[i][j]}", self)
        super().mouseMoveEvent(event)
