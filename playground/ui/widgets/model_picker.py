"""The one model picker: every tab, panel and the Settings dialog use it.

An editable combo over the model store's list for one task (bundled, yours,
local folders, torchvision, Hub suggestions), plus any Hub id typed in or a
folder chosen with "Folder...". It starts on the user's default for the task
(the registry's settings key, which the Settings dialog edits too), else the
task's offline default, and follows the store: a model trained, downloaded or
copied into the models folder appears while the window is open.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (
    QComboBox, QFileDialog, QHBoxLayout, QLabel, QLineEdit, QSizePolicy, QStyle, QStyleOptionFrame, QToolButton,
    QWidget,
)

from playground.core import tasks

SOURCE_NAMES = {"bundled": "bundled, offline", "finetuned": "yours", "hub": "Hub", "local": "folder",
                "torchvision": "torchvision", "training": "training now"}


def item_text(entry) -> str:
    where = SOURCE_NAMES.get(entry.source, entry.source)
    state = "" if entry.available else " (download needed)"
    return f"{entry.display_name} [{where}]{state}"


class ElidingLineEdit(QLineEdit):
    """The picker's text field: while it is not being edited, a name longer than the field ends in "..."
    (the full name is its tooltip and the popup's entry) instead of being cut mid-word."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.textChanged.connect(lambda _t: self._update_tip())

    def shown_text(self) -> str:
        """The text as drawn."""
        room = self._text_rect().width()
        if self.hasFocus() or self.fontMetrics().horizontalAdvance(self.text()) <= room:
            return self.text()
        return self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, room)

    def _text_rect(self):
        opt = QStyleOptionFrame()
        self.initStyleOption(opt)
        rect = self.style().subElementRect(QStyle.SubElement.SE_LineEditContents, opt, self)
        margins = self.textMargins()
        pad = 2  # QLineEdit's own horizontal margin around its text
        return rect.adjusted(margins.left() + pad, margins.top(), -margins.right() - pad, -margins.bottom())

    def _update_tip(self) -> None:
        if not self.text():  # Qt elides a long placeholder itself: it is the hint, so keep it whole in the tooltip
            hint = self.placeholderText()
            cut = self.fontMetrics().horizontalAdvance(hint) > self._text_rect().width()
            self.setToolTip(hint if cut else "")
            return
        self.setToolTip(self.text() if self.shown_text() != self.text() else "")

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        self._update_tip()

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt name)
        shown = self.shown_text()
        if shown == self.text():
            super().paintEvent(event)
            return
        painter = QPainter(self)
        opt = QStyleOptionFrame()
        self.initStyleOption(opt)
        self.style().drawPrimitive(QStyle.PrimitiveElement.PE_PanelLineEdit, opt, painter, self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.drawText(self._text_rect(), int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), shown)


class ModelPicker(QWidget):
    """Pick a model for one task; `model_id()` is what a job gets as `model`."""

    changed = Signal(str)  # the user picked another model (not emitted while the list refreshes)
    loaded = Signal()  # the store's entries are in the list

    def __init__(self, ctx, task: str, default: str | None = None, placeholder: str = "", label: str = "Model:",
                 empty_text: str = "", remember_choice: bool = True, parent=None):
        super().__init__(parent)
        self._ctx = ctx
        self.task = tasks.get(task).id
        self._default = default if default is not None else (tasks.get(task).default or "")
        # A first entry meaning "no model: the task chooses" (Settings: the app default; Translate: by pair).
        self._empty_text = empty_text or ("Automatic" if tasks.get(task).optional_model else "")
        self._remember = remember_choice
        self._filling = False
        self.available: list[str] = []  # ids of the listed models that are on this computer
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.combo = QComboBox()
        self.combo.setEditable(True)
        self.combo.setLineEdit(ElidingLineEdit())
        self.combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.combo.setMinimumContentsLength(24)
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.combo.setAccessibleName(f"{tasks.get(task).label} model")
        self.combo.lineEdit().setPlaceholderText(placeholder or "Hub id (org/name) or a model folder")
        self.combo.setToolTip("A model from the list, a Hugging Face Hub id (needs a network the first "
                              "time) or a local model folder")
        self.caption = QLabel(label) if label else None
        if self.caption is not None:
            self.caption.setBuddy(self.combo)
            layout.addWidget(self.caption)
        self.browse_button = QToolButton()
        self.browse_button.setText("Folder...")
        self.browse_button.setToolTip("Use a model folder on this computer")
        self.browse_button.clicked.connect(self.browse)
        layout.addWidget(self.combo, 1)
        layout.addWidget(self.browse_button)
        self.combo.activated.connect(lambda _i: self._user_changed())
        self.combo.lineEdit().editingFinished.connect(self._user_changed)
        self._last = None

        self._fill([])
        self._known_default = self.saved()  # the task's default as last seen: Settings changes it
        self.set_model(self._known_default or self._default)
        self._last = self.model_id()
        store = self.store
        if store is not None:
            store.changed.connect(self._on_store_changed)
            store.defaults_changed.connect(self._on_defaults_changed)
            if store.scanned:
                self.refresh()
        else:  # no app around it (a dialog or panel on its own): what the registry knows, without disk scans
            entries = tasks.models_for(self.task, hub_cached=lambda _r: None, sources=False)
            self._fill(entries)
            self.set_model(self.saved() or self._default
                           or ("" if self._empty_text else tasks.preferred_model(self.task, entries) or ""))

    # -- the store -------------------------------------------------------------------------
    @property
    def store(self):
        return getattr(self._ctx, "store", None)

    def _on_store_changed(self, changed) -> None:
        if self.task in changed:
            self.refresh()

    def refresh(self) -> None:
        """Show the store's current list for the task, keeping the choice."""
        store = self.store
        if store is None:
            return
        current = self.model_id()
        entries = store.entries(self.task)
        successor = "" if any(e.id == current for e in entries) else store.successor(current)
        current = successor or current  # a finished run's checkpoint: the model the run saved
        self._fill(entries)
        if not current and not self._empty_text:  # nothing chosen yet: a model of yours, when there is one
            current = tasks.preferred_model(self.task, entries) or ""
        self.set_model(current)
        if successor:
            self._user_changed()
        self.loaded.emit()

    def _fill(self, entries) -> None:
        self._filling = True
        try:
            self.combo.clear()
            self.available = [e.id for e in entries if e.available]
            if self._empty_text:
                self.combo.addItem(self._empty_text, "")
            for e in entries:
                self.combo.addItem(item_text(e), e.id)
                tip = "\n".join(x for x in (e.id, e.description, f"Licence: {e.licence}",
                                            "" if e.available else e.unavailable_reason) if x)
                self.combo.setItemData(self.combo.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        finally:
            self._filling = False
        self._fit_popup()

    def _fit_popup(self) -> None:
        """The list as wide as its longest entry: an editable combo's popup is only as wide as the combo
        (Qt widens a non-editable one itself), and Qt elides the rest in the middle ("EfficientNet-Lite0 (I...k)")."""
        view = self.combo.view()
        if not self.combo.count():
            return
        scrolls = self.combo.count() > self.combo.maxVisibleItems()
        scroll_bar = view.verticalScrollBar().sizeHint().width() if scrolls else 0
        view.setMinimumWidth(view.sizeHintForColumn(0) + scroll_bar + 2 * view.frameWidth())

    def ids(self) -> list[str]:
        return [str(self.combo.itemData(i)) for i in range(self.combo.count()) if self.combo.itemData(i)]

    # -- settings ----------------------------------------------------------------------------
    def saved(self) -> str:
        settings = getattr(self._ctx, "settings", None)
        return settings.get_model(self.task) if settings is not None else ""

    def remember(self) -> None:
        """The current choice becomes the task's default (what the Settings dialog shows)."""
        settings = getattr(self._ctx, "settings", None)
        live = self.store is not None and getattr(self.store.find(self.model_id()), "source", "") == "training"
        if live:  # a running job's checkpoint is gone when the job ends: never a default
            return
        if settings is not None and self._remember and self.model_id() and self.model_id() != self.saved():
            settings.set_model(self.task, self.model_id())
            self._known_default = self.model_id()

    def _on_defaults_changed(self) -> None:
        """Settings applied: follow the task's default if it changed (other choices stay as they are)."""
        new = self.saved()
        if new == self._known_default:
            return
        self._known_default = new
        wanted = new or self._default
        if wanted != self.model_id():
            self.set_model(wanted)
            self._user_changed()

    # -- the choice -----------------------------------------------------------------------------
    def model_id(self) -> str:
        text = self.combo.currentText().strip()
        idx = self.combo.currentIndex()
        if idx >= 0 and self.combo.itemText(idx) == self.combo.currentText():
            return str(self.combo.itemData(idx) or "")
        return text

    def set_model(self, model_id: str) -> None:
        """Select a model by id (added to the list when the store does not know it)."""
        self._filling = True
        try:
            model_id = model_id or ""
            idx = self.combo.findData(model_id)
            if idx < 0 and model_id:
                self.combo.addItem(model_id, model_id)
                idx = self.combo.count() - 1
                self._fit_popup()
            if idx >= 0:
                self.combo.setCurrentIndex(idx)
            else:
                self.combo.setCurrentIndex(-1)
                self.combo.setEditText("")
            self.combo.lineEdit().setCursorPosition(0)
        finally:
            self._filling = False

    def select(self, model_id: str) -> None:
        """Select a model as if the user picked it (emits `changed`)."""
        self.set_model(model_id)
        self._user_changed()

    def _user_changed(self) -> None:
        if self._filling:
            return
        now = self.model_id()
        if now != self._last:
            self._last = now
            self.changed.emit(now)

    def browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a model folder")
        if folder:
            self.select(folder)
