"""Compare in Objects (and Faces): two detectors on the same image, their boxes overlaid in two
colours with a legend naming each with its count and time; Cancel stops every run; Faces, with
one detector offline, sends the comparison to Objects and says so.

The first detector is the bundled YOLOv3-tiny; the second is a detector object that puts one
'bowl' box over the middle of the picture (a detector object is what `detect_objects` takes
besides an id), so the second colour's box is known."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtGui import QColor

from playground.core import detection
from playground.ui.image_compare import STOPPED
from playground.ui.widgets.detect_view import COMPARE_COLORS

TIMEOUT = 180_000


class MiddleBox:
    name = "middle-box"

    def detect(self, img, min_score):
        w, h = img.size
        return [detection.DetectedObject("bowl", 0.8, (w * 0.3, h * 0.3, w * 0.7, h * 0.7))]


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    from skimage import data

    root = tmp_path_factory.mktemp("detect_compare")
    Image.fromarray(data.coffee()).save(root / "coffee.png")
    Image.fromarray(data.astronaut()).save(root / "astronaut.png")
    return root


@pytest.fixture
def panel(qtbot, worker, settings):
    from playground.ui.context import AppContext
    from playground.ui.image_detect_panel import DetectionPanel

    widget = DetectionPanel(AppContext(worker, settings, None), "objects")
    qtbot.addWidget(widget)
    widget.resize(1000, 600)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    widget.cancel()


def colour_pixels(view, color: str, tolerance: int = 40) -> int:
    img = view.grab().toImage().convertToFormat(view.grab().toImage().Format.Format_RGB888)
    arr = np.frombuffer(img.constBits(), dtype=np.uint8, count=img.sizeInBytes())
    arr = arr.reshape(img.height(), img.bytesPerLine())
    rgb = arr[:, : img.width() * 3].reshape(img.height(), img.width(), 3).astype(int)
    c = QColor(color)
    return int((np.abs(rgb - np.array([c.red(), c.green(), c.blue()])).sum(axis=2) < tolerance).sum())


def show(qtbot, panel, path):
    with qtbot.waitSignal(panel.job_finished, timeout=TIMEOUT):
        panel.set_image(str(path))


def test_two_detectors_overlaid_in_two_colours_with_a_legend(qtbot, panel, photos):
    show(qtbot, panel, photos / "coffee.png")
    panel.compare.switch.setChecked(True)  # the bundled detector is the only one here: a second is asked for
    assert panel.legend.isVisible() and "Pick a second object detector" in panel.legend_text()
    before = [colour_pixels(panel.view, c) for c in COMPARE_COLORS[:2]]
    with qtbot.waitSignal(panel.compared, timeout=TIMEOUT) as done:
        assert panel.run_compare([detection.YOLO_ID, MiddleBox()])
    yolo, middle = done.args[0]
    assert yolo.model == detection.YOLO_ID and middle.model == "middle-box"
    layers = panel.view.layers()
    assert [name for name, _c, _i in layers] == ["YOLOv3-tiny (COCO, 80 classes)", "middle-box"]
    assert [c.name() for _n, c, _i in layers] == list(COMPARE_COLORS[:2])
    assert layers[0][2] == yolo.above(panel.threshold) and "cup" in {o.label for o in layers[0][2]}
    assert [o.label for o in layers[1][2]] == ["bowl"]
    qtbot.wait(50)
    after = [colour_pixels(panel.view, c) for c in COMPARE_COLORS[:2]]
    assert after[0] > before[0] + 100 and after[1] > before[1] + 100  # both detectors' boxes, each in its colour
    lines = panel.legend_text().splitlines()
    n = len(layers[0][2])
    objects = f"{n} object{'s' if n != 1 else ''}"
    assert lines[0].startswith(f"■ YOLOv3-tiny (COCO, 80 classes): {objects} at or above 0.25, ")
    assert lines[0].endswith(f"{yolo.seconds:.2f} s")
    assert lines[1] == f"□ middle-box: 1 object at or above 0.25, {middle.seconds:.2f} s"
    # the threshold filters every detector's boxes, and the legend's counts follow
    panel.set_threshold(0.9)
    assert panel.view.layers()[1][2] == []
    assert f"middle-box: 0 objects at or above 0.90 (best below: bowl 0.80), {middle.seconds:.2f} s" in panel.legend_text()
    # Compare off: the one detector's boxes again
    panel.compare.switch.setChecked(False)
    assert panel.view.layers() == [] and not panel.legend.isVisible()


def test_cancel_stops_every_detector_of_the_comparison(qtbot, panel, photos):
    show(qtbot, panel, photos / "coffee.png")
    with qtbot.waitSignal(panel.compared, timeout=TIMEOUT) as done:
        panel.run_compare([detection.YOLO_ID, MiddleBox()])
        assert panel.cancel_button.isVisible()
        panel.cancel_button.click()
    assert done.args[0] == [None, None]
    assert not panel.comparison.busy and not panel.cancel_button.isVisible()
    assert [line.rsplit(": ", 1)[1] for line in panel.legend_text().splitlines()] == ["stopped", "stopped"]
    assert STOPPED == "Stopped."


def test_faces_compare_goes_to_objects_and_says_so(qtbot, main_window, photos):
    main_window.tabs.setCurrentIndex(1)
    tab = main_window.current_page()
    tab.set_mode("faces")
    faces = tab.mode_page("faces")
    with qtbot.waitSignal(faces.job_finished, timeout=TIMEOUT):
        faces.set_image(str(photos / "astronaut.png"))
    objects_ready = qtbot.waitSignal(tab.mode_buttons["objects"].toggled, timeout=5000)
    with objects_ready:
        faces.compare_switch.click()
    objects = tab.mode_page("objects")
    assert tab.mode == "objects" and objects.compare.switch.isChecked()
    qtbot.waitUntil(lambda: objects.current_path == str(photos / "astronaut.png"), timeout=TIMEOUT)
    text = objects.legend_text()
    assert text.startswith("Faces has one detector offline (MTCNN), so Compare overlays two object detectors")
    assert "Pick a second object detector" in text
