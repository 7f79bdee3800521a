"""Shared fixtures: every test gets a throw-away home, user config, settings store and (for GUI) a window."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never download
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("PLAYGROUND_PREPARE_BUNDLED", "0")  # no first-use conversion behind every test window

import pytest  # noqa: E402


@pytest.fixture(autouse=True, scope="session")
def isolated_user_config(tmp_path_factory):
    """Nothing in the test session (nor a subprocess it starts) writes to the real ~/.config.

    XDG_CONFIG_HOME is inherited by subprocesses; QSettings' user-scope paths cover
    a native store created in this process after Qt read its defaults.
    """
    from PySide6.QtCore import QSettings

    config = tmp_path_factory.mktemp("xdg-config")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CONFIG_HOME", str(config))
        for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
            QSettings.setPath(fmt, QSettings.Scope.UserScope, str(config))
        yield config


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch):
    """User data, models, caches and logs go to a temp folder."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("PLAYGROUND_HOME", str(home))
    monkeypatch.delenv("PLAYGROUND_MODELS_DIR", raising=False)
    return home


@pytest.fixture(autouse=True)
def device_preference():
    """`playground --device cpu` in one test sets the process's device choice: the next test starts on auto."""
    from playground.core import devices

    before = devices.get_preference()
    yield
    devices.set_preference(before)


@pytest.fixture
def settings(tmp_path):
    from playground.settings import Settings

    return Settings.in_file(tmp_path / "settings.ini")


@pytest.fixture
def worker(qtbot):
    from playground.worker import Worker

    w = Worker()
    yield w
    assert w.shutdown(timeout=5.0)


@pytest.fixture
def main_window(qtbot, settings):
    import torch  # noqa: F401 - imported once here, so no window's teardown waits for the worker's device import

    from playground.app import MainWindow

    window = MainWindow(settings)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    yield window
    window.close()
