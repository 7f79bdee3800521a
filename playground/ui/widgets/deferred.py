"""A light stand-in for a heavy widget (a pyqtgraph plot, ...), so a tab paints before numpy and pyqtgraph load.

`Deferred(factory)` takes the heavy widget's place in a layout. The real widget
is made by `factory()` just after the stand-in's first paint, or at once when
code asks for it first (`widget()`): callers see one widget either way. Give it
the real widget's size hints (and set its minimum size and size policy) so the
layout around it (a splitter's first sizes) comes out as if the real one were there.
`after_first_paint(widget, callback)` does the same for work that is not a widget, and
`lazy_module(name)` stands for a module imported on first attribute access.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QSize, QTimer, Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget


class Deferred(QWidget):
    built = Signal(QWidget)  # the real widget, once made

    def __init__(self, factory: Callable[[], QWidget], size_hint: QSize | None = None,
                 minimum_size_hint: QSize | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self._factory = factory
        self._hints = (size_hint, minimum_size_hint)
        self._widget: QWidget | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        after_first_paint(self, self.widget)

    @property
    def is_built(self) -> bool:
        return self._widget is not None

    def widget(self) -> QWidget:
        """The real widget, made now if it was not yet."""
        if self._widget is None:
            self._widget = self._factory()
            self.layout().addWidget(self._widget)
            if self.isVisible():  # a layout shows a new child only on the next event-loop turn
                self._widget.show()
            self.built.emit(self._widget)
        return self._widget

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        return self._hints[0] if self._widget is None and self._hints[0] is not None else super().sizeHint()

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        return self._hints[1] if self._widget is None and self._hints[1] is not None else super().minimumSizeHint()


class _FirstPaint(QObject):
    def __init__(self, widget: QWidget, callback: Callable[[], object]):
        super().__init__(widget)
        self._callback = callback
        widget.installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt name)
        if event.type() == QEvent.Type.Paint:
            watched.removeEventFilter(self)
            QTimer.singleShot(0, self, self._fire)  # after this frame is on screen
        return False

    def _fire(self) -> None:
        callback, self._callback = self._callback, None
        self.deleteLater()
        if callback is not None:
            callback()


def after_first_paint(widget: QWidget, callback: Callable[[], object]) -> None:
    """Call `callback()` once, just after `widget` is first painted (never if it is never painted)."""
    _FirstPaint(widget, callback)


class lazy_module:  # noqa: N801 - used like a module
    """`mod = lazy_module("pkg.mod")`: `mod.name` imports `pkg.mod` then (thread-safe: the import system's lock)."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attr: str):
        return getattr(importlib.import_module(self._name), attr)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"
