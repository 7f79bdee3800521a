"""Object and face detection on images: boxes over the picture, a threshold slider, face blurring.

`DetectionPanel(ctx, "objects")` or `DetectionPanel(ctx, "faces")`; the Image tab
embeds one per mode and calls `set_image(path)` / `set_images(paths)`. Detection
runs as a core job on the worker; the slider re-filters the kept detections
without running the model again.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QImage, QImageReader
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
    QVBoxLayout,
    QWidget,
)

from playground.core import detection
from playground.core.jobs import Job
from playground.ui.widgets.detect_view import DetectionView, pil_to_qimage
from playground.ui.widgets.model_picker import ModelPicker


KEEP_PREVIEWS = 24
MODES = ("objects", "faces")


class DetectionPanel(QWidget):
    """Detect objects or faces on one or many images."""

    job_finished = Signal()  # after each detection or blur job, whatever its outcome
    results_changed = Signal()

    def __init__(self, ctx, mode: str = "objects", parent: QWidget | None = None):
        super().__init__(parent)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        self.ctx = ctx
        self.mode = mode
        self.paths: list[str] = []
        self.results: dict[str, object] = {}  # path -> ObjectResult | FaceResult
        self.current_path: str | None = None
        self.last_error: str | None = None
        self.last_blur: list = []
        self._handle = None
        self._generation = 0
        self._memo: OrderedDict[tuple, object] = OrderedDict()  # recent single-image results
        self._previews: list[str] = []  # paths whose result still holds its display copy
        self._model: object = detection.YOLO_ID
        self._jobs = None  # JobRunner on the Image tab's lane, made on first use
        self._job_kind = ""
        self._blur_folder = ""
        self._build()

    # -- layout ------------------------------------------------------------------------
    def _build(self) -> None:
        root = QVBoxLayout(self)
        root.setContentsMargins(4, 4, 4, 4)
        bar = QHBoxLayout()
        root.addLayout(bar)
        if self.mode == "objects":
            self.picker = ModelPicker(self.ctx, "object-detection",
                                      placeholder="torchvision/NAME, a Hub id (e.g. facebook/detr-resnet-101) or a folder")
            self._model = self.picker.model_id() or detection.YOLO_ID
            self.picker.changed.connect(lambda m: self.set_model(m or detection.YOLO_ID))
            bar.addWidget(self.picker, 1)
        else:
            self.picker = None
            bar.addWidget(QLabel("MTCNN face detector (bundled, offline)"))
            bar.addStretch(1)
        bar.addWidget(QLabel("Threshold:"))
        self.slider = QSlider(Qt.Orientation.Horizontal)
        floor = detection.OBJECT_FLOOR if self.mode == "objects" else detection.FACE_FLOOR
        self.slider.setRange(round(floor * 100), 100)
        self.slider.setFixedWidth(160)
        default = detection.OBJECT_THRESHOLD if self.mode == "objects" else detection.FACE_THRESHOLD
        self.slider.setValue(round(default * 100))
        self.slider.setToolTip("Only detections scoring at least this much are shown (no re-run needed)")
        self.slider.valueChanged.connect(self._on_threshold)
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

    # -- public API -------------------------------------------------------------------------
    @property
    def threshold(self) -> float:
        return self.slider.value() / 100.0

    def set_threshold(self, value: float) -> None:
        self.slider.setValue(round(value * 100))

    @property
    def model(self):
        return self._model

    def set_model(self, model) -> None:
        """A model id, `torchvision/NAME`, a Hub id, a folder, or a detector object; re-runs on the images."""
        self._model = model
        if isinstance(model, str) and self.picker is not None:
            if self.picker.model_id() != model:
                self.picker.set_model(model)
            self.picker.remember()
        if self.paths:
            self._run()

    def set_image(self, path: str) -> None:
        """Detect on one image; an image seen recently with the same model is shown without re-running."""
        key = self._memo_key(str(path))
        res = self._memo.get(key) if key is not None else None
        if res is None or self.busy:
            self.set_images([path])
            return
        self._memo.move_to_end(key)
        self.paths = [str(path)]
        self.results = {}
        self._previews = []
        self.current_path = None
        self.file_list.clear()
        self.file_list.setVisible(False)
        self._job_kind = "detect"
        self._on_result_event(res)
        self._show_summary()
        if self.blur_button is not None:
            self.blur_button.setEnabled(res.error is None)

    def _memo_key(self, path: str) -> tuple | None:
        if not isinstance(self._model, str) and self.mode == "objects":
            return None
        try:
            stamp = Path(path).stat().st_mtime_ns
        except OSError:
            return None
        return (self.mode, self._model if self.mode == "objects" else "", path, stamp)

    def _remember(self, res) -> None:
        key = self._memo_key(res.path)
        if key is None or res.error is not None:
            return
        self._memo[key] = res
        self._memo.move_to_end(key)
        while len(self._memo) > 12:
            self._memo.popitem(last=False)

    def set_images(self, paths: list[str]) -> None:
        """Detect on these images (folders expand); the first one is shown as its result arrives."""
        self.paths = [str(p) for p in paths]
        self.results = {}
        self._previews = []
        self.current_path = None
        self.file_list.clear()
        self.table.setRowCount(0)
        self.view.set_message("Working…")
        if self.paths:
            self._run()

    def open_paths(self, paths: list[str]) -> None:
        self.set_images(paths)

    def cancel(self) -> None:
        if self._handle is not None and not self._handle.is_finished:
            self._handle.cancel()

    @property
    def busy(self) -> bool:
        return self._handle is not None and not self._handle.is_finished

    def shutdown(self) -> None:
        self.cancel()

    def visible_detections(self) -> list:
        return self.view.visible_items()

    # -- jobs ----------------------------------------------------------------------------------
    def _submit(self, job: Job):
        if self._jobs is None:
            self._jobs = self.ctx.runner("image", self)
        return self._jobs.submit(job)

    def _run(self) -> None:
        self.cancel()
        self._generation += 1
        gen = self._generation
        self.last_error = None
        if self.mode == "objects":
            job = Job(detection.detect_objects, (list(self.paths),),
                      {"model": self._model, "preview_size": detection.PREVIEW_MAX},
                      name="detect objects")
        else:
            job = Job(detection.detect_faces, (list(self.paths),),
                      {"preview_size": detection.PREVIEW_MAX}, name="detect faces")
        self._job_kind = "detect"
        self._start(job, gen, self._on_result_event)
        self.status.setText("Loading the model and detecting…")

    def _start(self, job: Job, gen: int, on_event) -> None:
        handle = self._submit(job)
        self._handle = handle
        handle.event.connect(lambda ev, g=gen: on_event(ev) if g == self._generation else None)
        handle.progress.connect(lambda f, t, g=gen: self._on_progress(f, t) if g == self._generation else None)
        handle.error.connect(lambda msg, g=gen: self._on_error(msg) if g == self._generation else None)
        handle.cancelled.connect(lambda g=gen: self._on_cancelled() if g == self._generation else None)
        handle.finished.connect(lambda g=gen: self._on_finished(g))
        self.cancel_button.setVisible(True)
        self.progress.setVisible(len(self.paths) > 1 or isinstance(job.kwargs.get("blur_to"), str))
        self.progress.setRange(0, 0)
        if self.blur_button is not None:
            self.blur_button.setEnabled(False)

    def _on_progress(self, fraction, text: str) -> None:
        if fraction is None:
            self.progress.setRange(0, 0)
        else:
            self.progress.setRange(0, 1000)
            self.progress.setValue(round(fraction * 1000))
        if text:
            self.status.setText(text)

    def _on_result_event(self, ev) -> None:
        if not isinstance(ev, detection.ObjectResult | detection.FaceResult):
            return
        self.results[ev.path] = ev
        if self._job_kind == "detect":
            self._remember(ev)
        self._trim_previews(ev)
        if len(self.results) > 1 or len(self.paths) > 1 or Path(self.paths[0]).is_dir():
            self.file_list.setVisible(True)
        item = QListWidgetItem(self._list_text(ev))
        item.setData(Qt.ItemDataRole.UserRole, ev.path)
        item.setToolTip(ev.error or ev.path)
        if ev.error:
            item.setForeground(Qt.GlobalColor.red)
        self.file_list.addItem(item)
        if self.current_path is None:
            self.file_list.setCurrentItem(item)  # shows it
        self.results_changed.emit()

    def _list_text(self, res) -> str:
        name = Path(res.path).name
        if res.error:
            return f"{name}: error"
        n = len(res.above(self.threshold))
        what = "object" if self.mode == "objects" else "face"
        return f"{name}: {n} {what}{'s' if n != 1 else ''}"

    def _on_error(self, message: str) -> None:
        self.last_error = message
        self.status.setText(f"<span style='color:#c0392b'>{message}</span>")
        if not self.results:
            self.view.set_message(message)

    def _on_cancelled(self) -> None:
        if self._job_kind == "blur":
            self.status.setText(f"Cancelled: {len(self.last_blur)} blurred copies were saved to {self._blur_folder}.")
        else:
            self.status.setText(f"Cancelled after {len(self.results)} images.")

    def _on_finished(self, gen: int) -> None:
        if gen == self._generation:
            self.cancel_button.setVisible(False)
            self.progress.setVisible(False)
            if self.blur_button is not None:
                self.blur_button.setEnabled(any(r.error is None for r in self.results.values()))
            handle = self._handle
            ok = handle is not None and handle.state.value == "done"
            if ok and self._job_kind == "detect" and self.current_path in self.results:
                self._show_summary()
            elif ok and self._job_kind == "blur":
                self._on_blur_event(None)
        self.job_finished.emit()

    # -- showing ----------------------------------------------------------------------------------
    def _on_file_selected(self, item, _previous=None) -> None:
        if item is None:
            return
        self.show_path(item.data(Qt.ItemDataRole.UserRole))

    def show_path(self, path: str) -> None:
        res = self.results.get(path)
        if res is None:
            return
        self.current_path = path
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
        items = res.objects if self.mode == "objects" else res.faces
        self.view.set_items(items)
        self._refresh_table()
        self._show_summary()

    def _trim_previews(self, res) -> None:
        """Keep display copies for the most recent images only: a folder of photos must not fill memory."""
        if res.preview is not None:
            self._previews.append(res.path)
        while len(self._previews) > KEEP_PREVIEWS:
            victims = [p for p in self._previews if p != self.current_path]
            if not victims:
                break
            self._previews.remove(victims[0])
            held = self.results.get(victims[0])
            if held is not None:
                held.preview = None

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

    def _on_threshold(self, value: int) -> None:
        t = value / 100.0
        self.threshold_label.setText(f"{t:.2f}")
        self.view.set_threshold(t)
        self._refresh_table()
        for i in range(self.file_list.count()):
            item = self.file_list.item(i)
            res = self.results.get(item.data(Qt.ItemDataRole.UserRole))
            if res is not None:
                item.setText(self._list_text(res))
        if self.current_path in self.results and not self.busy and self._job_kind == "detect":
            self._show_summary()

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

    def _show_summary(self) -> None:
        res = self.results.get(self.current_path)
        if res is None or res.error:
            return
        n = len(res.above(self.threshold))
        if self.mode == "objects":
            what = f"{n} object{'s' if n != 1 else ''}"
            model = f" · {res.model}"
        else:
            what = f"{n} face{'s' if n != 1 else ''}"
            model = ""
        done = [r for r in self.results.values() if r.error is None]
        rate = ""
        if len(done) > 1:
            total = sum(r.seconds for r in done)
            rate = f" · {len(done) / total:.1f} images/s" if total > 0 else ""
        self.status.setText(f"{Path(res.path).name}: {what} at or above {self.threshold:.2f} "
                            f"· {res.width}×{res.height} · {res.seconds:.2f} s{model}{rate}")

    # -- blurring -------------------------------------------------------------------------------------------
    def _choose_blur_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Save the blurred copies to")
        if folder:
            self.blur_to(folder)

    def blur_to(self, folder: str) -> None:
        """Save a copy of every image (with its faces above the threshold blurred) into `folder`."""
        done = {p: r.faces for p, r in self.results.items() if r.error is None}
        if self.busy:  # detection still running: blur everything, detecting the rest in the blur job
            self.cancel()
            sources = list(self.paths)
        else:  # files that failed to open are not tried again
            sources = [p for p in self.results if self.results[p].error is None] or list(self.paths)
        self._generation += 1
        gen = self._generation
        self.last_error = None
        self.last_blur = []
        job = Job(detection.blur_faces, (sources, folder), {"threshold": self.threshold, "known": done},
                  name="blur faces")
        self._job_kind = "blur"
        self._start(job, gen, self._on_blur_event)
        self.progress.setVisible(True)
        self.status.setText(f"Saving blurred copies to {folder}…")
        self._blur_folder = folder

    def _on_blur_event(self, ev) -> None:
        """Each blurred copy as it is saved (None: just refresh the summary)."""
        if isinstance(ev, detection.FaceResult):
            self.last_blur.append(ev)
        elif ev is not None:
            return
        saved = [r for r in self.last_blur if r.blurred]
        failed = [r for r in self.last_blur if r.error]
        faces = sum(len(r.above(self.threshold)) for r in saved)
        text = (f"Saved {len(saved)} cop{'ies' if len(saved) != 1 else 'y'} with {faces} "
                f"face{'s' if faces != 1 else ''} blurred to {self._blur_folder}")
        if failed:
            text += f"; {len(failed)} failed ({failed[0].error})"
        self.status.setText(text)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        return QSize(900, 600)
