"""The status bar's running jobs: one row each, with its own progress and Cancel."""

from __future__ import annotations

import logging

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QToolButton, QWidget

from playground.ui.jobs import show_progress
from playground.ui.widgets.status_bar import ElidedLabel

log = logging.getLogger(__name__)

MAX_ROWS = 3  # more than this shows as "+N more"; each row still cancels on its own from its tab


class JobRow(QWidget):
    def __init__(self, handle, parent=None):
        super().__init__(parent)
        self.handle = handle
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        # Elided to its room with the full text as its tooltip (and in the log when cut): a long
        # step such as the bundled model's first-use conversion is never clipped mid-word.
        self.label = ElidedLabel(handle.name.capitalize())
        self.label.setObjectName("jobLabel")
        self.label.setMaximumWidth(260)
        self.progress = QProgressBar()
        self.progress.setObjectName("jobProgress")
        self.progress.setMaximumWidth(140)
        self.progress.setRange(0, 0)
        self.progress.setTextVisible(True)
        self.progress.setAccessibleName(f"{handle.name} progress")
        self.progress.setToolTip(f"Progress of {handle.name}")
        self.cancel_button = QToolButton()
        self.cancel_button.setObjectName("cancelButton")
        self.cancel_button.setText("\u2715")
        self.cancel_button.setToolTip(f"Cancel {handle.name}")
        self.cancel_button.setAccessibleName(f"Cancel {handle.name}")
        self.cancel_button.clicked.connect(handle.cancel)
        for w in (self.label, self.progress, self.cancel_button):
            layout.addWidget(w)
        handle.progress.connect(self.set_progress)

    def set_progress(self, fraction, text: str) -> None:
        changed = bool(text) and text != self.label.full_text()
        show_progress(self.progress, fraction, self.label, text)
        if changed and self.label.text() != text:
            log.info("%s: %s", self.handle.name, text)


class JobsStatus(QWidget):
    """Rows for the jobs that run now, across every lane."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("jobsStatus")
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(12)
        self.more = QLabel("")
        self.more.setVisible(False)
        self._layout.addWidget(self.more)
        self.rows: dict[object, JobRow] = {}
        self._hidden: list = []
        self.setVisible(False)

    def add(self, handle) -> None:
        if handle in self.rows or handle.is_finished:
            return
        row = JobRow(handle, self)
        self.rows[handle] = row
        self._layout.insertWidget(self._layout.count() - 1, row)
        self._update()

    def remove(self, handle) -> None:
        row = self.rows.pop(handle, None)
        if row is not None:
            row.setParent(None)
            row.deleteLater()
        self._update()

    def _update(self) -> None:
        for i, row in enumerate(self.rows.values()):
            row.setVisible(i < MAX_ROWS)
        extra = len(self.rows) - MAX_ROWS
        self.more.setText(f"+{extra} more" if extra > 0 else "")
        self.more.setVisible(extra > 0)
        self.setVisible(bool(self.rows))

    def row_for(self, handle) -> JobRow | None:
        return self.rows.get(handle)
