"""`playground compare` end to end: its table equals each model's own `playground evaluate --json`
(two sentiment classifiers trained here; a digit classifier trained here against the bundled
EfficientNet) and, for speech, the WER and CER of each model's `playground transcribe` output
(Whisper tiny.en against base, on espeak-ng clips with .txt and .srt references); a model that
cannot load is its own row; cancel stops the comparison between and inside the models."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from speech_support import speak  # noqa: E402
from train_support import write_digits, write_sentiment_csv  # noqa: E402

from playground import cli  # noqa: E402
from playground.core import compare, models  # noqa: E402
from playground.core.speech import accuracy  # noqa: E402
from playground.core.errors import Cancelled  # noqa: E402
from playground.core.jobs import Job  # noqa: E402
from playground.core.runner import run_sync  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def home(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("PLAYGROUND_HOME", str(tmp_path_factory.mktemp("home")))
    yield
    mp.undo()


@pytest.fixture(scope="module")
def sentiment(tmp_path_factory):
    """A review table and two classifiers trained on it (one epoch at two learning rates)."""
    from playground.core.training.text import train_text_classifier

    root = tmp_path_factory.mktemp("sentiment")
    table = write_sentiment_csv(root / "reviews.csv", per_class=16)
    out = []
    for name, lr in (("slow", 2e-5), ("fast", 3e-4)):
        result = run_sync(Job(train_text_classifier, (table, root / name),
                              {"epochs": 1, "lr": lr, "batch_size": 16, "val_share": 0.25, "max_length": 32}))
        out.append(str(result.model_dir))
    return str(table), out


def _json(capsys, *argv) -> tuple[int, dict]:
    code = cli.main(list(argv))
    return code, json.loads(capsys.readouterr().out)


def _macro_f1(evaluation: dict) -> float:
    """scikit-learn's macro F1 from `evaluate --json`: the classes in the data or the predictions."""
    labels, confusion = evaluation["labels"], evaluation["confusion"]
    seen = [i for i in range(len(labels))
            if sum(confusion[i]) or any(row[i] for row in confusion)]
    return sum(evaluation["per_class"][labels[i]]["f1"] for i in seen) / len(seen)


def _check_against_evaluate(capsys, table: dict, data: str, task: str) -> None:
    assert table["task"] == task
    for row in table["rows"]:
        assert set(row) == {"model", "accuracy", "macro_f1", "examples", "examples_per_s", "size_bytes",
                            "peak_memory_bytes", "error"}
        code, alone = _json(capsys, "evaluate", "--model", row["model"], data, "--json")
        assert code == 0 and row["error"] is None
        assert row["accuracy"] == alone["accuracy"]
        assert row["macro_f1"] == pytest.approx(_macro_f1(alone), abs=1e-5)
        assert row["examples"] == sum(map(sum, alone["confusion"]))
        assert row["examples_per_s"] > 0 and row["peak_memory_bytes"] > 0
        assert row["size_bytes"] == compare.model_size(row["model"]) > 0
    keys = [(r["accuracy"], r["macro_f1"]) for r in table["rows"]]
    assert keys == sorted(keys, reverse=True)  # best first


@pytest.mark.timeout(900)
def test_text_leaderboard_equals_evaluate_per_model(sentiment, capsys):
    from sklearn.metrics import f1_score

    data, (slow, fast) = sentiment
    code, table = _json(capsys, "compare", "--models", slow, fast, data, "--json")
    assert code == 0, table
    assert {r["model"] for r in table["rows"]} == {slow, fast}
    _check_against_evaluate(capsys, table, data, "text-classification")
    # macro-F1 is scikit-learn's, computed from the examples the engine kept.
    result = run_sync(Job(compare.compare, ([slow, fast], data)))
    for row in result.rows:
        e = row.evaluation
        assert row.metrics["macro_f1"] == pytest.approx(
            f1_score([x.true for x in e.examples], [x.predicted for x in e.examples], average="macro",
                     zero_division=0))
        assert row.load_seconds is not None and row.seconds > 0
    # The plain table: one line per model, best first, aligned columns.
    code = cli.main(["compare", "--models", slow, fast, data])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0 and "macro-F1" in lines[1] and len(lines) == 4
    best = table["rows"][0]["model"]
    assert best in lines[2] and f"{table['rows'][0]['accuracy']:.4f}" in lines[2]
    assert len({line.index("examples/s") if "examples/s" in line else None for line in lines[1:2]}) == 1


@pytest.mark.timeout(900)
def test_a_model_that_cannot_load_is_its_own_row(sentiment, tmp_path, capsys):
    data, (slow, _fast) = sentiment
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / models.FINETUNED_MARKER).write_text(json.dumps({"task": "text-classification", "name": "broken"}))
    (broken / "config.json").write_text("{ not json")
    code, table = _json(capsys, "compare", "--json", "--models", str(broken), slow, data)
    assert code == cli.EXIT_FAILURE
    rows = {r["model"]: r for r in table["rows"]}
    assert rows[slow]["error"] is None and rows[slow]["accuracy"] is not None
    assert rows[str(broken)]["error"] and rows[str(broken)]["accuracy"] is None
    assert table["rows"][-1]["model"] == str(broken)  # failed rows last


@pytest.mark.timeout(900)
def test_cancel_stops_between_and_inside_models(sentiment):
    data, (slow, fast) = sentiment
    cancel = threading.Event()
    done = []

    def stop_after_first_row(event):
        if isinstance(event, compare.RowDone):
            done.append(event.row.model)
            cancel.set()

    with pytest.raises(Cancelled):
        run_sync(Job(compare.compare, ([slow, fast, slow], data)), stop_after_first_row, cancel)
    assert done == [slow]  # the second model never ran

    cancel = threading.Event()
    seen = []

    def stop_inside_second(event):
        seen.append(event)
        if "(2 of 2)" in getattr(event, "text", ""):  # the second model's turn has begun
            cancel.set()

    with pytest.raises(Cancelled):
        run_sync(Job(compare.compare, ([slow, fast], data)), stop_inside_second, cancel)
    assert sum(isinstance(e, compare.RowDone) for e in seen) == 1  # cancelled, not an error row


@pytest.mark.timeout(900)
def test_image_leaderboard_equals_evaluate_per_model(tmp_path, capsys):
    from playground.core.training.image import train_image_classifier

    data = write_digits(tmp_path / "digits", size=32, per_class=4)
    result = run_sync(Job(train_image_classifier, (data, tmp_path / "digits-model"),
                          {"image_size": 32, "epochs": 1, "lr": 2e-3, "batch_size": 16, "seed": 5,
                           "val_share": 0.25}))
    trained = str(result.model_dir)
    code, table = _json(capsys, "compare", "--models", "bundled/efficientnet-lite0", trained, str(data), "--json")
    assert code == 0, table
    _check_against_evaluate(capsys, table, str(data), "image-classification")
    rows = {r["model"]: r for r in table["rows"]}
    assert rows["bundled/efficientnet-lite0"]["examples"] == rows[trained]["examples"] == 40


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    """Two spoken clips: one with a .txt reference holding a word the voice never says, one with an
    .srt reference in two cues; and a clip with no reference, which is left out."""
    d = tmp_path_factory.mktemp("recordings")
    speak("Please call me tomorrow morning before the meeting starts.", d / "call.wav")
    (d / "call.txt").write_text("Please call me early tomorrow morning before the meeting starts.\n")
    speak("Open the window and let some fresh air into the room.", d / "window.wav")
    (d / "window.srt").write_text("1\n00:00:00,000 --> 00:00:02,000\nOpen the window and\n\n"
                                  "2\n00:00:02,000 --> 00:00:04,000\n<i>let some fresh air into the room.</i>\n")
    speak("This clip has no reference.", d / "loose.wav")
    return d


def _corpus_rates(capsys, model: str, folder: Path) -> tuple[float, float]:
    """WER and CER over the set from `playground transcribe`'s JSON for each referenced clip."""
    files = [str(folder / "call.wav"), str(folder / "window.wav")]
    refs = [(folder / "call.txt").read_text(), "Open the window and let some fresh air into the room."]
    assert cli.main(["transcribe", "--model", model, "--format", "json", *files]) == 0
    heard = {Path(r["path"]).name: r["text"] for r in json.loads(capsys.readouterr().out)}
    words = [len(accuracy.normalise_words(r)) for r in refs]
    chars = [len(accuracy.normalise_chars(r)) for r in refs]
    hyps = [heard["call.wav"], heard["window.wav"]]
    wer = sum(accuracy.word_error_rate(r, h) * n for r, h, n in zip(refs, hyps, words, strict=True)) / sum(words)
    cer = sum(accuracy.character_error_rate(r, h) * n for r, h, n in zip(refs, hyps, chars, strict=True)) / sum(chars)
    return wer, cer


@pytest.mark.timeout(900)
def test_speech_leaderboard_equals_transcribe_wer(recordings, capsys):
    tiny, base = "bundled/whisper-tiny.en", "bundled/whisper-base"
    code, table = _json(capsys, "compare", "--json", "--models", tiny, base, str(recordings))
    assert code == 0, table
    assert table["task"] == "speech-recognition"
    for row in table["rows"]:
        assert set(row) == {"model", "wer", "cer", "examples", "examples_per_s", "size_bytes",
                            "peak_memory_bytes", "error"}
        assert row["examples"] == 2 and row["error"] is None  # the clip with no reference is left out
        wer, cer = _corpus_rates(capsys, row["model"], recordings)
        assert row["wer"] == pytest.approx(wer, abs=1e-6) and row["cer"] == pytest.approx(cer, abs=1e-6)
        assert row["wer"] >= round(1 / 21, 6)  # "early" is never said: at least one error in 21 reference words
        assert row["size_bytes"] == compare.model_size(row["model"]) > 10_000_000
        assert row["peak_memory_bytes"] > 0 and row["examples_per_s"] > 0
    keys = [(r["wer"], r["cer"]) for r in table["rows"]]
    assert keys == sorted(keys)  # lower error first
