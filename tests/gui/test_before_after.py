"""Before and after in the Train tab's evaluation panel: a finished LoRA run's validation prompts answered
by its base and by the tuned model, as a job on the train lane, cancellable."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("peft")

from lm_support import train_toy  # noqa: E402

from playground.ui.context import AppContext  # noqa: E402


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return train_toy(tmp_path_factory.mktemp("lora"))
    finally:
        torch.set_num_threads(n)


@pytest.fixture
def panel(qtbot, worker, settings):
    from playground.ui.evaluation_panel import EvaluationPanel

    widget = EvaluationPanel(AppContext(worker, settings, None))
    qtbot.addWidget(widget)
    widget.resize(900, 700)
    widget.show()
    return widget


def test_a_lora_run_shows_its_prompts_answered_before_and_after(qtbot, panel, run):
    from playground.ui.widgets.before_after_view import RIGHT

    assert not panel.compare_button.isVisible()
    assert panel.evaluate_run(run["result"]) is False  # not run at once: two models to load
    assert panel.compare_button.isVisible() and panel.compare_button.isEnabled()
    assert "Before and after" in panel.status.text()
    shown = []  # every status line: the job's progress lands there
    set_text = panel.status.setText
    panel.status.setText = lambda text: (shown.append(text), set_text(text))
    with qtbot.waitSignal(panel.compared, timeout=120_000) as done:
        panel.compare_button.click()
        assert panel.cancel_button.isVisible() and not panel.compare_button.isEnabled()  # the UI runs on
    comparison = done.args[0]
    meta = json.loads((run["out"] / "playground_model.json").read_text())
    tuned, base = comparison.score("tuned"), comparison.score("base")
    assert comparison.split == "validation" and tuned.exact_match == meta["metrics"]["val_accuracy"]
    view = panel.lm_view
    assert view.isVisible() and not panel.view.isVisible()
    assert view.table.rowCount() == comparison.examples == 16
    assert [view.table.horizontalHeaderItem(c).text() for c in range(4)] == ["Prompt", "Expected", "Base", "Tuned"]
    row = comparison.rows[0]
    assert [view.table.item(0, c).text() for c in (0, 1)] == [row.prompt, row.expected]
    assert view.table.item(0, 3).text() == f"{RIGHT if row.tuned_match else chr(0x2717)} {row.tuned}"
    assert view.marks(3) == [r.tuned_match for r in comparison.rows]
    assert view.marks(2) == [r.base_match for r in comparison.rows]
    header = view.summary.text()
    assert f"exact match {base.exact_match:.1%}, loss {base.loss:.3f}" in header
    assert f"exact match {tuned.exact_match:.1%}, loss {tuned.loss:.3f}" in header
    assert "16 validation examples" in header and f"{comparison.changed} changed" in header
    assert "Scoring the base model: 16 of 16 examples" in shown and "Scoring the tuned model: 8 of 16 examples" in shown
    qtbot.waitUntil(lambda: not panel.cancel_button.isVisible() and panel.compare_button.isEnabled(), timeout=10_000)


def test_before_and_after_can_be_cancelled(qtbot, panel, run):
    panel.evaluate_run(run["result"])
    compared = []
    panel.compared.connect(compared.append)
    panel.compare_button.click()
    assert panel.cancel_button.isVisible()
    panel.cancel_button.click()
    qtbot.waitUntil(lambda: "cancelled" in panel.status.text(), timeout=60_000)
    qtbot.waitUntil(lambda: panel.compare_button.isEnabled() and not panel.cancel_button.isVisible(),
                    timeout=10_000)
    assert compared == [] and panel.lm_view.table.rowCount() == 0


def test_a_classifier_run_gets_no_before_and_after(panel, tmp_path):
    folder = tmp_path / "clf"
    folder.mkdir()
    (folder / "playground_model.json").write_text(json.dumps({"task": "text-classification"}))
    panel.set_model(str(folder), "text-classification")
    assert not panel.compare_button.isVisible() and panel.evaluate_button.isEnabled()
