"""The Image tab with the real bundled model: drops, paste, bars, Grad-CAM, batch table, CSV."""

from __future__ import annotations

import csv

import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImage
from PySide6.QtWidgets import QApplication

CATS = {"tabby", "tiger cat", "Egyptian cat", "Persian cat", "Siamese cat", "lynx"}
TIMEOUT = 240_000
# QDragEnterEvent's only constructor is marked deprecated in PySide6; it is what a real drag sends.
pytestmark = pytest.mark.filterwarnings("ignore:Function.*QDragEnterEvent:DeprecationWarning")


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    from skimage import data

    root = tmp_path_factory.mktemp("tab")
    Image.fromarray(data.chelsea()).save(root / "cat.jpg")
    Image.fromarray(data.coffee()).save(root / "coffee.png")
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    (root / "notes.jpg").write_text("hello")
    return root


@pytest.fixture
def tab(main_window, qtbot):
    main_window.tabs.setCurrentIndex(1)
    page = main_window.current_page()
    from playground.ui.image_tab import ImageTab

    assert isinstance(page, ImageTab)
    return page


def drop(widget, paths_or_urls):
    mime = QMimeData()
    mime.setUrls([QUrl(p) if str(p).startswith("http") else QUrl.fromLocalFile(str(p)) for p in paths_or_urls])
    enter = QDragEnterEvent(QPoint(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted()
    event = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)
    return event


def test_drop_shows_results_errors_and_table(tab, qtbot, photos, tmp_path):
    with qtbot.waitSignal(tab.batch_finished, timeout=TIMEOUT) as done:
        drop(tab, [photos / "cat.jpg", photos / "broken.png", photos / "coffee.png", photos / "notes.jpg"])
    summary = done.args[0]
    assert summary is not None and len(summary.results) == 4
    qtbot.waitUntil(lambda: tab.canvas.has_image(), timeout=30_000)
    # the first image is selected and shown with its bars
    assert tab.selected == 0
    rows = tab.bars.rows()
    assert len(rows) == 5 and CATS & {label for label, _ in rows[:3]}
    assert tab.thumbs.count() == 4 and tab.table.rowCount() == 4
    # error rows, one sentence each; the others carry on
    texts = [tab.table.item(r, 1).text() for r in range(4)]
    assert texts[1] == "Error: broken.png: the image is corrupt or truncated."
    assert texts[3].startswith("Error: notes.jpg: ")
    assert texts[2] in {"espresso", "cup", "coffee mug"}
    tab.show_item(1)
    assert tab.bars.message().startswith("broken.png:") and not tab.canvas.has_image()
    # sort by score: highest first, errors last
    tab.table.sortByColumn(2, Qt.SortOrder.DescendingOrder)
    assert tab.table.item(0, 1).text() == texts[2] and tab.table.item(3, 2).text() == ""
    # clicking a table row selects that image
    tab.table.selectRow(0)
    assert tab.selected == 2
    # CSV export, atomic
    out = tab.export_csv(str(tmp_path / "results.csv"))
    with open(out, newline="") as fh:
        data = list(csv.reader(fh))
    assert data[0] == ["path", "label", "score", "error"] and len(data) == 5
    assert data[2][3] == "broken.png: the image is corrupt or truncated."
    assert "images/s" in tab.rate_label.text()


def test_gradcam_overlay_and_opacity(tab, qtbot, photos):
    with qtbot.waitSignal(tab.batch_finished, timeout=TIMEOUT):
        tab.open_paths([str(photos / "cat.jpg")])
    qtbot.waitUntil(lambda: tab.canvas.has_image(), timeout=30_000)
    with qtbot.waitSignal(tab.cam_shown, timeout=TIMEOUT):
        tab.cam_check.setChecked(True)
    assert tab.canvas.has_overlay() and "Red: where the model sees" in tab.cam_note.text()
    tab.opacity.setValue(80)
    assert tab.canvas.opacity() == pytest.approx(0.8)
    # picking another class recomputes the map for that class
    second = tab.bars.rows()[1][0]
    with qtbot.waitSignal(tab.cam_shown, timeout=TIMEOUT):
        tab.bars.set_current(1)
    assert f"'{second}'" in tab.cam_note.text()
    tab.cam_check.setChecked(False)
    assert not tab.opacity.isEnabled()


def test_paste_image_and_file_open(tab, qtbot, photos, main_window):
    QApplication.clipboard().setImage(QImage(str(photos / "coffee.png")))
    with qtbot.waitSignal(tab.batch_finished, timeout=TIMEOUT) as done:
        tab.paste()
    result = done.args[0].results[0]
    assert result.ok and result.top.label in {"espresso", "cup", "coffee mug"}
    assert "pasted" in result.path
    # File > Open goes to the current tab's open_paths
    with qtbot.waitSignal(tab.batch_finished, timeout=TIMEOUT):
        main_window.open_paths([str(photos)])
    assert tab.thumbs.count() == 5  # the pasted one plus the folder's four files
    tab.clear()
    assert tab.thumbs.count() == 0 and tab.table.rowCount() == 0 and not tab.canvas.has_image()


def test_offline_url_drop_and_modes(tab, qtbot, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with qtbot.waitSignal(tab.batch_finished, timeout=TIMEOUT):
        drop(tab, ["https://example.com/cat.jpg"])
    assert tab.items[0].error == "https://example.com/cat.jpg: cannot download the image while offline mode is on."
    for mode in ("objects", "faces"):
        tab.set_mode(mode)
        page = tab.mode_page(mode)
        assert page is not None and tab.stack.currentWidget() is page
    tab.set_mode("classify")
    assert tab.stack.currentIndex() == 0


def test_model_error_is_shown_and_rerun(tab, qtbot, photos):
    with qtbot.waitSignal(tab.batch_finished, timeout=TIMEOUT):
        tab.open_paths([str(photos / "cat.jpg")])
    with qtbot.waitSignal(tab.batch_finished, timeout=TIMEOUT) as done:
        tab.set_model("/no/such/folder")
    assert done.args[0] is None and tab.model_note.text() == "Model folder not found: /no/such/folder"
    # the old model's labels are not left to look like this model's answer
    assert tab.bars.message() == "Model folder not found: /no/such/folder" and not tab.bars.rows()
    assert all(not r.predictions for r in tab.items) and tab.table.item(0, 1).text() == "Not classified"
    with qtbot.waitSignal(tab.batch_finished, timeout=TIMEOUT) as done:
        tab.set_model("bundled/efficientnet-lite0")
    with qtbot.waitSignal(tab.batch_finished, timeout=TIMEOUT) as done:
        tab.topk.setValue(2)
    assert len(done.args[0].results[0].predictions) == 2 and len(tab.bars.rows()) == 2


def test_drop_in_faces_mode_goes_to_the_detector_whole(tab, qtbot, photos):
    tab.set_mode("faces")
    page = tab.mode_page("faces")
    classified_before = len(tab.items)
    drop(tab, [photos / "cat.jpg", photos / "coffee.png"])
    # every dropped image reaches the detector (so "Blur faces" covers them all) ...
    assert page.paths == [str(photos / "cat.jpg"), str(photos / "coffee.png")]
    # ... and no classification job is queued in front of the detection
    assert len(tab.items) == classified_before
    qtbot.waitUntil(lambda: not page.busy, timeout=TIMEOUT)
    tab.set_mode("classify")


def test_a_detection_panel_that_fails_to_import_shows_the_real_error(tab, monkeypatch, caplog):
    import sys

    monkeypatch.setitem(sys.modules, "playground.ui.image_detect_panel", None)  # import raises ImportError
    with caplog.at_level("ERROR", logger="playground.ui.image_tab"):
        tab.set_mode("objects")
    page = tab.mode_page("objects")
    assert page.objectName() == "objectsLoadError"
    assert page.text().startswith("Object detection could not be loaded: ")
    assert "image_detect_panel" in page.text() and "coming soon" not in page.text()
    assert any(r.exc_info and isinstance(r.exc_info[1], ImportError) for r in caplog.records)
    tab.set_mode("classify")


def test_counts_read_one_image(tab):
    from playground.core.image import BatchSummary, ImageResult

    one = BatchSummary([ImageResult("cat.jpg")], "bundled/efficientnet-lite0", "cpu", 0.1, 10.0)
    tab._on_batch_finished(one)
    assert tab.rate_label.text().startswith("done: 1 image (0 failed)")
    two = BatchSummary([ImageResult("a.jpg"), ImageResult("b.jpg", error="b.jpg: bad")], "m", "cpu", 0.1, 10.0)
    tab._on_batch_finished(two)
    assert tab.rate_label.text().startswith("done: 2 images (1 failed)")


def test_a_photo_opened_in_objects_or_faces_mode_joins_the_strip(tab, qtbot, photos):
    before = tab.thumbs.count()
    for mode, name in (("objects", "cat.jpg"), ("faces", "coffee.png")):
        tab.set_mode(mode)
        page = tab.mode_page(mode)
        tab.open_paths([str(photos / name)])
        qtbot.waitUntil(lambda: not page.busy, timeout=TIMEOUT)
        qtbot.waitUntil(lambda n=name: any(tab.thumbs.item(i).text() == n for i in range(tab.thumbs.count())),
                        timeout=10_000)
    assert tab.thumbs.count() == before + 2
    joined = tab.items[before:]
    assert [r.path for r in joined] == [str(photos / "cat.jpg"), str(photos / "coffee.png")]
    assert all(r.ok and not r.predictions for r in joined)  # no classification ran in those modes
    from playground.ui.image_tab import NOT_CLASSIFIED

    assert tab.table.item(tab._table_row_of(before), 1).text() == NOT_CLASSIFIED
    tab.open_paths([str(photos / "cat.jpg")])  # the same photo again: not a second thumbnail
    qtbot.waitUntil(lambda: not tab.mode_page("faces").busy, timeout=TIMEOUT)
    qtbot.wait(100)
    assert tab.thumbs.count() == before + 2
    # back in Classify mode they are classified in place
    with qtbot.waitSignal(tab.batch_finished, timeout=TIMEOUT):
        tab.set_mode("classify")
    qtbot.waitUntil(lambda: all(r.predictions for r in tab.items[before:]), timeout=10_000)
    assert CATS & {p.label for p in tab.items[before].predictions[:3]}
    assert tab.thumbs.count() == before + 2


def test_the_tab_names_the_engines_task_and_default_without_importing_it():
    """The Image tab starts without the engine's image module (its import is left for the first
    image): the task id and default it names instead are the engine's own."""
    from playground.core import image, tasks
    from playground.ui import image_controller

    assert image_controller.IMAGE_TASK == image.TASK
    assert tasks.default_model(image_controller.IMAGE_TASK) == image.DEFAULT_MODEL
