"""Where the app keeps user data, fine-tuned models, caches and logs.

`PLAYGROUND_HOME` moves everything under one folder (tests use a temp dir).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path


@functools.cache
def _dirs():
    # Imported on first use: platformdirs costs tens of ms at start-up.
    from platformdirs import PlatformDirs

    return PlatformDirs("model-playground", "ModelPlayground")


def _home() -> Path | None:
    value = os.environ.get("PLAYGROUND_HOME")
    return Path(value) if value else None


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    home = _home()
    return _ensure(home / "data" if home else Path(_dirs().user_data_dir))


def models_dir() -> Path:
    """Fine-tuned models and cached conversions the user owns."""
    override = os.environ.get("PLAYGROUND_MODELS_DIR")
    if override:
        return _ensure(Path(override))
    return _ensure(data_dir() / "models")


def settings_file() -> Path | None:
    """The settings INI file under `PLAYGROUND_HOME`, or None to use the platform's native settings store."""
    home = _home()
    return _ensure(home / "config") / "settings.ini" if home else None


def cache_dir() -> Path:
    home = _home()
    return _ensure(home / "cache" if home else Path(_dirs().user_cache_dir))


def log_dir() -> Path:
    home = _home()
    return _ensure(home / "logs" if home else Path(_dirs().user_log_dir))
