"""Compare in Generate: one prompt through two models, each answer streaming in its own column with
its own tokens/s and time to first token; Stop cancels every run of the comparison."""

from __future__ import annotations

import pytest

from playground.core import models
from playground.ui.context import AppContext


@pytest.fixture(scope="module")
def two_models(tmp_path_factory):
    from test_generation_panel import make_char_gpt

    root = tmp_path_factory.mktemp("compare_gen")
    return str(make_char_gpt(root / "first")), str(make_char_gpt(root / "second", n_positions=512))


@pytest.fixture
def panel(qtbot, worker, settings, two_models):
    from playground.ui.text_panels import generate

    models.cache.clear()
    widget = generate.build(AppContext(worker, settings, None))
    qtbot.addWidget(widget)
    widget.resize(900, 700)
    widget.show()
    widget.picker.set_model(two_models[0])
    yield widget
    widget.stop()
    models.cache.clear()


def _compare(panel, second):
    panel.compare.switch.setChecked(True)
    assert panel.compare.isVisible() and len(panel.compare.pickers) == 1
    panel.compare.pickers[0].set_model(second)


def test_two_models_answer_side_by_side_with_their_own_figures(qtbot, panel, two_models):
    _compare(panel, two_models[1])
    assert panel.compared_models() == list(two_models)
    panel.input.setPlainText("the cat")
    panel.max_tokens.setValue(12)
    panel.temperature.setValue(0.0)
    with qtbot.waitSignal(panel.compared, timeout=120_000) as done:
        panel.run()
    results = done.args[0]
    assert [r.model_id for r in results] == list(two_models)
    columns = panel.columns.columns
    assert panel.columns.isVisible() and not panel.output.isVisible() and len(columns) == 2
    for column, result in zip(columns, results, strict=True):
        assert column.output.toPlainText() == "the cat" + result.text  # the prompt, then this model's answer
        assert "tokens/s" in column.stats.text() and "first token" in column.stats.text()
        assert result.new_tokens == 12
    assert "fastest" in panel.status.text() and not panel.busy and panel.run_button.isEnabled()
    # Compare off: the next run is the first model's alone, in the single output.
    panel.compare.switch.setChecked(False)
    assert panel.compared_models() == [] and panel.output.isVisible() and not panel.columns.isVisible()


def test_stop_cancels_every_run_of_the_comparison(qtbot, panel, two_models):
    _compare(panel, two_models[1])
    panel.input.setPlainText("a")
    panel.max_tokens.setValue(4000)
    cancelled = []
    panel.compared.connect(cancelled.append)
    panel.run()
    assert len(panel.compare_handles) == 2
    qtbot.waitUntil(lambda: panel.columns.columns[0].tokens > 0, timeout=60_000)
    panel.stop()
    qtbot.waitUntil(lambda: not panel.busy, timeout=30_000)
    [[first, second]] = cancelled
    assert first.stopped and first.text and "stopped" in panel.columns.columns[0].stats.text()  # its text is kept
    assert second is None and panel.columns.columns[1].stats.text() == "Stopped."
    assert panel.columns.columns[1].tokens == 0  # the queued run never started


def test_the_second_picker_suggests_another_model_and_is_never_the_default(qtbot, panel, two_models, settings):
    panel.compare.switch.setChecked(True)
    second = panel.compare.pickers[0]
    second.select(two_models[1])
    second.remember()
    assert settings.get_model("text-generation") != two_models[1]
    for _ in range(5):
        panel.compare.add_button.click()
    assert len(panel.compare.pickers) == 3 and not panel.compare.add_button.isEnabled()  # four models at most
