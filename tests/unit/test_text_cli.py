"""`playground text embed | zero-shot | similar | classify`: JSON shapes, errors and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import pytest

from playground import cli
from playground.commands import common


@pytest.fixture(autouse=True)
def no_sigint_handler(monkeypatch):
    monkeypatch.setattr(common, "cancel_on_sigint", threading.Event)


def run_cli(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_embed_json(capsys):
    code, out, _ = run_cli(capsys, "text", "embed", "--json", "first sentence", "segunda frase ✨")
    data = json.loads(out)
    assert code == 0 and [d["text"] for d in data] == ["first sentence", "segunda frase ✨"]
    assert all(len(d["embedding"]) == 384 for d in data)
    assert sum(x * x for x in data[0]["embedding"]) == pytest.approx(1.0, abs=1e-4)


def test_zero_shot_json_best_first(capsys):
    code, out, _ = run_cli(capsys, "text", "zero-shot", "--json", "--labels", "volcanoes,poetry,football",
                           "Lava poured down the mountain after the eruption.")
    data = json.loads(out)
    assert code == 0 and len(data) == 1
    assert data[0]["text"] == "Lava poured down the mountain after the eruption."
    scores = data[0]["scores"]
    assert [s["label"] for s in scores][0] == "volcanoes"
    assert all(set(s) == {"label", "score"} for s in scores)
    assert [s["score"] for s in scores] == sorted((s["score"] for s in scores), reverse=True)


def test_similar_from_file_with_top_k(capsys, tmp_path):
    f = tmp_path / "c.txt"
    f.write_text("The violinist tuned her instrument\nA recipe for lentil soup\n\nStocks closed higher today\n",
                 encoding="utf-8")
    code, out, _ = run_cli(capsys, "text", "similar", "--json", "--query", "bean stew", "--candidates-file", str(f),
                           "--top-k", "2", "An extra candidate about cats")
    data = json.loads(out)
    assert code == 0 and len(data) == 2
    assert data[0]["text"] == "A recipe for lentil soup" and set(data[0]) == {"text", "score"}
    assert data[0]["score"] >= data[1]["score"]


def test_plain_output_and_truncation_note(capsys):
    code, out, err = run_cli(capsys, "text", "zero-shot", "--labels", "a,b", "word " * 400)
    assert code == 0 and "%" in out
    assert "truncated" in err


def test_errors_are_one_line(capsys, tmp_path):
    code, out, err = run_cli(capsys, "text", "classify", "--model", "bundled/all-minilm-l6-v2", "--json", "x")
    assert code == 1 and out == ""
    assert err.startswith("playground: error: ") and err.count("\n") == 1 and "classification head" in err
    code, _, err = run_cli(capsys, "text", "similar", "--query", "q", "--candidates-file", str(tmp_path / "none.txt"))
    assert code == 1 and "not found" in err
    code, _, err = run_cli(capsys, "text", "zero-shot", "--labels", "only", "text")
    assert code == 2 and "two labels" in err


def test_usage_errors_exit_2():
    proc = subprocess.run([sys.executable, "-m", "playground", "text", "zero-shot", "some text"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "--labels" in proc.stderr and "Traceback" not in proc.stderr
