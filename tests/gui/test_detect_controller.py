"""The Objects/Faces controller alone: no panel, no window; real bundled models on skimage's photos."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest
from PIL import Image

from playground.core import detection

TIMEOUT = 180_000  # ms; the CI machine is small and shared


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    from skimage import data

    root = tmp_path_factory.mktemp("controller_photos")
    Image.fromarray(data.coffee()).save(root / "coffee.png")
    Image.fromarray(data.astronaut()).save(root / "astronaut.png")
    (root / "broken.png").write_bytes(b"nope")
    return root


@pytest.fixture
def ctx(worker, settings):
    from playground.ui.context import AppContext

    return AppContext(worker, settings, None)


class Recorder:
    """Every signal the controller sends, in order."""

    NAMES = ("reset", "result", "started", "progress", "status", "error", "cancelled", "blurred",
             "threshold_changed", "finished")

    def __init__(self, controller):
        self.log: list[tuple] = []
        for name in self.NAMES:
            getattr(controller, name).connect(lambda *args, n=name: self.log.append((n, *args)))

    def of(self, name: str) -> list:
        return [entry[1:] for entry in self.log if entry[0] == name]


def make(ctx, mode="objects"):
    from playground.ui.detect_controller import DetectionController

    c = DetectionController(ctx, mode)
    return c, Recorder(c)


def run_and_wait(qtbot, controller, action):
    with qtbot.waitSignal(controller.finished, timeout=TIMEOUT):
        action()


def test_objects_on_a_photo_with_the_bundled_yolo(qtbot, ctx, photos):
    c, rec = make(ctx, "objects")
    assert c.model == detection.YOLO_ID and c.threshold == detection.OBJECT_THRESHOLD
    coffee = str(photos / "coffee.png")
    run_and_wait(qtbot, c, lambda: c.set_image(coffee))
    assert c.last_error is None and not c.busy and c.kind == "detect"
    assert rec.of("started") == [("detect",)] and len(rec.of("finished")) == 1
    [(res,)] = rec.of("result")
    assert c.results == {coffee: res} and isinstance(res, detection.ObjectResult)
    assert res.model == detection.YOLO_ID and res.preview is not None
    assert c.show(coffee) is res and c.current_path == coffee
    labels = [d.label for d in c.detections()]
    assert labels and labels[0] == "cup"
    assert c.list_text(res) == f"coffee.png: {len(labels)} object" + ("s" if len(labels) != 1 else "")
    assert c.summary().startswith(f"coffee.png: {len(labels)} object") and detection.YOLO_ID in c.summary()

    # The threshold re-filters what was kept; the model is not run again.
    handle = c.handle
    cup = c.detections()[0]
    c.set_threshold(cup.score + 0.01)
    assert c.detections() == [] and rec.of("threshold_changed")[-1] == (cup.score + 0.01,)
    assert rec.of("status")[-1] == (c.summary(),) and "nothing at or above" in c.summary()
    assert c.candidates()[0] == cup and f"shown dashed: cup {cup.score:.2f}" in c.summary()
    c.set_threshold(0.0)  # clamped to the floor the engine keeps
    assert c.threshold == detection.OBJECT_FLOOR and c.detections()[0].label == "cup"
    assert c.handle is handle

    # A recent result (same file, same model) comes back at once, without a job.
    c.set_threshold(detection.OBJECT_THRESHOLD)
    before = len(rec.log)
    assert c.set_image(coffee) is True
    assert c.handle is handle and not c.busy
    assert [e[0] for e in rec.log[before:]] == ["reset", "result"] and rec.log[-1][1] is res
    assert c.results == {coffee: res} and c.paths == [coffee]
    c.set_model("bundled/other")  # another model: no memo hit
    assert c.busy and c.handle is not handle
    qtbot.waitUntil(lambda: not c.busy, timeout=TIMEOUT)


def test_faces_on_the_astronaut_with_mtcnn(qtbot, ctx, photos):
    c, _rec = make(ctx, "faces")
    assert c.model == detection.MTCNN_ID and c.threshold == pytest.approx(0.95)
    astronaut = str(photos / "astronaut.png")
    run_and_wait(qtbot, c, lambda: c.set_images([astronaut]))
    res = c.results[astronaut]
    assert isinstance(res, detection.FaceResult) and res.error is None
    assert c.should_show(res) and c.show(astronaut) is res
    faces = c.detections()
    assert len(faces) == 1 and faces[0].label == "face" and len(faces[0].landmarks) == 5
    assert faces[0].score >= 0.95 and c.can_blur
    assert c.summary().startswith("astronaut.png: 1 face at or above 0.95 · 512×512")
    assert c.list_text(res) == "astronaut.png: 1 face"


def test_a_broken_file_is_an_error_result_and_a_missing_model_an_error(qtbot, ctx, photos, tmp_path):
    c, rec = make(ctx, "objects")
    broken = str(photos / "broken.png")
    run_and_wait(qtbot, c, lambda: c.set_images([broken]))
    [(res,)] = rec.of("result")
    assert res.path == broken and res.error and "broken.png" in res.error
    assert c.last_error is None and rec.of("error") == []  # the job itself went well
    assert c.show(broken) is res and c.detections() == [] and c.summary() == ""
    assert c.list_text(res) == "broken.png: error"
    assert c.set_image(broken) is False  # errors are not remembered: it runs again
    qtbot.waitUntil(lambda: not c.busy, timeout=TIMEOUT)

    missing = str(tmp_path / "no-such-model")
    run_and_wait(qtbot, c, lambda: c.set_model(missing))
    assert c.model == missing
    assert c.last_error and "not found" in c.last_error
    assert rec.of("error")[-1] == (c.last_error,) and c.results == {}


def test_a_newer_run_cancels_the_older_and_drops_its_late_result(qtbot, ctx, photos):
    gate = threading.Semaphore(0)
    entered = threading.Event()
    late = []

    class GatedDetector:
        name = "gated"

        def detect(self, img, min_score):
            entered.set()
            assert gate.acquire(timeout=30)
            late.append(img.size)
            return [detection.DetectedObject("old", 0.9, (1.0, 2.0, 30.0, 40.0))]

    class QuickDetector:
        name = "quick"

        def detect(self, img, min_score):
            return [detection.DetectedObject("new", 0.8, (3.0, 4.0, 50.0, 60.0))]

    c, rec = make(ctx, "objects")
    paths = [str(photos / "coffee.png"), str(photos / "astronaut.png")]
    c.model = GatedDetector()
    c.set_images(paths)
    old = c.handle
    qtbot.waitUntil(entered.is_set, timeout=TIMEOUT)  # the old run is inside its first image
    with qtbot.waitSignal(c.finished, timeout=TIMEOUT):
        c.set_model(QuickDetector())  # the re-run replaces it ...
        gate.release()  # ... and the old run's image in progress finishes late
    assert late, "the old run did produce its late result"
    assert old.state.value == "cancelled" and c.handle is not old and c.handle.state.value == "done"
    assert [r.model for (r,) in rec.of("result")] == ["quick", "quick"]
    assert rec.of("cancelled") == [] and rec.of("error") == []
    assert len(rec.of("finished")) == 1  # the replaced run ended silently
    assert [d.label for r in c.results.values() for d in r.objects] == ["new", "new"]

    # Cancelling the current run is heard: cancelled, a status line, then finished.
    entered.clear()
    c.model = GatedDetector()
    c.set_images(paths)
    qtbot.waitUntil(entered.is_set, timeout=TIMEOUT)
    with qtbot.waitSignal(c.finished, timeout=TIMEOUT):
        c.cancel()
        gate.release()
    assert c.handle.state.value == "cancelled" and len(rec.of("cancelled")) == 1
    assert rec.of("status")[-1][0].startswith("Cancelled after ")


def test_blur_to_a_folder_writes_copies_atomically(qtbot, ctx, photos, tmp_path, monkeypatch):
    c, rec = make(ctx, "faces")
    paths = [str(photos / "astronaut.png"), str(photos / "coffee.png"), str(photos / "broken.png")]
    run_and_wait(qtbot, c, lambda: c.set_images(paths))
    c.show(paths[0])
    face = c.detections()[0]
    assert c.results[paths[2]].error and c.can_blur

    out = tmp_path / "safe"
    out.mkdir()
    (out / "astronaut.png").write_bytes(b"an older copy")  # replaced whole, never written into
    replaced = []
    real_replace = os.replace

    def recording_replace(src, dst, *args, **kwargs):
        replaced.append((os.path.basename(src), os.path.basename(dst), os.path.getsize(src)))
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", recording_replace)
    with qtbot.waitSignal(c.blurred, timeout=TIMEOUT) as done:
        c.blur_to(str(out))
    qtbot.waitUntil(lambda: not c.busy, timeout=TIMEOUT)
    monkeypatch.undo()

    copies = done.args[0]
    assert [r.path for r in copies] == paths[:2]  # the file that failed to open is not tried again
    assert [r.blurred for r in copies] == [str(out / "astronaut.png"), str(out / "coffee.png")]
    assert c.last_blur == copies and c.kind == "blur" and rec.of("started")[-1] == ("blur",)
    assert rec.of("status")[-1][0].startswith("Saved 2 copies with 1 face blurred to ")
    # Each copy was written to a temp file beside it, then renamed over the target in one step.
    assert sorted(dst for _src, dst, _n in replaced) == ["astronaut.png", "coffee.png"]
    for src, dst, size in replaced:
        assert src.startswith(f".{dst}.") and src.endswith(".part") and size > 0
    assert sorted(p.name for p in out.iterdir()) == ["astronaut.png", "coffee.png"]  # no temp file left
    before = np.asarray(Image.open(photos / "astronaut.png"))
    after = np.asarray(Image.open(out / "astronaut.png"))
    x0, y0, x1, y1 = (int(v) for v in face.box)
    assert not np.array_equal(before[y0:y1, x0:x1], after[y0:y1, x0:x1])
    assert np.array_equal(before[300:], after[300:])
    assert np.array_equal(np.asarray(Image.open(photos / "coffee.png")), np.asarray(Image.open(out / "coffee.png")))


def test_a_rerun_with_another_model_keeps_the_image_shown(qtbot, ctx, photos):
    class Named:
        def __init__(self, name):
            self.name = name

        def detect(self, img, min_score):
            return [detection.DetectedObject(self.name, 0.9, (1.0, 2.0, 30.0, 40.0))]

    c, _rec = make(ctx, "objects")
    paths = [str(photos / "coffee.png"), str(photos / "astronaut.png")]
    c.model = Named("a")
    run_and_wait(qtbot, c, lambda: c.set_images(paths))
    assert c.batch and c.should_show(c.results[paths[0]])
    c.show(paths[1])
    run_and_wait(qtbot, c, lambda: c.set_model(Named("b")))
    assert c.paths == paths and [r.model for r in c.results.values()] == ["b", "b"]
    assert c.wanted == paths[1] and c.current_path is None
    assert not c.should_show(c.results[paths[0]]) and c.should_show(c.results[paths[1]])
    c.set_model(Named("c"))  # a re-run replaced before the image came back still waits for it
    run_and_wait(qtbot, c, lambda: c.set_model(Named("d")))
    assert c.wanted == paths[1] and [r.model for r in c.results.values()] == ["d", "d"]
    run_and_wait(qtbot, c, lambda: c.set_images(paths))  # a new set of images: the first is shown
    assert c.wanted is None and c.should_show(c.results[paths[0]])
