"""Status-bar text that never shows cut off: it is elided ("...") with the full text in a tooltip and the log.

The status bar shares its width between the message and the permanent widgets (running jobs,
the device); at the window's minimum width a message or a job's progress line can be longer
than its room. Qt would clip it mid-word ("Preparing the bundled SmolLM2 (first use o").
"""

from __future__ import annotations

import logging
import time

from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtWidgets import QLabel, QSizeGrip, QStatusBar, QWidget

log = logging.getLogger(__name__)

MESSAGE_LEFT = 6  # where QStatusBar draws its message, and the gaps it keeps (qstatusbar.cpp messageRect)
MESSAGE_GAP = 2
MESSAGE_RIGHT = 12


class ElidedLabel(QLabel):
    """A one-line label that shows as much of its text as fits, with "..." and the full text as its tooltip.

    `text()` is what shows; `full_text()` the whole text."""

    def __init__(self, text: str = "", parent: QWidget | None = None,
                 mode: Qt.TextElideMode = Qt.TextElideMode.ElideRight):
        super().__init__(parent)
        self._full = ""
        self._mode = mode  # ElideMiddle for a path: its file name stays in view
        self.setText(text)

    def full_text(self) -> str:
        return self._full

    def setText(self, text: str) -> None:  # noqa: N802 (Qt name)
        self._full = text
        self.setToolTip(text)
        self.updateGeometry()
        self._fit()

    def _fit(self) -> None:
        if not self.isVisible():  # not laid out yet: its width means nothing (showEvent fits it)
            super().setText(self._full)
            return
        room = self.contentsRect().width() - 2 * self.margin()
        shown = self.fontMetrics().elidedText(self._full, self._mode, max(0, room))
        super().setText(shown)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        hint = super().sizeHint()
        width = self.fontMetrics().horizontalAdvance(self._full) + 2 * self.margin() + 2 * self.frameWidth()
        return QSize(width, hint.height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        # A few characters: the layout may give it less than its text, never less than a hint of it.
        width = self.fontMetrics().horizontalAdvance(self._full[:8] + "\u2026") + 2 * self.margin()
        return QSize(min(width, self.sizeHint().width()), super().minimumSizeHint().height())

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        self._fit()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().showEvent(event)
        self._fit()


class StatusBar(QStatusBar):
    """A QStatusBar whose messages are elided to the room left by its permanent widgets.

    `currentMessage()` is the full text (what callers combine and tests read); the bar shows it
    elided when it does not fit, with the full text as the bar's tooltip; every message is logged.
    """

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._full = ""
        self._deadline: float | None = None
        self.messageChanged.connect(self._on_message_changed)

    def addPermanentWidget(self, widget: QWidget, stretch: int = 0) -> None:  # noqa: N802 (Qt name)
        super().addPermanentWidget(widget, stretch)
        widget.installEventFilter(self)  # a job row that appears or grows takes room from the message

    def showMessage(self, text: str, timeout: int = 0) -> None:  # noqa: N802 (Qt name)
        if text:
            log.info("status: %s", text)
        self._full = text
        self._deadline = time.monotonic() + timeout / 1000 if timeout > 0 else None
        super().showMessage(self._fitted(), timeout)

    def currentMessage(self) -> str:  # noqa: N802 (Qt name)
        return self._full if super().currentMessage() else ""

    def message_room(self) -> int:
        """The width QStatusBar gives its message: up to the first visible permanent widget."""
        right = self.width() - MESSAGE_RIGHT
        for child in self.findChildren(QWidget, options=Qt.FindChildOption.FindDirectChildrenOnly):
            if child.isVisible() and not isinstance(child, QSizeGrip) and child.x() > MESSAGE_LEFT:
                right = min(right, child.x() - MESSAGE_GAP)
        return right - MESSAGE_LEFT

    def _fitted(self) -> str:
        """The message elided to its room; the full text goes to the tooltip when it is cut."""
        text = self._full
        shown = self.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, max(0, self.message_room()))
        self.setToolTip(text if shown != text else "")
        return shown

    def _refit(self) -> None:
        if not super().currentMessage():
            return
        shown = self._fitted()
        if shown != super().currentMessage():
            remaining = 0 if self._deadline is None else max(1, int((self._deadline - time.monotonic()) * 1000))
            super().showMessage(shown, remaining)

    def _on_message_changed(self, shown: str) -> None:
        if not shown:  # timed out or cleared
            self._full = ""
            self.setToolTip("")

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        self._refit()

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt name)
        if event.type() in (QEvent.Type.Move, QEvent.Type.Resize, QEvent.Type.Show, QEvent.Type.Hide):
            self._refit()
        return super().eventFilter(watched, event)
