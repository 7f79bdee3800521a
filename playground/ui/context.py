"""What every tab gets from the main window."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtWidgets import QMainWindow

    from playground.settings import Settings
    from playground.worker import Worker


@dataclass
class AppContext:
    worker: Worker
    settings: Settings
    window: QMainWindow | None = None

    def show_status(self, text: str, msecs: int = 5000) -> None:
        if self.window is not None and self.window.statusBar() is not None:
            self.window.statusBar().showMessage(text, msecs)
