"""What the Objects/Faces panel does, without its widgets: runs, results, the threshold, blurring.

`DetectionController(ctx, "objects")` or `DetectionController(ctx, "faces")` holds the
model, the threshold, the images being worked on and their results (one
`ObjectResult` / `FaceResult` per image), a small memo of recent single-image
results, and the detection and blur jobs it runs on the "image" lane through a
`JobRunner`. Every job goes under one runner key: a newer run or a blur cancels
the job before it, whose late results, errors and end are then dropped.

The view (`playground.ui.image_detect_panel.DetectionPanel`) calls the methods
and renders the signals; tests drive the controller alone.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from playground.core import detection
from playground.core.jobs import Job
from playground.core.wording import plural

MODES = ("objects", "faces")
KEEP_PREVIEWS = 24  # results that keep their display copy (a folder of photos must not fill memory)
MEMO_SIZE = 12  # recent single-image results shown again without running the model
JOB_KEY = "detect"  # detection and blur share it: one replaces the other


class DetectionController(QObject):
    """Detect objects or faces on one or many images; the results and jobs behind the panel."""

    reset = Signal()  # a new run began: `results` is empty, `paths` holds its images
    result = Signal(object)  # an ObjectResult | FaceResult of the current run (a memo hit included)
    started = Signal(str)  # a job was submitted: "detect" | "blur"
    progress = Signal(object, str)  # fraction (float, or None while unknown), text
    status = Signal(str)  # a line for the status bar (plain text)
    error = Signal(str)  # the current job failed as a whole (its message)
    cancelled = Signal()  # the current job stopped on request
    blurred = Signal(list)  # a blur job completed: its FaceResults (`.blurred` is the copy, or `.error`)
    threshold_changed = Signal(float)
    finished = Signal()  # the current job ended, whatever its outcome; a replaced job ends silently

    def __init__(self, ctx, mode: str = "objects", model: object = None, parent: QObject | None = None,
                 keep_previews: int = KEEP_PREVIEWS):
        super().__init__(parent)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        self.ctx = ctx
        self.mode = mode
        self.model: object = model or (detection.YOLO_ID if mode == "objects" else detection.MTCNN_ID)
        self.floor = detection.OBJECT_FLOOR if mode == "objects" else detection.FACE_FLOOR
        self.threshold = detection.OBJECT_THRESHOLD if mode == "objects" else detection.FACE_THRESHOLD
        self.keep_previews = keep_previews
        self.paths: list[str] = []
        self.results: dict[str, object] = {}  # path -> ObjectResult | FaceResult, in arrival order
        self.current_path: str | None = None  # the result the view shows
        self.wanted: str | None = None  # after a re-run: the image to show again once its result is in
        self.kind = ""  # what the results are from: "detect" | "blur" ("" before any)
        self.last_error: str | None = None
        self.last_blur: list = []
        self.blur_folder = ""
        self.handle = None  # the current job's JobHandle
        self._runner = None  # JobRunner on the "image" lane, made on first use
        self._memo: OrderedDict[tuple, object] = OrderedDict()
        self._previews: list[str] = []  # paths whose result still holds its display copy

    # -- state -----------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.handle is not None and not self.handle.is_finished

    @property
    def batch(self) -> bool:
        """More than one image (or a folder): the view lists them."""
        return len(self.results) > 1 or len(self.paths) > 1 or any(Path(p).is_dir() for p in self.paths[:1])

    @property
    def can_blur(self) -> bool:
        return self.mode == "faces" and not self.busy and any(r.error is None for r in self.results.values())

    def items(self, res) -> list:
        return res.objects if self.mode == "objects" else res.faces

    def detections(self, path: str | None = None) -> list:
        """The detections of `path` (default: the one shown) at or above the threshold."""
        res = self.results.get(path or self.current_path)
        return [] if res is None or res.error else res.above(self.threshold)

    def candidates(self, path: str | None = None) -> list:
        """When nothing on `path` (default: the one shown) passes the threshold: the best few below it."""
        res = self.results.get(path or self.current_path)
        if self.mode != "objects" or res is None or res.error or res.above(self.threshold):
            return []
        return res.best_below(self.threshold)

    def set_threshold(self, value: float) -> None:
        """Re-filter what is kept (the model is not run again)."""
        value = min(1.0, max(self.floor, float(value)))
        if value == self.threshold:
            return
        self.threshold = value
        self.threshold_changed.emit(value)
        if self.current_path in self.results and not self.busy and self.kind == "detect":
            self.status.emit(self.summary())

    def set_model(self, model) -> None:
        """A model id, `torchvision/NAME`, a Hub id, a folder, or a detector object; re-runs on the images."""
        self.model = model
        if self.paths:
            self.run(keep_shown=True)

    def show(self, path: str):
        """The view shows `path` now; its result (None when there is none)."""
        res = self.results.get(path)
        if res is not None:
            self.current_path = path
            self.wanted = None
        return res

    def should_show(self, res) -> bool:
        """Whether the view should show this new result (nothing shown yet, or the image shown before a re-run)."""
        return self.current_path is None and (self.wanted is None or res.path == self.wanted)

    # -- runs --------------------------------------------------------------------------------
    def set_image(self, path: str) -> bool:
        """Detect on one image; True when a recent result (same file, same model) is shown without a run."""
        key = self._memo_key(str(path))
        res = self._memo.get(key) if key is not None else None
        if res is None or self.busy:
            self.set_images([path])
            return False
        self._memo.move_to_end(key)
        self._begin([str(path)])
        self.kind = "detect"
        self._on_result(res)
        return True

    def set_images(self, paths: list[str]) -> None:
        """Detect on these images (folders expand); results arrive one by one on `result`."""
        self._begin([str(p) for p in paths])
        if self.paths:
            self._detect()

    def run(self, keep_shown: bool = False) -> None:
        """Detect on `paths` again (another model); with `keep_shown` the image shown stays shown."""
        self._begin(list(self.paths), keep_shown)
        if self.paths:
            self._detect()

    def _begin(self, paths: list[str], keep_shown: bool = False) -> None:
        shown = self.current_path or self.wanted  # a re-run of a re-run still waits for the same image
        self.wanted = shown if keep_shown and shown in paths else None
        self.paths = paths
        self.results = {}
        self._previews = []
        self.current_path = None
        self.reset.emit()

    def _detect(self) -> None:
        if self.mode == "objects":
            job = Job(detection.detect_objects, (list(self.paths),),
                      {"model": self.model, "preview_size": detection.PREVIEW_MAX}, name="detect objects")
        else:
            job = Job(detection.detect_faces, (list(self.paths),),
                      {"preview_size": detection.PREVIEW_MAX}, name="detect faces")
        self._submit(job, "detect", self._on_result)
        self.status.emit("Loading the model and detecting…")

    def blur_to(self, folder: str) -> None:
        """Save a copy of every image (its faces above the threshold blurred) into `folder`."""
        known = {p: r.faces for p, r in self.results.items() if r.error is None}
        if self.busy:  # detection still running: blur everything, detecting the rest in the blur job
            sources = list(self.paths)
        else:  # files that failed to open are not tried again
            sources = [p for p, r in self.results.items() if r.error is None] or list(self.paths)
        self.last_blur = []
        self.blur_folder = str(folder)
        job = Job(detection.blur_faces, (sources, str(folder)), {"threshold": self.threshold, "known": known},
                  name="blur faces")
        self._submit(job, "blur", self._on_blur_event)
        self.status.emit(f"Saving blurred copies to {folder}…")

    def cancel(self) -> None:
        if self.busy:
            self.handle.cancel()

    def shutdown(self) -> None:
        self.cancel()

    # -- jobs ------------------------------------------------------------------------------------
    def _submit(self, job: Job, kind: str, on_event) -> None:
        if self._runner is None:
            self._runner = self.ctx.runner("image", self)
        self.last_error = None
        self.kind = kind
        # The key cancels the job before this one and drops its late events, progress and errors.
        handle = self._runner.submit(job, key=JOB_KEY, on_event=on_event, on_progress=self.progress.emit,
                                     on_error=self._on_error, on_cancelled=self._on_cancelled)
        self.handle = handle
        handle.finished.connect(lambda h=handle: self._on_finished(h))
        self.started.emit(kind)

    def _on_result(self, ev) -> None:
        if not isinstance(ev, detection.ObjectResult | detection.FaceResult):
            return
        self.results[ev.path] = ev
        self._remember(ev)
        self._trim_previews(ev)
        self.result.emit(ev)

    def _on_blur_event(self, ev) -> None:
        if isinstance(ev, detection.FaceResult):
            self.last_blur.append(ev)
            self.status.emit(self.blur_summary())

    def _on_error(self, message: str) -> None:
        self.last_error = message
        self.error.emit(message)

    def _on_cancelled(self) -> None:
        if self.kind == "blur":
            self.status.emit(f"Cancelled: {plural(len(self.last_blur), 'blurred copy', 'blurred copies')} "
                             f"{'was' if len(self.last_blur) == 1 else 'were'} saved to {self.blur_folder}.")
        else:
            self.status.emit(f"Cancelled after {plural(len(self.results), 'image')}.")
        self.cancelled.emit()

    def _on_finished(self, handle) -> None:
        if handle is not self.handle:  # replaced by a newer job: its end is not this panel's news
            return
        if handle.state.value == "done":
            if self.kind == "detect" and self.current_path in self.results:
                self.status.emit(self.summary())
            elif self.kind == "blur":
                self.status.emit(self.blur_summary())
                self.blurred.emit(list(self.last_blur))
        self.finished.emit()

    # -- memory ----------------------------------------------------------------------------------
    def _memo_key(self, path: str) -> tuple | None:
        if self.mode == "objects" and not isinstance(self.model, str):
            return None  # a detector object: no stable identity to remember it by
        try:
            stamp = Path(path).stat().st_mtime_ns
        except OSError:
            return None
        return (self.mode, self.model if self.mode == "objects" else "", path, stamp)

    def _remember(self, res) -> None:
        if self.kind != "detect" or res.error is not None:
            return
        key = self._memo_key(res.path)
        if key is None:
            return
        self._memo[key] = res
        self._memo.move_to_end(key)
        while len(self._memo) > MEMO_SIZE:
            self._memo.popitem(last=False)

    def _trim_previews(self, res) -> None:
        """Keep display copies for the most recent images only (and the one shown)."""
        if res.preview is not None and res.path not in self._previews:
            self._previews.append(res.path)
        while len(self._previews) > self.keep_previews:
            victims = [p for p in self._previews if p != self.current_path]
            if not victims:
                break
            self._previews.remove(victims[0])
            held = self.results.get(victims[0])
            if held is not None:
                held.preview = None

    # -- words -------------------------------------------------------------------------------------
    def list_text(self, res) -> str:
        name = Path(res.path).name
        if res.error:
            return f"{name}: error"
        return f"{name}: {plural(len(res.above(self.threshold)), 'object' if self.mode == 'objects' else 'face')}"

    def summary(self, path: str | None = None) -> str:
        """One line about `path` (default: the one shown): what was found, size, time, model, rate."""
        res = self.results.get(path or self.current_path)
        if res is None or res.error:
            return ""
        n = len(res.above(self.threshold))
        what = f"{plural(n, 'object' if self.mode == 'objects' else 'face')} at or above {self.threshold:.2f}"
        best = self.candidates(res.path)
        if best:  # say why the picture is not empty, and how sure the model was
            listed = ", ".join(f"{o.label} {o.score:.2f}" for o in best)
            what = (f"nothing at or above {self.threshold:.2f}; "
                    + ("the best candidate below it is" if len(best) == 1
                       else f"the {len(best)} best candidates below it are") + f" shown dashed: {listed}")
        model = f" · {res.model}" if self.mode == "objects" else ""
        done = [r for r in self.results.values() if r.error is None]
        rate = ""
        if len(done) > 1:
            total = sum(r.seconds for r in done)
            rate = f" · {len(done) / total:.1f} images/s" if total > 0 else ""
        return (f"{Path(res.path).name}: {what} "
                f"· {res.width}×{res.height} · {res.seconds:.2f} s{model}{rate}")

    def blur_summary(self) -> str:
        saved = [r for r in self.last_blur if r.blurred]
        failed = [r for r in self.last_blur if r.error]
        faces = sum(len(r.above(self.threshold)) for r in saved)
        text = (f"Saved {plural(len(saved), 'copy', 'copies')} with {plural(faces, 'face')} blurred "
                f"to {self.blur_folder}")
        if failed:
            text += f"; {len(failed)} failed ({failed[0].error})"
        return text
