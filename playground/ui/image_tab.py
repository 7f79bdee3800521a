"""Image tab: drop, paste or open images and folders; top-k bars, Grad-CAM, batch table.

Modes: Classify (here) | Objects | Faces (`playground.ui.image_detect_panel`, loaded
lazily). The thumbnail strip is shared by all modes. `ImageTab` is the view: the
results, jobs, re-runs and Grad-CAM requests live in `ImageController`
(`playground.ui.image_controller`, no widgets), whose signals it renders. Screen
previews are decoded on a small thread pool so clicking a thumbnail never waits
for a running batch.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, QTimer, Signal
from PySide6.QtGui import QImage, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView, QApplication, QButtonGroup, QCheckBox, QFileDialog, QHBoxLayout, QHeaderView,
    QLabel, QProgressBar, QPushButton, QSlider, QSpinBox, QSplitter, QStackedWidget, QTableWidget,
    QTableWidgetItem, QToolButton, QVBoxLayout, QWidget,
)

from playground.core import paths
from playground.core.errors import PlaygroundError, friendly_message
from playground.core.wording import plural
from playground.ui.image_compare import STOPPED, ClassifierComparison, agreement
from playground.ui.image_controller import IMAGE_TASK, ImageController
from playground.ui.widgets.compare_models import CompareModels
from playground.ui.widgets.image_compare_view import ClassifierCompareView
from playground.ui.widgets.image_bars import ScoreBars
from playground.ui.widgets.image_canvas import ImageCanvas, qimage_from_rgb
from playground.ui.widgets.image_thumbs import ThumbStrip
from playground.ui.widgets.deferred import lazy_module
from playground.ui.widgets.model_picker import ModelPicker

# The engine's image module (and hashlib, urllib) is read on the first image, not before the first paint.
image = lazy_module("playground.core.image")

log = logging.getLogger(__name__)

MODES = (("classify", "Classify"), ("objects", "Objects"), ("faces", "Faces"))
PREVIEW_SIDE = 1024
ROLE_INDEX = Qt.ItemDataRole.UserRole + 1
NOT_CLASSIFIED = "Not classified"  # opened in Objects or Faces mode, or its model failed


class _PreviewSignals(QObject):
    done = Signal(int, str, object)  # token, source, PreviewImage or error text


class _PreviewTask(QRunnable):
    """Decode a screen-sized copy off the UI thread (PIL only, no model)."""

    def __init__(self, token: int, source: str, signals: _PreviewSignals):
        super().__init__()
        self.token, self.source, self.signals = token, source, signals

    def run(self) -> None:
        try:
            value: object = image.preview(None, self.source, PREVIEW_SIDE)
        except PlaygroundError as exc:
            value = str(exc)
        except Exception as exc:  # pragma: no cover - keep the pool alive
            value = friendly_message(exc)
        try:
            self.signals.done.emit(self.token, self.source, value)
        except RuntimeError:  # the tab was closed meanwhile
            pass


class _NumberItem(QTableWidgetItem):
    """Sorts by its numeric value (errors, without a score, sort last)."""

    def __lt__(self, other) -> bool:
        a, b = self.data(Qt.ItemDataRole.UserRole), other.data(Qt.ItemDataRole.UserRole)
        return (a if a is not None else -1.0) < (b if b is not None else -1.0)


class ImageTab(QWidget):
    results_changed = Signal()  # rows were added or updated (tests wait on it)
    selection_shown = Signal(int)  # the large view shows item i with its results
    cam_shown = Signal()  # a Grad-CAM overlay is on the large view
    compared = Signal(list)  # a comparison of classifiers ended: each model's ImageResult (None: failed, stopped)
    compare_cam_shown = Signal(int)  # column i's Grad-CAM is on its image
    batch_finished = Signal(object)  # BatchSummary, or None when the job failed

    def __init__(self, ctx):
        super().__init__()
        self.ctx = ctx
        self.mode = "classify"
        self.controller = ImageController(ctx, self)
        c = self.controller
        c.rows_added.connect(self._on_rows_added)
        c.rows_updated.connect(self._on_rows_updated)
        c.started.connect(self._on_started)
        c.progress.connect(self._on_progress)
        c.busy_changed.connect(self._on_busy)
        c.error.connect(self._on_error)
        c.batch_finished.connect(self._on_batch_finished)
        c.cam_ready.connect(self._on_cam)
        c.cam_failed.connect(self._on_cam_error)
        c.cleared.connect(self._on_cleared)
        self.comparison = ClassifierComparison(ctx, self)
        k = self.comparison
        k.begun.connect(self._on_compare_begun)
        k.progress.connect(lambda i, text: self.compare_view.set_progress(i, text))
        k.result.connect(self._on_compare_result)
        k.failed.connect(self._on_compare_failed)
        k.finished.connect(self._on_compare_finished)
        k.busy_changed.connect(lambda _b: self._show_busy())
        k.cam_ready.connect(self._on_compare_cam)
        k.cam_failed.connect(lambda i, msg: self.compare_view.set_cam(
            i, None, msg if msg.startswith("Grad-CAM") else f"Grad-CAM: {msg}"))
        self._preview_token = 0
        self._shown_token = -1
        self._preview: image.PreviewImage | None = None
        self._mode_pages: dict[str, QWidget] = {}
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(2)
        self._preview_signals = _PreviewSignals(self)
        self._preview_signals.done.connect(self._on_preview)
        self._rerun_timer = QTimer(self, singleShot=True, interval=350, timeout=self.reclassify)
        self.setAcceptDrops(True)
        self._build()
        self._sync_choice()
        QShortcut(QKeySequence(QKeySequence.StandardKey.Paste), self, self.paste,
                  context=Qt.ShortcutContext.WidgetWithChildrenShortcut)

    # -- the controller's state, for the app, tests and benchmarks ----------------------
    @property
    def items(self) -> list[image.ImageResult]:
        return self.controller.items

    @property
    def selected(self) -> int:
        return self.controller.selected

    @property
    def last_summary(self) -> image.BatchSummary | None:
        return self.controller.last_summary

    @property
    def last_error(self) -> str:
        return self.controller.last_error

    @property
    def jobs(self):
        return self.controller.runner

    @property
    def _handles(self) -> list:  # benchmarks/image.py checks that a drop started a job
        return self.controller.handles

    # -- layout -------------------------------------------------------------------
    def _build(self) -> None:
        root = QVBoxLayout(self)
        top = QHBoxLayout()
        self.mode_group = QButtonGroup(self)
        self.mode_buttons: dict[str, QToolButton] = {}
        for i, (key, title) in enumerate(MODES):
            b = QToolButton(text=title, checkable=True, autoRaise=False)
            b.setObjectName(f"mode_{key}")
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            b.setMinimumWidth(90)
            self.mode_group.addButton(b, i)
            self.mode_buttons[key] = b
            top.addWidget(b)
        self.mode_buttons["classify"].setChecked(True)
        self.mode_group.idClicked.connect(lambda i: self.set_mode(MODES[i][0]))
        top.addSpacing(16)
        self.open_button = QPushButton("Open images...")
        self.open_button.clicked.connect(self._open_files)
        self.folder_button = QPushButton("Open folder...")
        self.folder_button.clicked.connect(self._open_folder)
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("Remove every image from the strip and the table")
        self.clear_button.clicked.connect(self.clear)
        for w in (self.open_button, self.folder_button, self.clear_button):
            top.addWidget(w)
        top.addStretch(1)
        hint = QLabel("Drop images, folders or image links anywhere here; Ctrl+V pastes.")
        hint.setEnabled(False)
        # On a line of its own under the buttons: beside them it held the window at 1026 px or more on
        # one line, and wrapped into a column of eight one-word lines at the minimum width.
        hint.setWordWrap(True)
        root.addLayout(top)
        root.addWidget(hint)

        self.stack = QStackedWidget()
        self.stack.addWidget(self._build_classify_page())
        root.addWidget(self.stack, 1)

        self.thumbs = ThumbStrip()
        self.thumbs.activated_index.connect(self.show_item)
        root.addWidget(self.thumbs)

    def _build_classify_page(self) -> QWidget:
        split = QSplitter(Qt.Orientation.Horizontal)
        self.canvas = ImageCanvas()
        self.compare_view = ClassifierCompareView()  # in place of the one image while Compare is on
        self.compare_view.bar_selected.connect(lambda i, _row: self._request_compare_cam(i))
        self.view_stack = QStackedWidget()
        self.view_stack.addWidget(self.canvas)
        self.view_stack.addWidget(self.compare_view)
        split.addWidget(self.view_stack)

        panel = QWidget()
        panel.setMinimumWidth(380)
        lay = QVBoxLayout(panel)
        lay.setContentsMargins(6, 0, 0, 0)
        self.picker = ModelPicker(self.ctx, IMAGE_TASK,
                                  placeholder="torchvision/NAME, a Hugging Face id, or a model folder")
        self.picker.changed.connect(lambda _m: self._model_changed())
        self.compare = CompareModels(self.ctx, self.picker)
        self.compare.changed.connect(self._compare_changed)
        row = QHBoxLayout()
        row.addWidget(self.picker, 1)
        row.addWidget(self.compare.switch)
        lay.addLayout(row)
        lay.addWidget(self.compare)
        self.model_note = QLabel("")
        self.model_note.setWordWrap(True)
        self.model_note.setObjectName("modelNote")
        self.model_note.setVisible(False)
        lay.addWidget(self.model_note)

        row = QHBoxLayout()
        row.addWidget(QLabel("Top"))
        self.topk = QSpinBox(minimum=1, maximum=20, value=5)
        self.topk.setAccessibleName("Top k")
        self.topk.valueChanged.connect(lambda _v: self._rerun_timer.start())
        row.addWidget(self.topk)
        row.addWidget(QLabel("classes"))
        row.addStretch(1)
        lay.addLayout(row)

        self.title = QLabel("")
        self.title.setWordWrap(True)
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        lay.addWidget(self.title)
        self.bars = ScoreBars()
        self.bars.set_message("")
        self.bars.selected.connect(lambda _row: self._request_cam())
        lay.addWidget(self.bars)

        row = QHBoxLayout()
        self.cam_check = QCheckBox("Grad-CAM: where the model looks")
        self.cam_check.setToolTip("Overlay a heatmap for the selected class (click a bar to change it)")
        self.cam_check.toggled.connect(self._cam_toggled)
        row.addWidget(self.cam_check)
        self.opacity = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=100, value=50)
        self.opacity.setAccessibleName("Heatmap opacity")
        self.opacity.setToolTip("Heatmap opacity")
        self.opacity.setEnabled(False)
        self.opacity.valueChanged.connect(lambda v: (self.canvas.set_opacity(v / 100),
                                                     self.compare_view.set_opacity(v / 100)))
        row.addWidget(self.opacity, 1)
        lay.addLayout(row)
        self.cam_note = QLabel("")
        self.cam_note.setWordWrap(True)
        lay.addWidget(self.cam_note)

        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["File", "Top-1", "Score"])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setSortingEnabled(True)
        header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # input order until the user sorts
        self.table.setWordWrap(False)
        self.table.setAccessibleName("Results table")
        self.table.itemSelectionChanged.connect(self._on_table_selection)
        lay.addWidget(self.table, 1)

        row = QHBoxLayout()
        self.batch_progress = QProgressBar()
        self.batch_progress.setRange(0, 1000)
        self.batch_progress.setVisible(False)
        self.batch_progress.setAccessibleName("Batch progress")
        row.addWidget(self.batch_progress, 1)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.cancel)
        row.addWidget(self.cancel_button)
        self.export_button = QPushButton("Export CSV...")
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(self._export_dialog)
        row.addWidget(self.export_button)
        lay.addLayout(row)
        self.rate_label = QLabel("")
        self.rate_label.setObjectName("rateLabel")
        self.rate_label.setWordWrap(True)
        lay.addWidget(self.rate_label)

        split.addWidget(panel)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        return split

    # -- modes ----------------------------------------------------------------------
    def set_mode(self, mode: str) -> None:
        keys = [k for k, _ in MODES]
        if mode not in keys:
            return
        self.mode = mode
        self.mode_buttons[mode].setChecked(True)
        if mode == "classify":
            self.stack.setCurrentIndex(0)
            if self.controller.unclassified and not self.controller.busy:
                self.reclassify()  # photos opened in another mode get their labels now
            if self.selected < 0 and self.items:
                self.show_item(0)
            return
        page = self._mode_pages.get(mode)
        if page is None:
            page = self._make_detect_page(mode)
            self._mode_pages[mode] = page
            self.stack.addWidget(page)
            detector = getattr(page, "controller", None)
            if detector is not None:
                detector.result.connect(self._on_detected)
            elsewhere = getattr(page, "compare_elsewhere", None)
            if elsewhere is not None:
                elsewhere.connect(self.compare_objects_instead)
        self.stack.setCurrentWidget(page)
        self._forward_selection()

    def _make_detect_page(self, mode: str) -> QWidget:
        try:
            from playground.ui.image_detect_panel import DetectionPanel
        except ImportError as exc:
            what = "Object" if mode == "objects" else "Face"
            log.exception("%s detection could not be loaded", what)
            label = QLabel(f"{what} detection could not be loaded: {exc}")
            label.setWordWrap(True)
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setObjectName(f"{mode}LoadError")
            return label
        return DetectionPanel(self.ctx, mode)

    def compare_objects_instead(self) -> None:
        """Faces has one detector offline: compare object detectors on its image instead, and say so."""
        faces = self._mode_pages.get("faces")
        path = getattr(faces, "current_path", None)
        self.set_mode("objects")
        objects = self._mode_pages.get("objects")
        start = getattr(objects, "start_compare", None)
        if start is None:  # Objects could not be loaded: its page says why
            return
        start("Faces has one detector offline (MTCNN), so Compare overlays two object detectors on "
              "the same image instead.")
        if path and objects.current_path != path:
            objects.set_image(path)

    def mode_page(self, mode: str) -> QWidget | None:
        return self._mode_pages.get(mode)

    def _forward_selection(self) -> None:
        page = self._mode_pages.get(self.mode)
        setter = getattr(page, "set_image", None)
        if setter is not None and 0 <= self.selected < len(self.items) and self.items[self.selected].ok:
            setter(self.items[self.selected].path)

    # -- input ----------------------------------------------------------------------
    def open_paths(self, paths_in: list[str]) -> None:
        """File > Open, drops and the CLI-like entry point: files, folders and URLs."""
        sources = [str(p) for p in paths_in if str(p).strip()]
        if not sources:
            return
        # In Objects/Faces mode the drop goes to the detector as a whole (folders
        # included, so "Blur faces" covers all of it) instead of queueing a
        # classification job in front of the detection.
        page = self._mode_pages.get(self.mode) if self.mode != "classify" else None
        setter = getattr(page, "set_images", None)
        if setter is not None:
            setter(sources)
            return
        self._classify(sources, rerun=False)

    def _on_detected(self, res) -> None:
        """An image opened in Objects or Faces mode joins the strip (from the detector's own
        display copy: nothing is decoded twice and no model runs for it)."""
        thumb = image.make_thumbnail(res.preview) if res.preview is not None and res.error is None else None
        self.controller.add_unclassified([image.ImageResult(res.path, error=res.error, width=res.width,
                                                            height=res.height, thumbnail=thumb)])

    def sources_from_mime(self, mime) -> list[str]:
        out: list[str] = []
        if mime.hasUrls():
            for url in mime.urls():
                if url.isLocalFile():
                    out.append(url.toLocalFile())
                elif url.scheme().lower() in ("http", "https"):
                    out.append(url.toString())
        if not out and mime.hasImage():
            saved = self._save_pasted(mime.imageData())
            if saved:
                out.append(saved)
        if not out and mime.hasText():
            for line in mime.text().splitlines():
                line = line.strip()
                if image.is_url(line) or (line and Path(line).exists()):
                    out.append(line)
        return out

    def _save_pasted(self, data) -> str | None:
        img = data if isinstance(data, QImage) else QImage(data) if data is not None else QImage()
        if img.isNull():
            return None
        folder = paths.cache_dir() / "pasted"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"pasted-{time.strftime('%Y%m%d-%H%M%S')}-{int(time.time() * 1000) % 1000:03d}.png"
        if not img.save(str(target), "PNG"):
            self.ctx.show_status("Could not save the pasted image.")
            return None
        return str(target)

    def paste(self) -> None:
        mime = QApplication.clipboard().mimeData()
        sources = self.sources_from_mime(mime) if mime is not None else []
        if not sources:
            self.ctx.show_status("The clipboard holds no image, image file or image link.")
            return
        self.open_paths(sources)

    def dragEnterEvent(self, event) -> None:  # noqa: N802
        mime = event.mimeData()
        if mime.hasUrls() or mime.hasImage():
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:  # noqa: N802
        mime = event.mimeData()
        if mime.hasUrls() or mime.hasImage():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        sources = self.sources_from_mime(event.mimeData())
        if sources:
            event.acceptProposedAction()
            self.open_paths(sources)

    def _open_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Open images", "",
                                                "Images (*.jpg *.jpeg *.png *.webp *.bmp *.gif *.tif *.tiff);;All files (*)")
        if files:
            self.open_paths(files)

    def _open_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of images")
        if folder:
            self.open_paths([folder])

    # -- models ----------------------------------------------------------------------
    def current_model(self) -> str:
        return self.picker.model_id() or image.DEFAULT_MODEL

    def set_model(self, model_id: str) -> None:
        self.picker.select(model_id)

    def _sync_choice(self) -> None:
        """Hand the picker's model and the top-k to the controller (plain values)."""
        self.controller.model = self.current_model()
        self.controller.top_k = self.topk.value()

    def _model_changed(self) -> None:
        self.picker.remember()
        self._sync_choice()
        idx = self.picker.combo.currentIndex()
        note = self.picker.combo.itemData(idx, Qt.ItemDataRole.ToolTipRole) if idx >= 0 else None
        entry = self.ctx.store.find(self.current_model()) if self.ctx.store is not None else None
        self._set_note("" if entry is None or entry.available else str(note or ""))
        self._clear_cam()
        if self.items:
            self.reclassify()  # and the comparison, when one is shown
        else:
            self.run_compare()

    def _set_note(self, text: str) -> None:
        self.model_note.setText(text)
        self.model_note.setVisible(bool(text))

    # -- jobs (run by the controller) ---------------------------------------------------
    def _classify(self, sources: list[str], rerun: bool) -> None:
        self._sync_choice()
        self.controller.classify(sources, rerun=rerun)

    def reclassify(self) -> None:
        """Run the current model and top-k again over every image in the strip."""
        self._sync_choice()
        self.controller.reclassify()
        self.run_compare()

    def cancel(self) -> None:
        """Cancel (and Esc): the classification jobs, every run of a comparison, and the mode's own jobs."""
        self.controller.cancel()
        self.comparison.cancel()
        page = self._mode_pages.get(self.mode)
        cancel = getattr(page, "cancel", None)
        if callable(cancel):
            cancel()

    def _on_busy(self, busy: bool) -> None:
        if busy:
            self.batch_progress.setValue(0)
            self.batch_progress.setRange(0, 0)
        self.batch_progress.setVisible(busy)
        self._show_busy()

    def _show_busy(self) -> None:
        self.cancel_button.setVisible(self.controller.busy or self.comparison.busy)

    def _on_started(self, event: image.ClassifyStarted) -> None:
        self.rate_label.setText(f"{plural(event.total, 'image')}, {event.model} on {event.device}")

    def _on_rows_added(self, indices: list[int]) -> None:
        self.table.setSortingEnabled(False)
        self.thumbs.setUpdatesEnabled(False)
        for index in indices:
            result = self.items[index]
            thumb = result.thumbnail
            qimg = qimage_from_rgb(thumb.width, thumb.height, thumb.rgb) if thumb is not None else None
            name = Path(result.path).name if not image.is_url(result.path) else result.path.rsplit("/", 1)[-1]
            self.thumbs.add(index, name, qimg, result.error or result.path, error=not result.ok)
            self._add_row(index)
        self.thumbs.setUpdatesEnabled(True)
        self.table.setSortingEnabled(True)
        self.export_button.setEnabled(bool(self.items))
        if self.selected < 0 and indices and self.mode == "classify":  # elsewhere it would re-run the detector
            self.show_item(indices[0])
        self.results_changed.emit()

    def _on_rows_updated(self, indices: list[int]) -> None:
        self.table.setSortingEnabled(False)
        for index in indices:
            self._update_row(index)
        self.table.setSortingEnabled(True)
        if self.selected in indices:
            self.show_item(self.selected, keep_cam=False)
        self.results_changed.emit()

    def _row_items(self, result: image.ImageResult) -> tuple[QTableWidgetItem, QTableWidgetItem, QTableWidgetItem]:
        name = QTableWidgetItem(Path(result.path).name if not image.is_url(result.path) else result.path)
        name.setToolTip(result.path)
        name.setData(ROLE_INDEX, result.index)
        score = _NumberItem()
        if result.ok and result.top is not None:
            top = QTableWidgetItem(result.top.label)
            score.setText(f"{result.top.score:.1%}")
            score.setData(Qt.ItemDataRole.UserRole, float(result.top.score))
        elif result.ok:
            top = QTableWidgetItem(NOT_CLASSIFIED)
            score.setData(Qt.ItemDataRole.UserRole, None)
        else:
            top = QTableWidgetItem(f"Error: {result.error}")
            top.setForeground(Qt.GlobalColor.red)
            top.setToolTip(result.error or "")
            score.setData(Qt.ItemDataRole.UserRole, None)
        return name, top, score

    def _add_row(self, index: int) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        for col, item in enumerate(self._row_items(self.items[index])):
            self.table.setItem(row, col, item)

    def _table_row_of(self, index: int) -> int:
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 0)
            if item is not None and item.data(ROLE_INDEX) == index:
                return row
        return -1

    def _update_row(self, index: int) -> None:
        row = self._table_row_of(index)
        if row < 0:
            return
        for col, item in enumerate(self._row_items(self.items[index])):
            self.table.setItem(row, col, item)
        thumb = self.thumbs.item(index)
        if thumb is not None:
            thumb.setToolTip(self.items[index].error or self.items[index].path)

    def _on_progress(self, fraction, text: str) -> None:
        if fraction is None:
            self.batch_progress.setRange(0, 0)
        else:
            self.batch_progress.setRange(0, 1000)
            self.batch_progress.setValue(int(fraction * 1000))
        if text:
            self.rate_label.setText(text)

    def _on_error(self, message: str) -> None:
        self.rate_label.setText("")
        self._set_note(message)
        self._clear_cam()
        self.bars.set_message(message)  # the run failed: no earlier answer stands in for it

    def _on_batch_finished(self, summary: image.BatchSummary | None) -> None:
        if summary is not None:
            n, bad = len(summary.results), len(summary.failed)
            state = "cancelled after" if summary.cancelled else "done:"
            self.rate_label.setText(f"{state} {plural(n, 'image')} ({bad} failed), "
                                    f"{summary.images_per_s:.1f} images/s, "
                                    f"{summary.model} on {summary.device}")
        self.batch_finished.emit(summary)

    # -- selection and the large view ------------------------------------------------
    def _on_table_selection(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            item = self.table.item(rows[0].row(), 0)
            if item is not None and item.data(ROLE_INDEX) != self.selected:
                self.show_item(int(item.data(ROLE_INDEX)))

    def show_item(self, index: int, keep_cam: bool = False) -> None:
        if not 0 <= index < len(self.items):
            return
        changed = self.controller.select(index)
        result = self.items[index]
        self.thumbs.blockSignals(True)
        self.thumbs.setCurrentRow(index)
        self.thumbs.blockSignals(False)
        row = self._table_row_of(index)
        if row >= 0 and self.table.currentRow() != row:
            self.table.blockSignals(True)
            self.table.selectRow(row)
            self.table.blockSignals(False)
        self.title.setText(result.path + (f"  ({result.width} x {result.height})" if result.width else ""))
        if result.ok and result.predictions:
            self.bars.set_rows([(p.label, p.score) for p in result.predictions])
        elif result.ok:
            self.bars.set_message(NOT_CLASSIFIED)
        else:
            self.bars.set_message(result.error or "")
        if changed or not keep_cam:
            self._clear_cam()
        self.run_compare()
        if not result.ok:
            self._preview = None
            self._preview_token += 1  # a preview still loading for the previous item is stale
            self.canvas.set_text(result.error or "")
            self.compare_view.set_image(None, result.error or "")
            self.selection_shown.emit(index)
            return
        if changed or not self.canvas.has_image():
            if changed:  # the comparison's columns must not show the previous picture
                self.compare_view.set_image(None, f"Loading {Path(result.path).name}...")
            self._preview_token += 1
            self._pool.start(_PreviewTask(self._preview_token, result.path, self._preview_signals))
            # never show the previous picture under the new results for long
            QTimer.singleShot(150, lambda t=self._preview_token, name=Path(result.path).name: self._preview_late(t, name))
        else:
            self.selection_shown.emit(index)
            self._request_cam()
        self._forward_selection()

    def _preview_late(self, token: int, name: str) -> None:
        if token == self._preview_token and self._shown_token != token:
            self.canvas.set_text(f"Loading {name}...")

    def _on_preview(self, token: int, source: str, value) -> None:
        if token != self._preview_token:
            return
        self._shown_token = token
        if isinstance(value, str):
            self._preview = None
            self.canvas.set_text(value)
        else:
            self._preview = value
            picture = qimage_from_rgb(value.width, value.height, value.rgb)
            self.canvas.set_image(picture)
            self.compare_view.set_image(picture)
        self.selection_shown.emit(self.selected)
        self._request_cam()

    # -- Grad-CAM ------------------------------------------------------------------------
    def _cam_toggled(self, on: bool) -> None:
        self.opacity.setEnabled(on)
        self.canvas.set_overlay_visible(on)
        self.compare_view.set_overlay_visible(on)
        if on:
            self._request_cam()
            for i in range(len(self.compare_view.columns)):
                self._request_compare_cam(i)

    def _clear_cam(self) -> None:
        self.canvas.set_overlay(None)
        self.controller.clear_cam()
        self.cam_note.setText("")

    def _request_cam(self) -> None:
        if not self.cam_check.isChecked() or self._preview is None or self.compare.switch.isChecked():
            return  # while comparing, each column asks for its own map
        self._sync_choice()
        pred = self.controller.request_cam(self.bars.current(), (self._preview.width, self._preview.height))
        if pred is not None:
            self.cam_note.setText(f"Computing Grad-CAM for '{pred.label}'...")

    def _on_cam(self, cam) -> None:
        ov = cam.overlay
        self.canvas.set_overlay(qimage_from_rgb(ov.width, ov.height, ov.rgb, channels=4))
        self.cam_note.setText(f"Red: where the model sees '{cam.label}'{_by(cam.method)}.")
        self.cam_shown.emit()

    def _on_cam_error(self, message: str) -> None:
        self.cam_note.setText(f"Grad-CAM: {message}")

    # -- Compare: the shown image through two (up to four) classifiers, side by side ---------------
    def _compare_changed(self) -> None:
        on = self.compare.switch.isChecked()
        self.view_stack.setCurrentIndex(1 if on else 0)
        self.bars.setVisible(not on)  # each column has its own bars
        if on:
            self.run_compare()
        else:
            self.comparison.forget()
            self._request_cam()

    def run_compare(self) -> bool:
        """Run the shown image through every compared classifier, one job each on the image lane;
        False when Compare is off, or there is nothing (new) to compare."""
        if not self.compare.switch.isChecked():
            return False
        models = self.compare.model_ids()
        titled = [(self.compare.display_name(m), m) for m in models]
        shown = self.controller.current
        note = ("Pick a second classifier to compare with: one from the list, a model folder (Folder...) "
                "or a Hub id." if len(models) < 2 else
                "Open an image to compare the models on it." if shown is None else
                f"{shown.error}" if not shown.ok else "")
        if note:
            self.comparison.forget()
            self.compare_view.reset(titled, note)
            return False
        return self.comparison.run(shown.path, models, self.topk.value())

    def _on_compare_begun(self, models: list[str]) -> None:
        self.compare_view.reset([(self.compare.display_name(m), m) for m in models],
                                f"Comparing {len(models)} classifiers on this image, one after another...")

    def _on_compare_result(self, i: int, result, classify_s: float, job_s: float) -> None:
        self.compare_view.set_result(i, [(p.label, p.score) for p in result.predictions],
                                     f"{classify_s:.2f} s to classify ({job_s:.2f} s with loading)")
        self._request_compare_cam(i)

    def _on_compare_failed(self, i: int, message: str) -> None:
        self.compare_view.set_failed(i, message, error=message != STOPPED)

    def _on_compare_finished(self, results: list) -> None:
        names = [self.compare.display_name(m) for m in self.comparison.models]
        tops = [r.top.label if r is not None and r.top is not None else None for r in results]
        agree, text = agreement(names, tops)
        self.compare_view.set_agreement(agree, text)
        self.compared.emit(results)

    def _request_compare_cam(self, i: int) -> None:
        if not self.cam_check.isChecked() or self._preview is None or not 0 <= i < len(self.compare_view.columns):
            return
        column = self.compare_view.columns[i]
        pred = self.comparison.request_cam(i, column.bars.current(), (self._preview.width, self._preview.height))
        if pred is not None:
            self.compare_view.set_cam_note(i, f"Computing Grad-CAM for '{pred.label}'...")

    def _on_compare_cam(self, i: int, cam) -> None:
        if cam.overlay is None or not 0 <= i < len(self.compare_view.columns):
            return
        ov = cam.overlay
        self.compare_view.set_cam(i, qimage_from_rgb(ov.width, ov.height, ov.rgb, channels=4),
                                  f"Red: where it sees '{cam.label}'{_by(cam.method)}.")
        self.compare_cam_shown.emit(i)

    # -- table export, clearing, shutdown ---------------------------------------------------
    def export_csv(self, target: str) -> Path:
        return self.controller.export_csv(target)

    def _export_dialog(self) -> None:
        target, _ = QFileDialog.getSaveFileName(self, "Export results", "image-results.csv", "CSV files (*.csv)")
        if not target:
            return
        try:
            self.export_csv(target)
        except OSError as exc:
            self.ctx.show_status(f"Could not write {target}: {exc.strerror or exc}", 8000)
        else:
            self.ctx.show_status(f"Saved {plural(len(self.items), 'row')} to {target}")

    def clear(self) -> None:
        self.controller.clear()

    def _on_cleared(self) -> None:
        self.comparison.forget()
        self.compare_view.reset([], "")
        self.compare_view.set_image(None, "")
        self._preview = None
        self._preview_token += 1  # previews still loading belong to the cleared items
        self.thumbs.clear()
        self.table.setRowCount(0)
        self.bars.set_message("")
        self.title.setText("")
        self.canvas.set_text("Drop images or folders here,\npaste one with Ctrl+V, or use File > Open.")
        self._clear_cam()
        self.export_button.setEnabled(False)
        self.rate_label.setText("")

    def shutdown(self) -> None:
        self.controller.shutdown()
        self.comparison.cancel()
        for page in self._mode_pages.values():
            closer = getattr(page, "shutdown", None)
            if callable(closer):
                closer()
        self._pool.waitForDone(3000)


def build(ctx) -> QWidget:
    return ImageTab(ctx)


def _by(method: str) -> str:
    """Grad-CAM is the default and goes unsaid; occlusion (a model without gradients) is named."""
    return "" if method == "grad-cam" else f" ({method}: the score's drop where a patch is hidden)"
