"""Evaluation and ONNX export end to end: a digit classifier and a sentiment classifier trained
here (tiny runs), `evaluate`'s numbers checked against each other and against `classify-image`
/ `text classify`, ONNX files checked with onnxruntime and loaded back through the engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from train_support import write_digits, write_sentiment_csv

from playground import cli
from playground.core.jobs import Job
from playground.core.runner import run_sync


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    from playground.core.training.image import train_image_classifier

    root = tmp_path_factory.mktemp("digits")
    data = write_digits(root / "digits", size=32, per_class=30)
    result = run_sync(Job(train_image_classifier, (data, root / "model"),
                          {"image_size": 32, "epochs": 2, "lr": 2e-3, "batch_size": 32, "seed": 5,
                           "val_share": 0.3}))
    return data, Path(result.model_dir), result


@pytest.fixture(scope="module")
def sentiment(tmp_path_factory):
    from playground.core.training.text import train_text_classifier

    root = tmp_path_factory.mktemp("sentiment")
    table = write_sentiment_csv(root / "reviews.csv")
    result = run_sync(Job(train_text_classifier, (table, root / "model"),
                          {"epochs": 1, "lr": 2e-4, "batch_size": 16, "val_share": 0.25, "max_length": 32}))
    return table, Path(result.model_dir), result


def _check_consistent(e):
    n = len(e.labels)
    assert sum(map(sum, e.confusion)) == e.total
    for i, label in enumerate(e.labels):
        assert sum(e.confusion[i]) == e.per_class[label].support
    assert sum(e.confusion[i][i] for i in range(n)) / e.total == pytest.approx(e.accuracy)
    off = {(i, j): e.confusion[i][j] for i in range(n) for j in range(n) if i != j and e.confusion[i][j]}
    seen: dict = {}
    for x in e.misclassified:
        seen[(x.true, x.predicted)] = seen.get((x.true, x.predicted), 0) + 1
    assert seen == off
    assert len(e.to_dict()["misclassified"]) == sum(off.values())


@pytest.mark.timeout(900)
def test_digit_evaluation_numbers_agree_with_each_other_and_classify_image(digits):
    from playground.core import evaluate, image

    data, model, run = digits
    whole = run_sync(Job(evaluate.evaluate, (str(model), str(data))))
    assert whole.total == 300 and whole.labels == [str(i) for i in range(10)]
    _check_consistent(whole)
    for label in whole.labels:
        s = whole.per_class[label]
        tp = whole.confusion[int(label)][int(label)]
        predicted = sum(row[int(label)] for row in whole.confusion)
        assert s.precision == pytest.approx(tp / predicted if predicted else 0.0)
        assert s.recall == pytest.approx(tp / s.support)
    val = run_sync(Job(evaluate.evaluate, (str(model), str(data)), {"split": "validation", "val_share": 0.3,
                                                                     "seed": 5}))
    _check_consistent(val)
    assert val.total == 90 and val.accuracy == pytest.approx(run.val_accuracy)  # the run's own number
    # Share and seed saved with the model: evaluation rebuilds the run's split (not seed 0's, which
    # would hold training images).
    inferred = run_sync(Job(evaluate.evaluate, (str(model), str(data)), {"split": "validation"}))
    assert [x.source for x in inferred.examples] == [x.source for x in val.examples]
    seed0 = run_sync(Job(evaluate.evaluate, (str(model), str(data)), {"split": "validation", "seed": 0}))
    assert {x.source for x in seed0.examples} != {x.source for x in val.examples}
    # Cross-check with classify-image on the same files.
    some = val.examples[:24]
    summary = run_sync(Job(image.classify, ([x.source for x in some],), {"model": str(model), "top_k": 1,
                                                                          "thumbnails": False}))
    by_path = {r.path: r for r in summary.results}
    for x in some:
        assert by_path[x.source].top.label == val.labels[x.predicted]
        assert by_path[x.source].top.score == pytest.approx(x.score, abs=1e-4)


def test_evaluate_cli_prints_the_agreed_json_shape(digits, capsys):
    data, model, _ = digits
    code = cli.main(["evaluate", "--model", str(model), str(data), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert set(out) == {"accuracy", "per_class", "labels", "confusion", "misclassified"}
    assert set(out["per_class"]["3"]) == {"precision", "recall", "f1", "support"}
    assert len(out["confusion"]) == len(out["labels"]) == 10 and all(len(r) == 10 for r in out["confusion"])
    for row in out["misclassified"]:
        assert set(row) == {"path", "true", "predicted", "score"} and row["true"] != row["predicted"]
        assert Path(row["path"]).parent.name == row["true"]
    code = cli.main(["evaluate", "--model", str(model), str(data)])
    assert code == 0 and "accuracy" in capsys.readouterr().out


@pytest.mark.timeout(900)
def test_digit_export_agrees_with_torch_and_loads_back(digits, capsys):
    import numpy as np
    import onnx
    import onnxruntime as ort

    from playground.core import evaluate, image, onnx_export, onnx_runtime, paths, tasks

    data, model, _ = digits
    out = paths.models_dir() / "digits.onnx"
    code = cli.main(["export", "--model", str(model), "--format", "onnx", "--out", str(out), "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and out.is_file()
    assert result["agreement"] >= 0.99 and result["checked"] == 90 and result["check_source"] == "validation"
    assert not [p for p in out.parent.iterdir() if p.name.endswith(".part")]  # atomic: no temp file left
    # Outside the app: plain onnxruntime, labels and recipe from the metadata, any batch size.
    props = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert json.loads(props["labels"]) == [str(i) for i in range(10)]
    recipe = json.loads(props["preprocess"])
    assert recipe["crop"] == [32, 32] and len(recipe["mean"]) == 3
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    for n in (1, 7):
        logits = sess.run(None, {"pixel_values": np.zeros((n, 3, 32, 32), np.float32)})[0]
        assert logits.shape == (n, 10)
    # Back in the app: the registry lists it, classify-image runs it, evaluate scores it the same.
    assert any(e.id == str(out) for e in tasks.models_for("image-classification"))
    files = sorted(str(p) for p in (data / "4").iterdir())[:6]
    code = cli.main(["classify-image", "--model", str(out), "--json", *files])
    rows = json.loads(capsys.readouterr().out)
    torch_rows = run_sync(Job(image.classify, (files,), {"model": str(model), "thumbnails": False})).results
    assert code == 0 and [r["predictions"][0]["label"] for r in rows] == [r.top.label for r in torch_rows]
    a = run_sync(Job(evaluate.evaluate, (str(out), str(data)), {"split": "validation", "val_share": 0.2}))
    b = run_sync(Job(evaluate.evaluate, (str(model), str(data)), {"split": "validation", "val_share": 0.2}))
    assert a.confusion == b.confusion
    assert onnx_runtime.read_metadata(out)["kind"] == "image"


@pytest.mark.timeout(900)
def test_sentiment_evaluation_and_export(sentiment, tmp_path):
    from playground.core import evaluate, onnx_export, text

    table, model, run = sentiment
    val = run_sync(Job(evaluate.evaluate, (str(model), str(table)), {"split": "validation"}))
    _check_consistent(val)
    assert val.total == 12 and val.accuracy == pytest.approx(run.val_accuracy)
    assert val.labels == ["negative", "positive"]
    whole = run_sync(Job(evaluate.evaluate, (str(model), str(table))))
    _check_consistent(whole)
    direct = run_sync(Job(text.classify, ([x.source for x in whole.examples[:10]], str(model))))
    assert [s.scores[0].label for s in direct.items] == [whole.labels[x.predicted] for x in whole.examples[:10]]
    assert set(whole.to_dict()["misclassified"][0]) == {"text", "true", "predicted", "score"} \
        if whole.misclassified else True
    from playground.core import paths, tasks

    out = paths.models_dir() / "sentiment.onnx"
    result = run_sync(Job(onnx_export.export, (str(model), out)))
    assert result.kind == "text" and result.agreement >= 0.99 and result.checked == 12
    on_onnx = run_sync(Job(evaluate.evaluate, (str(out), str(table))))
    assert on_onnx.confusion == whole.confusion
    # Back in the app: the Text tab's Classify picker lists it, and `text classify` runs it.
    assert any(e.id == str(out) for e in tasks.models_for("text-classification"))
    assert not any(e.id == str(out) for e in tasks.models_for("image-classification"))
    texts = [x.source for x in whole.examples[:10]]
    again = run_sync(Job(text.classify, (texts, str(out))))
    assert [s.scores[0].label for s in again.items] == [s.scores[0].label for s in direct.items]


def test_export_refuses_what_it_cannot_export(tmp_path, digits):
    from playground.core import onnx_export
    from playground.core.errors import InputError, ModelError

    _, model, _ = digits
    with pytest.raises(InputError):
        run_sync(Job(onnx_export.export, (str(model), tmp_path / "x.bin")))
    with pytest.raises(ModelError):
        run_sync(Job(onnx_export.export, (str(tmp_path / "nothing"), tmp_path / "x.onnx")))
    assert not (tmp_path / "x.onnx").exists()
