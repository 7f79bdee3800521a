"""Compare: a switch beside a panel's model picker that adds a second (up to a fourth) model.

The extra models are picked with the same picker as the first (one model picker in the app);
they are never remembered as the task's default. `model_ids()` is what a run goes through:
the first model alone while Compare is off, every picked model (duplicates once) while it is on.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QToolButton, QVBoxLayout, QWidget

from playground.ui.widgets.model_picker import ModelPicker

MAX_MODELS = 4


class CompareModels(QWidget):
    """The extra pickers of a comparison; the panel keeps its own first picker."""

    toggled = Signal(bool)  # Compare switched on or off
    changed = Signal()  # the set of compared models changed

    def __init__(self, ctx, picker: ModelPicker, parent: QWidget | None = None):
        super().__init__(parent)
        self._ctx = ctx
        self.first = picker
        self.pickers: list[ModelPicker] = []
        self.switch = QToolButton()
        self.switch.setText("Compare")
        self.switch.setCheckable(True)
        self.switch.setToolTip("Run the same input through a second (up to a fourth) model, side by side")
        self.switch.setAccessibleName("Compare models")
        self.switch.toggled.connect(self._on_switch)
        self.add_button = QToolButton()
        self.add_button.setText("Add model")
        self.add_button.setToolTip(f"Compare up to {MAX_MODELS} models")
        self.add_button.clicked.connect(lambda: self.add_picker())
        self.rows = QVBoxLayout(self)
        self.rows.setContentsMargins(0, 0, 0, 0)
        self.setVisible(False)

    # -- the switch --------------------------------------------------------------------------
    @property
    def active(self) -> bool:
        return self.switch.isChecked() and len(self.model_ids()) > 1

    def _on_switch(self, on: bool) -> None:
        if on and not self.pickers:
            self.add_picker()
        self.setVisible(on)
        self.toggled.emit(on)
        self.changed.emit()

    # -- the extra pickers -------------------------------------------------------------------
    def add_picker(self, model_id: str = "") -> ModelPicker | None:
        if len(self.pickers) + 1 >= MAX_MODELS:
            return None
        picker = ModelPicker(self._ctx, self.first.task, default=model_id or self._suggest(),
                             label=f"Model {len(self.pickers) + 2}:", remember_choice=False)
        picker.changed.connect(lambda _m: self.changed.emit())
        remove = QToolButton()
        remove.setText("Remove")
        remove.setToolTip("Leave this model out of the comparison")
        row = QWidget()
        line = QHBoxLayout(row)
        line.setContentsMargins(0, 0, 0, 0)
        line.addWidget(picker, 1)
        line.addWidget(remove)
        remove.clicked.connect(lambda: self.remove_picker(picker, row))
        self.rows.addWidget(row)
        self.pickers.append(picker)
        self._place_add_button()
        self.changed.emit()
        return picker

    def remove_picker(self, picker: ModelPicker, row: QWidget) -> None:
        self.pickers.remove(picker)
        row.deleteLater()
        for n, p in enumerate(self.pickers, 2):
            p.caption.setText(f"Model {n}:")
        if not self.pickers:
            self.switch.setChecked(False)
        self._place_add_button()
        self.changed.emit()

    def _place_add_button(self) -> None:
        self.rows.removeWidget(self.add_button)
        self.rows.addWidget(self.add_button)
        self.add_button.setEnabled(len(self.pickers) + 1 < MAX_MODELS)

    def _suggest(self) -> str:
        """Another available model of the task than the first one (the comparison a person expects)."""
        taken = {self.first.model_id(), *(p.model_id() for p in self.pickers)}
        return next((m for m in self.first.available if m not in taken), "")

    def model_ids(self) -> list[str]:
        ids = [self.first.model_id()]
        if self.switch.isChecked():
            ids += [p.model_id() for p in self.pickers]
        out: list[str] = []
        for m in ids:
            if m and m not in out:
                out.append(m)
        return out or [self.first.model_id()]

    def display_name(self, model_id: str) -> str:
        store = getattr(self._ctx, "store", None)
        entry = store.find(model_id) if store is not None else None
        if entry is not None:
            return entry.display_name
        folder = Path(model_id).expanduser()
        return folder.name if folder.is_absolute() and folder.name else model_id  # a folder: its name (path in the tip)
