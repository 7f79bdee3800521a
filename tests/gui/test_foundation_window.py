"""The main window and start-up discipline (the import contracts: tests/unit/test_import_contracts.py)."""

from __future__ import annotations

import os
import subprocess
import sys

from PySide6.QtCore import QSize
from PySide6.QtWidgets import QTabWidget

from playground.settings import Key


def test_window_has_four_tabs_status_bar_and_menus(main_window, qtbot):
    tabs = main_window.findChild(QTabWidget, "mainTabs")
    assert [tabs.tabText(i) for i in range(tabs.count())] == ["Text", "Image", "Speech", "Train"]
    menus = [a.text().replace("&", "") for a in main_window.menuBar().actions()]
    assert menus[0] == "File" and "View" in menus and menus[-1] == "Help"
    # the device report arrives from the worker
    qtbot.waitUntil(lambda: main_window.device_report is not None, timeout=120000)
    assert main_window.device_label.text().startswith(("CPU:", "CUDA:", "MPS:"))
    about = main_window.about_text()
    assert "Python" in about and "Qt" in about and "torch" in about and "CUDA" in about


def test_every_tab_builds_when_shown(main_window, qtbot):
    for i in range(main_window.tabs.count()):
        main_window.tabs.setCurrentIndex(i)
        qtbot.waitUntil(lambda: main_window.tabs.widget(i).content is not None, timeout=30000)


def test_shortcuts_switch_tabs(main_window, qtbot):
    from PySide6.QtCore import Qt

    qtbot.keyClick(main_window, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    assert main_window.tabs.currentIndex() == 2


def test_geometry_tab_theme_and_device_persist(qtbot, settings):
    from playground.app import MainWindow

    settings.set(Key.DEVICE, "cpu")
    # The last tab's content is in the window from the start, so its minimum size holds at once: start
    # on the Train tab, the one whose minimum fits the offscreen screen (800 x 800; the others are wider).
    settings.set(Key.LAST_TAB, 3)
    first = MainWindow(settings)
    qtbot.addWidget(first)
    first.show()
    first.resize(700, 500)  # within the offscreen screen (800 x 800): a restored window is fitted to its screen
    size = first.size()  # no smaller than the tab's minimum
    assert size != QSize(1100, 750)
    settings.set(Key.LAST_TAB, 0)  # closing writes the current tab back
    first.set_theme("dark")
    first.close()
    second = MainWindow(settings)
    qtbot.addWidget(second)
    assert second.tabs.currentIndex() == 3
    assert second.size() == size
    assert second.theme_actions["dark"].isChecked()
    assert settings.get(Key.DEVICE) == "cpu"
    second.close()


def test_close_cancels_the_running_job_and_joins(main_window, qtbot):
    import threading
    import time

    from playground.core.jobs import Job

    started = threading.Event()

    def endless(ctx):
        started.set()
        while True:
            ctx.check_cancelled()
            time.sleep(0.01)

    main_window.run_job(Job(endless, name="endless"))
    qtbot.waitUntil(started.is_set, timeout=30000)
    qtbot.waitUntil(lambda: main_window.jobs_status.isVisibleTo(main_window), timeout=5000)
    t0 = time.perf_counter()
    main_window.close()
    assert time.perf_counter() - t0 < 5
    assert not main_window.worker.is_running()


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))


def test_importing_the_app_leaves_torch_unimported():
    out = _python("import sys, playground.app, playground.cli\n"
                  "heavy = [m for m in ('torch', 'transformers', 'numpy', 'pyqtgraph') if m in sys.modules]\n"
                  "print(','.join(heavy))")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


def test_quit_after_show_paints_and_exits_zero(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PLAYGROUND_HOME=str(tmp_path), PLAYGROUND_STARTUP_STAMP="1")
    out = subprocess.run([sys.executable, "-m", "playground", "--quit-after-show"], capture_output=True,
                         text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("first-paint ")


def test_a_first_window_fits_a_small_screen(qtbot, settings):
    from PySide6.QtCore import QRect

    from playground.app import MainWindow, default_size

    class Screen:
        def __init__(self, w, h):
            self.rect = QRect(0, 0, w, h)

        def availableGeometry(self):  # noqa: N802 (Qt's name)
            return self.rect

    assert default_size(Screen(1920, 1080)) == QSize(1100, 750)
    assert default_size(Screen(1024, 768)) == QSize(972, 729)
    assert default_size(None) == QSize(1100, 750)
    window = MainWindow(settings)  # no saved geometry: the default size, fitted to the offscreen screen
    qtbot.addWidget(window)
    room = window.screen().availableGeometry()
    assert window.width() <= room.width() and window.height() <= room.height()
    window.close()
