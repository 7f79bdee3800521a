"""An image with detection boxes, labels, scores and landmarks drawn over it.

Items are anything with `label`, `score`, `box` ([x0, y0, x1, y1] in pixels of
the original image) and optionally `landmarks`; the displayed image may be a
smaller preview: boxes are scaled by the original size given with it.

In a comparison (`set_layers`) each detector's boxes are drawn in that detector's colour
(`COMPARE_COLORS`, the second one dashed, its tags below the box) instead of a colour per label.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

COMPARE_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728")  # the first to the fourth model compared


def color_for(label: str) -> QColor:
    """A stable, saturated colour per label."""
    hue = zlib.crc32(label.encode("utf-8")) % 360
    return QColor.fromHsv(hue, 220, 235)


def pil_to_qimage(img) -> QImage:
    """A PIL RGB image (the engine's preview) as a QImage that owns its pixels."""
    rgb = img if img.mode == "RGB" else img.convert("RGB")
    data = rgb.tobytes()
    w, h = rgb.size
    return QImage(data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


class DetectionView(QWidget):
    """Shows one image scaled to fit, with the items at or above the threshold drawn over it;
    when there is none, the candidates below it (`set_candidates`) are drawn dashed."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._image: QImage | None = None
        self._orig = QSize()
        self._items: list = []
        self._candidates: list = []
        self._threshold = 0.0
        self._highlight: int | None = None
        self._message = ""
        self._layers: list[tuple[str, QColor, list]] = []  # a comparison: (model, colour, items) each
        self.setMinimumSize(240, 180)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, False)

    # -- data --------------------------------------------------------------------
    def set_image(self, image: QImage | None, original_size: QSize | tuple[int, int] | None = None) -> None:
        self._image = image
        if original_size is None and image is not None:
            original_size = image.size()
        if isinstance(original_size, tuple):
            original_size = QSize(*original_size)
        self._orig = original_size or QSize()
        self._message = ""
        self.update()

    def set_items(self, items: Sequence) -> None:
        self._items = list(items)
        self._candidates = []
        self._highlight = None
        self.update()

    def set_candidates(self, items: Sequence) -> None:
        """The best items below the threshold, drawn dashed while nothing is at or above it."""
        self._candidates = list(items)
        self.update()

    def candidate_items(self) -> list:
        """The candidates drawn now (dashed): none while an item passes the threshold."""
        return [] if self.visible_items() else list(self._candidates)

    def set_layers(self, layers: Sequence) -> None:
        """A comparison: (name, colour, items) per detector, drawn over the image instead of the items; [] ends it."""
        self._layers = [(name, QColor(color), list(items)) for name, color, items in layers]
        self.update()

    def layers(self) -> list[tuple[str, QColor, list]]:
        """Each compared detector's name, colour and detections at or above the threshold."""
        return [(name, color, [it for it in items if it.score >= self._threshold])
                for name, color, items in self._layers]

    def set_threshold(self, threshold: float) -> None:
        self._threshold = float(threshold)
        self.update()

    def set_message(self, text: str) -> None:
        """Shown instead of the image (e.g. why it failed)."""
        self._message = text
        if text:
            self._image = None
            self._items = []
            self._candidates = []
        self.update()

    def highlight(self, index: int | None) -> None:
        """Draw the index-th visible item thicker (the selected table row)."""
        self._highlight = index
        self.update()

    def visible_items(self) -> list:
        return [it for it in self._items if it.score >= self._threshold]

    @property
    def threshold(self) -> float:
        return self._threshold

    def has_image(self) -> bool:
        return self._image is not None and not self._image.isNull()

    # -- geometry ------------------------------------------------------------------
    def image_rect(self) -> QRectF:
        """Where the image is drawn inside the widget (aspect kept, centred)."""
        if not self.has_image():
            return QRectF()
        iw, ih = self._image.width(), self._image.height()
        scale = min(self.width() / iw, self.height() / ih)
        w, h = iw * scale, ih * scale
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def map_box(self, box: Sequence[float]) -> QRectF:
        """A box in original-image pixels to widget coordinates."""
        rect = self.image_rect()
        ow = self._orig.width() or (self._image.width() if self._image else 1)
        oh = self._orig.height() or (self._image.height() if self._image else 1)
        sx, sy = rect.width() / ow, rect.height() / oh
        x0, y0, x1, y1 = box
        return QRectF(rect.x() + x0 * sx, rect.y() + y0 * sy, (x1 - x0) * sx, (y1 - y0) * sy)

    def map_point(self, x: float, y: float) -> QPointF:
        r = self.map_box((x, y, x, y))
        return r.topLeft()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        return QSize(640, 480)

    # -- painting ---------------------------------------------------------------------
    def paintEvent(self, event) -> None:  # noqa: N802 (Qt name)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        if not self.has_image():
            painter.setPen(self.palette().placeholderText().color())
            painter.drawText(self.rect().adjusted(12, 12, -12, -12),
                             Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                             self._message or "No image")
            return
        painter.drawImage(self.image_rect(), self._image)
        font = QFont(self.font())
        font.setPointSizeF(max(8.0, font.pointSizeF() * 0.95))
        font.setBold(True)
        painter.setFont(font)
        metrics = QFontMetricsF(font)
        if self._layers:
            for n, (_name, color, items) in enumerate(self.layers()):
                for item in sorted(items, key=lambda it: it.score):
                    self._draw(painter, metrics, item, color, 2, dashed=n % 2 == 1, tag_below=n % 2 == 1)
            painter.end()
            return
        visible = list(enumerate(self.visible_items()))
        dashed = not visible
        if dashed:
            visible = [(-1, item) for item in self.candidate_items()]
        # Weakest first, so the strongest detections' tags end up on top where they overlap.
        for i, item in sorted(visible, key=lambda pair: pair[1].score):
            # below the threshold (dashed): a guess, not a detection
            self._draw(painter, metrics, item, color_for(item.label), 4 if i == self._highlight else 2, dashed)
        painter.end()

    def _draw(self, painter: QPainter, metrics: QFontMetricsF, item, color: QColor, width: int, dashed: bool,
              tag_below: bool = False) -> None:
        """One box, its landmarks and its tag; the tag goes below the box when `tag_below` (a second
        detector's tag must not cover the first one's on the same object)."""
        rect = self.map_box(item.box)
        pen = QPen(color, width)
        if dashed:
            pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(rect)
        for x, y in getattr(item, "landmarks", ()) or ():
            painter.setBrush(color)
            painter.drawEllipse(self.map_point(x, y), 3, 3)
        text = f"{item.label} {item.score:.2f}"
        tw, th = metrics.horizontalAdvance(text) + 8, metrics.height() + 2
        if tag_below:
            ty = rect.bottom() if rect.bottom() + th <= self.height() else rect.bottom() - th
        else:
            ty = rect.top() - th if rect.top() - th >= 0 else rect.top()
        tag = QRectF(rect.left(), ty, tw, th)
        painter.fillRect(tag, color)
        painter.setPen(QColor(0, 0, 0) if color.lightness() > 140 else QColor(255, 255, 255))
        painter.drawText(tag.adjusted(4, 0, 0, 0), Qt.AlignmentFlag.AlignVCenter, text)
