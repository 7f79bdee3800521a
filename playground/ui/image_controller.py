"""The Image tab's logic without its widgets: classification batches and re-runs, Grad-CAM, export.

`ImageController` owns the tab's `JobRunner` on the "image" lane and the list of results
(`items`, in input order). The view (`playground.ui.image_tab.ImageTab`) sets the model id
and top-k as plain values, calls `classify`, `reclassify`, `select`, `request_cam`, `cancel`
and `clear`, and renders the signals. Incoming results are applied in batches (a folder can
send hundreds a second): one `rows_added` / `rows_updated` per 40 ms.

Rules kept here:
- a newer re-run (another model or top-k over the same images) replaces an older re-run,
  whose late rows and summary are dropped; a batch still adding images is never cancelled
  by a re-run;
- a Grad-CAM result is shown only for what is still asked for: the selected image, the
  class and the model it was requested with (a newer request cancels the older job).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from playground.core import tasks
from playground.core.jobs import Job
from playground.ui.widgets.deferred import lazy_module

image = lazy_module("playground.core.image")  # on the first image, not before the first paint
explain_image = lazy_module("playground.core.explain.image")
IMAGE_TASK = "image-classification"  # = image.TASK, named here so the first paint needs no engine import

FLUSH_MS = 40
RERUN_KEY = "rerun"  # JobRunner key: a newer re-run cancels the older one and drops its outcome
CAM_KEY = "cam"


class ImageController(QObject):
    # Indices into `items` appended in this flush. Thumbnails are freed right after the emit:
    # connect directly (same thread) and copy `items[i].thumbnail` in the handler.
    rows_added = Signal(list)
    rows_updated = Signal(list)  # indices whose results a re-run replaced in place
    started = Signal(object)  # ClassifyStarted: the model is loaded and the inputs are listed
    progress = Signal(object, str)  # fraction (or None: unknown), text
    busy_changed = Signal(bool)  # True when a classification job is submitted, False when the last one ends
    batch_finished = Signal(object)  # BatchSummary, or None when the job failed
    error = Signal(str)  # a classification job failed (one sentence); batch_finished(None) follows
    cam_ready = Signal(object)  # ImageExplanation (with its overlay) for the current selection
    cam_failed = Signal(str)
    cleared = Signal()

    def __init__(self, ctx, parent: QObject | None = None, flush_ms: int = FLUSH_MS):
        super().__init__(parent)
        self.ctx = ctx
        self.runner = ctx.runner("image", self)
        self.items: list[image.ImageResult] = []
        self.selected = -1
        self.model: str = tasks.default_model(IMAGE_TASK) or ""
        self.top_k: int = 5
        self.last_summary: image.BatchSummary | None = None
        self.last_error = ""
        self.handles: list = []  # classification jobs not finished yet
        self._rerun = None  # the re-run whose rows still count
        self._dropped: set = set()  # jobs running when `clear` was called: their late outcome is ignored
        self._pending: list[tuple[object, image.ImageResult]] = []  # (re-run handle or None, result)
        self._cam_key: tuple | None = None  # (path, class index, model) asked for
        self._flush_timer = QTimer(self, singleShot=True, interval=flush_ms, timeout=self.flush)

    # -- state ------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return bool(self.handles)

    @property
    def current(self) -> image.ImageResult | None:
        return self.items[self.selected] if 0 <= self.selected < len(self.items) else None

    def select(self, index: int) -> bool:
        """Make item `index` the selection; True when it changed (its Grad-CAM request is then dropped)."""
        if not 0 <= index < len(self.items):
            return False
        changed = index != self.selected
        self.selected = index
        if changed:
            self.clear_cam()
        return changed

    # -- classification -----------------------------------------------------------------
    def classify(self, sources: list[str], rerun: bool = False):
        """Classify files, folders and URLs with `model` and `top_k`; new images are appended.

        With `rerun`, the results replace the rows of the same images instead (no thumbnails).
        Returns the job's handle, or None when there is nothing to classify.
        """
        sources = [str(s) for s in sources if str(s).strip()]
        if not sources:
            return None
        job = Job(image.classify, (sources,),
                  {"model": self.model, "top_k": int(self.top_k), "thumbnails": not rerun},
                  name="classify images")
        holder: list = []

        def live(fn):
            return lambda *a: None if holder[0] in self._dropped else fn(*a)

        handle = self.runner.submit(job, on_event=live(lambda ev: self._on_event(holder[0], rerun, ev)),
                                    on_progress=live(self.progress.emit),
                                    on_result=live(self._on_result),
                                    on_error=live(lambda message: self._on_error(message, holder[0])),
                                    on_finished=lambda: self._on_finished(holder[0]),
                                    key=RERUN_KEY if rerun else None)
        holder.append(handle)
        handle.setProperty("rerun", rerun)
        if rerun:
            self._rerun = handle
        self.handles.append(handle)
        self.last_error = ""
        self.busy_changed.emit(True)
        return handle

    def add_unclassified(self, results: list[image.ImageResult]) -> None:
        """Images opened in another mode (Objects, Faces) join the strip, not classified yet
        (no predictions, no error); a path already there is not added twice."""
        known = {r.path for r in self.items} | {r.path for _, r in self._pending}
        for result in results:
            if result.path not in known:
                known.add(result.path)
                self._pending.append((None, result))
        if self._pending and not self._flush_timer.isActive():
            self._flush_timer.start()

    @property
    def unclassified(self) -> list[image.ImageResult]:
        return [r for r in self.items if r.ok and not r.predictions]

    def reclassify(self):
        """Run the current model and top-k again over every image (a newer re-run replaces this one)."""
        if not self.items:
            return None
        return self.classify([r.path for r in self.items], rerun=True)

    def cancel(self) -> None:
        """Stop the classification jobs (what they finished stays); a Grad-CAM job is left alone."""
        for h in list(self.handles):
            h.cancel()

    def _on_event(self, handle, rerun: bool, event) -> None:
        if isinstance(event, image.ClassifyStarted):
            self.started.emit(event)
        elif isinstance(event, image.ImageResult):
            self._pending.append((handle if rerun else None, event))
            if not self._flush_timer.isActive():
                self._flush_timer.start()

    def flush(self) -> None:
        """Apply queued results in one go; emits rows_added, then rows_updated."""
        self._flush_timer.stop()
        pending, self._pending = self._pending, []
        added: list[int] = []
        updated: list[int] = []
        for rerun_handle, result in pending:
            if rerun_handle is not None:
                if rerun_handle is not self._rerun:
                    continue  # a newer re-run replaced this one
                i = result.index
                if 0 <= i < len(self.items) and self.items[i].path == result.path:
                    result.thumbnail = self.items[i].thumbnail
                    self.items[i] = result
                    if i not in updated:
                        updated.append(i)
                continue
            result.index = len(self.items)
            self.items.append(result)
            added.append(result.index)
        if added:
            self.rows_added.emit(added)
            for i in added:
                if i < len(self.items):
                    self.items[i].thumbnail = None  # the view holds its own copy; a big folder keeps less memory
        if updated:
            self.rows_updated.emit(updated)

    def _on_result(self, summary: image.BatchSummary) -> None:
        self.flush()
        self.last_summary = summary
        self.batch_finished.emit(summary)

    def _on_error(self, message: str, handle=None) -> None:
        self.flush()
        if handle is not None and handle is self._rerun:
            # Another model (or top-k) failed: the labels shown are the old model's, not its answer.
            stale = [i for i, r in enumerate(self.items) if r.predictions]
            for i in stale:
                self.items[i].predictions = []
            if stale:
                self.rows_updated.emit(stale)
        self.last_error = message
        self.error.emit(message)
        self.batch_finished.emit(None)

    def _on_finished(self, handle) -> None:
        self._dropped.discard(handle)
        if handle in self.handles:
            self.handles.remove(handle)
            if not self.handles:
                self.busy_changed.emit(False)

    # -- Grad-CAM ----------------------------------------------------------------------
    def request_cam(self, row: int, size: tuple[int, int] | None = None):
        """The map of the selected image for its prediction `row`, at `size` (width, height): Grad-CAM,
        or occlusion for a model without gradients (ONNX).

        Returns the Prediction a job was started for, or None (nothing to do, or the same
        map is already asked for).
        """
        result = self.current
        if result is None or not result.ok or not 0 <= row < len(result.predictions):
            return None
        pred = result.predictions[row]
        key = (result.path, pred.index, self.model)
        if key == self._cam_key:
            return None
        self._cam_key = key
        job = Job(explain_image.explain, (result.path,),
                  {"model": self.model, "class_index": pred.index, "size": tuple(size) if size else None,
                   "overlay": True}, name="explain image")
        self.runner.submit(job, on_result=lambda cam, k=key: self._on_cam(k, cam),
                           on_error=lambda msg, k=key: self._on_cam_error(k, msg), key=CAM_KEY)
        return pred

    def clear_cam(self) -> None:
        """Forget the Grad-CAM request: a result still on its way is not shown."""
        if self._cam_key is not None:
            self.runner.cancel(CAM_KEY)
        self._cam_key = None

    def _on_cam(self, key: tuple, cam) -> None:
        if key == self._cam_key and cam.overlay is not None:
            self.cam_ready.emit(cam)

    def _on_cam_error(self, key: tuple, message: str) -> None:
        if key == self._cam_key:
            self.cam_failed.emit(message)

    # -- export, clearing, shutdown ---------------------------------------------------------
    def export_csv(self, target: str) -> Path:
        return image.export_csv(target, self.items)

    def clear(self) -> None:
        """Cancel the classification jobs and forget every result (theirs still on the way too)."""
        self.cancel()
        self._dropped.update(self.handles)
        self._flush_timer.stop()
        self._pending.clear()
        self._rerun = None
        self.items.clear()
        self.selected = -1
        self.clear_cam()
        self.cleared.emit()

    def shutdown(self) -> None:
        self._flush_timer.stop()
        self.runner.cancel()
