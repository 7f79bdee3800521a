"""All persistent settings behind one class with enum keys (QSettings underneath).

Tests hand in a throw-away store (`Settings.in_file(tmp_path / "s.ini")`); with no store,
`PLAYGROUND_HOME` moves the settings to `$PLAYGROUND_HOME/config/settings.ini`.
"""

from __future__ import annotations

import enum
import json
import os
import sys
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
    GENERATION_BACKEND = ("models/generation_backend", "auto")  # auto | transformers | ctranslate2
    LOCAL_MODEL_FOLDERS = ("models/local_folders", "")  # JSON list of folders added in the model manager
    SPEECH_REALTIME_FACTORS = ("speech/realtime_factors", "")  # JSON {model id: real-time factor measured here}

    @property
    def path(self) -> str:
        return self.value[0]

    @property
    def default(self):
        return self.value[1]


class Settings:
    def __init__(self, store: QSettings | None = None):
        if store is None:
            store = self._default_store()
        self._store = store

    @staticmethod
    def _default_store() -> QSettings:
        """`$PLAYGROUND_HOME/config/settings.ini` when PLAYGROUND_HOME is set, else the native user store."""
        from playground.core import paths

        path = paths.settings_file()
        if path is not None:
            return QSettings(str(path), QSettings.Format.IniFormat)
        return QSettings(ORG_NAME, APP_NAME)

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

    def local_model_folders(self) -> list[str]:
        try:
            value = json.loads(str(self.get(Key.LOCAL_MODEL_FOLDERS) or "[]"))
        except ValueError:
            return []
        return [str(v) for v in value] if isinstance(value, list) else []

    def set_local_model_folders(self, folders: list[str]) -> None:
        self.set(Key.LOCAL_MODEL_FOLDERS, json.dumps(list(dict.fromkeys(str(f) for f in folders))))

    def sync(self) -> None:
        self._store.sync()

    @property
    def file_name(self) -> str:
        return self._store.fileName()


# -- settings that act through the process environment ---------------------------

_ENV_KEYS = ("PLAYGROUND_MODELS_DIR", "HF_TOKEN", "HF_HUB_OFFLINE")
_original_env: dict[str, str | None] = {}


def _set_env(name: str, value: str | None) -> None:
    """Set `name` to `value`, or back to what it was when the app started when `value` is None."""
    if name not in _original_env:
        _original_env[name] = os.environ.get(name)
    if value is None:
        value = _original_env[name]
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def apply_environment(settings: Settings) -> None:
    """Export the models folder, Hub token and offline mode to this process (and libraries it loaded).

    A setting left empty/off keeps what the environment had at start-up, so
    `HF_HUB_OFFLINE=1 playground` stays offline.
    """
    from playground import logsetup

    models_dir = str(settings.get(Key.MODELS_DIR) or "").strip()
    _set_env("PLAYGROUND_MODELS_DIR", models_dir or None)
    token = str(settings.get(Key.HUB_TOKEN) or "").strip()
    logsetup.add_secret(token)
    _set_env("HF_TOKEN", token or None)
    offline = bool(settings.get(Key.OFFLINE))
    _set_env("HF_HUB_OFFLINE", "1" if offline else None)
    # huggingface_hub reads HF_HUB_OFFLINE once, at import: update it if it is already loaded.
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        value = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
        constants.HF_HUB_OFFLINE = value
