"""The large image view: the picture scaled to fit, with an optional heatmap overlay."""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget


def qimage_from_rgb(width: int, height: int, data: bytes, channels: int = 3) -> QImage:
    """A deep-copied QImage from packed RGB/RGBA bytes (safe after `data` is freed)."""
    fmt = QImage.Format.Format_RGB888 if channels == 3 else QImage.Format.Format_RGBA8888
    return QImage(data, width, height, width * channels, fmt).copy()


class ImageCanvas(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._pixmap: QPixmap | None = None
        self._overlay: QPixmap | None = None
        self._opacity = 0.5
        self._overlay_on = True
        self._text = "Drop images or folders here,\npaste one with Ctrl+V, or use File > Open."
        self.setMinimumSize(240, 200)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAccessibleName("Selected image")

    def set_image(self, image: QImage | None, text: str = "") -> None:
        self._pixmap = QPixmap.fromImage(image) if image is not None and not image.isNull() else None
        self._overlay = None
        if text or image is None:
            self._text = text or self._text
        self.update()

    def set_text(self, text: str) -> None:
        self._pixmap = None
        self._overlay = None
        self._text = text
        self.update()

    def has_image(self) -> bool:
        return self._pixmap is not None

    def set_overlay(self, image: QImage | None) -> None:
        self._overlay = QPixmap.fromImage(image) if image is not None and not image.isNull() else None
        self.update()

    def has_overlay(self) -> bool:
        return self._overlay is not None

    def set_overlay_visible(self, on: bool) -> None:
        self._overlay_on = bool(on)
        self.update()

    def set_opacity(self, value: float) -> None:
        self._opacity = max(0.0, min(1.0, float(value)))
        self.update()

    def opacity(self) -> float:
        return self._opacity

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(520, 420)

    def image_rect(self) -> QRectF:
        if self._pixmap is None:
            return QRectF()
        size = self._pixmap.size().scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
        return QRectF((self.width() - size.width()) / 2, (self.height() - size.height()) / 2, size.width(), size.height())

    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        pal = self.palette()
        if self._pixmap is None:
            pen = QColor(pal.color(QPalette.ColorRole.WindowText))
            pen.setAlpha(150)
            p.setPen(pen)
            p.drawRoundedRect(self.rect().adjusted(8, 8, -9, -9), 10, 10)
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._text)
            return
        target = self.image_rect()
        p.drawPixmap(target, self._pixmap, QRectF(self._pixmap.rect()))
        if self._overlay is not None and self._overlay_on and self._opacity > 0:
            p.setOpacity(self._opacity)
            p.drawPixmap(target, self._overlay, QRectF(self._overlay.rect()))
