"""What every tab gets from the main window: lanes to run jobs on, settings, the model store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PySide6.QtWidgets import QMainWindow

    from playground.settings import Settings


@dataclass
class AppContext:
    """`worker` is the app's `Lanes`, or one plain `Worker` (a tab tested alone: every lane is it)."""

    worker: Any
    settings: Settings | None
    window: QMainWindow | None = None
    store: Any = None  # playground.ui.model_store.ModelStore; made here when not given
    lanes: Any = field(default=None, init=False)

    def __post_init__(self) -> None:
        from playground.worker import Lanes, Worker

        if isinstance(self.worker, Lanes):
            self.lanes = self.worker
        elif isinstance(self.worker, Worker):
            self.lanes = Lanes(self.worker, single=self.worker)
        if self.store is None and self.lanes is not None:
            from playground.ui.model_store import ModelStore

            self.store = ModelStore(self, self.lanes)
            if self.window is None:  # a tab on its own; the main window scans just after its first paint
                self.store.refresh(now=True)

    def runner(self, lane: str, parent=None, show: bool = True):
        """A `JobRunner` for one tab or panel (see playground.ui.jobs)."""
        from playground.ui.jobs import JobRunner

        return JobRunner(self, lane, parent, show=show)

    def show_status(self, text: str, msecs: int = 5000) -> None:
        if self.window is not None and self.window.statusBar() is not None:
            self.window.statusBar().showMessage(text, msecs)
