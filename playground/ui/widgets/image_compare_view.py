"""The Image tab's Compare view for classifiers: one column per model, side by side.

Each column holds the model's name, the image (with that model's Grad-CAM over it when asked
for), its top-k bars and its time; a line above the columns says whether the models agree on
the top class.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QLabel, QSizePolicy, QSplitter, QVBoxLayout, QWidget

from playground.ui.widgets.image_bars import ScoreBars
from playground.ui.widgets.image_canvas import ImageCanvas
from playground.ui.widgets.status_bar import ElidedLabel

AGREE = "#1e7b34"
DISAGREE = "#b35c00"
ERROR = "#b00020"


def _label(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # wraps to the column's width
    label.setMinimumWidth(1)
    return label


class ModelColumn(QWidget):
    def __init__(self, title: str, model_id: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.model_id = model_id
        self.title = ElidedLabel(title)  # a narrow column shows "EfficientNet-Li..." with the whole name as its tip
        self.title.setStyleSheet("font-weight: bold")
        self.title.setToolTip(title if title == model_id else f"{title}\n{model_id}")
        self.canvas = ImageCanvas()
        self.canvas.setMinimumSize(100, 50)  # the image gives way first: the bars keep all their rows
        self.canvas.setAccessibleName(f"Image seen by {title}")
        self.bars = ScoreBars(min_width=120)
        self.bars.set_message("Waiting for its turn...")
        self.bars.setAccessibleName(f"Predictions of {title}")
        self.stats = _label()
        self.cam_note = _label()
        self.cam_note.setVisible(False)  # until there is a map (or why not) to speak of
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.bars)
        layout.addWidget(self.stats)
        layout.addWidget(self.cam_note)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        """Tall enough for every bar and for the wrapped lines at the column's width: a layout reads a
        wrapped label's minimum at its widest, and the bars lost their last rows to the lines."""
        hint = super().minimumSizeHint()
        width = max(self.width(), hint.width())
        lines = [label for label in (self.stats, self.cam_note) if not label.isHidden()]
        need = (self.title.sizeHint().height() + self.canvas.minimumHeight() + self.bars.minimumSizeHint().height()
                + sum(label.heightForWidth(width) for label in lines) + (2 + len(lines)) * self.layout().spacing())
        return QSize(hint.width(), max(hint.height(), need))

    def set_text_color(self, label: QLabel, color: str | None) -> None:
        label.setStyleSheet(f"color: {color}" if color else "")


class ClassifierCompareView(QWidget):
    bar_selected = Signal(int, int)  # column, row: that column's class for Grad-CAM

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("classifierCompare")
        self.agreement = _label()
        self.agreement.setObjectName("compareAgreement")
        self.agreement.setAccessibleName("Agreement")
        self.split = QSplitter(Qt.Orientation.Horizontal)
        self.split.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.agreement)
        layout.addWidget(self.split, 1)
        self.columns: list[ModelColumn] = []
        self._image: QImage | None = None
        self._image_text = ""  # shown instead while there is no image
        self._opacity = 0.5
        self._overlay_on = False

    def reset(self, titled_ids: list[tuple[str, str]], note: str = "") -> None:
        for column in self.columns:
            column.setParent(None)
            column.deleteLater()
        self.columns = [ModelColumn(title, model_id) for title, model_id in titled_ids]
        for i, column in enumerate(self.columns):
            column.bars.selected.connect(lambda row, i=i: self.bar_selected.emit(i, row))
            column.canvas.set_opacity(self._opacity)
            column.canvas.set_overlay_visible(self._overlay_on)
            if self._image is not None:
                column.canvas.set_image(self._image)
            else:
                column.canvas.set_text(self._image_text)
            self.split.addWidget(column)
        self.split.setSizes([1] * len(self.columns))  # equal widths
        self.set_agreement(None, note)

    # -- what every column shares ----------------------------------------------------------------
    def set_image(self, image: QImage | None, text: str = "") -> None:
        self._image, self._image_text = image, text
        for column in self.columns:
            if image is None:
                column.canvas.set_text(text)
            else:
                column.canvas.set_image(image)

    def set_opacity(self, value: float) -> None:
        self._opacity = value
        for column in self.columns:
            column.canvas.set_opacity(value)

    def set_overlay_visible(self, on: bool) -> None:
        self._overlay_on = on
        for column in self.columns:
            column.canvas.set_overlay_visible(on)

    def clear_cams(self) -> None:
        for column in self.columns:
            column.canvas.set_overlay(None)
            column.cam_note.setText("")
            column.cam_note.setVisible(False)

    def set_agreement(self, agree: bool | None, text: str) -> None:
        self.agreement.setText(text)
        self.agreement.setStyleSheet("" if agree is None else f"color: {AGREE if agree else DISAGREE}")
        self.agreement.setVisible(bool(text))

    # -- one column ---------------------------------------------------------------------------------
    def set_progress(self, i: int, text: str) -> None:
        if 0 <= i < len(self.columns):
            self.columns[i].bars.set_message("")
            self.columns[i].stats.setText(text)

    def set_result(self, i: int, rows: list[tuple[str, float]], stats: str) -> None:
        column = self.columns[i]
        column.bars.set_rows(rows)
        column.stats.setText(stats)
        column.set_text_color(column.stats, None)

    def set_failed(self, i: int, message: str, error: bool = True) -> None:
        column = self.columns[i]
        column.bars.set_message(message if error else "")
        column.stats.setText("" if error else message)
        column.set_text_color(column.stats, None)

    def set_cam(self, i: int, overlay: QImage | None, note: str) -> None:
        column = self.columns[i]
        column.canvas.set_overlay(overlay)
        self.set_cam_note(i, note)

    def set_cam_note(self, i: int, note: str) -> None:
        column = self.columns[i]
        column.cam_note.setText(note)
        column.cam_note.setVisible(bool(note))
        column.updateGeometry()
