"""The Entities, Translate and Answer panels standalone: type text, run, read the results."""

from __future__ import annotations

import pytest

from playground.core import models
from playground.ui.context import AppContext

WORDS = ("the river nile flows through egypt and sudan it is about 6650 kilometres long "
         "who what where how which flows long river country through").split()


@pytest.fixture
def ctx(worker, settings):
    return AppContext(worker, settings, None)


def _show(qtbot, widget):
    qtbot.addWidget(widget)
    widget.resize(900, 650)
    widget.show()
    return widget


def test_entities_panel_highlights_spans_with_labels(qtbot, ctx):
    from playground.ui.text_panels import entities

    assert (entities.TITLE, entities.ORDER) == ("Entities", 50)
    panel = _show(qtbot, entities.build(ctx))
    panel.input.setPlainText("Nelson Mandela was born in South Africa in July 1918.")
    with qtbot.waitSignal(panel.result_ready, timeout=120_000) as blocker:
        panel.run()
    found = {(e.text, e.label) for e in blocker.args[0][0].entities}
    assert ("Nelson Mandela", "PERSON") in found and ("South Africa", "GPE") in found
    html = panel.view.toHtml()
    assert "Nelson Mandela" in html and "PERSON" in html and "GPE" in html
    assert panel.table.rowCount() == len(found)
    labels = {panel.table.item(r, 1).text() for r in range(panel.table.rowCount())}
    assert {"PERSON", "GPE", "DATE"} <= labels
    assert "found" in panel.status.text()


def test_translate_panel_both_ways_and_swap(qtbot, ctx):
    from playground.ui.text_panels import translate

    assert (translate.TITLE, translate.ORDER) == ("Translate", 60)
    panel = _show(qtbot, translate.build(ctx))
    assert panel.pair() == ("en", "pt") and "Offline" in panel.pair_note.text()
    panel.input.setPlainText("The children are playing in the garden.")
    with qtbot.waitSignal(panel.result_ready, timeout=120_000):
        panel.run()
    pt = panel.output.toPlainText()
    assert "crianças" in pt.lower()
    panel.swap_languages()
    assert panel.pair() == ("pt", "en") and panel.input.toPlainText() == pt
    # the first job's `finished` is queued just after its result: run() ignores a busy panel
    qtbot.waitUntil(lambda: not panel.busy, timeout=10_000)
    with qtbot.waitSignal(panel.result_ready, timeout=120_000):
        panel.run()
    assert "children" in panel.output.toPlainText().lower()
    panel.target.setCurrentIndex(panel.target.findData("de"))
    assert "Hub" in panel.pair_note.text()


def _tiny_extractive_qa(folder):
    import torch
    from transformers import BertConfig, BertForQuestionAnswering, BertTokenizerFast

    folder.mkdir(parents=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *dict.fromkeys(WORDS)]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tok = BertTokenizerFast(vocab_file=str(folder / "vocab.txt"))
    torch.manual_seed(0)
    model = BertForQuestionAnswering(BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=1,
                                                num_attention_heads=2, intermediate_size=32))
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def test_answer_panel_highlights_the_span(qtbot, ctx, tmp_path):
    from playground.ui.text_panels import answer

    assert (answer.TITLE, answer.ORDER) == ("Answer", 40)
    folder = _tiny_extractive_qa(tmp_path / "tiny-qa")
    models.cache.clear()
    panel = _show(qtbot, answer.build(ctx))
    panel.picker.set_model(str(folder))
    passage = "The river Nile flows through Egypt and Sudan. It is about 6650 kilometres long."
    panel.passage.setPlainText("\n  " + passage)  # leading blank: offsets must still line up
    panel.question.setText("How long is the river?")
    with qtbot.waitSignal(panel.result_ready, timeout=120_000) as blocker:
        panel.run()
    result = blocker.args[0]
    assert result.score is not None and result.answer  # the extractive path
    assert panel.answer_label.text() == result.answer
    assert passage[result.start:result.end] == result.answer
    assert panel.highlighted_text().lower() == result.answer.lower()
    panel.passage.setPlainText("something else")
    assert panel.highlighted_text() == ""  # editing the passage drops the stale highlight
    models.cache.clear()


def test_answer_panel_asks_for_missing_input(qtbot, ctx):
    from playground.ui.text_panels import answer

    panel = _show(qtbot, answer.build(ctx))
    panel.run()
    assert panel.handle is None and "passage" in panel.status.text().lower()
    panel.passage.setPlainText("Some passage.")
    panel.run()
    assert panel.handle is None and "question" in panel.status.text().lower()
