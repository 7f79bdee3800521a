"""The leaderboard's parts that load no model: which task the models do, whether the data fits it,
reference transcripts (.txt, .srt), the error rates, macro-F1, the peak-memory sampler, the ranking,
and the CLI's one-line refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from playground import cli
from playground.core import compare, evaluate
from playground.core.speech import accuracy
from playground.core.errors import InputError, ModelError
from playground.core.models import FINETUNED_MARKER


def _marked(tmp_path, name: str, task: str) -> str:
    folder = tmp_path / name
    folder.mkdir()
    (folder / FINETUNED_MARKER).write_text(json.dumps({"task": task, "name": name}))
    return str(folder)


def _wav(path, seconds=0.5):
    sf.write(path, np.zeros(int(16000 * seconds), np.float32), 16000)
    return path


def test_the_task_comes_from_the_models(tmp_path):
    assert compare.model_task("bundled/whisper-tiny.en") == "speech-recognition"
    assert compare.model_task("bundled/efficientnet-lite0") == "image-classification"
    assert compare.model_task(_marked(tmp_path, "reviews", "text-classification")) == "text-classification"
    assert compare.model_task(_marked(tmp_path, "sounds", "audio-classification")) == "audio-classification"
    with pytest.raises(ModelError, match="text-generation"):
        compare.model_task("bundled/smollm2-135m-instruct")
    with pytest.raises(ModelError, match="not found"):
        compare.model_task(str(tmp_path / "missing"))


def test_fewer_than_two_models_or_two_tasks_are_refused(tmp_path):
    text = _marked(tmp_path, "reviews", "text-classification")
    with pytest.raises(InputError, match="at least two"):
        compare.common_task([text])
    with pytest.raises(InputError, match="different tasks") as err:
        compare.common_task([text, "bundled/whisper-tiny.en"])
    assert "reviews: text classification" in str(err.value) and "\n" not in str(err.value)
    assert compare.common_task([text, text]) == "text-classification"


def test_data_that_does_not_fit_the_task_is_refused(tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("text,label\ngood,pos\nbad,neg\n")
    (tmp_path / "cls" / "a").mkdir(parents=True)
    with pytest.raises(InputError, match="CSV/TSV"):
        compare.check_data("text-classification", str(tmp_path / "cls"))
    with pytest.raises(InputError, match="folder of class sub-folders"):
        compare.check_data("image-classification", str(table))
    with pytest.raises(InputError, match="no images"):
        compare.check_data("image-classification", str(tmp_path / "cls"))
    with pytest.raises(InputError, match="reference transcript"):
        compare.check_data("speech-recognition", str(table))
    assert compare.check_data("text-classification", str(table)) == table


def test_recordings_are_paired_with_the_reference_beside_them(tmp_path):
    _wav(tmp_path / "a.wav")
    (tmp_path / "a.txt").write_text("Hello there.\n")
    (tmp_path / "sub").mkdir()
    _wav(tmp_path / "sub" / "b.flac")
    (tmp_path / "sub" / "b.srt").write_text("1\n00:00:00,000 --> 00:00:01,500\n<i>Good</i> morning\n\n"
                                            "2\n00:00:01,500 --> 00:00:03,000\nto you.\n")
    _wav(tmp_path / "loose.wav")  # no reference: left out
    _wav(tmp_path / "empty.wav")
    (tmp_path / "empty.txt").write_text("  \n")  # an empty reference scores nothing: left out
    pairs = compare.reference_pairs(str(tmp_path))
    assert [(p.name, ref) for p, ref in pairs] == [("a.wav", "Hello there."), ("b.flac", "Good morning to you.")]
    assert [p.name for p, _ in compare.reference_pairs(str(tmp_path / "a.wav"))] == ["a.wav"]
    with pytest.raises(InputError, match="no audio file with a reference"):
        compare.reference_pairs(str(tmp_path / "loose.wav"))
    (tmp_path / "broken.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x01" * 40)
    (tmp_path / "broken.txt").write_text("words")
    with pytest.raises(InputError, match="broken.wav"):  # before any model loads, in one sentence
        compare.reference_pairs(str(tmp_path))


def test_error_rates():
    assert accuracy.edit_distance("kitten", "sitting") == 3
    assert accuracy.word_error_rate("the cat sat", "the cat sat down") == pytest.approx(1 / 3)
    assert accuracy.character_error_rate("The cat!", "the bat") == pytest.approx(1 / 7)  # "the cat": 7 chars
    assert accuracy.character_error_rate("", "") == 0.0 and accuracy.character_error_rate("", "x") == 1.0


def test_macro_f1_is_scikit_learns_over_the_classes_seen():
    from sklearn.metrics import f1_score

    labels = ["cat", "dog", "fox", "unused"]  # the model knows a class the data and predictions never use
    pairs = [(0, 0), (0, 1), (1, 1), (1, 1), (2, 0), (2, 2), (2, 1), (0, 0)]
    e = evaluate.Evaluation("m", "image", "d", labels, [evaluate.Example(str(i), t, p, 0.9)
                                                        for i, (t, p) in enumerate(pairs)])
    want = f1_score([t for t, _ in pairs], [p for _, p in pairs], average="macro", zero_division=0)
    assert e.macro_f1 == pytest.approx(want)
    assert e.macro_f1 != pytest.approx(sum(s.f1 for s in e.per_class.values()) / 4)


def test_peak_memory_sees_a_short_lived_allocation():
    import mmap
    import time

    with compare.PeakMemory(interval=0.005) as memory:
        # 64 MB of fresh pages, touched: an anonymous map always grows the resident set (a numpy
        # array could reuse heap pages that earlier tests freed but the allocator kept resident).
        block = mmap.mmap(-1, 64 * 1024 * 1024)
        for offset in range(0, len(block), mmap.PAGESIZE):
            block[offset] = 1
        time.sleep(0.05)
        block.close()
    assert memory.growth >= 48 * 1024 * 1024
    with compare.PeakMemory(interval=0.005) as quiet:
        pass
    assert quiet.growth < 16 * 1024 * 1024  # a fresh sampler: the earlier peak is not carried over


def test_rows_rank_best_first_and_failed_rows_last():
    rows = [compare.Row("a", {"wer": 0.2, "cer": 0.1}, 2, 1.0), compare.Row("b", error="cannot load"),
            compare.Row("c", {"wer": 0.2, "cer": 0.05}, 2, 4.0), compare.Row("d", {"wer": 0.1, "cer": 0.3}, 2, 2.0)]
    result = compare.Comparison("speech-recognition", "d", rows)
    assert [r.model for r in result.ranked()] == ["d", "c", "a", "b"]
    out = result.to_dict()
    assert out["task"] == "speech-recognition" and [r["model"] for r in out["rows"]] == ["d", "c", "a", "b"]
    assert out["rows"][1] == {"model": "c", "wer": 0.2, "cer": 0.05, "examples": 2, "examples_per_s": 0.5,
                              "size_bytes": None, "peak_memory_bytes": None, "error": None}
    assert out["rows"][3]["wer"] is None and out["rows"][3]["error"] == "cannot load"
    classifiers = compare.Comparison("text-classification", "d", [
        compare.Row("x", {"accuracy": 0.5, "macro_f1": 0.4}), compare.Row("y", {"accuracy": 0.9, "macro_f1": 0.9})])
    assert [r.model for r in classifiers.ranked()] == ["y", "x"]


@pytest.mark.parametrize("argv, words", [
    (["compare", "--models", "bundled/efficientnet-lite0", "DATA"], "at least two models"),
    (["compare", "--models", "bundled/efficientnet-lite0", "bundled/whisper-tiny.en", "DATA"], "different tasks"),
    (["compare", "--models", "bundled/smollm2-135m-instruct", "bundled/efficientnet-lite0", "DATA"],
     "text-generation"),
    (["compare", "--models", "bundled/efficientnet-lite0", "bundled/efficientnet-lite0", "TABLE"],
     "folder of class sub-folders"),
    (["compare", "--models", "bundled/whisper-tiny.en", "bundled/whisper-tiny.en", "DATA"], "reference transcript"),
])
def test_cli_bad_input_is_one_line_and_non_zero(argv, words, tmp_path, capsys):
    (tmp_path / "cls" / "a").mkdir(parents=True)
    _wav(tmp_path / "cls" / "a" / "x.wav")
    (tmp_path / "t.csv").write_text("text,label\ngood,pos\n")
    argv = [{"DATA": str(tmp_path / "cls"), "TABLE": str(tmp_path / "t.csv")}.get(a, a) for a in argv]
    code = cli.main(argv)
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert code != 0 and out == "" and len(lines) == 1 and "Traceback" not in err
    assert words in lines[0]


def test_data_may_come_before_or_after_the_models(tmp_path):
    a = cli.parse_args(["compare", "--models", "A", "B", "DATA"])
    a.check_options(a)
    b = cli.parse_args(["compare", "DATA", "--models", "A", "B"])
    b.check_options(b)
    assert (a.models, a.data) == (b.models, b.data) == (["A", "B"], "DATA")


def test_export_as_csv_and_json(tmp_path):
    import csv

    result = compare.Comparison("text-classification", "d", [
        compare.Row("x", {"accuracy": 0.5, "macro_f1": 0.4}, 10, 2.0, size_bytes=5),
        compare.Row("y", error="cannot load, really")])
    result.save(tmp_path / "board.csv")
    result.save(tmp_path / "board.json")
    rows = list(csv.DictReader((tmp_path / "board.csv").open()))
    assert [r["model"] for r in rows] == ["x", "y"] and rows[0]["examples_per_s"] == "5.0"
    assert rows[1]["error"] == "cannot load, really" and rows[1]["accuracy"] == ""
    assert json.loads((tmp_path / "board.json").read_text()) == result.to_dict()
