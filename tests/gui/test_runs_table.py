"""Runs side by side (issue 22, item 4): every saved run with its settings and results, sortable,
and the settings two selected runs do not share highlighted."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt

from playground.core import paths, runs
from playground.ui.context import AppContext


def _save_run(name, **meta):
    folder = paths.models_dir() / name
    folder.mkdir(parents=True)
    base = {"task": "text-classification", "name": name, "data": "/home/me/reviews.csv", "epochs": 3,
            "batch_size": 16, "lr": 2e-5, "device": "cpu", "world_size": 1, "seed": 0, "val_share": 0.2,
            "steps": 30, "n_train": 80, "seconds": 12.5, "created": "2026-12-01T10:00:00",
            "metrics": {"val_accuracy": 0.8, "val_loss": 0.5}}
    (folder / "playground_model.json").write_text(json.dumps(base | meta))
    return folder


def test_runs_are_read_from_the_markers_newest_first_with_their_differences():
    _save_run("first")
    _save_run("second", lr=1e-4, epochs=5, created="2026-12-02T10:00:00", metrics={"val_accuracy": 0.9})
    (paths.models_dir() / "not-a-run").mkdir()
    found = runs.list_runs()
    assert [r.name for r in found] == ["second", "first"]
    assert found[0].values["val_accuracy"] == 0.9 and found[0].values["data"] == "reviews.csv"
    assert found[1].values["kind"] == "text classifier" and found[1].values["seconds"] == 12.5
    assert runs.differing(found[0], found[1]) == ["epochs", "lr"]


def test_the_dialog_sorts_and_highlights_what_two_selected_runs_do_not_share(qtbot, worker, settings):
    from playground.ui.runs_dialog import COLUMNS, RunsDialog

    _save_run("slow", lr=1e-5, metrics={"val_accuracy": 0.7}, created="2026-12-01T09:00:00")
    _save_run("fast", lr=1e-3, metrics={"val_accuracy": 0.95}, created="2026-12-01T11:00:00")
    _save_run("other-data", data="/x/tweets.csv", metrics={"val_accuracy": 0.85})
    dialog = RunsDialog(AppContext(worker, settings, None))
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 3, timeout=10_000)
    keys = [k for k, _ in COLUMNS]
    acc = keys.index("val_accuracy")
    dialog.table.sortItems(acc, Qt.SortOrder.DescendingOrder)
    assert [dialog.table.item(r, 0).text() for r in range(3)] == ["fast", "other-data", "slow"]
    dialog.table.selectRow(0)
    dialog.table.selectionModel().select(dialog.table.model().index(2, 0),
                                         dialog.table.selectionModel().SelectionFlag.Select
                                         | dialog.table.selectionModel().SelectionFlag.Rows)
    assert {r.name for r in dialog.selected_runs()} == {"fast", "slow"}
    assert dialog.highlighted_columns() == ["lr"]
    assert dialog.table.horizontalHeaderItem(keys.index("lr")).text().startswith("\u2260")
    assert "differ in: Learning rate" in dialog.hint.text()


def test_the_train_tab_opens_it(qtbot, worker, settings):
    from playground.ui.train_tab import build

    tab = build(AppContext(worker, settings, None))
    qtbot.addWidget(tab)
    dialog = tab.show_runs()
    assert dialog.isVisible() and dialog.windowTitle() == "Runs side by side"
    qtbot.waitUntil(lambda: "No runs yet" in dialog.hint.text(), timeout=10_000)
    dialog.close()
    tab.shutdown()
