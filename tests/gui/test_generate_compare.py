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
    panel.input.setPlainText("a long story")
    panel.max_tokens.setValue(2000)
    panel.temperature.setValue(1.0)
    panel.seed.setValue(3)  # a seed whose run never samples the end token early (as the Esc test's)
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


def _visible_texts(panel) -> str:
    from PySide6.QtWidgets import QLabel, QPushButton

    parts = [w.text() + " " + w.toolTip() for w in panel.findChildren(QLabel) + panel.findChildren(QPushButton)
             if w.isVisible()]
    parts += [c.output.toPlainText() for c in panel.columns.columns]
    return "\n".join(parts)


def test_blind_vote_hides_the_names_until_the_vote_and_the_tally_survives_a_restart(
        qtbot, panel, two_models, worker, settings):
    from playground.core import arena
    from playground.ui.text_panels import generate

    _compare(panel, two_models[1])
    assert panel.blind.isVisible()
    panel.blind.setChecked(True)
    panel.input.setPlainText("the cat")
    panel.max_tokens.setValue(6)
    with qtbot.waitSignal(panel.compared, timeout=120_000):
        panel.run()
    titles = [c.title.text() for c in panel.columns.columns]
    assert titles == ["Model A", "Model B"] and panel.vote_bar.isVisible()
    shown = _visible_texts(panel)
    assert "first" not in shown and "second" not in shown and "transformers" not in shown  # no name, no path
    order = [c.model_id for c in panel.columns.columns]
    assert order == ["", ""]
    with qtbot.waitSignal(panel.voted):
        panel.vote_buttons["b"].click()
    revealed = [c.model_id for c in panel.columns.columns]
    assert sorted(revealed) == sorted(two_models) and not panel.vote_bar.isVisible()
    assert panel.columns.columns[1].title.text().startswith("Model B: ")
    assert "tokens/s" in panel.columns.columns[0].stats.text()
    assert "You preferred B" in panel.status.text()
    # A restart: a new panel (and a fresh read of the data folder) sees the same tally.
    again = generate.build(AppContext(worker, settings, None))
    qtbot.addWidget(again)
    tally = arena.pair_tally(revealed[1], revealed[0])
    assert (tally.first_wins, tally.second_wins, tally.ties) == (1, 0, 0)
    assert arena.rating(revealed[1]) > arena.rating(revealed[0])
