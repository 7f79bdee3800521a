"""An attention heatmap: pyqtgraph ImageItem, tokens on both axes (keys rotated along the bottom).

Rows are query tokens (top to bottom), columns key tokens (left to right);
hovering a cell says who attends to whom and how much.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

MAX_LABEL = 14  # characters of a token shown on an axis


def _short(token: str) -> str:
    return token if len(token) <= MAX_LABEL else token[: MAX_LABEL - 1] + "\u2026"


class _RotatedAxis(pg.AxisItem):
    """A bottom axis whose tick labels are drawn vertically, so every token fits."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._labels: list[str] = []

    def set_labels(self, labels: list[str]) -> None:
        self._labels = labels
        metrics = QFontMetrics(self.font() if hasattr(self, "font") else self.style.get("tickFont") or pg.QtGui.QFont())
        widest = max((metrics.horizontalAdvance(t) for t in labels), default=20)
        self.setHeight(widest + 18)
        self.setTicks([[(i + 0.5, t) for i, t in enumerate(labels)]])

    def drawPicture(self, p, axisSpec, tickSpecs, textSpecs):  # noqa: N802 (pyqtgraph name)
        super().drawPicture(p, axisSpec, tickSpecs, [])
        p.save()
        p.setPen(self.textPen())
        metrics = QFontMetrics(p.font())
        for rect, _flags, text in textSpecs:
            x = rect.center().x()
            y = rect.top() + 4
            p.save()
            p.translate(QPointF(x + metrics.ascent() / 2 - 1, y))
            p.rotate(-90)
            width = metrics.horizontalAdvance(text)
            p.drawText(QPointF(-width, 0), text)
            p.restore()
        p.restore()


class TextAttentionMap(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.bottom = _RotatedAxis("bottom")
        self.left = pg.AxisItem("left")
        self.plot = pg.PlotWidget(axisItems={"bottom": self.bottom, "left": self.left})
        self.plot.setBackground(None)
        self.plot.setAccessibleName("Attention heatmap")
        item = self.plot.getPlotItem()
        item.setMenuEnabled(False)
        item.hideButtons()
        item.setMouseEnabled(False, False)
        item.invertY(True)
        item.setLabel("left", "query token (attends from)")
        self.image = pg.ImageItem(axisOrder="row-major")
        self.cmap = pg.colormap.get("viridis")
        self.image.setColorMap(self.cmap)
        item.addItem(self.image)
        self.colorbar = pg.ColorBarItem(values=(0, 1), colorMap=self.cmap, interactive=False, width=12)
        self.colorbar.setImageItem(self.image, insert_in=item)
        self.hover = QLabel("Hover a cell to see who attends to whom.")
        self.hover.setObjectName("attentionHover")
        self.hover.setTextFormat(Qt.TextFormat.PlainText)
        # Until there is a map: a sentence, not empty axes running from -500 to 500.
        self.empty = QLabel("The attention map appears here: type a sentence and press Show attention.")
        self.empty.setObjectName("attentionEmpty")
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setStyleSheet("color: #777777")
        layout.addWidget(self.empty, 1)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.hover)
        self.tokens: list[str] = []
        self.matrix = np.zeros((0, 0), dtype=np.float32)
        self.plot.scene().sigMouseMoved.connect(self._on_mouse)
        self._show_map(False)

    def _show_map(self, shown: bool) -> None:
        self.empty.setVisible(not shown)
        self.plot.setVisible(shown)
        self.hover.setVisible(shown)

    def has_map(self) -> bool:
        return bool(self.tokens)

    def clear(self) -> None:
        """Back to the empty state (a failed run must not leave the last map as if it were its own)."""
        self.tokens = []
        self.matrix = np.zeros((0, 0), dtype=np.float32)
        self.image.clear()
        self.hover.setText("Hover a cell to see who attends to whom.")
        self._show_map(False)

    def set_matrix(self, matrix, tokens: list[str]) -> None:
        matrix = np.asarray(matrix, dtype=np.float32)
        n = len(tokens)
        if matrix.shape != (n, n):
            raise ValueError(f"attention matrix {matrix.shape} does not match {n} tokens")
        self.matrix = matrix
        self.tokens = list(tokens)
        self.image.setImage(matrix, autoLevels=False)
        top = float(matrix.max()) if matrix.size else 1.0
        self.image.setLevels((0.0, max(top, 1e-6)))
        self.colorbar.setLevels((0.0, max(top, 1e-6)))
        self.image.setRect(0, 0, n, n)
        labels = [_short(t) for t in tokens]
        self.bottom.set_labels(labels)
        self.left.setTicks([[(i + 0.5, t) for i, t in enumerate(labels)]])
        item = self.plot.getPlotItem()
        item.setRange(xRange=(0, n), yRange=(0, n), padding=0)
        self._show_map(True)

    def _on_mouse(self, pos) -> None:
        if not self.tokens:
            return
        point = self.plot.getPlotItem().vb.mapSceneToView(pos)
        col, row = int(point.x()), int(point.y())
        n = len(self.tokens)
        if 0 <= row < n and 0 <= col < n and point.x() >= 0 and point.y() >= 0:
            self.hover.setText(f"'{self.tokens[row]}' \u2192 '{self.tokens[col]}': {self.matrix[row, col]:.3f}")
