"""QApplication set-up and the main window.

Start-up stays fast: the first paint imports neither torch nor numpy nor
pyqtgraph. Each tab's content is built when the tab is first shown, and the
device report is computed on the worker after the first paint.
"""

from __future__ import annotations

import importlib
import logging
import os
import platform
import sys
import time
from pathlib import Path

from PySide6.QtCore import QByteArray, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QGuiApplication, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QApplication, QFileDialog, QMainWindow, QMessageBox,
    QStackedLayout, QTabWidget, QWidget,
)

from playground import APP_NAME, ORG_NAME, __version__
from playground.core import devices
from playground.core.jobs import Job
from playground.settings import Key, Settings, apply_environment
from playground.ui.context import AppContext
from playground.worker import JobHandle, Lanes, join_orphans

TABS = (("Text", "text_tab"), ("Image", "image_tab"), ("Speech", "speech_tab"), ("Train", "train_tab"))
THEMES = ("system", "light", "dark")
SPEECH_TAB = 2
# The bundled chat model is prepared this long after the first paint, on a lane of its own, so the
# first Generate does not wait for its first-use conversion; PLAYGROUND_PREPARE_BUNDLED=0 turns it off.
PREPARE_DELAY_MS = 1500
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
DEVICE_LABEL_WIDTH = 300  # px at most: the status message and the running jobs share the rest

log = logging.getLogger(__name__)


def assets_dir() -> Path:
    """The app's assets: beside the package in a checkout, or inside the PyInstaller bundle."""
    frozen = getattr(sys, "_MEIPASS", None)
    candidates = [Path(frozen) / "assets"] if frozen else []
    candidates.append(Path(__file__).resolve().parent.parent / "assets")
    for c in candidates:
        if c.is_dir():
            return c
    return candidates[-1]


def app_icon() -> QIcon:
    """The window icon in every size (crisp on high-DPI screens); empty if the assets are missing."""
    icon = QIcon()
    folder = assets_dir() / "icons"
    for size in ICON_SIZES:
        png = folder / f"model-playground-{size}.png"
        if png.is_file():
            icon.addFile(str(png))
    svg = folder / "model-playground.svg"
    if svg.is_file():
        icon.addFile(str(svg))
    return icon


def default_size(screen) -> QSize:
    """A first window of 1100 x 750, made smaller to fit a smaller screen (a 1024 x 768 laptop)."""
    size = QSize(1100, 750)
    if screen is not None:
        room = screen.availableGeometry().size()
        size = size.boundedTo(QSize(int(room.width() * 0.95), int(room.height() * 0.95)))
    return size


class LazyTab(QWidget):
    """Holds a tab's real content, built on first show from `playground.ui.<module>.build(ctx)`."""

    def __init__(self, module: str, ctx: AppContext):
        super().__init__()
        self.module = module
        self._ctx = ctx
        self.content: QWidget | None = None
        self._stack = QStackedLayout(self)

    def ensure_built(self) -> QWidget:
        if self.content is None:
            mod = importlib.import_module(f"playground.ui.{self.module}")
            self.content = mod.build(self._ctx)
            self._stack.addWidget(self.content)
            self._stack.setCurrentWidget(self.content)
        return self.content


class MainWindow(QMainWindow):
    first_painted = Signal()

    def __init__(self, settings: Settings | None = None, lanes: Lanes | None = None):
        super().__init__()
        self.settings = settings or Settings()
        # One lane per tab, plus training, live speech, model listings and the app's own jobs:
        # a tab never waits behind another tab's job or a training run (playground.worker.Lanes).
        self.lanes = lanes or Lanes(self)
        self.worker = self.lanes  # the name older callers use
        self.ctx = AppContext(self.lanes, self.settings, self)
        self.store = self.ctx.store
        self.device_report: devices.Report | None = None
        self._painted = False
        self._handles: set[JobHandle] = set()
        devices.set_preference(str(self.settings.get(Key.DEVICE)))

        self.setWindowTitle(APP_NAME)
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)  # drop anywhere: routed by type (playground.ui.drop_router)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.setObjectName("mainTabs")
        for title, module in TABS:
            page = LazyTab(module, self.ctx)
            page.setAccessibleName(f"{title} tab")
            self.tabs.addTab(page, title)
        self.setCentralWidget(self.tabs)
        self._build_status_bar()
        self._build_menus()
        self._restore()
        self.tabs.currentChanged.connect(self._on_tab_changed)
        self.lanes.job_started.connect(self._on_job_started)
        self.lanes.job_finished.connect(self._on_job_finished)

    # -- construction ---------------------------------------------------------
    def _build_status_bar(self) -> None:
        from playground.ui.widgets.job_status import JobsStatus
        from playground.ui.widgets.status_bar import ElidedLabel, StatusBar

        self.setStatusBar(StatusBar())  # messages elided to their room, the full text in a tooltip and the log
        bar = self.statusBar()
        # A GPU's long name is elided (whole in the tooltip) rather than taking the message's room.
        self.device_label = ElidedLabel("Device: detecting...")
        self.device_label.setObjectName("deviceLabel")
        self.device_label.setMaximumWidth(DEVICE_LABEL_WIDTH)
        self.jobs_status = JobsStatus()  # one row per running job: its progress and its own Cancel
        bar.addPermanentWidget(self.jobs_status)
        bar.addPermanentWidget(self.device_label)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.open_action = QAction("&Open...", self, shortcut=QKeySequence.StandardKey.Open, triggered=self.open_dialog)
        file_menu.addAction(self.open_action)
        file_menu.addSeparator()
        self.settings_action = QAction("&Settings...", self, shortcut=QKeySequence("Ctrl+,"),
                                       triggered=self.show_settings)
        self.settings_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        file_menu.addAction(self.settings_action)
        file_menu.addSeparator()
        file_menu.addAction(QAction("&Quit", self, shortcut=QKeySequence.StandardKey.Quit, triggered=self.close))

        view_menu = self.menuBar().addMenu("&View")
        theme_menu = view_menu.addMenu("&Theme")
        group = QActionGroup(self)
        group.setExclusive(True)
        self.theme_actions: dict[str, QAction] = {}
        for name in THEMES:
            action = QAction(name.capitalize(), self, checkable=True)
            action.triggered.connect(lambda checked=False, n=name: self.set_theme(n))
            group.addAction(action)
            theme_menu.addAction(action)
            self.theme_actions[name] = action
        view_menu.addSeparator()
        for i, (title, _) in enumerate(TABS):
            action = QAction(f"{title} tab", self, shortcut=QKeySequence(f"Ctrl+{i + 1}"))
            action.triggered.connect(lambda checked=False, idx=i: self.tabs.setCurrentIndex(idx))
            view_menu.addAction(action)

        self.cancel_action = QAction("Cancel this tab's job", self, shortcut=QKeySequence(Qt.Key.Key_Escape),
                                     triggered=self.cancel_current_tab)
        self.addAction(self.cancel_action)

        run_menu = self.menuBar().addMenu("&Run")
        self.run_action = QAction("&Run", self, triggered=self.run_current)
        self.run_action.setShortcuts([QKeySequence("Ctrl+Return"), QKeySequence("Ctrl+Enter")])
        self.run_action.setToolTip("Run the current tab (Ctrl+Enter)")
        self.record_action = QAction("&Record / stop", self, shortcut=QKeySequence("Ctrl+R"),
                                     triggered=self.toggle_record)
        self.record_action.setToolTip("Start or stop recording in the Speech tab (Ctrl+R)")
        run_menu.addAction(self.run_action)
        run_menu.addAction(self.record_action)
        run_menu.addAction(self.cancel_action)

        tools_menu = self.menuBar().addMenu("&Tools")
        self.model_manager_action = QAction("&Model manager...", self, shortcut=QKeySequence("Ctrl+M"),
                                            triggered=self.show_model_manager)
        tools_menu.addAction(self.model_manager_action)
        self.leaderboard_action = QAction("&Compare models on your data...", self,
                                          shortcut=QKeySequence("Ctrl+Shift+L"), triggered=self.show_leaderboard)
        tools_menu.addAction(self.leaderboard_action)

        help_menu = self.menuBar().addMenu("&Help")
        self.show_log_action = QAction("Show &log", self, triggered=self.show_log)
        help_menu.addAction(self.show_log_action)
        help_menu.addSeparator()
        help_menu.addAction(QAction("&About Model Playground", self, triggered=self.show_about))

    def _restore(self) -> None:
        geometry = self.settings.get(Key.GEOMETRY)
        if isinstance(geometry, QByteArray | bytes) and geometry:
            self.restoreGeometry(QByteArray(geometry))
        else:
            self.resize(default_size(self.screen() or QGuiApplication.primaryScreen()))
        index = int(self.settings.get(Key.LAST_TAB) or 0)
        if 0 <= index < self.tabs.count():
            self.tabs.setCurrentIndex(index)
        # The last tab is painted with its content at the first paint; each tab keeps its heavy
        # parts (plots, numpy, audio devices) for just after that paint.
        current = self.tabs.currentWidget()
        if isinstance(current, LazyTab):
            current.ensure_built()
        self.set_theme(str(self.settings.get(Key.THEME)), save=False)

    # -- behaviour ----------------------------------------------------------------
    def paintEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().paintEvent(event)
        if not self._painted:
            self._painted = True
            # The children paint right after this, in the same frame: `first_painted` waits for the whole frame.
            QTimer.singleShot(0, self, self._on_first_frame)

    def _on_first_frame(self) -> None:
        self.first_painted.emit()
        self._after_first_paint()

    def _after_first_paint(self) -> None:
        self._on_tab_changed(self.tabs.currentIndex())
        self.refresh_device()
        self.store.refresh(now=True)
        if os.environ.get("PLAYGROUND_PREPARE_BUNDLED", "1") != "0":
            QTimer.singleShot(PREPARE_DELAY_MS, self, self.prepare_bundled_model)

    def prepare_bundled_model(self) -> JobHandle:
        """Convert the bundled SmolLM2 on first use (and load it when the Text tab is open) in the background."""
        from playground.core import generation

        load = self.tabs.currentIndex() == 0
        from playground.ui.jobs import with_settings

        job = with_settings(Job(generation.prepare_bundled, kwargs={"load": load}, name="prepare SmolLM2"),
                            self.settings)  # the Settings' generation path: the copy that path needs
        handle = self.run_job(job, lane="prepare")
        handle.error.connect(lambda msg: log.warning("preparing the bundled SmolLM2 failed: %s", msg))
        return handle

    def refresh_device(self) -> None:
        handle = self.run_job(Job(devices.report, kwargs={"preference": devices.get_preference()},
                                  name="detect devices"), show=False)
        handle.result.connect(self._on_device_report)
        handle.error.connect(lambda msg: self.device_label.setText(f"Device: {msg}"))

    def _on_device_report(self, rep: devices.Report) -> None:
        self.device_report = rep
        d = rep.chosen
        mem = f", {devices.format_bytes(d.memory_free)} free" if d.type != "cpu" else ""
        text = f"{d.type.upper()}: {d.name} ({d.dtype}{mem})"
        self.device_label.setText(text)
        listed = [f"{x.torch_device}: {x.name}, {devices.format_bytes(x.memory_total)}" for x in rep.devices]
        self.device_label.setToolTip("\n".join([text, *listed]))  # the label may be elided: whole here

    def current_page(self) -> QWidget | None:
        index = self.tabs.currentIndex()
        return self.page(index) if index >= 0 else None

    def page(self, index: int) -> QWidget:
        page = self.tabs.widget(index)
        content = page.ensure_built() if isinstance(page, LazyTab) else page
        if content is not None and content.property("pg_drops_watched") is None:
            # A tab's own drop sites still route files that belong to another tab.
            from playground.ui import drop_router

            content.setProperty("pg_drops_watched", True)
            drop_router.interceptor(self).watch(content, index)
        return content

    def _on_tab_changed(self, index: int) -> None:
        if index >= 0:
            self.page(index)
            self.settings.set(Key.LAST_TAB, index)

    def run_job(self, job: Job, show: bool = True, lane: str = "app") -> JobHandle:
        """Submit a window-level job (tabs use their own `JobRunner`); kept alive until it finishes."""
        handle = self.lanes.submit(job, lane)
        handle.setProperty("show_in_status", show)
        self._handles.add(handle)
        handle.finished.connect(lambda h=handle: self._handles.discard(h))
        return handle

    def lane_of(self, index: int) -> str:
        """The lane of a tab's jobs: its module's name ("text", "image", "speech", "train")."""
        return TABS[index][1].removesuffix("_tab")

    def cancel_current_tab(self) -> None:
        """Esc: cancel the current tab's jobs only (a training run goes on while you try models)."""
        index = self.tabs.currentIndex()
        if index < 0:
            return
        page = self.tabs.widget(index)
        content = page.content if isinstance(page, LazyTab) else page
        cancel = getattr(content, "cancel", None)
        if callable(cancel):
            cancel()
        self.lanes.cancel(self.lane_of(index))

    def _on_job_started(self, handle: JobHandle) -> None:
        if handle.property("show_in_status") is False:
            return
        self.jobs_status.add(handle)

    def _on_job_finished(self, handle: JobHandle) -> None:
        self.jobs_status.remove(handle)
        if handle.error_message and handle.property("show_in_status") is not False:
            self.statusBar().showMessage(f"{handle.name.capitalize()} failed: {handle.error_message}", 8000)

    def open_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Open files")
        if paths:
            self.open_paths(paths)

    def open_paths(self, paths: list[str]) -> None:
        page = self.current_page()
        opener = getattr(page, "open_paths", None)
        if opener is None:
            self.statusBar().showMessage("This tab does not open files yet.", 5000)
            return
        opener(paths)

    # -- drop anywhere ------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:  # noqa: N802 (Qt name)
        from playground.ui.drop_router import paths_from_mime

        if paths_from_mime(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # noqa: N802 (Qt name)
        if event.mimeData() is not None and event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 (Qt name)
        from playground.ui.drop_router import paths_from_mime

        paths = paths_from_mime(event.mimeData())
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.route_paths(paths)

    def route_paths(self, paths: list[str], label: str = "Dropped"):
        """Open files in the tabs that handle their type (drops; mixed drops are split)."""
        from playground.ui import drop_router

        return drop_router.route(self, paths, label=label)

    def open_at_start(self, paths: list[str]):
        """`playground FILE...` (and the .desktop entry's %F): routed like a drop; the files that
        do not exist are named in the status bar. Returns the routing (None if none exist)."""
        from PySide6.QtCore import QUrl

        from playground.ui import drop_router

        # file:// URLs (what some launchers pass) are local files; web addresses are not opened.
        paths = [QUrl(p).toLocalFile() if str(p).startswith("file://") else str(p) for p in paths]
        web = [p for p in paths if p.split("://", 1)[0].lower() in ("http", "https", "ftp")]
        paths = [p for p in paths if p not in web]
        found = [os.path.abspath(p) for p in paths if os.path.exists(p)]
        missing = [str(p) for p in paths if not os.path.exists(p)]
        routing = self.route_paths(found, label="Opened") if found else None
        for target, group in (routing.groups.items() if routing else ()):
            for path in group:
                log.info("Opened from the command line: %s -> %s tab", path, drop_router.TARGET_TITLES[target])
        for path in routing.unknown if routing else ():
            log.info("Not opened from the command line (unknown type): %s", path)
        if missing:
            log.warning("Not found: %s", ", ".join(missing))
            names = drop_router.short_names(missing)
            opened = self.statusBar().currentMessage() if routing else ""
            self.statusBar().showMessage(f"{opened}; not found: {names}." if opened else f"Not found: {names}.",
                                         10000)
        if web:
            log.warning("Web addresses are not opened: %s", ", ".join(web))
            said = self.statusBar().currentMessage() if (routing or missing) else ""
            text = (f"Web addresses are not opened ({', '.join(web)}): download the file, then open or drop it.")
            self.statusBar().showMessage(f"{said.rstrip('.')}; {text[0].lower()}{text[1:]}" if said else text, 10000)
        return routing

    def receive_paths(self, paths: list[str]) -> None:
        """Files from a second `playground FILE...` (or an Open with...): opened here, and the window
        comes to the front."""
        if paths:
            self.open_at_start(paths)
        if self.isMinimized():
            self.showNormal()
        self.raise_()
        self.activateWindow()

    # -- shortcuts, dialogs ------------------------------------------------------------
    def run_current(self) -> None:
        """Ctrl+Enter: the current tab's `run()`."""
        page = self.current_page()
        runner = getattr(page, "run", None)
        if callable(runner):
            runner()
        else:
            self.statusBar().showMessage(f"The {self.tabs.tabText(self.tabs.currentIndex())} tab has nothing to run.",
                                         5000)

    def toggle_record(self) -> None:
        """Ctrl+R: start or stop recording in the Speech tab."""
        self.tabs.setCurrentIndex(SPEECH_TAB)
        toggle = getattr(self.page(SPEECH_TAB), "toggle_record", None)
        if callable(toggle):
            toggle()
        else:
            self.statusBar().showMessage("The Speech tab cannot record yet.", 5000)

    def show_settings(self):
        from playground.ui.settings_dialog import show_settings

        return show_settings(self)

    def show_model_manager(self):
        from playground.ui.model_manager import show_model_manager

        return show_model_manager(self)

    def show_leaderboard(self):
        from playground.ui.leaderboard_dialog import show_leaderboard

        return show_leaderboard(self)

    def show_log(self):
        from playground.ui.crash_dialog import show_log

        return show_log(self)

    def set_theme(self, name: str, save: bool = True) -> None:
        name = name if name in THEMES else "system"
        scheme = {"system": Qt.ColorScheme.Unknown, "light": Qt.ColorScheme.Light, "dark": Qt.ColorScheme.Dark}[name]
        hints = QGuiApplication.styleHints()
        if hasattr(hints, "setColorScheme"):
            hints.setColorScheme(scheme)
        self.theme_actions[name].setChecked(True)
        if save:
            self.settings.set(Key.THEME, name)

    def about_text(self) -> str:
        from importlib import metadata

        from PySide6 import __version__ as pyside_version
        from PySide6.QtCore import qVersion

        def version(dist: str) -> str:
            try:
                return metadata.version(dist)
            except metadata.PackageNotFoundError:
                return "not installed"

        rep = self.device_report
        cuda = (rep.cuda_version or "none (CPU build)") if rep else "checking..."
        device = f"{rep.chosen.name} ({rep.chosen.torch_device}, {rep.chosen.dtype})" if rep else "checking..."
        from playground.core.models import BUNDLED
        from playground.core.packages import module_dir

        def state(b) -> str:
            return "" if module_dir(b.module) is not None else " <b>(not installed)</b>"

        models = "".join(f"<li>{b.display_name}: package <i>{b.package}</i>{state(b)}, licence {b.licence}</li>"
                         for b in BUNDLED)
        return (f"<h3>{APP_NAME} {__version__}</h3>"
                f"<p>Python {platform.python_version()}<br>Qt {qVersion()} (PySide6 {pyside_version})<br>"
                f"torch {version('torch')}, CUDA {cuda}<br>transformers {version('transformers')}<br>"
                f"Device: {device}</p><p>Bundled offline models:</p><ul>{models}</ul>")

    def show_about(self) -> None:
        QMessageBox.about(self, f"About {APP_NAME}", self.about_text())

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        self.settings.set(Key.GEOMETRY, self.saveGeometry())
        self.settings.set(Key.LAST_TAB, self.tabs.currentIndex())
        self.settings.sync()
        for i in range(self.tabs.count()):
            page = self.tabs.widget(i)
            content = page.content if isinstance(page, LazyTab) else page
            closer = getattr(content, "shutdown", None)
            if callable(closer):
                closer()
        self.lanes.shutdown(timeout=5.0)
        super().closeEvent(event)


def create_app(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance()
    if app is None:
        from playground.ui.platform_check import PlatformGuard

        with PlatformGuard():  # a display Qt cannot open: one sentence and the apt command, not Qt's abort
            app = QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(ORG_NAME)
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("model-playground")
    if app.windowIcon().isNull():
        app.setWindowIcon(app_icon())
    return app


def run_app(args=None) -> int:
    from playground import logsetup
    from playground.ui import crash_dialog

    debug = bool(args is not None and getattr(args, "debug", False))
    # Records are buffered until just after the first paint, then written to the log file.
    logsetup.start_buffering(logging.DEBUG if debug else logging.INFO, console=debug)
    app = create_app()
    settings = Settings()
    apply_environment(settings)  # models folder, Hub token, offline mode
    if args is not None and getattr(args, "device", None):
        settings.set(Key.DEVICE, args.device)
    files = list(getattr(args, "files", None) or [])
    quit_after_show = bool(args is not None and getattr(args, "quit_after_show", False))
    instance = None
    if not quit_after_show:  # (a start-up check or test opens its own window and closes it)
        from playground.ui import single_instance

        if single_instance.hand_off(files):
            print(f"{APP_NAME} is already open: {'its window opens the files' if files else 'its window comes to the front'}.")
            return 0
        instance = single_instance.InstanceServer(parent=app)
    log.info("%s %s starting (Python %s, Qt platform %s)", APP_NAME, __version__, platform.python_version(),
             app.platformName())
    window = MainWindow(settings)
    if instance is not None:
        instance.paths_received.connect(window.receive_paths)
        window.first_painted.connect(instance.listen)
    window.crash_handler = crash_dialog.install(window)
    window.first_painted.connect(lambda: QTimer.singleShot(0, logsetup.setup_logging))
    if files:  # after the first paint (the start stays fast), before a --quit-after-show close
        window.first_painted.connect(lambda: QTimer.singleShot(0, lambda: window.open_at_start(files)))
    if quit_after_show:
        def painted() -> None:
            if os.environ.get("PLAYGROUND_STARTUP_STAMP"):
                print(f"first-paint {time.time():.6f}", flush=True)
                # What the first frame showed and cost (tests/gui/test_startup_any_tab.py reads this line).
                page = window.tabs.currentWidget()
                content = type(getattr(page, "content", None)).__name__
                heavy = ",".join(m for m in ("numpy", "pyqtgraph", "torch") if m in sys.modules)
                print(f"first-paint-state tab={window.tabs.currentIndex()} content={content} heavy={heavy}",
                      flush=True)
            QTimer.singleShot(0, window.close)
            QTimer.singleShot(0, app.quit)
        window.first_painted.connect(painted)
    window.show()
    code = app.exec()
    if instance is not None:
        instance.close()
    if not logsetup.is_ready():  # closed before the first paint: keep the buffered records
        logsetup.setup_logging()
    log.info("%s exits with code %s", APP_NAME, code)
    join_orphans()
    return code
