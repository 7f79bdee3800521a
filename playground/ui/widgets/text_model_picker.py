"""A model picker for one text task: catalog entries, any Hub id typed in, or a local folder."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QLabel, QToolButton, QWidget

from playground.core.jobs import Job

SOURCE_NAMES = {"bundled": "bundled, offline", "finetuned": "yours", "hub": "Hub", "local": "folder"}


def _catalog_job(ctx, task: str):
    from playground.core import text

    return text.task_models(task)


class TextModelPicker(QWidget):
    """Editable combo: pick an entry, type a Hub id or a path, or browse for a folder."""

    changed = Signal(str)
    loaded = Signal()  # the catalog entries are in the list

    def __init__(self, app_ctx, task: str, default: str | None = None, placeholder: str = "", parent=None):
        super().__init__(parent)
        self._ctx = app_ctx
        self.task = task
        self._settings_key = f"text-panel/{task}"
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        label = QLabel("Model:")
        self.combo = QComboBox()
        self.combo.setEditable(True)
        self.combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.combo.setMinimumContentsLength(28)
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setAccessibleName(f"{task} model")
        self.combo.lineEdit().setPlaceholderText(placeholder or "Hub id (org/name) or a model folder")
        self.combo.setToolTip("A model from the list, a Hugging Face Hub id (needs a network the first "
                              "time) or a local model folder")
        label.setBuddy(self.combo)
        browse = QToolButton()
        browse.setText("Folder...")
        browse.setToolTip("Use a model folder on this computer")
        browse.clicked.connect(self.browse)
        layout.addWidget(label)
        layout.addWidget(self.combo, 1)
        layout.addWidget(browse)
        self.combo.currentTextChanged.connect(lambda _t: self.changed.emit(self.model_id()))

        saved = self._saved()
        start = saved or default or ""
        if start:
            self.combo.addItem(start, start)
        self._loaded = False
        self.refresh()

    def _saved(self) -> str:
        settings = getattr(self._ctx, "settings", None)
        return settings.get_model(self._settings_key) if settings is not None else ""

    def remember(self) -> None:
        settings = getattr(self._ctx, "settings", None)
        if settings is not None and self.model_id():
            settings.set_model(self._settings_key, self.model_id())

    def refresh(self) -> None:
        """Fill the list from the catalog, on the worker (it looks at the Hub cache)."""
        worker = getattr(self._ctx, "worker", None)
        if worker is None:
            return
        window = getattr(self._ctx, "window", None)
        job = Job(_catalog_job, (self.task,), name=f"list {self.task} models")
        handle = window.run_job(job, show=False) if window is not None and hasattr(window, "run_job") \
            else worker.submit(job)
        handle.result.connect(self._fill)
        self._handle = handle  # keep it alive until it reports

    def _fill(self, entries) -> None:
        current = self.model_id()
        self.combo.blockSignals(True)
        self.combo.clear()
        for e in entries:
            where = SOURCE_NAMES.get(e.source, e.source)
            state = "" if e.available else " (download needed)"
            self.combo.addItem(f"{e.display_name} [{where}]{state}", e.id)
            self.combo.setItemData(self.combo.count() - 1, f"{e.id}\n{e.description}\nLicence: {e.licence}",
                                   3)  # Qt.ToolTipRole
        if current:
            self.set_model(current)
        else:  # nothing chosen stays nothing chosen (a panel may treat empty as "automatic")
            self.combo.setCurrentIndex(-1)
            self.combo.setEditText("")
        self.combo.blockSignals(False)
        self._loaded = True
        self.loaded.emit()

    def model_id(self) -> str:
        text = self.combo.currentText().strip()
        idx = self.combo.currentIndex()
        if idx >= 0 and self.combo.itemText(idx) == self.combo.currentText():
            data = self.combo.itemData(idx)
            if data:
                return str(data)
        return text

    def set_model(self, model_id: str) -> None:
        idx = self.combo.findData(model_id)
        if idx < 0:
            self.combo.addItem(model_id, model_id)
            idx = self.combo.count() - 1
        self.combo.setCurrentIndex(idx)

    def browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a model folder")
        if folder:
            self.set_model(folder)
