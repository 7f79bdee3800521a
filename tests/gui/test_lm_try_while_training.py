"""Try a LoRA run while it trains (issue 21, item 4): the Generate panel's picker lists the running
job's latest checkpoint, generates from it on the text lane while training goes on, and when the run
ends the picker moves to the model the run saved."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("peft")


def _page(main_window, title):
    for i in range(main_window.tabs.count()):
        if main_window.tabs.tabText(i) == title:
            return main_window.page(i)
    raise AssertionError(title)


def test_generate_from_the_latest_checkpoint_while_the_run_goes_on(qtbot, main_window, tmp_path):
    from lm_support import make_tiny_llm, toy_pairs, write_toy_jsonl

    base = make_tiny_llm(tmp_path / "base")
    data = write_toy_jsonl(tmp_path / "toy.jsonl")
    train = _page(main_window, "Train")
    train.open_paths([str(data)])
    qtbot.waitUntil(lambda: train.preview is not None, timeout=60_000)
    train.base_picker.set_model(str(base))
    train.lora_rank.setValue(4)
    train.epochs.setValue(400)  # long enough to still run while we try it; cancelled below
    train.patience.setValue(0)
    train.lr.setValue(0.03)
    train.device_combo.setCurrentIndex(train.device_combo.findData("cpu"))
    generate = _page(main_window, "Text").select("Generate")
    store = main_window.store
    live = []
    store.changed.connect(lambda _t: live.extend(e for e in store.entries("text-generation")
                                                 if e.source == "training"))
    train.start()
    qtbot.waitUntil(lambda: bool(live), timeout=120_000)
    entry = live[-1]
    assert entry.id == str(Path(train.controller.live_id)) and "latest checkpoint, step" in entry.display_name
    assert generate.picker.ids()[0] == entry.id  # first in the list
    assert "training now" in generate.picker.combo.itemText(generate.picker.combo.findData(entry.id))

    generate.picker.select(entry.id)
    generate.chat.setChecked(True)
    generate.temperature.setValue(0.0)
    generate.max_tokens.setValue(4)
    generate.input.setPlainText(toy_pairs()[0][0])
    with qtbot.waitSignal(generate.result_ready, timeout=120_000) as done:
        generate.run()
    result = done.args[0]
    assert train.controller.running  # the run went on while the checkpoint answered
    assert result.model_id == entry.id and "LoRA at step" in result.backend and result.new_tokens >= 1
    assert "LoRA at step" in generate.stats.text()
    assert main_window.settings.get_model("text-generation") != entry.id  # never remembered as a default

    # The run ends (cancelled: its checkpoint is kept for a resume): it is no longer a running job's
    # entry; the picker keeps the folder it chose, which still loads.
    with qtbot.waitSignal(train.controller.finished, timeout=60_000):
        train.controller.cancel()
    assert not any(e.source == "training" for e in store.entries("text-generation"))
    assert generate.picker.model_id() == entry.id and "training now" not in generate.picker.combo.currentText()


def test_a_finished_run_replaces_its_checkpoint_in_the_pickers(qtbot, main_window, tmp_path):
    """Driven through the controller's events: the picker that showed the checkpoint shows the saved model."""
    from playground.core.training import events as ev

    train = _page(main_window, "Train")
    generate = _page(main_window, "Text").select("Generate")
    qtbot.waitUntil(lambda: main_window.store.scanned, timeout=30_000)
    controller = train.controller
    controller.run_name = "colours"
    live = str(tmp_path / "colours.checkpoint" / "live")
    controller.on_event(ev.LiveCheckpoint("text-generation", live, 12, 1, 0.5, 0.25))
    assert generate.picker.ids()[0] == live
    generate.picker.select(live)
    assert "colours: latest checkpoint, step 12" in generate.picker.combo.currentText()
    controller.on_event(ev.LiveCheckpoint("text-generation", live, 24, 2, 0.4, 0.5))
    assert generate.picker.model_id() == live and "step 24" in generate.picker.combo.currentText()
    saved = str(tmp_path / "colours")
    changed = []
    generate.picker.changed.connect(changed.append)
    controller.last_result = ev.TrainResult(saved, "text-generation", [], 0.5, 0.4)
    controller.on_finished()
    assert generate.picker.model_id() == saved and changed == [saved]
    assert live not in generate.picker.ids()
