"""The detection panel on its own: boxes drawn, the slider filters without re-running, blurring."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from playground.core import detection

TIMEOUT = 180_000  # ms; the CI machine is small and shared


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    from skimage import data

    root = tmp_path_factory.mktemp("panel_photos")
    Image.fromarray(data.coffee()).save(root / "coffee.png")
    Image.fromarray(data.astronaut()).save(root / "astronaut.png")
    (root / "broken.png").write_bytes(b"nope")
    exif = Image.Exif()
    exif[0x0112] = 6  # stored on its side; shown upright (600x400)
    Image.fromarray(data.coffee()).transpose(Image.Transpose.ROTATE_90).save(
        root / "coffee_rot.jpg", quality=95, exif=exif.tobytes())
    return root


@pytest.fixture
def ctx(worker, settings):
    from playground.ui.context import AppContext

    return AppContext(worker, settings, None)


def make_panel(qtbot, ctx, mode):
    from playground.ui.image_detect_panel import DetectionPanel

    panel = DetectionPanel(ctx, mode)
    qtbot.addWidget(panel)
    panel.resize(1000, 560)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def run_and_wait(qtbot, panel, action):
    with qtbot.waitSignal(panel.job_finished, timeout=TIMEOUT):
        action()


def view_pixels(view) -> np.ndarray:
    img = view.grab().toImage().convertToFormat(view.grab().toImage().Format.Format_RGB888)
    ptr = img.constBits()
    arr = np.frombuffer(ptr, dtype=np.uint8, count=img.sizeInBytes()).reshape(img.height(), img.bytesPerLine())
    return arr[:, : img.width() * 3].reshape(img.height(), img.width(), 3).copy()


def test_objects_panel_shows_cup_and_slider_filters(qtbot, ctx, photos):
    panel = make_panel(qtbot, ctx, "objects")
    assert panel.model == detection.YOLO_ID
    run_and_wait(qtbot, panel, lambda: panel.set_image(str(photos / "coffee.png")))
    assert panel.last_error is None
    labels = [d.label for d in panel.visible_detections()]
    assert labels and labels[0] == "cup"
    assert panel.table.rowCount() == len(labels) and panel.table.item(0, 0).text() == "cup"
    assert f"{len(labels)} object" in panel.status.text()

    # The box is drawn: pixels along the cup's box edge differ from the same view without items.
    with_boxes = view_pixels(panel.view)
    cup = panel.visible_detections()[0]
    handle = panel._handle
    panel.set_threshold(min(1.0, cup.score + 0.01))
    assert panel.visible_detections() == [] and panel.table.rowCount() == 0
    assert panel.view.candidate_items()[0] == cup  # nothing passes: the cup is the best candidate, dashed
    panel.view.set_candidates([])
    without = view_pixels(panel.view)
    rect = panel.view.map_box(cup.box)
    y = int(rect.center().y())
    x = int(rect.left())
    assert np.abs(with_boxes[y, x - 1:x + 2].astype(int) - without[y, x - 1:x + 2].astype(int)).max() > 40
    assert np.array_equal(with_boxes[5:20, 5:20], without[5:20, 5:20])  # elsewhere: same picture
    panel.set_threshold(0.1)
    assert [d.label for d in panel.visible_detections()][0] == "cup"
    assert panel._handle is handle, "the slider must not run the model again"

    # The Image tab calls set_image on every thumbnail click: a recent result is shown at once.
    panel.view.set_items([])
    panel.set_image(str(photos / "coffee.png"))
    assert panel._handle is handle and not panel.busy
    assert [d.label for d in panel.visible_detections()][0] == "cup"
    assert panel.table.rowCount() == len(panel.visible_detections())


def test_objects_panel_shows_the_best_candidates_dashed_when_nothing_passes(qtbot, ctx, photos):
    panel = make_panel(qtbot, ctx, "objects")
    run_and_wait(qtbot, panel, lambda: panel.set_image(str(photos / "astronaut.png")))
    assert panel.visible_detections() == [] and panel.table.rowCount() == 0
    shown = panel.view.candidate_items()
    assert 1 <= len(shown) <= detection.CANDIDATES and "person" in [o.label for o in shown]
    listed = ", ".join(f"{o.label} {o.score:.2f}" for o in shown)
    assert panel.status.text().startswith(
        f"astronaut.png: nothing at or above 0.25; the {len(shown)} best candidates below it are shown dashed: "
        f"{listed} · 512×512")
    # drawn: the best candidate's box edge differs from the picture without it
    with_boxes = view_pixels(panel.view)
    rect = panel.view.map_box(shown[0].box)
    panel.view.set_candidates([])
    without = view_pixels(panel.view)
    y, x = int(rect.center().y()), int(rect.left())
    assert np.abs(with_boxes[y - 12:y + 12, x - 1:x + 2].astype(int) - without[y - 12:y + 12, x - 1:x + 2].astype(int)).max() > 40
    # a lower threshold lets the best one through: it is drawn as a detection, the candidates go
    panel.set_threshold(shown[0].score - 0.001)
    assert panel.visible_detections() and panel.view.candidate_items() == []
    assert "nothing at or above" not in panel.status.text()


def test_objects_panel_random_torchvision_detector(qtbot, ctx, photos):
    import torch
    from torchvision.models import detection as tvd
    from torchvision.models import get_model_weights

    torch.manual_seed(0)
    module = tvd.ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=91)
    categories = get_model_weights("ssdlite320_mobilenet_v3_large").DEFAULT.meta["categories"]
    det = detection.TorchDetector(module, categories, "random ssdlite")
    panel = make_panel(qtbot, ctx, "objects")
    panel.set_threshold(0.05)
    panel.paths = [str(photos / "coffee.png")]
    run_and_wait(qtbot, panel, lambda: panel.set_model(det))
    panel.set_threshold(0.0 + panel.slider.minimum() / 100)
    shown = panel.visible_detections()
    res = panel.results[str(photos / "coffee.png")]
    assert res.model == "random ssdlite"
    assert shown == res.above(panel.threshold)
    assert panel.table.rowCount() == len(shown)
    if shown:  # drawn inside the image area
        area = panel.view.image_rect()
        for d in shown:
            assert area.adjusted(-1, -1, 1, 1).contains(panel.view.map_box(d.box))


def test_faces_panel_finds_face_and_blurs_copies(qtbot, ctx, photos, tmp_path):
    panel = make_panel(qtbot, ctx, "faces")
    assert panel.threshold == pytest.approx(0.95)
    assert not panel.blur_button.isEnabled()
    paths = [str(photos / "astronaut.png"), str(photos / "coffee.png"), str(photos / "broken.png")]
    run_and_wait(qtbot, panel, lambda: panel.set_images(paths))
    assert panel.file_list.isVisible() and panel.file_list.count() == 3
    assert panel.current_path == paths[0]
    faces = panel.visible_detections()
    assert len(faces) == 1 and faces[0].label == "face" and len(faces[0].landmarks) == 5
    assert panel.results[paths[2]].error
    panel.show_path(paths[1])
    assert panel.visible_detections() == []
    panel.show_path(paths[2])
    assert "broken.png" in panel.status.text()
    assert panel.blur_button.isEnabled()

    out = tmp_path / "safe"
    run_and_wait(qtbot, panel, lambda: panel.blur_to(str(out)))
    assert sorted(p.name for p in out.iterdir()) == ["astronaut.png", "coffee.png"]
    assert [r.path for r in panel.last_blur] == paths[:2]  # the failed file is not retried
    assert "Saved 2 copies with 1 face blurred" in panel.status.text()
    before = np.asarray(Image.open(photos / "astronaut.png"))
    after = np.asarray(Image.open(out / "astronaut.png"))
    x0, y0, x1, y1 = (int(v) for v in faces[0].box)
    assert not np.array_equal(before[y0:y1, x0:x1], after[y0:y1, x0:x1])
    assert np.array_equal(before[300:], after[300:])


def test_panel_reports_model_errors(qtbot, ctx, photos, tmp_path):
    panel = make_panel(qtbot, ctx, "objects")
    run_and_wait(qtbot, panel, lambda: panel.set_image(str(photos / "coffee.png")))
    assert panel.visible_detections() and panel.table.rowCount()
    run_and_wait(qtbot, panel, lambda: panel.set_model(str(tmp_path / "no-such-model")))
    assert panel.last_error and "not found" in panel.last_error
    assert "not found" in panel.status.text()
    # the failed run leaves nothing of the earlier answer: no boxes, no rows, the reason in the view
    assert not panel.view.has_image() and panel.visible_detections() == [] and panel.table.rowCount() == 0
    assert ctx.settings.get_model("object-detection") == str(tmp_path / "no-such-model")


def test_cancel_a_batch_keeps_what_was_done(qtbot, ctx, photos):
    """A detector that waits for the test between images, so the cancel lands mid-batch."""
    import threading

    gate = threading.Semaphore(0)

    class GatedDetector:
        name = "gated"

        def detect(self, img, min_score):
            assert gate.acquire(timeout=30)
            return [detection.DetectedObject("thing", 0.9, (1.0, 2.0, 30.0, 40.0))]

    panel = make_panel(qtbot, ctx, "objects")
    panel._model = GatedDetector()
    paths = [str(photos / "coffee.png"), str(photos / "astronaut.png"), str(photos / "coffee.png")]
    gate.release()  # the first image may go
    with qtbot.waitSignal(panel.results_changed, timeout=TIMEOUT):
        panel.set_images(paths)
    assert panel.busy and panel.cancel_button.isVisible()
    with qtbot.waitSignal(panel.job_finished, timeout=TIMEOUT):
        panel.cancel_button.click()
        gate.release()  # let the image in progress finish; the job stops before the next
    assert 1 <= len(panel.results) < 3
    assert panel._handle.state.value == "cancelled"
    assert "Cancelled" in panel.status.text() and not panel.cancel_button.isVisible()
    assert panel.visible_detections()[0].label == "thing"


def test_large_batches_drop_previews_and_read_them_again(qtbot, ctx, photos, monkeypatch):
    from playground.ui import image_detect_panel

    monkeypatch.setattr(image_detect_panel, "KEEP_PREVIEWS", 1)
    panel = make_panel(qtbot, ctx, "objects")
    paths = [str(photos / "astronaut.png"), str(photos / "coffee_rot.jpg")]
    run_and_wait(qtbot, panel, lambda: panel.set_images(paths))
    assert panel.current_path == paths[0]  # the one shown keeps its copy
    assert panel.results[paths[0]].preview is not None and panel.results[paths[1]].preview is None
    panel.show_path(paths[1])  # read again from the file, EXIF orientation applied
    assert panel.view.has_image() and (panel.view._image.width(), panel.view._image.height()) == (600, 400)
    assert [d.label for d in panel.visible_detections()][0] == "cup"
