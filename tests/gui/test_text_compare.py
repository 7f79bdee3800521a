"""Compare in the Text tab's table panels (Classify here; Zero-shot, Entities and Translate share the
view): one input through two models, one row each with its answer and time, and the rows whose
answer differs from the first model's highlighted."""

from __future__ import annotations

import json

import pytest

from playground.core import models
from playground.ui.context import AppContext


def make_classifier(folder, favours: str | None, seed: int):
    """A tiny BERT classifier (labels "meh" and "wow") whose head always prefers `favours`;
    None leaves the head as initialised."""
    import torch
    from tokenizers import Tokenizer, models as tmodels, pre_tokenizers, processors
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad", "movie"]
    tok = Tokenizer(tmodels.WordPiece({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2),
                                                                                                 ("[SEP]", 3)])
    BertTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                      sep_token="[SEP]", mask_token="[MASK]").save_pretrained(folder)
    torch.manual_seed(seed)
    model = BertForSequenceClassification(BertConfig(
        vocab_size=len(words), hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16,
        max_position_embeddings=16, num_labels=2, id2label={0: "meh", 1: "wow"}, label2id={"meh": 0, "wow": 1}))
    if favours is not None:
        with torch.no_grad():
            model.classifier.bias.copy_(torch.tensor([5.0, -5.0] if favours == "meh" else [-5.0, 5.0]))
    model.save_pretrained(folder)
    (folder / "playground_model.json").write_text(json.dumps({"task": "text-classification", "name": folder.name}))
    return str(folder)


@pytest.fixture(scope="module")
def classifiers(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare_cls")
    return {name: make_classifier(root / name, favours, seed)
            for name, favours, seed in (("wow-a", "wow", 1), ("wow-b", "wow", 2), ("meh", "meh", 3))}


@pytest.fixture
def panel(qtbot, worker, settings):
    from playground.ui.text_panels import classify

    models.cache.clear()
    widget = classify.build(AppContext(worker, settings, None))
    qtbot.addWidget(widget)
    widget.resize(900, 700)
    widget.show()
    yield widget
    widget.stop()
    models.cache.clear()


def _compare(qtbot, panel, first, *others):
    panel.picker.set_model(first)
    panel.compare.switch.setChecked(True)
    panel.compare.pickers[0].set_model(others[0])
    for other in others[1:]:
        panel.compare.add_picker(other)
    panel.input.setPlainText("good movie\nbad movie")
    panel.per_line.setChecked(True)
    with qtbot.waitSignal(panel.compared, timeout=120_000) as done:
        panel.run()
    qtbot.waitUntil(lambda: not panel.busy, timeout=5000)
    return done.args[0]


def test_classifiers_side_by_side_with_the_differing_one_highlighted(qtbot, panel, classifiers):
    results = _compare(qtbot, panel, classifiers["wow-a"], classifiers["meh"], classifiers["wow-b"])
    table = panel.compare_table
    assert table.isVisible() and table.rowCount() == 3
    assert [table.item(r, 0).text() for r in range(3)] == ["wow-a", "meh", "wow-b"]
    assert [r.model for r in results] == [classifiers[n] for n in ("wow-a", "meh", "wow-b")]
    assert "good movie: wow" in table.answer(0) and "bad movie: wow" in table.answer(0)
    assert "good movie: meh" in table.answer(1)
    assert table.highlighted() == [1]  # only the model that disagrees with the first
    assert all(table.item(r, 2).text().endswith(" s") for r in range(3))  # each with its own time
    assert "1 of 2 other models differ" in panel.status.text()
    assert panel.bars.rows() == []  # no single-run bars left beside the comparison


def test_models_that_agree_are_said_to(qtbot, panel, classifiers):
    _compare(qtbot, panel, classifiers["wow-a"], classifiers["wow-b"])
    assert panel.compare_table.highlighted() == [] and panel.status.text() == "All models agree."
    panel.compare.switch.setChecked(False)
    assert not panel.compare_table.isVisible()
