"""Text tab: a task list on the left and one panel per task on the right.

Panels are discovered from `playground/ui/text_panels/` (modules with TITLE,
ORDER and build(ctx)); each is imported and built the first time it is chosen
(the list reads TITLE and ORDER from the sources: importing eleven panels cost the
first paint about 25 ms). A panel that fails to import or build shows its error in
its place; the others still work.
Ctrl+Enter (the main window's Run action, which calls `run()`) runs the current panel's `run()`.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import re
import traceback
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSplitter,
    QStackedWidget,
    QStyle,
    QVBoxLayout,
    QWidget,
)

log = logging.getLogger(__name__)


@dataclass
class PanelSpec:
    module: str
    title: str
    order: float

    @property
    def qualified(self) -> str:
        return f"playground.ui.text_panels.{self.module}"


_CONSTANT = r"^{name}\s*=\s*(?:'([^'\n]*)'|\"([^\"\n]*)\"|([0-9.]+))"


def _constant(source: str, name: str) -> str | None:
    m = re.search(_CONSTANT.format(name=name), source, flags=re.M)
    return next((g for g in m.groups() if g is not None), None) if m else None


def discover_panels() -> list[PanelSpec]:
    """The panels, in ORDER, from their sources' TITLE and ORDER lines (nothing is imported)."""
    import playground.ui.text_panels as pkg

    specs = []
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name.startswith("_"):
            continue
        source_file = Path(getattr(info.module_finder, "path", "")) / f"{info.name}.py"
        try:
            source = source_file.read_text(encoding="utf-8")
        except OSError:  # a compiled-only module (a frozen build): ask the module itself
            source = ""
        title, order = _constant(source, "TITLE"), _constant(source, "ORDER")
        if title is None or order is None:
            try:
                mod = importlib.import_module(f"playground.ui.text_panels.{info.name}")
                title, order = getattr(mod, "TITLE", title), getattr(mod, "ORDER", order)
            except Exception:  # shown when the panel is chosen
                pass
        specs.append(PanelSpec(info.name, str(title or info.name.replace("_", " ").title()),
                               float(order if order is not None else 1000)))
    return sorted(specs, key=lambda s: (s.order, s.title))


def _error_widget(title: str, message: str) -> QWidget:
    label = QLabel(f"The {title} panel could not be loaded:\n\n{message}")
    label.setObjectName("panelError")
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
    label.setStyleSheet("color: #c0392b; padding: 12px")
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class TaskList(QListWidget):
    """The task list: as wide as its longest title (with room for a vertical scroll bar), never scrolled sideways."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

    def needed_width(self) -> int:
        style = self.style()
        fm = self.fontMetrics()
        text = max((fm.horizontalAdvance(self.item(r).text()) for r in range(self.count())), default=0)
        # The item's own margins, as the delegate (and any style sheet) lays it out.
        item = max(text + 2 * (style.pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, self) + 1),
                   self.sizeHintForColumn(0) if self.count() else 0)
        scroll_bar = style.pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent, None, self)
        return item + 2 * self.spacing() + 2 * self.frameWidth() + scroll_bar

    def fit_width(self) -> None:
        self.setFixedWidth(self.needed_width())

    def changeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self.fit_width()


class TextTab(QWidget):
    def __init__(self, ctx, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        self.specs = discover_panels()
        self.panels: dict[str, QWidget] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        split = QSplitter(Qt.Orientation.Horizontal)
        self.tasks = TaskList()
        self.tasks.setObjectName("textTasks")
        self.tasks.setAccessibleName("Text tasks")
        self.stack = QStackedWidget()
        for spec in self.specs:
            item = QListWidgetItem(spec.title)
            item.setData(Qt.ItemDataRole.UserRole, spec.module)
            self.tasks.addItem(item)
            holder = QWidget()
            QVBoxLayout(holder).setContentsMargins(0, 0, 0, 0)
            self.stack.addWidget(holder)
        self.tasks.fit_width()
        split.addWidget(self.tasks)
        split.addWidget(self.stack)
        split.setStretchFactor(1, 1)
        split.setSizes([self.tasks.width(), 900])
        layout.addWidget(split)
        self.tasks.currentRowChanged.connect(self._show)
        # The main window's Run action (Ctrl+Enter) calls self.run(); on its own the tab binds the keys.
        if not callable(getattr(getattr(ctx, "window", None), "run_current", None)):
            for keys in ("Ctrl+Return", "Ctrl+Enter"):
                shortcut = QShortcut(QKeySequence(keys), self)
                shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
                shortcut.activated.connect(self.run_current)
        if self.specs:
            self.tasks.setCurrentRow(0)

    def titles(self) -> list[str]:
        return [s.title for s in self.specs]

    def _show(self, row: int) -> None:
        if row < 0:
            return
        self.panel_at(row)
        self.stack.setCurrentIndex(row)

    def panel_at(self, row: int) -> QWidget:
        spec = self.specs[row]
        if spec.module not in self.panels:
            try:
                widget = importlib.import_module(spec.qualified).build(self.ctx)
            except Exception as exc:  # a broken panel must not break the tab
                log.error("text panel %s failed to load:\n%s", spec.module, traceback.format_exc())
                widget = _error_widget(spec.title, f"{type(exc).__name__}: {exc}")
            self.panels[spec.module] = widget
            self.stack.widget(row).layout().addWidget(widget)
        return self.panels[spec.module]

    def select(self, title_or_module: str) -> QWidget:
        """Show a panel by its title or module name (also for tests and scripts)."""
        for row, spec in enumerate(self.specs):
            if title_or_module in (spec.title, spec.module):
                self.tasks.setCurrentRow(row)
                return self.panel_at(row)
        raise KeyError(title_or_module)

    def current_panel(self) -> QWidget | None:
        row = self.tasks.currentRow()
        return self.panel_at(row) if row >= 0 else None

    def run_current(self) -> None:
        panel = self.current_panel()
        runner = getattr(panel, "run", None)
        if callable(runner):
            runner()

    run = run_current  # what the main window's Ctrl+Enter calls

    def open_paths(self, paths: list[str]) -> None:
        panel = self.current_panel()
        opener = getattr(panel, "open_paths", None)
        if callable(opener):
            opener(paths)
        else:
            self.ctx.show_status("This text task does not open files.")

    def shutdown(self) -> None:
        for panel in self.panels.values():
            closer = getattr(panel, "shutdown", None)
            if callable(closer):
                try:
                    closer()
                except Exception:
                    log.exception("text panel shutdown failed")


def build(ctx) -> QWidget:
    return TextTab(ctx)
