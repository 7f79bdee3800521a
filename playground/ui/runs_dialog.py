"""Runs side by side (Train tab, "Runs..."): every saved run as a row of its settings and results,
sortable by any column; select two rows and the settings they do not share are highlighted."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView, QDialog, QDialogButtonBox, QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout,
)

from playground.core import runs as core_runs
from playground.core.jobs import Job

DIFFERS = QColor("#fff2b3")
COLUMNS = (("name", "Run"),) + core_runs.SETTINGS + core_runs.RESULTS + (("created", "Saved"),)


class _Cell(QTableWidgetItem):
    """Sorts numbers as numbers, empty cells last."""

    def __init__(self, value):
        super().__init__("" if value is None else _text(value))
        self.value = value

    def __lt__(self, other):  # noqa: D105
        a, b = self.value, getattr(other, "value", None)
        if isinstance(a, int | float) and isinstance(b, int | float):
            return a < b
        if a is None or b is None:
            return b is None and a is not None
        return str(a) < str(b)


def _text(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


class RunsDialog(QDialog):
    def __init__(self, ctx, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        self.setWindowTitle("Runs side by side")
        self.resize(1000, 420)
        self.runs: list[core_runs.Run] = []
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels([h for _, h in COLUMNS])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.verticalHeader().setVisible(False)
        self.table.itemSelectionChanged.connect(self._highlight)
        self.hint = QLabel("Loading the runs...")
        self.hint.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.hint)
        layout.addWidget(buttons)
        self.refresh()

    def refresh(self) -> None:
        """Read the runs on the train lane (it reads every model's marker: never on the UI thread)."""
        runner = self.ctx.runner("train", self) if getattr(self.ctx, "lanes", None) is not None else None
        if runner is None:
            self.show_runs(core_runs.list_runs())
            return
        runner.submit(Job(lambda ctx: core_runs.list_runs(), name="list runs"), on_result=self.show_runs,
                      show=False)

    def show_runs(self, runs: list) -> None:
        self.runs = list(runs)
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(self.runs))
        for row, run in enumerate(self.runs):
            values = run.to_dict()
            for col, (key, _h) in enumerate(COLUMNS):
                cell = _Cell(values.get(key))
                cell.setData(Qt.ItemDataRole.UserRole, row)
                if key == "name":
                    cell.setToolTip(run.folder)
                self.table.setItem(row, col, cell)
        self.table.setSortingEnabled(True)
        self.hint.setText("No runs yet: the models you train are listed here." if not self.runs else
                          "Select two runs to highlight the settings that differ. Click a heading to sort.")

    def selected_runs(self) -> list[core_runs.Run]:
        rows = sorted({i.row() for i in self.table.selectedItems()})
        return [self.runs[self.table.item(r, 0).data(Qt.ItemDataRole.UserRole)] for r in rows]

    def _highlight(self) -> None:
        chosen = self.selected_runs()
        differ = set(core_runs.differing(*chosen)) if len(chosen) == 2 else set()
        keys = [k for k, _ in COLUMNS]
        for row in range(self.table.rowCount()):
            for col, key in enumerate(keys):
                item = self.table.item(row, col)
                item.setBackground(QBrush(DIFFERS) if key in differ else QBrush())
        # Selected rows are drawn in the selection colour: the headings say it too.
        self.table.setHorizontalHeaderLabels([f"≠ {h}" if k in differ else h for k, h in COLUMNS])
        if len(chosen) == 2:
            names = ", ".join(h for k, h in COLUMNS if k in differ) or "none"
            self.hint.setText(f"{chosen[0].name} and {chosen[1].name} differ in: {names}.")

    def highlighted_columns(self) -> list[str]:
        keys = [k for k, _ in COLUMNS]
        if not self.table.rowCount():
            return []
        return [keys[c] for c in range(len(keys)) if self.table.item(0, c).background().color() == DIFFERS]
