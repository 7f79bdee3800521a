"""A horizontal strip of thumbnails; error items get a warning mark and their message as tooltip."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListView, QListWidget, QListWidgetItem

ICON = 96
ROLE_INDEX = Qt.ItemDataRole.UserRole + 1


def _error_icon(size: int = ICON) -> QIcon:
    pm = QPixmap(size, size)
    pm.fill(QColor("#f4d6d2"))
    p = QPainter(pm)
    p.setPen(QColor("#c0392b"))
    font = p.font()
    font.setPixelSize(size // 2)
    font.setBold(True)
    p.setFont(font)
    p.drawText(pm.rect(), Qt.AlignmentFlag.AlignCenter, "!")
    p.end()
    return QIcon(pm)


def _padded_icon(image: QImage, size: int = ICON) -> QIcon:
    pm = QPixmap(size, size)
    pm.fill(Qt.GlobalColor.transparent)
    scaled = QPixmap.fromImage(image).scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                                             Qt.TransformationMode.SmoothTransformation)
    p = QPainter(pm)
    p.drawPixmap((size - scaled.width()) // 2, (size - scaled.height()) // 2, scaled)
    p.end()
    return QIcon(pm)


class ThumbStrip(QListWidget):
    """Thumbnails in input order; `activated_index(i)` when the user picks one."""

    activated_index = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(False)
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setIconSize(QSize(ICON, ICON))
        self.setGridSize(QSize(ICON + 24, ICON + 30))
        self.setUniformItemSizes(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFixedHeight(ICON + 52)
        self.setAccessibleName("Thumbnails")
        self._error_icon: QIcon | None = None
        self.currentRowChanged.connect(self._on_row)

    def add(self, index: int, name: str, image: QImage | None, tooltip: str = "", error: bool = False) -> QListWidgetItem:
        item = QListWidgetItem(name)
        item.setData(ROLE_INDEX, index)
        item.setToolTip(tooltip or name)
        self.set_icon(item, image, error)
        self.addItem(item)
        return item

    def set_icon(self, item: QListWidgetItem, image: QImage | None, error: bool) -> None:
        if error or image is None:
            if self._error_icon is None:
                self._error_icon = _error_icon()
            item.setIcon(self._error_icon)
            item.setForeground(QColor("#c0392b"))
        else:
            item.setIcon(_padded_icon(image))

    def _on_row(self, row: int) -> None:
        if row >= 0:
            self.activated_index.emit(int(self.item(row).data(ROLE_INDEX)))
