"""`playground transcribe` and `playground listen` as specified: formats, JSON lines, errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from speech_support import PHRASES, silence, speak  # noqa: E402

from playground import cli  # noqa: E402
from playground.core import audio  # noqa: E402
from playground.core.speech.accuracy import word_error_rate  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def phrase(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    return speak(PHRASES[2], d / "phrase.ogg", rate=22050, fmt="vorbis")


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_transcribe_formats(capsys, phrase, tmp_path):
    code, out, err = run(capsys, "transcribe", str(phrase), "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert set(data) == {"text", "segments", "duration", "language", "language_probability"}
    assert data["language"] == "en"  # tiny.en: English, given
    assert word_error_rate(PHRASES[2], data["text"]) < 0.3
    assert data["duration"] == pytest.approx(audio.probe(phrase).duration, abs=0.01)
    assert all(set(s) == {"start", "end", "text"} for s in data["segments"])

    code, out, _ = run(capsys, "transcribe", str(phrase), "--format", "srt")
    assert code == 0 and out.startswith("1\n00:00:0") and " --> " in out
    code, out, _ = run(capsys, "transcribe", str(phrase), "--format", "vtt")
    assert code == 0 and out.startswith("WEBVTT\n\n00:00:")
    target = tmp_path / "out.txt"
    code, out, _ = run(capsys, "transcribe", str(phrase), "--output", str(target))
    assert code == 0 and out == ""
    assert word_error_rate(PHRASES[2], target.read_text()) < 0.3


def test_transcribe_errors_are_one_line(capsys, tmp_path):
    bad = tmp_path / "corrupt.mp3"
    bad.write_bytes(b"ID3" + bytes(range(256)) * 8)
    code, out, err = run(capsys, "transcribe", str(bad))
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "corrupt.mp3" in err and "Traceback" not in err
    quiet = silence(tmp_path / "quiet.wav", 2.0)
    code, out, err = run(capsys, "transcribe", str(quiet))
    assert code == 1 and err.strip() == "playground: error: No speech found in quiet.wav."
    code, _, err = run(capsys, "transcribe", str(tmp_path / "missing.wav"))
    assert code == 1 and "missing.wav: file not found" in err
    code, _, err = run(capsys, "transcribe", str(quiet), "--model", str(tmp_path))
    assert code == 1 and err.count("\n") == 1


def test_listen_from_file_json_lines(capsys, phrase):
    code, out, err = run(capsys, "listen", "--from-file", str(phrase), "--json", "--no-autosave")
    assert code == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    base = {"type", "text", "start", "end", "emitted_at"}
    assert events and all(set(e) == base for e in events if e["type"] == "partial")
    # finals also say which language was heard (tiny.en: English, for certain)
    final_keys = base | {"utterance", "continues", "words", "language", "language_probability"}
    assert all(set(e) == final_keys and e["language"] == "en" for e in events if e["type"] == "final")
    # each final's words carry their times, in order, inside the final and never after it was emitted
    for e in (e for e in events if e["type"] == "final"):
        assert [w["word"] for w in e["words"]] and " ".join(w["word"] for w in e["words"]) == e["text"]
        assert all(e["start"] <= w["start"] <= w["end"] <= min(e["end"], e["emitted_at"]) + 1e-3 for w in e["words"])
    assert [e["continues"] for e in events if e["type"] == "final"][-1] is False
    assert {e["type"] for e in events} <= {"partial", "final"}
    assert events[-1]["type"] == "final"
    finals = [e for e in events if e["type"] == "final"]
    assert word_error_rate(PHRASES[2], " ".join(e["text"] for e in finals)) < 0.3
    duration = audio.probe(phrase).duration
    # Fed at real-time pace, then 1 s of silence: the final cannot come before the phrase was heard.
    assert finals[-1]["emitted_at"] >= duration * 0.9
    assert all(0 <= e["start"] <= e["end"] <= duration + 1.0 for e in events)
    emitted = [e["emitted_at"] for e in events]
    assert emitted == sorted(emitted)


def test_listen_keeps_the_audio_with_record(capsys, phrase, tmp_path):
    target = tmp_path / "heard.flac"
    code, out, err = run(capsys, "listen", "--from-file", str(phrase), "--no-autosave", "--record", str(target))
    assert code == 0, err
    duration = audio.probe(phrase).duration
    assert duration <= audio.probe(target).duration <= duration + 1.5  # + the second of tail silence
    code, _, err = run(capsys, "listen", "--from-file", str(phrase), "--record", str(tmp_path / "heard.wav"))
    assert code == 2 and "ending in .flac" in err


def test_listen_usage_and_device_errors(capsys, tmp_path):
    code, _, err = run(capsys, "listen", "--from-file", str(tmp_path / "none.wav"))
    assert code == 1 and "none.wav: file not found" in err
    with pytest.raises(SystemExit) as exc:
        cli.main(["listen", "--from-file", "a.wav", "--device", "1"])
    assert exc.value.code == 2
