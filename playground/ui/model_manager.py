"""Tools > Model manager...: every model on disk, with download, delete and open folder.

Listing, deleting and downloading are `playground.core.model_store` jobs run on
the dialog's own worker thread, so a download never waits behind a training
job (and vice versa); the dialog shows their progress and has its own Cancel.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QColor, QDesktopServices, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView, QComboBox, QDialog, QFileDialog, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QMessageBox,
    QProgressBar, QPushButton, QTextBrowser, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget,
)

from playground.core import model_store, tasks
from playground.core.devices import format_bytes
from playground.core.jobs import Job
from playground.core.wording import plural
from playground.settings import Key, Settings
from playground.ui.jobs import show_progress
from playground.worker import JobHandle, Worker

COLUMNS = ("Name", "Task", "Source", "Size", "Location")
SOURCE_LABELS = {"bundled": "Bundled", "hub": "Downloaded (Hub)", "finetuned": "Fine-tuned", "local": "Local folder"}


class ModelManager(QDialog):
    listed = Signal(list)  # the StoredModel rows after each refresh
    deleted = Signal(str)
    downloaded = Signal(object)
    exported = Signal(object)  # onnx_export.ExportResult

    def __init__(self, settings: Settings, parent: QWidget | None = None, hub_cache: str | None = None):
        super().__init__(parent)
        self.settings = settings
        self.hub_cache = hub_cache
        self.entries: list[model_store.StoredModel] = []
        self.worker = Worker(self)
        self._handles: set[JobHandle] = set()
        self._download: JobHandle | None = None
        self._sorted_once = False
        self.setWindowTitle("Model manager")
        self.setObjectName("modelManager")
        self.setAccessibleName("Model manager")
        self.resize(980, 560)

        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter by name, task or source")
        self.filter_edit.setAccessibleName("Filter models")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self._apply_filter)
        self.summary = QLabel("Listing models...")
        self.summary.setObjectName("modelSummary")

        self.tree = QTreeWidget()
        self.tree.setObjectName("modelList")
        self.tree.setAccessibleName("Models on this computer")
        self.tree.setColumnCount(len(COLUMNS))
        self.tree.setHeaderLabels(COLUMNS)
        self.tree.setRootIsDecorated(False)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.tree.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.tree.itemSelectionChanged.connect(self._update_buttons)
        self.tree.itemDoubleClicked.connect(lambda *_: self.open_folder())

        self.detail = QLabel("")
        self.detail.setObjectName("modelDetail")
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.refresh_button = QPushButton("&Refresh")
        self.add_button = QPushButton("&Add folder...")
        self.open_button = QPushButton("&Open folder")
        self.delete_button = QPushButton("&Delete...")
        self.delete_button.setObjectName("deleteModel")
        self.export_button = QPushButton("E&xport ONNX...")
        self.export_button.setAccessibleName("Export the selected classifier to ONNX")
        self.export_button.setToolTip("Export the selected fine-tuned classifier to ONNX, checked with onnxruntime")
        self.export_button.clicked.connect(self._choose_export)
        self.terms_button = QPushButton("&Terms of use...")
        self.terms_button.setAccessibleName("Show the selected model's terms of use")
        self.terms_button.setToolTip("The licence text that comes with the selected model's package")
        self.terms_button.clicked.connect(self.show_terms)
        for button, name in ((self.refresh_button, "Refresh the model list"),
                             (self.add_button, "Add a local model folder"),
                             (self.open_button, "Open the selected model's folder"),
                             (self.delete_button, "Delete the selected model")):
            button.setAccessibleName(name)
            button.setToolTip(name)
        self.refresh_button.clicked.connect(self.refresh)
        self.add_button.clicked.connect(self.add_folder)
        self.open_button.clicked.connect(self.open_folder)
        self.delete_button.clicked.connect(self.delete_selected)
        QShortcut(QKeySequence(QKeySequence.StandardKey.Delete), self.tree, activated=self.delete_selected)

        self.download_combo = QComboBox()
        self.download_combo.setEditable(True)
        self.download_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.download_combo.setAccessibleName("Hugging Face model id to download")
        self.download_combo.lineEdit().setPlaceholderText("Hugging Face model id, e.g. openai-community/gpt2")
        self.download_combo.addItem("")
        for repo_id, task, name, _ in tasks.hub_suggestions():
            self.download_combo.addItem(repo_id)
            self.download_combo.setItemData(self.download_combo.count() - 1, f"{name} ({task})",
                                            Qt.ItemDataRole.ToolTipRole)
        self.download_combo.setCurrentIndex(0)
        self.download_button = QPushButton("Do&wnload")
        self.download_button.setAccessibleName("Download the model")
        self.download_button.clicked.connect(self.start_download)
        self.download_combo.lineEdit().returnPressed.connect(self.start_download)
        self.download_progress = QProgressBar()
        self.download_progress.setObjectName("downloadProgress")
        self.download_progress.setAccessibleName("Download progress")
        self.download_progress.setVisible(False)
        self.download_label = QLabel("")
        self.download_label.setObjectName("downloadLabel")
        self.download_label.setWordWrap(True)
        self.cancel_button = QPushButton("&Cancel download")
        self.cancel_button.setAccessibleName("Cancel the download")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.cancel_download)
        self.close_button = QPushButton("Close")
        self.close_button.setAccessibleName("Close the model manager")
        self.close_button.clicked.connect(self.close)

        top = QHBoxLayout()
        top.addWidget(self.filter_edit, 1)
        top.addWidget(self.summary)
        actions = QHBoxLayout()
        for b in (self.refresh_button, self.add_button, self.open_button, self.delete_button, self.export_button,
                  self.terms_button):
            actions.addWidget(b)
        actions.addStretch(1)
        download = QHBoxLayout()
        download.addWidget(QLabel("Download from the Hub:"))
        download.addWidget(self.download_combo, 1)
        download.addWidget(self.download_button)
        progress = QHBoxLayout()
        progress.addWidget(self.download_progress, 1)
        progress.addWidget(self.cancel_button)
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(self.close_button)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.detail)
        layout.addLayout(actions)
        layout.addLayout(download)
        layout.addLayout(progress)
        layout.addWidget(self.download_label)
        layout.addLayout(bottom)
        # Keyboard order: filter, list, actions, download, close.
        order = [self.filter_edit, self.tree, self.refresh_button, self.add_button, self.open_button,
                 self.delete_button, self.download_combo, self.download_button, self.cancel_button, self.close_button]
        for a, b in zip(order, order[1:], strict=False):
            QWidget.setTabOrder(a, b)
        self._update_buttons()
        self.refresh()

    # -- jobs -------------------------------------------------------------------
    def _submit(self, job: Job) -> JobHandle:
        handle = self.worker.submit(job)
        self._handles.add(handle)
        handle.finished.connect(lambda h=handle: self._handles.discard(h))
        return handle

    def refresh(self) -> JobHandle:
        """List again; the app's pickers rescan too (every change here ends with a refresh)."""
        store = getattr(self.parent(), "store", None)
        if store is not None:
            store.refresh()
        self.summary.setText("Listing models...")
        handle = self._submit(Job(model_store.list_models, kwargs={
            "extra_folders": self.settings.local_model_folders(), "hub_cache": self.hub_cache}, name="list models"))
        handle.result.connect(self._show_entries)
        handle.error.connect(lambda msg: self.summary.setText(f"Listing failed: {msg}"))
        return handle

    def _show_entries(self, entries: list) -> None:
        selected = self.selected()
        self.entries = list(entries)
        self.tree.setSortingEnabled(False)
        self.tree.clear()
        grey = self.palette().color(self.palette().ColorGroup.Disabled, self.palette().ColorRole.Text)
        for e in self.entries:
            size = format_bytes(e.size_bytes) if e.size_bytes is not None else "-"
            location = e.location or (f"package '{e.package}' not installed" if e.package else "-")
            item = _SizeItem([e.name, e.task, SOURCE_LABELS.get(e.source, e.source), size, location])
            item.setData(0, Qt.ItemDataRole.UserRole, e)
            item.setData(3, Qt.ItemDataRole.UserRole, e.size_bytes or 0)
            tip = e.note or ""
            if e.source == "bundled":
                tip = f"{tip}\nProvided by the '{e.package}' package.".strip()
            for col in range(len(COLUMNS)):
                item.setToolTip(col, tip)
            item.setTextAlignment(3, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if not e.available:
                for col in range(len(COLUMNS)):
                    item.setForeground(col, QColor(grey))
            self.tree.addTopLevelItem(item)
            if selected is not None and (e.source, e.id) == (selected.source, selected.id):
                item.setSelected(True)
        self.tree.setSortingEnabled(True)
        if not self._sorted_once:  # first show: grouped by source, then task and name
            self.tree.sortByColumn(2, Qt.SortOrder.AscendingOrder)
            self._sorted_once = True
        total = sum(e.size_bytes or 0 for e in self.entries if e.available)
        missing = sum(1 for e in self.entries if not e.available)
        text = f"{plural(len(self.entries), 'model')}, {format_bytes(total)} on disk"
        if missing:
            text += f", {missing} not installed"
        self.summary.setText(text)
        self._apply_filter(self.filter_edit.text())
        self._update_buttons()
        self.listed.emit(self.entries)

    def _apply_filter(self, text: str) -> None:
        needle = text.strip().lower()
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            hay = " ".join(item.text(c) for c in range(len(COLUMNS))).lower()
            item.setHidden(bool(needle) and needle not in hay)

    # -- selection and actions ------------------------------------------------------
    def selected(self) -> model_store.StoredModel | None:
        items = self.tree.selectedItems()
        return items[0].data(0, Qt.ItemDataRole.UserRole) if items else None

    def select(self, source: str, model_id: str) -> bool:
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            e = item.data(0, Qt.ItemDataRole.UserRole)
            if e.source == source and e.id == model_id:
                self.tree.setCurrentItem(item)
                return True
        return False

    def _update_buttons(self) -> None:
        e = self.selected()
        self.open_button.setEnabled(bool(e and e.location))
        self.export_button.setEnabled(self._exportable(e))
        self.terms_button.setEnabled(bool(e and e.terms))
        self.delete_button.setEnabled(bool(e and (e.deletable or self._is_added_folder(e))))
        self.delete_button.setText("&Remove from list" if e and self._is_added_folder(e) and not e.deletable
                                   else "&Delete...")
        if e is None:
            self.detail.setText("")
            return
        lines = [f"<b>{e.name}</b> \u2014 {e.task}, {SOURCE_LABELS.get(e.source, e.source)}"]
        if e.package:
            lines.append(f"Provided by the Python package <i>{e.package}</i>.")
        if e.licence:
            lines.append(f"Licence: {e.licence}" + (" (its text: Terms of use...)" if e.terms else ""))
        if e.note:
            lines.append(e.note)
        if e.location:
            lines.append(f"Location: {e.location}")
        self.detail.setText("<br>".join(lines))

    def show_terms(self) -> QDialog | None:
        """The selected bundled model's terms of use, as its package carries them, in a dialog."""
        from playground.core import models

        e = self.selected()
        text = models.terms_html(e.id) if e is not None and e.terms else ""
        if not text:
            return None
        dialog = QDialog(self)
        dialog.setWindowTitle(f"{e.name}: {e.licence}")
        dialog.resize(760, 600)
        browser = QTextBrowser()
        browser.setObjectName("termsText")
        browser.setOpenExternalLinks(True)
        browser.setHtml(text)
        close = QPushButton("Close")
        close.clicked.connect(dialog.accept)
        layout = QVBoxLayout(dialog)
        layout.addWidget(browser, 1)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignRight)
        dialog.show()
        return dialog

    # -- export (issue 17) ------------------------------------------------------------
    @staticmethod
    def _exportable(e: model_store.StoredModel | None) -> bool:
        from playground.core.onnx_export import TASKS

        return bool(e and e.source == "finetuned" and e.task in TASKS and e.location)

    def _choose_export(self) -> None:
        e = self.selected()
        if not self._exportable(e):
            return
        from pathlib import Path

        from playground.core import paths

        start = str(paths.models_dir() / f"{Path(e.location).name}.onnx")
        path, _ = QFileDialog.getSaveFileName(self, "Export to ONNX", start, "ONNX (*.onnx)")
        if path:
            self.export_selected(path if path.lower().endswith(".onnx") else f"{path}.onnx")

    def export_selected(self, out: str) -> JobHandle | None:
        """Export the selected fine-tuned classifier to `out`; the agreement with torch is shown."""
        from playground.ui.evaluation_panel import export_job, export_message

        e = self.selected()
        if not self._exportable(e):
            return None
        self.export_button.setEnabled(False)
        self.download_label.setText(f"Exporting {e.name} to ONNX and checking it with onnxruntime...")
        handle = self._submit(export_job(e.location, out))
        handle.result.connect(lambda result: (self.download_label.setText(export_message(result)),
                                              self.exported.emit(result), self.refresh()))
        handle.error.connect(lambda msg: self.download_label.setText(f"Export failed: {msg}"))
        handle.finished.connect(self._update_buttons)
        return handle

    def _is_added_folder(self, e: model_store.StoredModel) -> bool:
        return e.source == "local" and e.id in self.settings.local_model_folders()

    def add_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a local model folder")
        if folder:
            self.add_local_folder(folder)

    def add_local_folder(self, folder: str) -> JobHandle:
        folders = self.settings.local_model_folders()
        self.settings.set_local_model_folders([*folders, folder])
        return self.refresh()

    def open_folder(self) -> None:
        e = self.selected()
        if e is not None and e.location:
            QDesktopServices.openUrl(QUrl.fromLocalFile(e.location))

    def confirm(self, title: str, text: str) -> bool:
        """Ask yes/no (tests replace this method)."""
        answer = QMessageBox.question(self, title, text, QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                      QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def delete_selected(self) -> JobHandle | None:
        e = self.selected()
        if e is None:
            return None
        if self._is_added_folder(e) and not e.deletable:
            self.settings.set_local_model_folders([f for f in self.settings.local_model_folders() if f != e.id])
            return self.refresh()
        if not e.deletable:
            self.detail.setText(f"{e.name} cannot be deleted here"
                                + (f": it belongs to the '{e.package}' package." if e.package else "."))
            return None
        size = format_bytes(e.size_bytes) if e.size_bytes else "unknown size"
        if not self.confirm("Delete model", f"Delete {e.name} ({size})?\n\n{e.location}\n\nThis cannot be undone."):
            return None
        self.delete_button.setEnabled(False)
        handle = self._submit(Job(model_store.delete_model, args=(e,), kwargs={"hub_cache": self.hub_cache},
                                  name=f"delete {e.name}"))
        handle.result.connect(self._on_deleted)
        handle.error.connect(self._on_delete_error)
        return handle

    def _on_deleted(self, message: str) -> None:
        self.detail.setText(message)
        self.deleted.emit(message)
        self.refresh()

    def _on_delete_error(self, message: str) -> None:
        self.detail.setText(f"<span style='color:#b91c1c'>Not deleted: {message}</span>")
        self._update_buttons()

    # -- download ---------------------------------------------------------------------
    def start_download(self, repo_id: str | None = None) -> JobHandle | None:
        repo_id = (repo_id if isinstance(repo_id, str) else self.download_combo.currentText()).strip()
        if not repo_id or self._download is not None:
            return None
        token = str(self.settings.get(Key.HUB_TOKEN) or "") or None
        self.download_progress.setRange(0, 0)
        self.download_progress.setVisible(True)
        self.cancel_button.setVisible(True)
        self.download_button.setEnabled(False)
        self.download_label.setText(f"Starting download of {repo_id}...")
        handle = self._submit(Job(model_store.download_model, args=(repo_id,),
                                  kwargs={"token": token, "hub_cache": self.hub_cache}, name=f"download {repo_id}"))
        self._download = handle
        handle.progress.connect(self._on_download_progress)
        handle.result.connect(self._on_downloaded)
        handle.error.connect(lambda msg: self.download_label.setText(f"Download failed: {msg}"))
        handle.cancelled.connect(lambda: self.download_label.setText(f"Download of {repo_id} cancelled."))
        handle.finished.connect(self._download_finished)
        return handle

    def _on_download_progress(self, fraction, text: str) -> None:
        show_progress(self.download_progress, fraction, self.download_label, text)

    def _on_downloaded(self, entry) -> None:
        self.download_label.setText(f"Downloaded {entry.id} ({format_bytes(entry.size_bytes)}).")
        self.downloaded.emit(entry)
        self.refresh().result.connect(lambda *_: self.select("hub", entry.id))

    def _download_finished(self) -> None:
        self._download = None
        self.download_progress.setVisible(False)
        self.cancel_button.setVisible(False)
        self.download_button.setEnabled(True)

    def cancel_download(self) -> None:
        if self._download is not None:
            self._download.cancel()
            self.download_label.setText("Cancelling...")

    # -- closing ----------------------------------------------------------------------
    def done(self, result: int) -> None:
        self.cancel_download()
        self.worker.shutdown(timeout=5.0)
        super().done(result)

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        self.cancel_download()
        self.worker.shutdown(timeout=5.0)
        super().closeEvent(event)


class _SizeItem(QTreeWidgetItem):
    """Sorts the Size column by bytes, the others by text."""

    def __lt__(self, other: QTreeWidgetItem) -> bool:
        tree = self.treeWidget()
        column = tree.sortColumn() if tree is not None else 0
        if column == 3:
            return (self.data(3, Qt.ItemDataRole.UserRole) or 0) < (other.data(3, Qt.ItemDataRole.UserRole) or 0)
        if column == 2:
            return _source_key(self) < _source_key(other)
        return self.text(column).lower() < other.text(column).lower()


def _source_key(item: QTreeWidgetItem) -> tuple:
    e = item.data(0, Qt.ItemDataRole.UserRole)
    order = model_store.SOURCES.index(e.source) if e.source in model_store.SOURCES else 9
    return order, e.task, e.name.lower()


def show_model_manager(window) -> ModelManager:
    dialog = ModelManager(window.settings, window)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    return dialog
