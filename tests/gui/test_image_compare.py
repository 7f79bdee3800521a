"""Compare in the Image tab: one image through two (or three) classifiers, side by side with their
times, a line saying whether they agree on the top class, Grad-CAM per model (the ViT's too), and
Cancel (or Esc) stopping every run. The classifiers are the bundled EfficientNet-Lite0, the same
weights saved as a fine-tuned folder (it resizes the whole image where the bundled one crops, so it
calls the cat an 'Egyptian cat' where the bundled one says 'tabby', and both call the coffee
'espresso'), and a tiny transformers ViT."""

from __future__ import annotations

import json
import re

import pytest
from PIL import Image

from playground.core import image, models
from playground.ui.image_compare import STOPPED, agreement

TIMEOUT = 240_000


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    from skimage import data

    root = tmp_path_factory.mktemp("compare_photos")
    Image.fromarray(data.chelsea()).save(root / "cat.jpg")
    Image.fromarray(data.coffee()).save(root / "coffee.png")
    return root


@pytest.fixture(scope="module")
def classifiers(tmp_path_factory):
    """The bundled model's weights as a fine-tuned folder, and a tiny ViT with three fruit labels."""
    from safetensors.torch import save_file
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor

    root = tmp_path_factory.mktemp("compare_classifiers")
    copy = root / "lite0-copy"
    copy.mkdir()
    clf = image.load_classifier(image.DEFAULT_MODEL, device="cpu")
    save_file({k: v.contiguous() for k, v in clf.model.state_dict().items()}, str(copy / "model.safetensors"))
    (copy / "playground_model.json").write_text(json.dumps({
        "task": "image-classification", "backbone": "efficientnet_lite0", "labels": image.imagenet_labels(),
        "num_classes": 1000, "name": "lite0-copy"}))
    models.cache.clear()
    vit = root / "tiny-vit"
    cfg = ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                    intermediate_size=64, num_labels=3, id2label={0: "apple", 1: "banana", 2: "cherry"},
                    label2id={"apple": 0, "banana": 1, "cherry": 2})
    ViTForImageClassification(cfg).save_pretrained(vit)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(vit)
    return {"copy": str(copy), "vit": str(vit)}


@pytest.fixture
def tab(main_window, qtbot):
    main_window.tabs.setCurrentIndex(1)
    page = main_window.current_page()
    yield page
    page.cancel()


def compare_on(qtbot, tab, first, *others):
    tab.picker.set_model(first)
    tab._sync_choice()
    tab.compare.switch.setChecked(True)
    tab.compare.pickers[0].set_model(others[0])
    for other in others[1:]:
        tab.compare.add_picker(other)


def open_and_compare(qtbot, tab, path):
    with qtbot.waitSignal(tab.compared, timeout=TIMEOUT) as done:
        tab.open_paths([str(path)])
    return done.args[0]


def test_agreement_words_each_case():
    assert agreement(["A", "B"], ["espresso", "Espresso"]) == (True, "Both models agree on the top class: 'espresso'.")
    agree, text = agreement(["A", "B", "C"], ["tabby", "Egyptian cat", "tabby"])
    assert agree is False and text == ("They disagree on the top class: A says 'tabby', B says 'Egyptian cat', "
                                       "C says 'tabby'.")
    assert agreement(["A", "B", "C"], ["cup", None, "cup"]) == (
        True, "Both models agree on the top class: 'cup'. (B: no answer)")
    assert agreement(["A", "B"], ["cup", None])[0] is None


def test_two_classifiers_side_by_side_agree_then_disagree(qtbot, tab, photos, classifiers):
    compare_on(qtbot, tab, image.DEFAULT_MODEL, classifiers["copy"])
    assert tab.view_stack.currentWidget() is tab.compare_view and not tab.bars.isVisible()
    results = open_and_compare(qtbot, tab, photos / "coffee.png")
    view = tab.compare_view
    assert [c.title.full_text() for c in view.columns] == ["EfficientNet-Lite0 (ImageNet-1k)", "lite0-copy"]
    assert [r.top.label for r in results] == ["espresso", "espresso"]
    for column, result in zip(view.columns, results, strict=True):
        assert column.bars.rows() == [(p.label, p.score) for p in result.predictions] and len(column.bars.rows()) == 5
        classify_s, job_s = (float(x) for x in re.findall(r"([0-9.]+) s", column.stats.text()))
        assert column.stats.text() == f"{classify_s:.2f} s to classify ({job_s:.2f} s with loading)"
        assert 0 < classify_s <= job_s + 0.01  # the job's time holds the classifying
    assert view.agreement.text() == "Both models agree on the top class: 'espresso'."
    qtbot.waitUntil(lambda: all(c.canvas.has_image() for c in view.columns), timeout=30_000)

    # another image: compared again; the two models part on the cat
    with qtbot.waitSignal(tab.compared, timeout=TIMEOUT) as done:
        tab.open_paths([str(photos / "cat.jpg")])
        qtbot.waitUntil(lambda: len(tab.items) == 2, timeout=TIMEOUT)
        tab.show_item(1)
    tops = [r.top.label for r in done.args[0]]
    assert tops == ["tabby", "Egyptian cat"]
    assert view.agreement.text() == ("They disagree on the top class: EfficientNet-Lite0 (ImageNet-1k) says 'tabby', "
                                     "lite0-copy says 'Egyptian cat'.")

    # Compare off: the one view again, with the first model's bars
    tab.compare.switch.setChecked(False)
    assert tab.view_stack.currentWidget() is tab.canvas and tab.bars.rows()[0][0] == "tabby"


def test_gradcam_for_each_model(qtbot, tab, photos, classifiers):
    compare_on(qtbot, tab, image.DEFAULT_MODEL, classifiers["copy"], classifiers["vit"])
    results = open_and_compare(qtbot, tab, photos / "cat.jpg")
    assert [r is not None for r in results] == [True, True, True]
    view = tab.compare_view
    assert "tiny-vit says '" in view.agreement.text() and view.agreement.text().startswith("They disagree")
    qtbot.waitUntil(lambda: all(c.canvas.has_image() for c in view.columns), timeout=30_000)
    shown = set()
    tab.compare_cam_shown.connect(shown.add)
    tab.cam_check.setChecked(True)
    qtbot.waitUntil(lambda: shown == {0, 1, 2}, timeout=TIMEOUT)  # the ViT too: its tokens in their grid
    assert all(c.canvas.has_overlay() for c in view.columns)
    assert view.columns[0].cam_note.text() == "Red: where it sees 'tabby'."
    assert view.columns[1].cam_note.text() == "Red: where it sees 'Egyptian cat'."
    # another class in one column: that column's map follows it
    second = view.columns[1].bars.rows()[1][0]
    with qtbot.waitSignal(tab.compare_cam_shown, timeout=TIMEOUT, check_params_cb=lambda i: i == 1):
        view.columns[1].bars.set_current(1)
    assert view.columns[1].cam_note.text() == f"Red: where it sees '{second}'."
    tab.cam_check.setChecked(False)


def test_cancel_and_esc_stop_every_run(qtbot, tab, photos, classifiers, main_window):
    compare_on(qtbot, tab, image.DEFAULT_MODEL, classifiers["copy"], classifiers["vit"])
    open_and_compare(qtbot, tab, photos / "coffee.png")
    with qtbot.waitSignal(tab.compared, timeout=TIMEOUT) as done:
        tab.topk.setValue(3)  # a new comparison (3 classes) starts; cancel it at once
        qtbot.waitUntil(lambda: tab.comparison.busy, timeout=5000)
        assert tab.cancel_button.isVisible()
        tab.cancel_button.click()
    assert done.args[0] == [None, None, None]
    assert not tab.comparison.busy and not tab.cancel_button.isVisible()
    assert all(c.stats.text() == STOPPED for c in tab.compare_view.columns)
    assert tab.comparison.key[2] == 3
    tab.show_item(0)  # showing the image again does not undo the Cancel
    assert not tab.comparison.busy
    # Esc does the same
    with qtbot.waitSignal(tab.compared, timeout=TIMEOUT) as done:
        tab.topk.setValue(4)
        qtbot.waitUntil(lambda: tab.comparison.busy, timeout=5000)
        main_window.cancel_action.trigger()
    assert done.args[0] == [None, None, None]
