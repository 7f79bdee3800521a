"""Before and after (core/evaluate_lm.py, `playground evaluate --model RUN DATA`): a LoRA run and its base
scored on the same examples, with the same loss and exact match training's validation computes."""

from __future__ import annotations

import json
import math
import threading
from contextlib import nullcontext

import pytest

pytest.importorskip("peft")

from lm_support import TOY, ANIMALS, WORDS, make_tiny_llm, train, train_toy, write_toy_jsonl  # noqa: E402
from lm_support import one_thread  # noqa: E402, F401 - autouse: one torch thread in every test here

from playground import cli  # noqa: E402
from playground.core.errors import Cancelled, InputError, ModelError  # noqa: E402
from playground.core.evaluate_lm import evaluate_lm, is_language_model  # noqa: E402
from playground.core.jobs import Job, JobContext  # noqa: E402
from playground.core.runner import run_sync  # noqa: E402
from playground.core.training import lm  # noqa: E402



@pytest.fixture(scope="module")
def run(tmp_path_factory):
    import torch

    torch.set_num_threads(1)
    run = train_toy(tmp_path_factory.mktemp("lmeval"))
    run["meta"] = json.loads((run["out"] / "playground_model.json").read_text())
    run["validation"] = evaluate_lm(JobContext(), str(run["out"]), str(run["data"]), split="validation",
                                    device="cpu")
    return run


def test_the_tuned_numbers_are_the_ones_training_reported_for_its_validation_split(run):
    ev, metrics = run["validation"], run["meta"]["metrics"]
    tuned = ev.score("tuned")
    assert (ev.split, ev.examples, len(ev.rows)) == ("validation", 16, 16)  # 25% of 64, as training split it
    assert tuned.exact_match == metrics["val_accuracy"] >= 0.75
    assert tuned.loss == pytest.approx(metrics["val_loss"], rel=1e-4)
    assert sum(r.tuned_match for r in ev.rows) == round(tuned.exact_match * 16)
    assert all(r.tuned_match == (r.tuned == r.expected) for r in ev.rows)


def test_the_base_is_scored_on_the_same_prompts_as_training_would_score_it_and_is_worse(run):
    ev = run["validation"]
    base = ev.score("base")
    assert ev.base_model == base.model == str(run["base"]) and [s.role for s in ev.scores] == ["base", "tuned"]
    # An untrained LoRA spec on the base is the base (LoRA's B starts at zero): training's own validation code
    # on the same split gives the base's numbers, and the same prompts in the same order.
    spec = lm.LMSpec(JobContext(), lm.read_lm_data(run["data"]), str(run["base"]), 8, 64, 8, 0.25, 0)
    spec.model.eval()
    import torch

    with torch.inference_mode():
        loss, accuracy = spec.evaluate("cpu", nullcontext)
    assert base.exact_match == accuracy and base.loss == pytest.approx(loss, rel=1e-5)
    data = lm.read_lm_data(run["data"])
    assert [r.prompt for r in ev.rows] == [data.conversations[i][0]["content"] for i in spec.val_idx]
    assert [r.expected for r in ev.rows] == [data.responses[i] for i in spec.val_idx]
    assert base.exact_match <= 0.25 < ev.score("tuned").exact_match and base.loss > 2 * ev.score("tuned").loss
    assert ev.changed == sum(r.base_match != r.tuned_match for r in ev.rows) >= 8
    assert math.isclose(base.perplexity, math.exp(base.loss))


def test_split_all_scores_every_example(run):
    ev = evaluate_lm(JobContext(), str(run["out"]), str(run["data"]), device="cpu")
    assert ev.split == "all" and ev.examples == len(ev.rows) == 64
    assert ev.score("tuned").exact_match >= ev.score("base").exact_match


def test_cli_json_has_the_documented_keys_and_equals_the_core_result(run, capsys):
    code = cli.main(["--device", "cpu", "evaluate", "--model", str(run["out"]), str(run["data"]),
                     "--split", "validation", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert set(out) >= {"task", "model", "base_model", "data", "split", "examples", "models", "rows"}
    assert out == run["validation"].to_dict()
    assert out["task"] == "text-generation" and [m["role"] for m in out["models"]] == ["base", "tuned"]
    assert set(out["models"][0]) >= {"model", "role", "loss", "exact_match"}
    assert set(out["rows"][0]) == {"prompt", "expected", "base", "tuned", "base_match", "tuned_match"}


def test_cli_plain_output_is_a_two_line_table_and_the_changed_count(run, capsys):
    code = cli.main(["--device", "cpu", "evaluate", "--model", str(run["out"]), str(run["data"]),
                     "--split", "validation"])
    lines = capsys.readouterr().out.splitlines()
    ev = run["validation"]
    assert code == 0 and lines[1].split()[:3] == ["model", "exact", "match"]
    assert lines[2].startswith("base ") and f"{ev.score('base').exact_match:.4f}" in lines[2]
    assert lines[3].startswith("tuned ") and f"{ev.score('tuned').loss:.4f}" in lines[3]
    assert lines[4].startswith(f"{ev.changed} of 16 examples changed")


def test_a_plain_causal_lm_alone_and_plain_text_give_loss_and_perplexity_only(run, tmp_path):
    assert is_language_model(str(run["base"])) and is_language_model(str(run["out"]))
    txt = tmp_path / "notes.txt"
    txt.write_text(" ".join((WORDS + ANIMALS) * 10))
    ev = evaluate_lm(JobContext(), str(run["base"]), str(txt), max_length=32, device="cpu")
    assert ev.base_model is None and [s.role for s in ev.scores] == ["tuned"] and ev.rows == []
    only = ev.scores[0]
    assert only.exact_match is None and ev.examples == 5 and only.perplexity == pytest.approx(math.exp(only.loss))


def test_a_run_on_plain_text_gets_back_its_validation_loss(tmp_path):
    base = make_tiny_llm(tmp_path / "base")
    txt = tmp_path / "notes.txt"
    txt.write_text(" ".join((WORDS + ANIMALS) * 10))
    train(txt, tmp_path / "out", base=str(base), **(TOY | {"epochs": 1, "val_share": 0.2, "max_length": 32}))
    meta = json.loads((tmp_path / "out" / "playground_model.json").read_text())
    ev = evaluate_lm(JobContext(), str(tmp_path / "out"), str(txt), split="validation", device="cpu")
    assert ev.data_format == "text" and ev.examples == 1 and ev.rows == []
    assert [s.exact_match for s in ev.scores] == [None, None]
    assert ev.score("tuned").loss == pytest.approx(meta["metrics"]["val_loss"], rel=1e-4)


def test_progress_is_reported_and_cancel_stops_the_job(run):
    seen = []
    cancel = threading.Event()

    def sink(event):
        seen.append(event)
        if "Scoring the base model" in str(getattr(event, "text", "")):
            cancel.set()

    with pytest.raises(Cancelled):
        run_sync(Job(evaluate_lm, (str(run["out"]), str(run["data"])), {"split": "validation", "device": "cpu"}),
                 sink, cancel)
    texts = [str(getattr(e, "text", "")) for e in seen]
    assert "Scoring the base model: 8 of 16 examples" in texts  # batch by batch, as training's batches
    assert not any("tuned" in t for t in texts)  # stopped before the tuned model


def _one_line(exc_info, *needles):
    message = str(exc_info.value)
    assert "\n" not in message and all(n in message for n in needles), message


def test_bad_inputs_give_one_line_errors(run, tmp_path):
    ctx = JobContext()
    with pytest.raises(InputError) as err:  # a plain model has no run, so no validation split
        evaluate_lm(ctx, str(run["base"]), str(run["data"]), split="validation", device="cpu")
    _one_line(err, "is not a LoRA run", "--split all")
    short = write_toy_jsonl(tmp_path / "short.jsonl", [("red cat", "blue")] * 10)
    with pytest.raises(InputError) as err:  # other data: the run's split cannot be rebuilt from it
        evaluate_lm(ctx, str(run["out"]), str(short), split="validation", device="cpu")
    _one_line(err, "gives 10 examples, the run was trained on 64")
    other = make_tiny_llm(tmp_path / "other")
    (other / "tokenizer.json").write_text((other / "tokenizer.json").read_text().replace('"lime"', '"lemon"'))
    with pytest.raises(ModelError) as err:
        evaluate_lm(ctx, str(run["out"]), str(short), base=str(other), device="cpu")
    _one_line(err, "has another vocabulary", "not that model's base")
    charlm = tmp_path / "charlm"
    charlm.mkdir()
    (charlm / "playground_model.json").write_text(json.dumps({"task": "text-generation", "kind": "charlm"}))
    with pytest.raises(ModelError) as err:
        evaluate_lm(ctx, str(charlm), str(short), device="cpu")
    _one_line(err, "character-level GPT")
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\nhello,pos\n")
    with pytest.raises(InputError) as err:
        evaluate_lm(ctx, str(run["out"]), str(bad), device="cpu")
    _one_line(err, "needs a 'prompt' and a 'response' column")


def test_cli_bad_input_is_one_line_and_non_zero(run, tmp_path, capsys):
    code = cli.main(["--device", "cpu", "evaluate", "--model", str(run["base"]), str(run["data"]),
                     "--split", "validation", "--json"])
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert code != 0 and captured.out == "" and len(err.splitlines()) == 1 and "is not a LoRA run" in err


def test_cli_language_model_options_are_refused_for_a_classifier(tmp_path, capsys):
    clf = tmp_path / "clf"
    clf.mkdir()
    (clf / "playground_model.json").write_text(json.dumps({"task": "text-classification"}))
    table = tmp_path / "t.csv"
    table.write_text("text,label\ngood,pos\nbad,neg\n")
    assert not is_language_model(str(clf))
    code = cli.main(["evaluate", "--model", str(clf), str(table), "--base", "x"])
    err = capsys.readouterr().err.strip()
    assert code == cli.EXIT_USAGE and len(err.splitlines()) == 1 and "are for language models" in err
