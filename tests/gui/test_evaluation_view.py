"""The evaluation view: the heat map's cells open their examples; the Train tab evaluates each run
and exports it to ONNX."""

from __future__ import annotations

import pytest
from train_support import write_digits

from playground.core.evaluate import Evaluation, Example
from playground.ui.context import AppContext


def _image_evaluation(tmp_path):
    from PIL import Image

    paths = []
    for i in range(7):
        p = tmp_path / f"img{i}.png"
        Image.new("RGB", (20, 20), (30 * i, 100, 200)).save(p)
        paths.append(str(p))
    # true, predicted: two "cat" called "dog", one "dog" called "bird"
    pairs = [(0, 0), (0, 1), (0, 1), (1, 1), (1, 2), (2, 2), (2, 2)]
    examples = [Example(p, t, q, 0.5 + k / 20) for k, (p, (t, q)) in enumerate(zip(paths, pairs, strict=True))]
    return Evaluation("demo", "image", str(tmp_path), ["cat", "dog", "bird"], examples), paths


def test_clicking_a_cell_shows_its_examples(qtbot, tmp_path):
    from PySide6.QtCore import Qt

    from playground.ui.widgets.evaluation_view import EvaluationView

    evaluation, paths = _image_evaluation(tmp_path)
    view = EvaluationView()
    qtbot.addWidget(view)
    view.resize(900, 700)
    view.show()
    view.show_evaluation(evaluation)
    assert evaluation.confusion == [[1, 2, 0], [0, 1, 1], [0, 0, 2]]
    # The biggest confusion is opened at once: true cat, predicted dog, the most confident first.
    assert view.shown_sources() == [paths[2], paths[1]]
    assert "Accuracy" in view.summary.text() and view.table.rowCount() == 3
    with qtbot.waitSignal(view.cell_shown) as shown:
        qtbot.mouseClick(view.matrix, Qt.MouseButton.LeftButton, pos=view.matrix.cell_rect(1, 2).center())
    assert shown.args == [1, 2, 1]
    assert view.shown_sources() == [paths[4]]
    assert "dog" in view.cell_title.text() and "bird" in view.cell_title.text()
    assert view.gallery.item(0).text().startswith("dog \u2192 bird")
    assert not view.gallery.item(0).icon().isNull()
    qtbot.mouseClick(view.matrix, Qt.MouseButton.LeftButton, pos=view.matrix.cell_rect(2, 2).center())
    assert sorted(view.shown_sources()) == sorted(paths[5:7])


def test_text_examples_are_rows(qtbot):
    from playground.ui.widgets.evaluation_view import EvaluationView

    examples = [Example("good film", 0, 0, 0.9), Example("not bad at all", 1, 0, 0.8), Example("awful", 1, 1, 0.7)]
    view = EvaluationView()
    qtbot.addWidget(view)
    view.show_evaluation(Evaluation("s", "text", "r.csv", ["positive", "negative"], examples))
    assert view.examples.currentWidget() is view.texts
    assert view.shown_sources() == ["not bad at all"]
    assert [view.texts.item(0, c).text() for c in (1, 2)] == ["negative", "positive"]


@pytest.mark.timeout(600)
def test_the_train_tab_evaluates_each_run_and_exports_it(qtbot, worker, settings, tmp_path):
    from PySide6.QtCore import Qt

    from playground.ui.train_tab import build

    tab = build(AppContext(worker, settings, None))
    qtbot.addWidget(tab)
    tab.resize(1200, 900)
    tab.show()
    try:
        data = write_digits(tmp_path / "digits", size=32, per_class=15)
        tab.open_paths([str(data)])
        qtbot.waitUntil(lambda: tab.preview is not None, timeout=60_000)
        tab.image_size.setValue(32)
        tab.epochs.setValue(1)
        tab.batch.setValue(32)
        panel = tab.evaluation
        with qtbot.waitSignal(panel.evaluated, timeout=300_000) as done:
            tab.start_button.click()
        evaluation = done.args[0]
        assert evaluation.split == "validation"
        assert evaluation.total == sum(map(sum, evaluation.confusion)) == 30  # 20% of 15 per class
        assert abs(evaluation.accuracy - tab.last_result.val_accuracy) < 1e-9  # the run's own number
        view = panel.view
        i, j = next(((a, b) for a in range(10) for b in range(10) if evaluation.confusion[a][b]), (0, 0))
        qtbot.mouseClick(view.matrix, Qt.MouseButton.LeftButton, pos=view.matrix.cell_rect(i, j).center())
        assert len(view.shown_sources()) == evaluation.confusion[i][j]
        # The buttons come back with the job's finished signal, queued just after its result.
        qtbot.waitUntil(panel.export_button.isEnabled, timeout=10_000)
        out = tmp_path / "digits.onnx"
        with qtbot.waitSignal(panel.exported, timeout=300_000) as exported:
            panel.export(str(out))
        result = exported.args[0]
        assert out.is_file() and result.agreement >= 0.99 and result.checked == 30
        assert "same top-1" in panel.status.text()
        # The model manager exports the same model (Export ONNX... on its row).
        from playground.ui.model_manager import ModelManager

        dialog = ModelManager(settings, hub_cache=str(tmp_path / "no-hub"))
        qtbot.addWidget(dialog)
        qtbot.waitUntil(lambda: any(e.location == tab.last_result.model_dir for e in dialog.entries), timeout=60_000)
        assert not dialog.export_button.isEnabled()
        assert dialog.select("finetuned", tab.last_result.model_dir) and dialog.export_button.isEnabled()
        again = tmp_path / "from-manager.onnx"
        with qtbot.waitSignal(dialog.exported, timeout=300_000) as from_manager:
            dialog.export_selected(str(again))
        assert again.is_file() and from_manager.args[0].agreement >= 0.99
        assert "same top-1" in dialog.download_label.text()
        dialog.close()
    finally:
        tab.shutdown()


def _tiny_finetuned(folder):
    """A fine-tuned-style image folder (random weights, 3 classes, 32 px recipe): enough to export."""
    import json

    import timm
    from safetensors.torch import save_file

    from playground.core import models
    from playground.core.preprocess import Preprocess

    folder.mkdir(parents=True)
    net = timm.create_model("efficientnet_lite0", pretrained=False, num_classes=3)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(folder / "model.safetensors"))
    meta = {"task": "image-classification", "name": "tiny", "backbone": "efficientnet_lite0", "num_classes": 3,
            "labels": ["red", "green", "blue"], "preprocess": Preprocess.square(32).to_dict()}
    (folder / models.FINETUNED_MARKER).write_text(json.dumps(meta))
    return folder


@pytest.mark.timeout(300)
def test_an_exported_file_in_the_models_folder_is_in_the_image_pickers_and_runs(qtbot, worker, settings, tmp_path):
    from PIL import Image

    from playground.core import onnx_export, paths
    from playground.core.jobs import Job
    from playground.core.runner import run_sync
    from playground.ui.image_controller import ImageController
    from playground.ui.widgets.model_picker import ModelPicker

    source = _tiny_finetuned(tmp_path / "tiny")
    out = paths.models_dir() / "tiny.onnx"
    result = run_sync(Job(onnx_export.export, (str(source), out)))
    assert result.check_source == "synthetic" and result.agreement >= 0.99 and result.warnings
    ctx = AppContext(worker, settings, None)
    picker = ModelPicker(ctx, "image-classification")
    qtbot.addWidget(picker)
    ctx.store.refresh(now=True)
    qtbot.waitUntil(lambda: str(out) in picker.ids(), timeout=60_000)
    picker.select(str(out))
    assert picker.model_id() == str(out)
    controller = ImageController(ctx)
    controller.model = picker.model_id()
    Image.new("RGB", (40, 30), (200, 20, 20)).save(tmp_path / "red.png")
    with qtbot.waitSignal(controller.batch_finished, timeout=120_000) as done:
        controller.classify([str(tmp_path / "red.png")])
    summary = done.args[0]
    assert summary is not None and summary.results[0].ok
    assert {p.label for p in summary.results[0].predictions} == {"red", "green", "blue"}
    assert summary.model == "tiny (ONNX)"
    controller.shutdown()
