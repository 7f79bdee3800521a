"""The Text engine: the bundled MiniLM (embeddings, zero-shot, search, attention, tokens) and
tiny models built here (classification, fill-mask, decoder attention, summaries)."""

from __future__ import annotations

import json

import pytest

from playground.core import text
from playground.core.errors import InputError, ModelError
from playground.core.jobs import Job, JobContext
from playground.core.runner import run_sync

WORDS = ("good great fine happy love bad awful sad hate terrible the a movie film was is it this i "
         "very not food service day").split()


def build_tokenizer(folder):
    """A real WordPiece tokenizer built with the `tokenizers` library."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import BertTokenizerFast

    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS])}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    fast = BertTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                             sep_token="[SEP]", mask_token="[MASK]", model_max_length=32)
    fast.save_pretrained(folder)
    return fast


def tiny_bert_config(**kw):
    from transformers import BertConfig

    return BertConfig(vocab_size=5 + len(WORDS), hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                      intermediate_size=32, max_position_embeddings=32, **kw)


@pytest.fixture(scope="module")
def tiny_classifier(tmp_path_factory):
    import torch
    from transformers import BertForSequenceClassification

    folder = tmp_path_factory.mktemp("tiny-sentiment")
    torch.manual_seed(0)
    labels = ["negative", "neutral", "positive"]
    model = BertForSequenceClassification(tiny_bert_config(
        num_labels=3, id2label=dict(enumerate(labels)), label2id={lb: i for i, lb in enumerate(labels)}))
    model.save_pretrained(folder)
    build_tokenizer(folder)
    (folder / "playground_model.json").write_text(json.dumps(
        {"task": "text-classification", "name": "tiny sentiment", "labels": labels}))
    return folder


@pytest.fixture(scope="module")
def tiny_masked_lm(tmp_path_factory):
    import torch
    from transformers import BertForMaskedLM

    folder = tmp_path_factory.mktemp("tiny-mlm")
    torch.manual_seed(0)
    BertForMaskedLM(tiny_bert_config()).save_pretrained(folder)
    build_tokenizer(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_gpt2(tmp_path_factory):
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    folder = tmp_path_factory.mktemp("tiny-gpt2")
    torch.manual_seed(0)
    GPT2LMHeadModel(GPT2Config(vocab_size=5 + len(WORDS), n_positions=32, n_embd=16, n_layer=3, n_head=4,
                               bos_token_id=2, eos_token_id=3, pad_token_id=0)).save_pretrained(folder)
    build_tokenizer(folder)
    return folder


def ctx():
    return JobContext()


TOPICS = "sports, cooking, finance, weather"
TOPIC_SENTENCES = [
    ("The goalkeeper saved a penalty in the last minute of the match.", "sports"),
    ("Whisk the eggs with sugar, then fold in the flour and bake for twenty minutes.", "cooking"),
    ("The central bank raised interest rates to slow inflation.", "finance"),
    ("Heavy rain and strong winds are expected tomorrow afternoon.", "weather"),
    ("O time venceu a final do campeonato por dois a zero ⚽", "sports"),  # Portuguese + emoji
]


# -- bundled MiniLM ------------------------------------------------------------


def test_embeddings_are_unit_vectors_of_384_dims_for_any_script():
    res = text.embed(ctx(), ["Hello world", "Olá mundo 🌍", "東京は日本の首都です", "Привет"])
    assert res.vectors.shape == (4, 384)
    norms = (res.vectors ** 2).sum(axis=1)
    assert norms == pytest.approx([1.0] * 4, abs=1e-4)
    assert res.truncated == [False] * 4
    rows = res.to_list()
    assert rows[1]["text"] == "Olá mundo 🌍" and len(rows[1]["embedding"]) == 384


def test_embeddings_do_not_depend_on_batching():
    texts = [f"sentence number {i} " + "word " * (i % 7) for i in range(10)]
    together = text.embed(ctx(), texts).vectors
    one_by_one = [text.embed(ctx(), [t]).vectors[0] for t in texts[:3]]
    for i in range(3):
        assert together[i] == pytest.approx(one_by_one[i], abs=1e-4)


def test_zero_shot_picks_the_topic_of_each_sentence():
    res = text.zero_shot(ctx(), [s for s, _ in TOPIC_SENTENCES], TOPICS)
    assert res.method == "embedding-similarity"
    for item, (_, want) in zip(res.items, TOPIC_SENTENCES, strict=True):
        assert [s.label for s in item.scores][0] == want, item
        assert sum(s.score for s in item.scores) == pytest.approx(1.0)
        assert [s.score for s in item.scores] == sorted((s.score for s in item.scores), reverse=True)
        assert item.to_dict()["scores"][0].keys() == {"label", "score"}


def test_zero_shot_input_care():
    with pytest.raises(InputError, match="at least two"):
        text.zero_shot(ctx(), ["some text"], "only-one")
    with pytest.raises(InputError, match="Type or paste"):
        text.zero_shot(ctx(), ["   "], TOPICS)
    with pytest.raises(InputError, match=r"\{\}"):
        text.zero_shot(ctx(), ["x"], TOPICS, template="no placeholder")


def test_semantic_search_ranks_by_meaning():
    candidates = [
        "The train to Lisbon leaves at nine from platform four.",
        "My grandmother grows tomatoes and basil in her garden.",
        "Our flight was delayed because of fog at the airport.",
        "Stir the risotto slowly and add the stock a ladle at a time.",
        "The laptop battery lasts about ten hours.",
    ]
    res = text.similar(ctx(), "How do I make a creamy rice dish?", candidates)
    assert res.hits[0].text == candidates[3]
    assert [h.score for h in res.hits] == sorted((h.score for h in res.hits), reverse=True)
    assert {h.index for h in res.hits} == set(range(5))
    travel = text.similar(ctx(), "journeys and transport delays", candidates, top_k=2)
    assert len(travel.hits) == 2
    assert {h.text for h in travel.hits} == {candidates[0], candidates[2]}
    with pytest.raises(InputError):
        text.similar(ctx(), "q", ["", "  "])


def test_long_input_is_truncated_with_a_flag():
    res = text.embed(ctx(), ["word " * 600, "short"])
    assert res.truncated == [True, False]
    assert res.max_tokens == 256


def test_attention_heatmap_matches_the_tokens():
    res = run_sync(Job(text.attention, ("The cat sat on the mat 😺",)))
    n = len(res.tokens)
    assert res.tokens[0] == "[CLS]" and res.tokens[-1] == "[SEP]" and "cat" in res.tokens
    assert res.weights.shape == (6, 12, n, n)
    assert res.kind == "encoder"
    assert res.matrix(0, None).shape == (n, n)
    assert res.matrix(2, 3).sum(axis=1) == pytest.approx([1.0] * n, abs=1e-3)  # softmax rows
    long = text.attention(ctx(), "many words here " * 50, max_tokens=20)
    assert long.truncated and long.weights.shape[-1] == 20 == len(long.tokens)


def test_tokens_with_ids_spans_and_counts():
    res = text.tokenize(ctx(), "Tokenization works 👍")
    pieces = [t.token for t in res.tokens]
    assert pieces[0] == "[CLS]" and pieces[-1] == "[SEP]"
    assert "##ization" in pieces
    tok = next(t for t in res.tokens if t.token == "works")
    assert res.text[tok.start:tok.end] == "works"
    assert res.n_tokens == len(pieces) and res.n_words == 3 and res.max_tokens == 256 and not res.over_limit


def test_minilm_does_not_fit_classification():
    with pytest.raises(ModelError, match="no classification head"):
        text.classify(ctx(), ["hello"], "bundled/all-minilm-l6-v2")


# -- tiny models built here ------------------------------------------------------


def test_classify_a_fine_tuned_folder(tiny_classifier):
    texts = ["the movie was very good", "awful food 😡", "i hate this " * 30]
    res = run_sync(Job(text.classify, (texts, str(tiny_classifier))))
    assert res.method == "classifier" and len(res.items) == 3
    for item, t in zip(res.items, texts, strict=True):
        assert item.text == t.strip()
        assert {s.label for s in item.scores} == {"negative", "neutral", "positive"}
        assert sum(s.score for s in item.scores) == pytest.approx(1.0, abs=1e-5)
        assert item.scores[0].score >= item.scores[-1].score
    assert [i.truncated for i in res.items] == [False, False, True]  # 32-token limit


def test_classifier_is_not_a_zero_shot_model_without_entailment(tiny_classifier):
    with pytest.raises(ModelError, match="does not fit"):
        text.zero_shot(ctx(), ["good"], "a,b", model=str(tiny_classifier))


def test_fit_checks_name_the_model_and_the_reason(tiny_masked_lm, tiny_gpt2, tmp_path):
    with pytest.raises(ModelError, match="tiny-mlm.*sequence-classification"):
        text.classify(ctx(), ["x"], str(tiny_masked_lm))
    with pytest.raises(ModelError, match="masked language model"):
        text.fill_mask(ctx(), "the [MASK] was good", str(tiny_gpt2))
    with pytest.raises(ModelError, match="not found"):
        text.classify(ctx(), ["x"], str(tmp_path / "nope"))
    with pytest.raises(ModelError, match="offline"):
        text.classify(ctx(), ["x"], "someone/not-downloaded-model")


def test_fill_mask_through_the_pipeline(tiny_masked_lm):
    res = text.fill_mask(ctx(), "the movie was [MASK]", str(tiny_masked_lm), top_k=3)
    assert len(res.fills) == 1 and len(res.fills[0]) == 3
    assert all(f.sequence.startswith("the movie was") for f in res.fills[0])
    two = text.fill_mask(ctx(), "the <mask> was [MASK]", str(tiny_masked_lm), top_k=2)
    assert len(two.fills) == 2
    with pytest.raises(InputError, match="MASK"):
        text.fill_mask(ctx(), "no mask here", str(tiny_masked_lm))


def test_decoder_attention_is_causal(tiny_gpt2):
    res = text.attention(ctx(), "the film was good", model=str(tiny_gpt2))
    n = len(res.tokens)
    assert res.kind == "decoder" and res.weights.shape == (3, 4, n, n)
    upper = res.matrix(1, None)[0, 1:]
    assert float(abs(upper).max()) < 1e-6  # a token never attends to later tokens


def test_summarize_with_a_causal_model(tiny_gpt2):
    res = text.summarize(ctx(), "the food was good and the service was very good", str(tiny_gpt2),
                         max_new_tokens=5, min_new_tokens=1)
    assert res.model == str(tiny_gpt2) and isinstance(res.summary, str) and res.input_tokens > 0


def test_catalog_lists_fine_tuned_classifiers(tiny_classifier, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_MODELS_DIR", str(tiny_classifier.parent))
    from playground.core import tasks

    ids = [e.id for e in tasks.models_for("text-classification")]
    assert str(tiny_classifier) in ids
    assert "bundled/all-minilm-l6-v2" not in ids
    zero = [e.id for e in tasks.models_for("zero-shot-classification")]
    assert "bundled/all-minilm-l6-v2" in zero and str(tiny_classifier) not in zero  # no entailment label


def test_cancel_stops_between_batches():
    import threading

    flag = threading.Event()
    seen = []

    def sink(event):
        seen.append(event)
        flag.set()  # cancel at the first progress report

    from playground.core.errors import Cancelled

    with pytest.raises(Cancelled):
        run_sync(Job(text.embed, ([f"text {i}" for i in range(200)],)), sink, flag)
    assert seen


def test_zero_shot_with_an_nli_model_goes_through_the_pipeline(tmp_path_factory):
    import torch
    from transformers import BertForSequenceClassification

    folder = tmp_path_factory.mktemp("tiny-nli")
    labels = ["entailment", "neutral", "contradiction"]
    torch.manual_seed(0)
    BertForSequenceClassification(tiny_bert_config(
        num_labels=3, id2label=dict(enumerate(labels)), label2id={lb: i for i, lb in enumerate(labels)},
    )).save_pretrained(folder)
    build_tokenizer(folder)
    res = text.zero_shot(ctx(), ["the food was good", "i hate this day"], "food, day, movie", model=str(folder),
                         template="this is about {}")
    assert res.method == "nli" and len(res.items) == 2
    for item in res.items:
        assert {s.label for s in item.scores} == {"food", "day", "movie"}
        assert sum(s.score for s in item.scores) == pytest.approx(1.0, abs=1e-4)
        assert item.scores[0].score >= item.scores[1].score >= item.scores[2].score
    multi = text.zero_shot(ctx(), ["good food"], "food, day", model=str(folder), multi_label=True,
                           template="this is about {}")
    assert all(0.0 <= s.score <= 1.0 for s in multi.items[0].scores)


def test_summarize_with_a_seq2seq_model(tmp_path_factory):
    import torch
    from transformers import BartConfig, BartForConditionalGeneration

    folder = tmp_path_factory.mktemp("tiny-bart")
    torch.manual_seed(0)
    BartForConditionalGeneration(BartConfig(
        vocab_size=5 + len(WORDS), d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, max_position_embeddings=32,
        pad_token_id=0, bos_token_id=2, eos_token_id=3, decoder_start_token_id=2, forced_eos_token_id=None,
    )).save_pretrained(folder)
    build_tokenizer(folder)
    res = text.summarize(ctx(), "the movie was good " * 20, str(folder), max_new_tokens=6, min_new_tokens=2)
    assert res.truncated and res.input_tokens == 32  # cut at the model's limit, and said so
    assert isinstance(res.summary, str) and res.summary.strip()
    with pytest.raises(ModelError, match="encoder-decoder"):
        text.attention(ctx(), "the movie", model=str(folder))


def test_input_helpers():
    assert text.parse_labels(" a, b ,a,, c ") == ["a", "b", "c"]
    assert text.parse_labels(["x", "y"]) == ["x", "y"]
    assert text.clean_texts("  hi 👋 ") == ["hi 👋"]
    with pytest.raises(InputError, match="empty"):
        text.clean_texts(["ok", " "])
    with pytest.raises(InputError, match="Too many"):
        text.clean_texts(["x"] * (text.MAX_TEXTS + 1))
