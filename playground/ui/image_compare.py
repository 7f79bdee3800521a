"""Compare in the Image tab, without its widgets: one image through two (up to four) models.

`ClassifierComparison` runs the shown image through each classifier as its own job on the
image lane (the lane runs one job at a time, so the models run one after another), keeps each
column's result and times, asks each model for its Grad-CAM of a class, and says whether the
models agree on the top class (`agreement`). `DetectorComparison` runs one image through each
object detector the same way; the Objects panel overlays their boxes, one colour per model.

A newer comparison replaces the one before it (its late results are dropped); `cancel` stops
every job of the comparison, Grad-CAM included.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, Qt, Signal

from playground.core.jobs import Job
from playground.ui.widgets.deferred import lazy_module

image = lazy_module("playground.core.image")
explain_image = lazy_module("playground.core.explain.image")
detection = lazy_module("playground.core.detection")

STOPPED = "Stopped."
COMPARE_KEY = "compare"
CAM_KEY = "compare-cam"


def agreement(names: list[str], tops: list[str | None]) -> tuple[bool | None, str]:
    """Whether the models that answered agree on the top class, and a sentence that says so.

    `tops` holds each model's top-1 label, None where the model failed or was stopped. Returns
    (True, ...) when they agree, (False, ...) naming each model's answer when they do not, and
    (None, ...) when fewer than two answered.
    """
    answered = [(n, t) for n, t in zip(names, tops, strict=True) if t is not None]
    missing = [n for n, t in zip(names, tops, strict=True) if t is None]
    tail = f" ({', '.join(missing)}: no answer)" if missing and len(answered) >= 2 else ""
    if len(answered) < 2:
        return None, "Fewer than two models answered: nothing to compare."
    labels = {t.strip().lower() for _, t in answered}
    if len(labels) == 1:
        who = "Both models" if len(answered) == 2 else f"All {len(answered)} models"
        return True, f"{who} agree on the top class: '{answered[0][1]}'.{tail}"
    said = ", ".join(f"{n} says '{t}'" for n, t in answered)
    return False, f"They disagree on the top class: {said}.{tail}"


class _Comparison(QObject):
    """One job per model on the image lane; a newer run (or `cancel`) makes the older one's news stale."""

    begun = Signal(list)  # the model ids compared, in column order
    progress = Signal(int, str)  # column, text
    failed = Signal(int, str)  # column, message (STOPPED when cancelled)
    finished = Signal(list)  # each column's result, None where it failed or was stopped
    busy_changed = Signal(bool)

    def __init__(self, ctx, parent: QObject | None = None):
        super().__init__(parent)
        self.runner = ctx.runner("image", self)
        self.models: list = []
        self.results: dict[int, object] = {}
        self.handles: dict[int, object] = {}  # column -> the job still running or queued
        self.key: tuple | None = None  # what the current comparison is of
        self._generation = 0
        self._started: dict[int, float] = {}

    @property
    def busy(self) -> bool:
        return bool(self.handles)

    def make_job(self, i: int, model) -> Job:  # pragma: no cover - subclasses say what a model runs
        raise NotImplementedError

    def on_result(self, i: int, value, seconds: float) -> None:  # pragma: no cover
        raise NotImplementedError

    def start(self, key: tuple, models: list) -> bool:
        """Run every model (one job each); False when this very comparison was already started: shown,
        under way or cancelled (a re-shown image must not undo a Cancel; `forget` allows it again)."""
        if key == self.key:
            return False
        self.cancel()
        self._generation += 1
        gen = self._generation
        self.key, self.models, self.results, self._started = key, list(models), {}, {}
        self.begun.emit(list(models))
        for i, model in enumerate(self.models):
            handle = self.runner.submit(
                self.make_job(i, model), key=(COMPARE_KEY, i),
                on_progress=lambda _f, text, i=i: gen == self._generation and text and self.progress.emit(i, text),
                on_result=lambda value, i=i: gen == self._generation and self._result(i, value),
                on_error=lambda message, i=i: gen == self._generation and self.failed.emit(i, message),
                on_cancelled=lambda i=i: gen == self._generation and self.failed.emit(i, STOPPED),
                on_finished=lambda i=i: self._finished(gen, i))
            # Stamped on the worker thread as the job starts: a queued slot runs late when the UI is busy.
            handle.started.connect(lambda i=i: self._started.__setitem__(i, time.perf_counter()),
                                   Qt.ConnectionType.DirectConnection)
            self.handles[i] = handle
        self.busy_changed.emit(True)
        return True

    def _result(self, i: int, value) -> None:
        started = self._started.get(i)
        self.on_result(i, value, 0.0 if started is None else time.perf_counter() - started)

    def _finished(self, gen: int, i: int) -> None:
        if gen != self._generation:
            return
        self.handles.pop(i, None)
        if not self.handles:
            self.busy_changed.emit(False)
            self.finished.emit([self.results.get(n) for n in range(len(self.models))])

    def cancel(self) -> None:
        """Stop every job of the comparison (what finished stays shown)."""
        for handle in list(self.handles.values()):
            handle.cancel()

    def forget(self) -> None:
        """Cancel and drop the comparison: the next `start` runs even the same one again."""
        self.cancel()
        self._generation += 1
        if self.handles:
            self.handles.clear()
            self.busy_changed.emit(False)
        self.key, self.results = None, {}


class ClassifierComparison(_Comparison):
    result = Signal(int, object, float, float)  # column, ImageResult, seconds classifying, seconds of the job
    cam_ready = Signal(int, object)  # column, ImageExplanation with its overlay
    cam_failed = Signal(int, str)  # column, why there is no map (a model without a spatial feature map ...)

    def __init__(self, ctx, parent: QObject | None = None):
        super().__init__(ctx, parent)
        self.path = ""
        self.top_k = 5
        self._cams: dict[int, tuple] = {}  # column -> (path, model, class index) asked for

    def run(self, path: str, models: list[str], top_k: int) -> bool:
        self.path, self.top_k = path, int(top_k)
        self.clear_cams()
        return self.start((path, tuple(models), int(top_k)), models)

    def make_job(self, i: int, model) -> Job:
        return Job(image.classify, ([self.path],), {"model": model, "top_k": self.top_k, "thumbnails": False},
                   name=f"compare classifiers ({i + 1} of {len(self.models)})")

    def on_result(self, i: int, summary, seconds: float) -> None:
        if summary.cancelled or not summary.results:
            self.failed.emit(i, STOPPED)
            return
        row = summary.results[0]
        if not row.ok:
            self.failed.emit(i, row.error or "No answer.")
            return
        self.results[i] = row
        self.result.emit(i, row, summary.elapsed_s, seconds)

    def cancel(self) -> None:
        super().cancel()
        self.clear_cams()

    # -- Grad-CAM, one per column ------------------------------------------------------------
    def request_cam(self, i: int, row: int, size: tuple[int, int] | None = None) -> object | None:
        """Grad-CAM of column `i`'s model for its prediction `row`; the Prediction asked for, or None."""
        result = self.results.get(i)
        if result is None or not 0 <= row < len(result.predictions):
            return None
        pred = result.predictions[row]
        key = (self.path, self.models[i], pred.index)
        if self._cams.get(i) == key:
            return None
        self._cams[i] = key
        job = Job(explain_image.explain, (self.path,), {"model": self.models[i], "class_index": pred.index,
                                                 "size": tuple(size) if size else None, "overlay": True},
                  name="grad-cam (compare)")
        self.runner.submit(job, key=(CAM_KEY, i),
                           on_result=lambda cam, k=key: self._cams.get(i) == k and self.cam_ready.emit(i, cam),
                           on_error=lambda msg, k=key: self._cams.get(i) == k and self.cam_failed.emit(i, msg))
        return pred

    def clear_cams(self) -> None:
        for i in list(self._cams):
            self.runner.cancel((CAM_KEY, i))
        self._cams.clear()


class DetectorComparison(_Comparison):
    result = Signal(int, object)  # column, ObjectResult (its `seconds`: the detection of this image)

    def __init__(self, ctx, parent: QObject | None = None):
        super().__init__(ctx, parent)
        self.path = ""

    def run(self, path: str, models: list) -> bool:
        self.path = path
        key = (path, tuple(m if isinstance(m, str) else id(m) for m in models))
        return self.start(key, models)

    def make_job(self, i: int, model) -> Job:
        return Job(detection.detect_objects, ([self.path],),
                   {"model": model, "preview_size": detection.PREVIEW_MAX},
                   name=f"compare detectors ({i + 1} of {len(self.models)})")

    def on_result(self, i: int, results, seconds: float) -> None:
        res = results[0] if results else None
        if res is None:
            self.failed.emit(i, STOPPED)
        elif res.error:
            self.failed.emit(i, res.error)
        else:
            self.results[i] = res
            self.result.emit(i, res)
