"""Object and face detection on images: boxes over the picture, a threshold slider, face blurring.

`DetectionPanel(ctx, "objects")` or `DetectionPanel(ctx, "faces")`; the Image tab
embeds one per mode and calls `set_image(path)` / `set_images(paths)`. This is the
view: the runs, results and jobs are its `controller`
(`playground.ui.detect_controller.DetectionController`), whose signals it renders.
The slider re-filters the kept detections without running the model again.

Compare (Objects): the image shown runs through two (up to four) detectors, one job each on the
image lane (`playground.ui.image_compare.DetectorComparison`); their boxes are overlaid, one
colour per detector, with a legend naming each with its count and time. Faces has one detector
offline (MTCNN): its Compare switch asks the tab to compare object detectors instead.
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QImage, QImageReader, QTextDocument
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSlider,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from playground.core import detection
from playground.core.wording import plural
from playground.ui.detect_controller import KEEP_PREVIEWS, MODES, DetectionController
from playground.ui.image_compare import STOPPED, DetectorComparison
from playground.ui.widgets.compare_models import CompareModels
from playground.ui.widgets.detect_view import COMPARE_COLORS, DetectionView, pil_to_qimage
from playground.ui.widgets.model_picker import ModelPicker

__all__ = ["KEEP_PREVIEWS", "MODES", "DetectionPanel"]


class DetectionPanel(QWidget):
    """Detect objects or faces on one or many images."""

    job_finished = Signal()  # after the current detection or blur job ends, whatever its outcome
    results_changed = Signal()  # a result was added to the list
    compared = Signal(list)  # a comparison of detectors ended: each one's ObjectResult (None: failed, stopped)
    compare_elsewhere = Signal()  # Faces' Compare: one face detector offline, so compare object detectors

    def __init__(self, ctx, mode: str = "objects", parent: QWidget | None = None):
        super().__init__(parent)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        self.ctx = ctx
        self.mode = mode
        # KEEP_PREVIEWS is read here, so a test may lower it for one panel.
        self.controller = DetectionController(ctx, mode, parent=self, keep_previews=KEEP_PREVIEWS)
        self._build()
        c = self.controller
        c.reset.connect(self._on_reset)
        c.result.connect(self._on_result)
        c.started.connect(self._on_started)
        c.progress.connect(self._on_progress)
        c.status.connect(self.status.setText)
        c.error.connect(self._on_error)
        c.threshold_changed.connect(self._on_threshold_changed)
        c.finished.connect(self._on_finished)
        self.comparison = DetectorComparison(ctx, self)
        k = self.comparison
        k.begun.connect(self._on_compare_begun)
        k.result.connect(self._on_compare_result)
        k.failed.connect(self._on_compare_failed)
        k.finished.connect(self._on_compare_finished)
        k.busy_changed.connect(lambda _b: self._show_busy())
        self._compare_note = ""  # why this comparison runs here (Faces sent it)
        self._compare_state: dict[int, object] = {}  # column -> ObjectResult, or its error text

    # -- layout ------------------------------------------------------------------------
    def _build(self) -> None:
        root = QVBoxLayout(self)
        root.setContentsMargins(4, 4, 4, 4)
        bar = QHBoxLayout()
        root.addLayout(bar)
        self.compare_rows = QVBoxLayout()  # the extra pickers of a comparison
        root.addLayout(self.compare_rows)
        if self.mode == "objects":
            self.picker = ModelPicker(self.ctx, "object-detection",
                                      placeholder="torchvision/NAME, a Hub id (e.g. facebook/detr-resnet-101) or a folder")
            self.controller.model = self.picker.model_id() or detection.YOLO_ID
            self.picker.changed.connect(lambda m: self.set_model(m or detection.YOLO_ID))
            bar.addWidget(self.picker, 1)
            self.compare = CompareModels(self.ctx, self.picker)
            self.compare.changed.connect(self._compare_changed)
            self.compare_switch = self.compare.switch
            bar.addWidget(self.compare_switch)
        else:
            self.picker = None
            self.compare = None
            bar.addWidget(QLabel("MTCNN face detector (bundled, offline)"))
            bar.addStretch(1)
            self.compare_switch = QToolButton()
            self.compare_switch.setText("Compare")
            self.compare_switch.setToolTip("One face detector (MTCNN) runs offline: Compare overlays two "
                                           "object detectors in Objects instead")
            self.compare_switch.setAccessibleName("Compare models")
            self.compare_switch.clicked.connect(self.compare_elsewhere.emit)
            bar.addWidget(self.compare_switch)
        bar.addWidget(QLabel("Threshold:"))
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(round(self.controller.floor * 100), 100)
        self.slider.setFixedWidth(160)
        default = self.controller.threshold
        self.slider.setValue(round(default * 100))
        self.slider.setToolTip("Only detections scoring at least this much are shown (no re-run needed)")
        self.slider.valueChanged.connect(lambda v: self.controller.set_threshold(v / 100.0))
        bar.addWidget(self.slider)
        self.threshold_label = QLabel(f"{default:.2f}")
        self.threshold_label.setMinimumWidth(34)
        bar.addWidget(self.threshold_label)
        if self.mode == "faces":
            self.blur_button = QPushButton("Blur faces…")
            self.blur_button.setToolTip("Save copies with every face shown blurred, into a folder you pick; "
                                        "the originals are never changed")
            self.blur_button.setEnabled(False)
            self.blur_button.clicked.connect(self._choose_blur_folder)
            bar.addWidget(self.blur_button)
        else:
            self.blur_button = None
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.cancel)
        bar.addWidget(self.cancel_button)

        split = QSplitter(Qt.Orientation.Horizontal)
        self.file_list = QListWidget()
        self.file_list.setVisible(False)
        self.file_list.setMinimumWidth(160)
        self.file_list.currentItemChanged.connect(self._on_file_selected)
        split.addWidget(self.file_list)
        self.view = DetectionView()
        self.view.set_threshold(default)
        self.view.set_message("Drop an image here, or open one, to find " +
                              ("objects." if self.mode == "objects" else "faces."))
        split.addWidget(self.view)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Label", "Score", "Box (x0, y0, x1, y1)"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.setWordWrap(False)
        self.table.itemSelectionChanged.connect(lambda: self.view.highlight(
            self.table.currentRow() if self.table.selectedItems() else None))
        self.table.setMinimumWidth(260)
        split.addWidget(self.table)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setStretchFactor(2, 0)
        split.setSizes([160, 620, 300])
        root.addWidget(split, 1)
        if self.compare is not None:
            self.compare_rows.addWidget(self.compare)
        self.legend = QLabel("")
        self.legend.setObjectName("compareLegend")
        self.legend.setAccessibleName("Compared detectors")
        self.legend.setWordWrap(True)
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setVisible(False)
        root.addWidget(self.legend)

        foot = QHBoxLayout()
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        foot.addWidget(self.status, 1)
        self.progress = QProgressBar()
        self.progress.setFixedWidth(180)
        self.progress.setVisible(False)
        foot.addWidget(self.progress)
        root.addLayout(foot)

    # -- public API (the Image tab's and the tests'; state lives in the controller) ---------------------
    @property
    def threshold(self) -> float:
        return self.controller.threshold

    def set_threshold(self, value: float) -> None:
        self.slider.setValue(round(value * 100))  # the slider's step; it tells the controller

    @property
    def model(self):
        return self.controller.model

    @property
    def _model(self):
        return self.controller.model

    @_model.setter
    def _model(self, model) -> None:  # the next run uses it (no re-run now)
        self.controller.model = model

    def set_model(self, model) -> None:
        """A model id, `torchvision/NAME`, a Hub id, a folder, or a detector object; re-runs on the images."""
        if isinstance(model, str) and self.picker is not None:
            if self.picker.model_id() != model:
                self.picker.set_model(model)
            self.picker.remember()
        self.controller.set_model(model)

    @property
    def paths(self) -> list[str]:
        return self.controller.paths

    @paths.setter
    def paths(self, paths: list[str]) -> None:
        self.controller.paths = [str(p) for p in paths]

    @property
    def results(self) -> dict:
        return self.controller.results

    @property
    def current_path(self) -> str | None:
        return self.controller.current_path

    @property
    def last_error(self) -> str | None:
        return self.controller.last_error

    @property
    def last_blur(self) -> list:
        return self.controller.last_blur

    @property
    def _handle(self):
        return self.controller.handle

    @property
    def busy(self) -> bool:
        return self.controller.busy

    def set_image(self, path: str) -> None:
        """Detect on one image; an image seen recently with the same model is shown without re-running."""
        self.controller.set_image(path)

    def set_images(self, paths: list[str]) -> None:
        """Detect on these images (folders expand); the first one is shown as its result arrives."""
        self.controller.set_images(paths)

    def open_paths(self, paths: list[str]) -> None:
        self.set_images(paths)

    def blur_to(self, folder: str) -> None:
        """Save a copy of every image (with its faces above the threshold blurred) into `folder`."""
        self.controller.blur_to(folder)

    def cancel(self) -> None:
        """Cancel (and Esc): the detection or blur job and every run of a comparison."""
        self.controller.cancel()
        self.comparison.cancel()

    def shutdown(self) -> None:
        self.controller.shutdown()
        self.comparison.cancel()

    def visible_detections(self) -> list:
        return self.view.visible_items()

    # -- rendering the controller ---------------------------------------------------------------------
    def _on_reset(self) -> None:
        self.file_list.clear()
        self.file_list.setVisible(False)
        self.table.setRowCount(0)
        self.view.set_items([])
        self.view.set_message("Working…")
        self._update_blur_button()

    def _on_started(self, kind: str) -> None:
        self.cancel_button.setVisible(True)
        self.progress.setVisible(kind == "blur" or self.controller.batch)
        self.progress.setRange(0, 0)
        self._update_blur_button()

    def _on_result(self, res) -> None:
        if self.controller.batch:
            self.file_list.setVisible(True)
        item = QListWidgetItem(self.controller.list_text(res))
        item.setData(Qt.ItemDataRole.UserRole, res.path)
        item.setToolTip(res.error or res.path)
        if res.error:
            item.setForeground(Qt.GlobalColor.red)
        self.file_list.addItem(item)
        if self.controller.should_show(res):
            self.file_list.setCurrentItem(item)  # shows it
        self._update_blur_button()
        self.results_changed.emit()

    def _on_progress(self, fraction, text: str) -> None:
        if fraction is None:
            self.progress.setRange(0, 0)
        else:
            self.progress.setRange(0, 1000)
            self.progress.setValue(round(fraction * 1000))
        if text:
            self.status.setText(text)

    def _on_error(self, message: str) -> None:
        self.status.setText(f"<span style='color:#c0392b'>{message}</span>")
        if not self.controller.results:
            self.view.set_message(message)

    def _on_finished(self) -> None:
        self.cancel_button.setVisible(self.comparison.busy)
        self.progress.setVisible(False)
        if self.controller.current_path is None and self.file_list.count():
            self.file_list.setCurrentRow(0)  # the image shown before a re-run had no result: show the first
        self._update_blur_button()
        self.job_finished.emit()

    def _update_blur_button(self) -> None:
        if self.blur_button is not None:
            self.blur_button.setEnabled(self.controller.can_blur)

    # -- showing --------------------------------------------------------------------------------------
    def _on_file_selected(self, item, _previous=None) -> None:
        if item is None:
            return
        self.show_path(item.data(Qt.ItemDataRole.UserRole))

    def show_path(self, path: str) -> None:
        res = self.controller.show(path)
        if res is None:
            return
        if res.error:
            self.view.set_message(res.error)
            self.table.setRowCount(0)
            self.status.setText(f"<span style='color:#c0392b'>{res.error}</span>")
            return
        if res.preview is not None:
            self.view.set_image(pil_to_qimage(res.preview), QSize(res.width, res.height))
        else:  # its preview was dropped to save memory (large batches): read it again
            image = self._read_preview(path)
            if image.isNull():
                self.view.set_message(f"{Path(path).name}: no preview (the detections are listed on the right).")
            else:
                self.view.set_image(image, QSize(res.width, res.height))
        self.view.set_items(self.controller.items(res))
        self.view.set_candidates(self.controller.candidates())
        self._refresh_table()
        self.status.setText(self.controller.summary())
        self.run_compare()

    def _read_preview(self, path: str) -> QImage:
        reader = QImageReader(path)
        reader.setAutoTransform(True)  # EXIF orientation, as the engine applied it
        image = reader.read()
        if image.isNull():
            return image
        side = detection.PREVIEW_MAX
        if max(image.width(), image.height()) > side:
            image = image.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio,
                                 Qt.TransformationMode.SmoothTransformation)
        return image

    def _on_threshold_changed(self, t: float) -> None:
        if self.slider.value() != round(t * 100):  # set on the controller directly
            self.slider.blockSignals(True)
            self.slider.setValue(round(t * 100))
            self.slider.blockSignals(False)
        self.threshold_label.setText(f"{t:.2f}")
        self.view.set_threshold(t)
        self._show_legend()
        self.view.set_candidates(self.controller.candidates())
        self._refresh_table()
        for i in range(self.file_list.count()):
            item = self.file_list.item(i)
            res = self.controller.results.get(item.data(Qt.ItemDataRole.UserRole))
            if res is not None:
                item.setText(self.controller.list_text(res))

    def _refresh_table(self) -> None:
        visible = self.view.visible_items()
        self.table.setRowCount(len(visible))
        for row, det in enumerate(visible):
            box = ", ".join(f"{v:.0f}" for v in det.box)
            for col, text in enumerate((det.label, f"{det.score:.3f}", box)):
                cell = QTableWidgetItem(text)
                if col == 1:
                    cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, col, cell)

    # -- Compare: the image shown through two (up to four) object detectors, overlaid ---------------------
    def _show_busy(self) -> None:
        self.cancel_button.setVisible(self.controller.busy or self.comparison.busy)

    def start_compare(self, note: str = "") -> None:
        """Switch Compare on (Faces sends its comparison here, `note` says so)."""
        if self.compare is None:
            return
        self._compare_note = note
        if self.compare.switch.isChecked():
            self._compare_changed()
        else:
            self.compare.switch.setChecked(True)

    def _compare_changed(self) -> None:
        if self.compare is not None and self.compare.switch.isChecked():
            self.run_compare()
            return
        self._compare_note = ""
        self.comparison.forget()
        self.view.set_layers([])
        self.legend.setVisible(False)

    def compared_models(self) -> list:
        return self.compare.model_ids() if self.compare is not None and self.compare.switch.isChecked() else []

    def run_compare(self, models: list | None = None) -> bool:
        """Run the image shown through each compared detector (`models`: the pickers' by default; a
        detector object may stand in for an id); False when there is nothing (new) to compare."""
        models = self.compared_models() if models is None else list(models)
        if not models:
            return False
        path = self.controller.current_path
        if len(models) < 2 or path is None:
            self.comparison.forget()
            self.view.set_layers([])
            self._legend_lines(["Pick a second object detector to compare with: one from the list, a model "
                                "folder (Folder...) or a Hub id." if len(models) < 2 else
                                "Open an image to compare the detectors on it."])
            return False
        return self.comparison.run(path, models)

    def model_name(self, model) -> str:
        if isinstance(model, str):
            return self.compare.display_name(model) if self.compare is not None else model
        return str(getattr(model, "name", type(model).__name__))

    def _on_compare_begun(self, models: list) -> None:
        self._compare_state = {}
        self._update_layers()

    def _on_compare_result(self, i: int, res) -> None:
        self._compare_state[i] = res
        if not self.view.has_image() and res.preview is not None:  # the one run's image failed to show
            self.view.set_image(pil_to_qimage(res.preview), QSize(res.width, res.height))
        self._update_layers()

    def _on_compare_failed(self, i: int, message: str) -> None:
        self._compare_state[i] = message
        self._update_layers()

    def _on_compare_finished(self, results: list) -> None:
        self._show_legend()
        self.compared.emit(results)

    def _update_layers(self) -> None:
        models = self.comparison.models
        self.view.set_layers([(self.model_name(m), COMPARE_COLORS[i % len(COMPARE_COLORS)],
                               self._compare_state[i].objects if hasattr(self._compare_state.get(i), "objects")
                               else []) for i, m in enumerate(models)])
        self._show_legend()

    def _show_legend(self) -> None:
        """One entry per compared detector: its colour, name, count at the threshold and time."""
        if not self.view.layers():
            return
        lines = []
        for i, (name, color, shown) in enumerate(self.view.layers()):
            state = self._compare_state.get(i)
            if isinstance(state, str):
                what = "stopped" if state == STOPPED else f"failed: {state}"
            elif state is None:
                what = "waiting for its turn..." if self.comparison.busy else "no answer"
            else:
                best = state.best_below(self.threshold, 1) if not shown else []
                near = f" (best below: {best[0].label} {best[0].score:.2f})" if best else ""
                what = (f"{plural(len(shown), 'object')} at or above {self.threshold:.2f}{near}, "
                        f"{state.seconds:.2f} s")
            mark = "&#9632;" if i % 2 == 0 else "&#9633;"  # the dashed one hollow, as drawn
            lines.append(f"<span style='color:{color.name()}'>{mark}</span> "
                         f"<b>{html.escape(name)}</b>: {html.escape(what)}")
        self._legend_lines(lines, escaped=True)

    def _legend_lines(self, lines: list[str], escaped: bool = False) -> None:
        if not escaped:
            lines = [html.escape(line) for line in lines]
        if self._compare_note:
            lines.insert(0, f"<i>{html.escape(self._compare_note)}</i>")
        self.legend.setText("<br>".join(lines))
        self.legend.setVisible(True)

    def legend_text(self) -> str:
        """The legend as plain text (tests, accessibility)."""
        doc = QTextDocument()
        doc.setHtml(self.legend.text())
        return doc.toPlainText()

    # -- blurring -------------------------------------------------------------------------------------
    def _choose_blur_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Save the blurred copies to")
        if folder:
            self.blur_to(folder)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        return QSize(900, 600)
