"""The Generate panel standalone, with a tiny GPT-2 built here: tokens stream in, Esc/Stop stops it."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from playground.core import models
from playground.ui.context import AppContext

CHARS = list("abcdefghijklmnopqrstuvwxyz .,!?\n")


def make_char_gpt(folder, n_positions: int = 2048):
    import torch
    from tokenizers import Regex, Tokenizer, decoders, models as tmodels, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    vocab = {"[UNK]": 0, "[EOS]": 1} | {c: i + 2 for i, c in enumerate(CHARS)}
    tk = Tokenizer(tmodels.WordLevel(vocab, unk_token="[UNK]"))
    tk.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tk.decoder = decoders.Fuse()
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="[UNK]", eos_token="[EOS]")
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(vocab), n_positions=n_positions, n_embd=32, n_layer=2,
                                       n_head=2, bos_token_id=1, eos_token_id=1))
    with torch.no_grad():
        model.transformer.wte.weight[1].zero_()  # EOS never wins: runs go to max_new_tokens
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return make_char_gpt(tmp_path_factory.mktemp("gui_tiny") / "charlm")


@pytest.fixture
def panel(qtbot, worker, settings, tiny_dir):
    from playground.ui.text_panels import generate

    models.cache.clear()
    widget = generate.build(AppContext(worker, settings, None))
    qtbot.addWidget(widget)
    widget.resize(900, 600)
    widget.show()
    widget.picker.set_model(str(tiny_dir))
    yield widget
    widget.stop()
    models.cache.clear()


def test_panel_metadata():
    from playground.ui.text_panels import generate

    assert generate.TITLE == "Generate" and generate.ORDER == 10


def test_streams_then_completes(qtbot, panel):
    panel.input.setPlainText("hello there")
    panel.max_tokens.setValue(40)
    panel.temperature.setValue(0.0)
    events = []
    panel.run()
    assert panel.handle is not None and panel.stop_button.isEnabled()
    panel.handle.event.connect(events.append)
    with qtbot.waitSignal(panel.result_ready, timeout=60_000) as blocker:
        pass
    result = blocker.args[0]
    assert result.new_tokens == 40 and result.finish_reason == "length"
    assert len(events) >= 2, "tokens must stream in several events"
    text = panel.output.toPlainText()
    assert text.startswith("hello there") and text.endswith(result.text)  # plain model: prompt + continuation
    assert "tokens/s" in panel.stats.text() and "first token" in panel.stats.text()
    assert "on transformers float32" in panel.stats.text()  # a GPT-2: not a family CTranslate2 runs here
    assert not panel.chat.isEnabled()  # no chat template on this model
    # the buttons flip on `finished`, queued just after the result
    qtbot.waitUntil(lambda: panel.run_button.isEnabled() and not panel.stop_button.isEnabled(), timeout=5000)


def test_escape_stops_within_a_token(qtbot, panel):
    panel.input.setPlainText("a long story")
    panel.max_tokens.setValue(2000)
    panel.temperature.setValue(1.0)
    panel.seed.setValue(3)
    panel.run()
    handle = panel.handle
    with qtbot.waitSignal(handle.event, timeout=60_000):
        pass
    qtbot.keyClick(panel.output, Qt.Key.Key_Escape)
    assert handle.is_cancel_requested
    with qtbot.waitSignal(panel.result_ready, timeout=30_000) as blocker:
        pass
    result = blocker.args[0]
    assert result.stopped and result.finish_reason == "stopped"
    assert 1 <= result.new_tokens < 2000
    qtbot.waitUntil(lambda: not panel.busy, timeout=5000)
    assert panel.output.toPlainText().endswith(result.text)
    assert "stopped" in panel.stats.text() and "seed 3" in panel.stats.text()


def test_empty_prompt_asks_for_text(qtbot, panel):
    panel.input.setPlainText("   ")
    panel.run()
    assert panel.handle is None
    assert "prompt" in panel.status.text().lower()


def test_a_base_model_turns_chat_off_and_says_why(qtbot, panel, tiny_dir):
    """The bundled Gemma 3 270M is a base model: Chat is off and disabled (its tooltip says why), the job
    continues the prompt; picking a chat model again gives Chat back. No model is loaded here."""
    assert panel.chat.isChecked() and panel.chat.isEnabled()
    panel.picker.select("bundled/gemma-3-270m")
    assert not panel.chat.isChecked() and not panel.chat.isEnabled()
    assert "base model" in panel.chat.toolTip() and "continues the prompt" in panel.chat.toolTip()
    panel.input.setPlainText("Q: What is 12 plus 7? A:")
    job = panel.make_job()
    assert job.args == ("Q: What is 12 plus 7? A:", "bundled/gemma-3-270m") and job.kwargs["chat"] is False
    assert "messages" not in job.kwargs
    from playground.core.generation import GenerationResult

    panel._request = {"prompt": "Q: What is 12 plus 7? A:", "chat": False}
    panel.show_result(GenerationResult(
        text=" 12 + 7 = 19", new_tokens=8, tokens_per_s=5.0, time_to_first_token=0.5, seconds=2.0, stopped=False,
        finish_reason="length", seed=None, chat=False, has_chat_template=False, model_id="bundled/gemma-3-270m",
        prompt_tokens=14))
    assert "base model" in panel.chat.toolTip()  # a run keeps the reason: base, not a missing template
    panel.picker.select("bundled/smollm2-135m-instruct")
    assert panel.chat.isChecked() and panel.chat.isEnabled() and "chat template" in panel.chat.toolTip()


def test_stats_name_the_fast_path(qtbot, panel, tmp_path):
    from tests.unit.test_generation_fast import make_tiny_llama

    panel.picker.set_model(str(make_tiny_llama(tmp_path / "llama")))
    panel.input.setPlainText("hello")
    panel.max_tokens.setValue(8)
    panel.temperature.setValue(0.0)
    panel.run()
    with qtbot.waitSignal(panel.result_ready, timeout=60_000) as blocker:
        pass
    assert blocker.args[0].backend == "CTranslate2 int8"
    assert "on CTranslate2 int8" in panel.stats.text()
