"""PLAYGROUND_HOME moves the Qt settings too: nothing lands in the user's real settings file."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path


def _run(code: str, tmp_path: Path) -> tuple[subprocess.CompletedProcess, Path, Path]:
    home = tmp_path / "playground-home"
    real_home = tmp_path / "real-home"
    real_home.mkdir()
    env = dict(os.environ, PLAYGROUND_HOME=str(home), HOME=str(real_home),
               XDG_CONFIG_HOME=str(real_home / ".config"), QT_QPA_PLATFORM="offscreen")
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True,
                         text=True, timeout=240)
    return out, home, real_home


def _assert_nothing_in_real_home(real_home: Path) -> None:
    config = real_home / ".config"
    assert not config.exists() or not any(config.rglob("*")), sorted(config.rglob("*"))
    ours = [p for p in real_home.rglob("*") if "playground" in p.name.lower()]
    assert ours == []


def test_settings_without_a_store_live_under_playground_home(tmp_path):
    out, home, real_home = _run("""
        from playground.settings import Key, Settings
        s = Settings()
        s.set(Key.LAST_TAB, 3)
        s.sync()
        print(s.file_name)
    """, tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    ini = home / "config" / "settings.ini"
    assert Path(out.stdout.strip()) == ini
    assert "last_tab=3" in ini.read_text(encoding="utf-8")
    _assert_nothing_in_real_home(real_home)


def test_main_window_without_settings_saves_under_playground_home(tmp_path):
    out, home, real_home = _run("""
        from PySide6.QtCore import QTimer
        from playground.app import MainWindow, create_app
        app = create_app()
        window = MainWindow()
        window.show()
        QTimer.singleShot(0, window.close)
        QTimer.singleShot(0, app.quit)
        app.exec()
        print(window.settings.file_name)
    """, tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    ini = home / "config" / "settings.ini"
    assert Path(out.stdout.strip().splitlines()[-1]) == ini
    text = ini.read_text(encoding="utf-8")
    assert "geometry=" in text and "last_tab=" in text
    _assert_nothing_in_real_home(real_home)
