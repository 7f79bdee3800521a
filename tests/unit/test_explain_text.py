"""Which words decided: integrated gradients (Captum) for a sentiment classifier trained here and for
zero-shot labels with the bundled MiniLM; the CLI's `attributions` and `delta`."""

from __future__ import annotations

import json

import pytest

import explain_support as es
from playground import cli
from playground.core import models
from playground.core.errors import InputError, ModelError
from playground.core.explain import text as explain_text
from playground.core.jobs import JobContext
from train_support import NEGATIVE, POSITIVE

SENTIMENT = set(POSITIVE + NEGATIVE)


@pytest.fixture(scope="module")
def sentiment(tmp_path_factory):
    folder, held = es.sentiment_classifier(tmp_path_factory.mktemp("sentiment") / "reviews")
    yield {"model": folder, "held": held}
    models.cache.clear()


def test_the_top_word_of_held_back_reviews_carries_the_sentiment(sentiment):
    held = sentiment["held"][:12]
    hits = 0
    for review, label in held:
        result = explain_text.explain_classification(JobContext(), review, sentiment["model"], steps=24)
        assert result.label == label  # the classifier gets them right ...
        hits += result.top(1)[0].token in SENTIMENT  # ... and for the right reason
    print(f"top word carries the sentiment in {hits} of {len(held)} held-back reviews")
    assert hits >= len(held) - 1


def test_attributions_add_up_to_the_logit_difference_within_the_reported_delta(sentiment):
    review = "The concert was dreadful from start to end."
    for label in ("negative", "positive"):
        result = explain_text.explain_classification(JobContext(), review, sentiment["model"], label)
        total = sum(t.score for t in result.tokens)  # special tokens equal the baseline's: zero, left out
        assert result.label == label
        assert abs(total - (result.score - result.baseline_score)) <= abs(result.delta) + 1e-4
        assert [t.token for t in result.tokens] == ["the", "concert", "was", "dreadful", "from", "start", "to", "end",
                                                    "."]
        assert review[result.tokens[3].start:result.tokens[3].end] == "dreadful"
    assert result.top(1)[0].token != "dreadful"  # for 'positive' the sentiment word pulls the other way
    assert min(result.tokens, key=lambda t: t.score).token == "dreadful"
    # Few steps: the integral misses more; the badge says so by the same measure.
    coarse = explain_text.explain_classification(JobContext(), review, sentiment["model"], steps=1)
    fine = explain_text.explain_classification(JobContext(), review, sentiment["model"], steps=64)
    assert abs(fine.delta) <= abs(coarse.delta) and fine.trust == "good"
    assert coarse.trust == ("good" if coarse.relative_delta <= explain_text.GOOD_DELTA else "low")


def test_zero_shot_labels_with_the_bundled_embedder():
    result = explain_text.explain_zero_shot(JobContext(), "The soup was cold and the waiter was rude.",
                                            ["food and restaurants", "space travel"])
    assert result.label == "food and restaurants" and result.model == models.DEFAULT_EMBEDDER
    assert {t.token for t in result.top(3)} & {"soup", "waiter"}
    assert abs(sum(t.score for t in result.tokens) - (result.score - result.baseline_score)) <= abs(result.delta) + 1e-3
    other = explain_text.explain_zero_shot(JobContext(), "The soup was cold.", ["food", "space"], label="space")
    assert other.label == "space"
    with pytest.raises(InputError, match="'music' is not one of the labels"):
        explain_text.explain_zero_shot(JobContext(), "The soup was cold.", ["food", "space"], label="music")


def test_onnx_text_classifiers_say_why_there_are_no_attributions(tmp_path):
    with pytest.raises(ModelError, match="need the model's gradients"):
        explain_text.explain_classification(JobContext(), "fine", str(tmp_path / "x.onnx"))


def test_cli_classify_explain_json(sentiment, capsys):
    code = cli.main(["text", "classify", "--model", sentiment["model"], "--explain", "--json",
                     "Our hotel was lovely.", "The trip was awful"])
    rows = json.loads(capsys.readouterr().out)
    assert code == 0 and len(rows) == 2
    for row, word in zip(rows, ("lovely", "awful"), strict=True):
        assert {"attributions", "delta", "explained", "trust"} <= set(row)
        assert row["explained"] == row["scores"][0]["label"]
        assert all(set(a) == {"token", "score"} for a in row["attributions"])
        assert max(row["attributions"], key=lambda a: a["score"])["token"] == word
        assert isinstance(row["delta"], float)
    code = cli.main(["text", "classify", "--model", sentiment["model"], "--explain", "--explain-class", "negative",
                     "--json", "Our hotel was lovely."])
    (row,) = json.loads(capsys.readouterr().out)
    assert code == 0 and row["explained"] == "negative"
    code = cli.main(["text", "classify", "--model", sentiment["model"], "--explain", "--explain-class", "meh",
                     "--json", "Our hotel was lovely."])
    out, err = capsys.readouterr()
    assert code == 1 and out == "" and err.strip().count("\n") == 0 and "'meh' is not one of the labels" in err
