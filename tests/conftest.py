"""Shared fixtures: every test gets a throw-away home, settings store and (for GUI) a window."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never download
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch):
    """User data, models, caches and logs go to a temp folder."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("PLAYGROUND_HOME", str(home))
    monkeypatch.delenv("PLAYGROUND_MODELS_DIR", raising=False)
    return home


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
