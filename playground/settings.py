"""All persistent settings behind one class with enum keys (QSettings underneath).

Tests hand in a throw-away store (`Settings.in_file(tmp_path / "s.ini")`).
"""

from __future__ import annotations

import enum
from pathlib import Path

from PySide6.QtCore import QSettings

from playground import APP_NAME, ORG_NAME


class Key(enum.Enum):
    DEVICE = ("device", "auto")
    THEME = ("view/theme", "system")
    GEOMETRY = ("window/geometry", None)
    WINDOW_STATE = ("window/state", None)
    LAST_TAB = ("window/last_tab", 0)
    MODELS_DIR = ("paths/models_dir", "")
    HUB_TOKEN = ("hub/token", "")
    OFFLINE = ("hub/offline", False)
    TRUST_REMOTE_CODE = ("models/trust_remote_code", False)

    @property
    def path(self) -> str:
        return self.value[0]

    @property
    def default(self):
        return self.value[1]


class Settings:
    def __init__(self, store: QSettings | None = None):
        self._store = store or QSettings(ORG_NAME, APP_NAME)

    @classmethod
    def in_file(cls, path: str | Path) -> Settings:
        return cls(QSettings(str(path), QSettings.Format.IniFormat))

    def get(self, key: Key, default=None):
        fallback = key.default if default is None else default
        value = self._store.value(key.path, fallback)
        # INI stores everything as text: coerce back to the default's type.
        if isinstance(fallback, bool) and isinstance(value, str):
            return value.lower() in ("1", "true", "yes")
        if isinstance(fallback, int) and not isinstance(fallback, bool) and isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                return fallback
        return value

    def set(self, key: Key, value) -> None:
        self._store.setValue(key.path, value)

    def get_model(self, task: str) -> str:
        return str(self._store.value(f"models/default/{task}", "") or "")

    def set_model(self, task: str, model_id: str) -> None:
        self._store.setValue(f"models/default/{task}", model_id)

    def sync(self) -> None:
        self._store.sync()

    @property
    def file_name(self) -> str:
        return self._store.fileName()
