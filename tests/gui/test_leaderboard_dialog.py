"""Tools > Compare models on your data (issue 22, item 2): pick models and a labelled set, one
table (filled as each model finishes, then best first) with the same numbers as the engine,
a row's errors in the evaluation view, export, cancel."""

from __future__ import annotations

import csv
import json

import pytest

from playground.core import compare as core_compare
from playground.core import models
from playground.core.jobs import JobContext


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from test_text_compare import make_classifier

    root = tmp_path_factory.mktemp("leaderboard")
    data = root / "reviews.csv"
    with open(data, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        for i in range(6):
            w.writerow([f"good movie {i}", "wow"])
            w.writerow([f"bad movie {i}", "meh"])
    return {"wow": make_classifier(root / "always-wow", "wow", 1),
            "meh": make_classifier(root / "always-meh", "meh", 2), "data": str(data)}


@pytest.fixture
def dialog(qtbot, main_window):
    models.cache.clear()
    d = main_window.show_leaderboard()
    qtbot.addWidget(d)
    yield d
    d.cancel()
    models.cache.clear()


def _pick(dialog, first, second):
    dialog.task_combo.setCurrentIndex(dialog.task_combo.findData("text-classification"))
    dialog.picker.set_model(first)
    dialog.compare.pickers[0].set_model(second)


def test_the_table_equals_the_engine_and_a_row_opens_its_errors(qtbot, dialog, setup, tmp_path):
    _pick(dialog, setup["meh"], setup["wow"])
    dialog.data_edit.setText(setup["data"])
    with qtbot.waitSignal(dialog.finished_comparison, timeout=120_000) as done:
        dialog.run()
    shown = done.args[0]
    again = core_compare.compare(JobContext(), [setup["meh"], setup["wow"]], setup["data"])
    assert [r["accuracy"] for r in shown.to_dict()["rows"]] == [r["accuracy"] for r in again.to_dict()["rows"]]
    table = dialog.table
    assert table.rowCount() == 2 and table.horizontalHeaderItem(1).text() == "Accuracy"
    assert [table.item(r, 0).text() for r in range(2)] == ["always-meh", "always-wow"]  # a tie: given order
    assert table.item(0, 1).text() == "0.5000" and table.item(0, 5).text()  # accuracy, and a size
    table.selectRow(1)
    assert dialog.details_title.text() == "Errors of always-wow"
    assert type(dialog.details_view).__name__ == "EvaluationView"
    out = tmp_path / "board.json"
    dialog.export(str(out))
    assert json.loads(out.read_text()) == shown.to_dict()
    dialog.export(str(tmp_path / "board.csv"))
    assert (tmp_path / "board.csv").read_text().splitlines()[0].startswith("model,accuracy,macro_f1")


def test_it_needs_two_models_and_data_and_says_so(qtbot, dialog, setup):
    _pick(dialog, setup["meh"], setup["meh"])
    dialog.run()
    assert "two or more different models" in dialog.status.text() and dialog.handle is None
    dialog.compare.pickers[0].set_model(setup["wow"])
    dialog.run()
    assert dialog.status.text().startswith("Choose the data: a labelled CSV/TSV")


def test_bad_data_is_one_sentence_in_the_dialog(qtbot, dialog, setup, tmp_path):
    _pick(dialog, setup["meh"], setup["wow"])
    (tmp_path / "empty.csv").write_text("")
    dialog.data_edit.setText(str(tmp_path / "empty.csv"))
    dialog.run()
    qtbot.waitUntil(lambda: dialog.handle is None, timeout=60_000)
    assert "empty.csv" in dialog.status.text() and "\n" not in dialog.status.text()
    assert "b00020" in dialog.status.styleSheet()
