"""File > Settings...: device, default models, folders, the Hub, theme and safety.

Values are read from and written to `Settings` (QSettings underneath); `apply()`
also makes them take effect in this process: the device preference (and the
status bar), the models folder, the Hub token and offline mode (environment),
and the theme.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit,
    QPushButton, QScrollArea, QTabWidget, QVBoxLayout, QWidget,
)

from playground.core import devices, paths, tasks
from playground.settings import Key, Settings, apply_environment

THEMES = ("system", "light", "dark")
DEVICE_LABELS = (("auto", "Automatic (best available)"), ("cpu", "CPU"), ("cuda", "NVIDIA GPU (CUDA)"),
                 ("mps", "Apple GPU (MPS)"))
GENERATION_LABELS = (("auto", "Automatic (fast CTranslate2 where the model converts)"),
                     ("transformers", "transformers only (slower, float32 on the CPU)"),
                     ("ctranslate2", "CTranslate2 only (other models fail)"))
REMOTE_CODE_WARNING = ("Remote code runs Python files that come with a model, with your user's rights. "
                       "Only allow it for models from authors you trust.")


class SettingsDialog(QDialog):
    applied = Signal()

    def __init__(self, settings: Settings, window=None, parent: QWidget | None = None):
        super().__init__(parent if parent is not None else window)
        self.settings = settings
        self.window_ = window
        self.setWindowTitle("Settings")
        self.setObjectName("settingsDialog")
        self.setAccessibleName("Settings")
        self.setMinimumWidth(720)  # room for a model name beside each task

        self.tabs = QTabWidget()
        self.tabs.addTab(self._general_page(), "General")
        self.tabs.addTab(self._models_page(), "Default models")
        self.tabs.addTab(self._hub_page(), "Hub and safety")

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
                                        | QDialogButtonBox.StandardButton.Apply)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.buttons.button(QDialogButtonBox.StandardButton.Apply).clicked.connect(self.apply)

        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(self.buttons)
        self.load()

    # -- pages --------------------------------------------------------------
    def _general_page(self) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        self.device_combo = QComboBox()
        self.device_combo.setAccessibleName("Compute device")
        for value, label in DEVICE_LABELS:
            self.device_combo.addItem(label, value)
        form.addRow("&Device:", self.device_combo)

        self.theme_combo = QComboBox()
        self.theme_combo.setAccessibleName("Theme")
        for name in THEMES:
            self.theme_combo.addItem(name.capitalize(), name)
        form.addRow("&Theme:", self.theme_combo)

        self.generation_combo = QComboBox()
        self.generation_combo.setAccessibleName("Text generation path")
        for value, label in GENERATION_LABELS:
            self.generation_combo.addItem(label, value)
        self.generation_combo.setToolTip("Automatic runs Llama, Mistral, Qwen and Gemma-family models (the bundled "
                                         "SmolLM2 included) on CTranslate2 int8, 2-3x faster on a CPU")
        form.addRow("Text &generation:", self.generation_combo)

        row = QHBoxLayout()
        self.models_dir_edit = QLineEdit()
        self.models_dir_edit.setAccessibleName("Models folder")
        self.models_dir_edit.setPlaceholderText(str(paths.models_dir()))
        self.models_dir_edit.setToolTip("Where fine-tuned models are saved; empty means the default folder.")
        self.models_dir_browse = QPushButton("Browse...")
        self.models_dir_browse.setAccessibleName("Choose models folder")
        self.models_dir_browse.clicked.connect(self._browse_models_dir)
        row.addWidget(self.models_dir_edit, 1)
        row.addWidget(self.models_dir_browse)
        form.addRow("&Models folder:", row)
        label = form.labelForField(row)
        if isinstance(label, QLabel):
            label.setBuddy(self.models_dir_edit)
        return page

    def _models_page(self) -> QWidget:
        from playground.ui.context import AppContext
        from playground.ui.widgets.model_picker import ModelPicker

        inner = QWidget()
        form = QFormLayout(inner)
        # The same pickers as the tabs (same store), one per task a tab offers, in the tabs' order.
        ctx = getattr(self.window_, "ctx", None) or AppContext(None, self.settings)
        self.model_pickers: dict[str, ModelPicker] = {}
        for task in [t for t in tasks.TASKS if t.tab != "engine"]:
            default = task.default
            picker = ModelPicker(ctx, task.id, default="", label="", remember_choice=False,
                                 empty_text=f"App default{f' ({default})' if default else ''}")
            picker.combo.setAccessibleName(f"Default model for {task.label}")
            self.model_pickers[task.id] = picker
            form.addRow(f"{task.label} ({task.tab}):", picker)
        self.model_combos = {t: p.combo for t, p in self.model_pickers.items()}  # the combos, for keyboard tests
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(inner)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        return scroll

    def _hub_page(self) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        self.token_edit = QLineEdit()
        self.token_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.token_edit.setAccessibleName("Hugging Face token")
        self.token_edit.setPlaceholderText("hf_... (only for gated or private models)")
        form.addRow("Hub &token:", self.token_edit)

        self.offline_check = QCheckBox("Offline mode: never contact the Hugging Face Hub")
        self.offline_check.setAccessibleName("Offline mode")
        form.addRow(self.offline_check)

        self.trust_check = QCheckBox("Allow models that need their own Python code (trust remote code)")
        self.trust_check.setAccessibleName("Trust remote code")
        self.trust_warning = QLabel(f"\u26a0 {REMOTE_CODE_WARNING}")
        self.trust_warning.setObjectName("trustWarning")
        self.trust_warning.setWordWrap(True)
        self.trust_warning.setStyleSheet("color: #b45309; font-weight: bold;")
        self.trust_warning.setVisible(False)
        self.trust_check.toggled.connect(self.trust_warning.setVisible)
        form.addRow(self.trust_check)
        form.addRow(self.trust_warning)

        note = QLabel("The token is stored in your settings file and given to the Hub as HF_TOKEN; "
                      "it is masked in the log.")
        note.setWordWrap(True)
        note.setEnabled(False)
        form.addRow(note)
        return page

    def _browse_models_dir(self) -> None:
        start = self.models_dir_edit.text() or str(paths.models_dir())
        folder = QFileDialog.getExistingDirectory(self, "Models folder", start)
        if folder:
            self.models_dir_edit.setText(folder)

    # -- load / apply ----------------------------------------------------------
    def load(self) -> None:
        s = self.settings
        self._select(self.device_combo, str(s.get(Key.DEVICE) or "auto"))
        self._select(self.theme_combo, str(s.get(Key.THEME) or "system"))
        self._select(self.generation_combo, str(s.get(Key.GENERATION_BACKEND) or "auto"))
        self.models_dir_edit.setText(str(s.get(Key.MODELS_DIR) or ""))
        for task, picker in self.model_pickers.items():
            picker.set_model(s.get_model(task))
        self.token_edit.setText(str(s.get(Key.HUB_TOKEN) or ""))
        self.offline_check.setChecked(bool(s.get(Key.OFFLINE)))
        self.trust_check.setChecked(bool(s.get(Key.TRUST_REMOTE_CODE)))
        self.trust_warning.setVisible(self.trust_check.isChecked())

    @staticmethod
    def _select(combo: QComboBox, value: str) -> None:
        index = combo.findData(value)
        combo.setCurrentIndex(index if index >= 0 else 0)

    def values(self) -> dict:
        return {
            "device": self.device_combo.currentData(),
            "theme": self.theme_combo.currentData(),
            "generation_backend": self.generation_combo.currentData(),
            "models_dir": self.models_dir_edit.text().strip(),
            "token": self.token_edit.text().strip(),
            "offline": self.offline_check.isChecked(),
            "trust_remote_code": self.trust_check.isChecked(),
            "models": {task: picker.model_id() for task, picker in self.model_pickers.items()},
        }

    def apply(self) -> None:
        v = self.values()
        s = self.settings
        old_device = str(s.get(Key.DEVICE) or "auto")
        s.set(Key.DEVICE, v["device"])
        s.set(Key.THEME, v["theme"])
        s.set(Key.GENERATION_BACKEND, v["generation_backend"])
        s.set(Key.MODELS_DIR, v["models_dir"])
        s.set(Key.HUB_TOKEN, v["token"])
        s.set(Key.OFFLINE, v["offline"])
        s.set(Key.TRUST_REMOTE_CODE, v["trust_remote_code"])
        for task, model_id in v["models"].items():
            if model_id or s.get_model(task):
                s.set_model(task, model_id)
        s.sync()
        apply_environment(s)
        devices.set_preference(v["device"])
        window = self.window_
        store = getattr(getattr(window, "ctx", None), "store", None)
        if store is not None:  # every picker follows its task's new default; a new models folder is rescanned
            store.defaults_changed.emit()
            store.refresh()
        if window is not None:
            if hasattr(window, "set_theme"):
                window.set_theme(v["theme"])
            if v["device"] != old_device and hasattr(window, "refresh_device"):
                window.refresh_device()
        self.applied.emit()

    def accept(self) -> None:
        self.apply()
        super().accept()


def show_settings(window) -> SettingsDialog:
    dialog = SettingsDialog(window.settings, window)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog
