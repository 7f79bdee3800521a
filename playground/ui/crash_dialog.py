"""Uncaught exceptions become a dialog instead of a dead window; Help > Show log.

`install(window)` sets `sys.excepthook` and `threading.excepthook`. An error
is logged (with its traceback) to the rotating log file, then shown in a
dialog with the log's path and a "Copy diagnostics" button (versions, device,
the error and the last log lines). Errors raised on other threads reach the
dialog through a queued signal, so the dialog is always built on the UI
thread. The window keeps running.
"""

from __future__ import annotations

import logging
import platform
import sys
import threading
import traceback

from PySide6.QtCore import QObject, Qt, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices, QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget,
)

from playground import APP_NAME, __version__, logsetup

log = logging.getLogger("playground.crash")

VERSIONED = ("PySide6-Essentials", "torch", "torchvision", "transformers", "huggingface_hub", "timm",
             "faster-whisper", "numpy")


def _version(dist: str) -> str:
    from importlib import metadata  # not at import: it costs start-up time

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def diagnostics(window=None, error_text: str = "", log_lines: int = 60) -> str:
    """Plain text a user can paste into a bug report; secrets are masked."""
    from PySide6.QtCore import qVersion

    lines = [f"{APP_NAME} {__version__}", f"Python {platform.python_version()} on {platform.platform()}",
             f"Qt {qVersion()}"]
    lines += [f"{dist} {_version(dist)}" for dist in VERSIONED]
    rep = getattr(window, "device_report", None)
    if rep is not None:
        lines.append(f"Device: {rep.chosen.name} ({rep.chosen.torch_device}, {rep.chosen.dtype}); "
                     f"CUDA {rep.cuda_version or 'none'}")
    else:
        from playground.core import devices

        lines.append(f"Device preference: {devices.get_preference()} (not detected yet)")
    lines.append(f"Log file: {logsetup.log_file()}")
    if error_text:
        lines += ["", "Error:", error_text.rstrip()]
    tail = logsetup.tail(log_lines)
    if tail:
        lines += ["", f"Last {len(tail)} log lines:", *tail]
    return logsetup.mask("\n".join(lines))


class CrashDialog(QDialog):
    """Shows one error (later ones are appended while it is open)."""

    def __init__(self, window=None, parent: QWidget | None = None):
        super().__init__(parent if parent is not None else window)
        self.window_ = window
        self.errors: list[str] = []
        self.setWindowTitle(f"{APP_NAME}: unexpected error")
        self.setObjectName("crashDialog")
        self.setAccessibleName("Unexpected error")
        self.resize(680, 420)

        self.headline = QLabel("")
        self.headline.setObjectName("crashHeadline")
        self.headline.setWordWrap(True)
        self.headline.setTextFormat(Qt.TextFormat.PlainText)
        font = self.headline.font()
        font.setBold(True)
        self.headline.setFont(font)
        self.info = QLabel(f"The app keeps running, but the last action may not have finished. "
                           f"Details are in the log:\n{logsetup.log_file()}")
        self.info.setWordWrap(True)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details = QPlainTextEdit()
        self.details.setObjectName("crashDetails")
        self.details.setAccessibleName("Error details")
        self.details.setReadOnly(True)
        self.details.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))

        self.copy_button = QPushButton("&Copy diagnostics")
        self.copy_button.setObjectName("copyDiagnostics")
        self.copy_button.setAccessibleName("Copy diagnostics to the clipboard")
        self.copy_button.clicked.connect(self.copy_diagnostics)
        self.log_button = QPushButton("Show &log")
        self.log_button.setAccessibleName("Show the log")
        self.log_button.clicked.connect(lambda: show_log(self.window_ or self))
        self.copied = QLabel("")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)

        row = QHBoxLayout()
        row.addWidget(self.copy_button)
        row.addWidget(self.log_button)
        row.addWidget(self.copied, 1)
        row.addWidget(buttons)
        layout = QVBoxLayout(self)
        layout.addWidget(self.headline)
        layout.addWidget(self.info)
        layout.addWidget(self.details, 1)
        layout.addLayout(row)

    def add_error(self, summary: str, details: str) -> None:
        self.errors.append(details)
        count = len(self.errors)
        self.headline.setText(f"Something went wrong: {summary}" + (f"  ({count} errors)" if count > 1 else ""))
        self.details.setPlainText("\n\n".join(self.errors))

    def diagnostics_text(self) -> str:
        return diagnostics(self.window_, "\n\n".join(self.errors))

    def copy_diagnostics(self) -> str:
        text = self.diagnostics_text()
        QGuiApplication.clipboard().setText(text)
        self.copied.setText("Copied.")
        return text


class CrashHandler(QObject):
    """Owns the hooks; `report` may be called from any thread."""

    _reported = Signal(str, str)

    def __init__(self, window=None):
        super().__init__(window)
        self.window = window
        self.dialog: CrashDialog | None = None
        self._previous = (sys.excepthook, threading.excepthook)
        self._reported.connect(self._show, Qt.ConnectionType.QueuedConnection)

    def install(self) -> CrashHandler:
        sys.excepthook = self._sys_hook
        threading.excepthook = self._thread_hook
        return self

    def uninstall(self) -> None:
        if sys.excepthook == self._sys_hook:
            sys.excepthook = self._previous[0]
        if threading.excepthook == self._thread_hook:
            threading.excepthook = self._previous[1]

    def _sys_hook(self, exc_type, exc, tb) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            self._previous[0](exc_type, exc, tb)
            return
        self.report(exc_type, exc, tb, "main thread")

    def _thread_hook(self, args) -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread is not None else "a background thread"
        self.report(args.exc_type, args.exc_value, args.exc_traceback, f"thread {name}")

    def report(self, exc_type, exc, tb, where: str = "main thread") -> None:
        try:
            if not logsetup.is_ready():
                logsetup.setup_logging()  # an error before the first paint: open the log file now
            text = "".join(traceback.format_exception(exc_type, exc, tb))
            log.error("uncaught exception in %s:\n%s", where, text.rstrip())
            first = (str(exc).strip().splitlines() or [""])[0]
            summary = logsetup.mask(f"{exc_type.__name__}: {first}" if first else exc_type.__name__)
            self._reported.emit(summary, logsetup.mask(text))
        except Exception:  # never let the hook itself raise
            self._previous[0](exc_type, exc, tb)

    @Slot(str, str)
    def _show(self, summary: str, details: str) -> None:
        if self.dialog is None:
            self.dialog = CrashDialog(self.window)
            self.dialog.finished.connect(self._forget_dialog)
        self.dialog.add_error(summary, details)
        self.dialog.show()
        self.dialog.raise_()

    def _forget_dialog(self) -> None:
        if self.dialog is not None:
            self.dialog.deleteLater()
        self.dialog = None


def install(window=None) -> CrashHandler:
    return CrashHandler(window).install()


# -- Help > Show log ---------------------------------------------------------------


class LogViewer(QDialog):
    def __init__(self, parent: QWidget | None = None, lines: int = 2000):
        super().__init__(parent)
        self.setWindowTitle(f"{APP_NAME} log")
        self.setObjectName("logViewer")
        self.setAccessibleName("Log")
        self.resize(900, 520)
        path = logsetup.log_file()
        self.path_label = QLabel(str(path))
        self.path_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text = QPlainTextEdit()
        self.text.setObjectName("logText")
        self.text.setAccessibleName("Log text")
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.lines = lines
        refresh = QPushButton("&Refresh")
        refresh.setAccessibleName("Reload the log")
        refresh.clicked.connect(self.reload)
        folder = QPushButton("Open &folder")
        folder.setAccessibleName("Open the log folder")
        folder.clicked.connect(lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(path.parent))))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(refresh)
        row.addWidget(folder)
        row.addStretch(1)
        row.addWidget(buttons)
        layout = QVBoxLayout(self)
        layout.addWidget(self.path_label)
        layout.addWidget(self.text, 1)
        layout.addLayout(row)
        self.reload()

    def reload(self) -> None:
        lines = logsetup.tail(self.lines)
        self.text.setPlainText("\n".join(lines) if lines else "The log is empty.")
        self.text.verticalScrollBar().setValue(self.text.verticalScrollBar().maximum())


def show_log(parent=None) -> LogViewer:
    viewer = LogViewer(parent)
    viewer.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    viewer.show()
    return viewer
