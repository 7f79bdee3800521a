"""The Image tab's controller alone (no tab, no window): batches, re-runs, Grad-CAM, clear and cancel."""

from __future__ import annotations

import pytest
from PIL import Image

from playground.core import image

TIMEOUT = 240_000  # ms; the bundled model loads on a small shared machine
CATS = {"tabby", "tiger cat", "Egyptian cat", "Persian cat", "Siamese cat", "lynx"}
CUPS = {"espresso", "cup", "coffee mug"}


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    from skimage import data

    root = tmp_path_factory.mktemp("controller")
    Image.fromarray(data.chelsea()).save(root / "cat.jpg")
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    Image.fromarray(data.coffee()).save(root / "coffee.png")
    return root


@pytest.fixture
def controller(worker, settings):
    from playground.ui.context import AppContext
    from playground.ui.image_controller import ImageController

    c = ImageController(AppContext(worker, settings, None))
    yield c
    c.shutdown()


class Recorder:
    """Every signal the controller sends, in order."""

    def __init__(self, c):
        self.log: list[tuple[str, object]] = []
        for name in ("rows_added", "rows_updated", "started", "busy_changed", "batch_finished", "error",
                     "cam_ready", "cam_failed", "cleared"):
            getattr(c, name).connect(lambda *a, n=name: self.log.append((n, a[0] if a else None)))

    def of(self, name: str) -> list:
        return [v for n, v in self.log if n == name]


def run_batch(qtbot, c, sources, rerun=False):
    with qtbot.waitSignal(c.batch_finished, timeout=TIMEOUT) as done:
        handle = c.classify([str(s) for s in sources], rerun=rerun)
    assert handle is not None
    return done.args[0]


def test_batch_gives_ordered_rows_with_the_error_as_a_row(qtbot, controller, photos):
    rec = Recorder(controller)
    thumbs = []
    controller.rows_added.connect(lambda idx: thumbs.extend(controller.items[i].thumbnail for i in idx))
    summary = run_batch(qtbot, controller, [photos / "cat.jpg", photos / "broken.png", photos / "coffee.png"])
    assert summary is not None and not summary.cancelled and len(summary.results) == 3
    items = controller.items
    assert [r.path for r in items] == [str(photos / n) for n in ("cat.jpg", "broken.png", "coffee.png")]
    assert [r.index for r in items] == [0, 1, 2]
    assert items[0].ok and CATS & {p.label for p in items[0].predictions[:3]} and len(items[0].predictions) == 5
    assert items[1].error == "broken.png: the image is corrupt or truncated."
    assert items[2].ok and items[2].top.label in CUPS
    # the view got every index once, in input order, with the thumbnails; then they are freed
    assert [i for batch in rec.of("rows_added") for i in batch] == [0, 1, 2]
    assert all(t is not None for t in (thumbs[0], thumbs[2])) and thumbs[1] is None
    assert all(r.thumbnail is None for r in items)
    started = rec.of("started")
    assert len(started) == 1 and isinstance(started[0], image.ClassifyStarted) and started[0].total == 3
    assert controller.last_summary is summary and controller.last_error == ""
    qtbot.waitUntil(lambda: not controller.busy, timeout=5000)
    assert rec.of("busy_changed") == [True, False]
    assert not rec.of("rows_updated") and not rec.of("error")


def test_rerun_with_another_top_k_updates_rows_in_place(qtbot, controller, photos, tmp_path):
    run_batch(qtbot, controller, [photos / "cat.jpg", photos / "broken.png"])
    before = list(controller.items)
    rec = Recorder(controller)
    controller.top_k = 2
    with qtbot.waitSignal(controller.batch_finished, timeout=TIMEOUT) as done:
        assert controller.reclassify() is not None
    assert len(done.args[0].results) == 2
    assert len(controller.items) == 2 and not rec.of("rows_added")
    assert sorted(i for batch in rec.of("rows_updated") for i in batch) == [0, 1]
    assert len(controller.items[0].predictions) == 2 and controller.items[0].predictions[0] == before[0].predictions[0]
    assert controller.items[1].error == before[1].error and controller.items[1].index == 1
    out = controller.export_csv(str(tmp_path / "rows.csv"))
    assert out.read_text().count("\n") == 3  # header and one line per image


def test_a_newer_rerun_cancels_and_drops_the_older_one(qtbot, controller, photos):
    run_batch(qtbot, controller, [photos / "cat.jpg", photos / "coffee.png"])
    rec = Recorder(controller)
    controller.top_k = 3
    older = controller.reclassify()
    controller.top_k = 1
    with qtbot.waitSignal(controller.batch_finished, timeout=TIMEOUT) as done:
        newer = controller.reclassify()
    assert older.is_cancel_requested and not newer.is_cancel_requested
    qtbot.waitUntil(lambda: not controller.busy, timeout=TIMEOUT)
    qtbot.wait(100)  # anything the older one still had on its way has arrived (and was dropped)
    assert rec.of("batch_finished") == [done.args[0]] and not done.args[0].cancelled
    assert [len(r.predictions) for r in controller.items] == [1, 1]
    assert controller.last_summary is done.args[0]


def test_a_rerun_never_cancels_a_batch_still_adding_images(qtbot, controller, photos):
    run_batch(qtbot, controller, [photos / "cat.jpg"])
    rec = Recorder(controller)
    batch = controller.classify([str(photos / "coffee.png")])
    rerun = controller.reclassify()
    last = controller.reclassify()  # replaces `rerun`, not `batch`
    qtbot.waitUntil(lambda: not controller.busy, timeout=TIMEOUT)
    qtbot.wait(100)
    assert rerun.is_cancel_requested and not batch.is_cancel_requested and not last.is_cancel_requested
    assert [r.path for r in controller.items] == [str(photos / "cat.jpg"), str(photos / "coffee.png")]
    finished = rec.of("batch_finished")
    assert len(finished) == 2 and all(s is not None and not s.cancelled for s in finished)


def test_gradcam_only_for_the_current_selection(qtbot, controller, photos):
    run_batch(qtbot, controller, [photos / "cat.jpg", photos / "coffee.png"])
    assert controller.select(0) and not controller.select(0)
    rec = Recorder(controller)
    pred = controller.request_cam(0, (64, 48))
    assert pred is controller.items[0].predictions[0]
    assert controller.request_cam(0, (64, 48)) is None  # the same map is already on its way
    assert controller.select(1)  # the user moves on: the cat's map must not be shown over the coffee
    with qtbot.waitSignal(controller.cam_ready, timeout=TIMEOUT) as got:
        controller.request_cam(1, (64, 48))
    cam = got.args[0]
    assert cam.path == str(photos / "coffee.png") and cam.class_index == controller.items[1].predictions[1].index
    assert (cam.overlay.width, cam.overlay.height) == (64, 48)
    qtbot.wait(200)
    assert [c.path for c in rec.of("cam_ready")] == [cam.path] and not rec.of("cam_failed")
    # a request for an error row or a row outside the predictions starts nothing
    assert controller.request_cam(99) is None


def test_cancel_keeps_what_is_done_and_clear_forgets_everything(qtbot, controller, photos):
    run_batch(qtbot, controller, [photos / "cat.jpg"])
    rec = Recorder(controller)
    handle = controller.classify([str(photos / "coffee.png")] * 3)
    controller.cancel()
    assert handle.is_cancel_requested
    qtbot.waitUntil(lambda: not controller.busy, timeout=TIMEOUT)
    assert controller.items[0].path == str(photos / "cat.jpg") and len(controller.items) <= 4
    assert rec.of("busy_changed")[-1] is False
    # clear while a batch runs: the batch is cancelled and nothing it still sends comes back
    controller.select(0)
    handle = controller.classify([str(photos / "coffee.png")] * 3)
    controller.clear()
    assert handle.is_cancel_requested and controller.items == [] and controller.selected == -1
    assert rec.of("cleared") == [None]
    qtbot.waitUntil(lambda: not controller.busy, timeout=TIMEOUT)
    qtbot.wait(100)
    assert controller.items == [] and controller.select(0) is False
    assert controller.reclassify() is None and controller.classify([" "]) is None
