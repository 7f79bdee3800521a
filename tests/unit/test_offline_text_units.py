"""Answer, entities and translate engines: parsing, spans, the Hub-model paths with tiny models built here, errors."""

from __future__ import annotations

import json

import pytest

from playground import cli
from playground.core import answer, entities, models, translate
from playground.core.errors import InputError
from playground.core.jobs import Job
from playground.core.runner import run_sync

WORDS = "the river nile flows through egypt and sudan it is about 6650 kilometres long how what who".split()


def _bert_vocab(folder):
    folder.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *dict.fromkeys(WORDS)]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    from transformers import BertTokenizerFast

    tok = BertTokenizerFast(vocab_file=str(folder / "vocab.txt"))
    tok.save_pretrained(folder)
    return len(vocab)


def _bert_config(n_vocab, **kw):
    from transformers import BertConfig

    return BertConfig(vocab_size=n_vocab, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                      intermediate_size=32, **kw)


@pytest.fixture(autouse=True)
def _clear_cache():
    models.cache.clear()
    yield
    models.cache.clear()


@pytest.mark.parametrize(("raw", "expected"), [
    ("1962", "1962"), ("Answer: 1962.", "1962"), ('"Agnes Holloway"\nThe rest', "Agnes Holloway"),
    ("  \n A: Tern Island.  ", "Tern Island"), ("Washington D.C.", "Washington D.C."),
])
def test_clean_answer(raw, expected):
    assert answer.clean_answer(raw) == expected


def test_find_span_exact_case_and_whitespace():
    text = "Built in 1874 by  Agnes\nHolloway on Tern Island."
    assert answer.find_span(text, "1874") == (9, 13)
    start, end = answer.find_span(text, "agnes holloway")
    assert text[start:end] == "Agnes\nHolloway"
    assert answer.find_span(text, "Paris") is None and answer.find_span(text, "") is None


def test_one_shot_messages_end_with_the_question():
    msgs = answer.build_messages("Passage here.", "Why?")
    assert msgs[0]["role"] == "system" and msgs[-1] == {"role": "user", "content": "Passage: Passage here.\nQuestion: Why?"}
    assert [m["role"] for m in msgs[1:-1]] == ["user", "assistant", "user", "assistant"]


def test_extractive_answer_is_a_span_with_score(tmp_path):
    import torch
    from transformers import BertForQuestionAnswering

    folder = tmp_path / "qa"
    n = _bert_vocab(folder)
    torch.manual_seed(0)
    BertForQuestionAnswering(_bert_config(n)).save_pretrained(folder)
    passage = "The river Nile flows through Egypt and Sudan. It is about 6650 kilometres long."
    result = run_sync(Job(answer.answer, ("  " + passage, "How long is the river?", str(folder))))
    assert result.score is not None and 0 < result.score <= 1
    assert result.answer and passage[result.start:result.end] == result.answer
    # A passage longer than one window still works (sliding windows over the passage).
    long = " ".join([passage] * 60)
    result = run_sync(Job(answer.answer, (long, "How long is the river?", str(folder))))
    assert long[result.start:result.end] == result.answer


def test_hub_style_ner_model_same_result_type(tmp_path):
    import torch
    from transformers import BertForTokenClassification

    folder = tmp_path / "ner"
    n = _bert_vocab(folder)
    labels = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
    torch.manual_seed(1)
    model = BertForTokenClassification(_bert_config(n, num_labels=len(labels), id2label=dict(enumerate(labels)),
                                                    label2id={l: i for i, l in enumerate(labels)}))
    with torch.no_grad():  # every token B-LOC, so each word comes out as its own LOC entity
        model.classifier.weight.zero_()
        model.classifier.bias.copy_(torch.tensor([0.0, 5.0, 0, 0, 0]))
    model.save_pretrained(folder)
    text = "The Nile flows through Egypt and Sudan."
    [res] = run_sync(Job(entities.find_entities, ([text], str(folder))))
    assert all(isinstance(e, entities.Entity) and e.score is not None for e in res.entities)
    for e in res.entities:
        assert text[e.start:e.end] == e.text and not e.label.startswith(("B-", "I-"))
    found = [(e.text, e.label) for e in res.entities]
    assert ("Egypt", "LOC") in found and ("Sudan", "LOC") in found
    assert [t for t, _ in found] == ["The", "Nile", "flows", "through", "Egypt", "and", "Sudan", "."]


def test_input_errors():
    with pytest.raises(InputError):
        run_sync(Job(entities.find_entities, (["  "],)))
    with pytest.raises(InputError):
        run_sync(Job(translate.translate, (["hi"], "en", "en")))
    with pytest.raises(InputError):
        run_sync(Job(translate.translate, ([""], "pt")))
    with pytest.raises(InputError, match="English <-> Portuguese"):
        run_sync(Job(translate.translate, (["hi"], "de", "en", translate.BUNDLED_ID)))
    with pytest.raises(InputError):
        run_sync(Job(answer.answer, ("", "Why?")))
    with pytest.raises(InputError):
        run_sync(Job(answer.answer, ("A passage.", " ")))


def test_translate_defaults():
    assert translate.default_model("en", "pt") == translate.BUNDLED_ID
    assert translate.default_model("pt", "en") == translate.BUNDLED_ID
    assert translate.default_model("en", "de") == "Helsinki-NLP/opus-mt-en-de"


def test_cli_generate_with_a_local_char_model(tmp_path, capsys):
    from test_generation_mechanics import make_char_gpt

    folder = make_char_gpt(tmp_path / "charlm")
    args = ["text", "generate", "--model", str(folder), "--temperature", "0", "--max-new-tokens", "12", "hello"]
    assert cli.main(args) == 0
    streamed = capsys.readouterr().out
    assert cli.main(args[:2] + ["--json"] + args[2:]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["new_tokens"] == 12 and len(data["text"]) == 12
    assert streamed == data["text"] + "\n"
    assert cli.main(["text", "generate", "--top-p", "2", "hi"]) == 2
    assert cli.main(["text", "generate", "--model", str(tmp_path / "nope"), "hi"]) == 1
    assert "not found" in capsys.readouterr().err
