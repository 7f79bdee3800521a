"""Speaker labels on real speech: two espeak-ng voices taking turns, through the engine and the CLI."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from speech_support import two_voices  # noqa: E402

from playground import cli  # noqa: E402
from playground.core import audio  # noqa: E402
from playground.core.speech import speakers  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def dialogue(tmp_path_factory):
    return two_voices(tmp_path_factory.mktemp("voices"))


def _speaker_at(turns, t):
    return next((x.speaker for x in turns if x.start <= t < x.end), None)


@pytest.mark.parametrize("num_speakers", [None, 2])
def test_labels_follow_the_turns(dialogue, num_speakers):
    wav, reference = dialogue
    turns = speakers.diarize(audio.load(wav), num_speakers)
    assert {t.speaker for t in turns} == {"Speaker 1", "Speaker 2"}
    # The middle of each reference turn: voice 0 is Speaker 1, voice 1 is Speaker 2.
    assert [_speaker_at(turns, (s + e) / 2) for s, e, _ in reference] == \
        [f"Speaker {v + 1}" for _, _, v in reference]


def test_transcribe_speakers_json_and_names(capsys, dialogue, tmp_path):
    wav, reference = dialogue
    code = cli.main(["transcribe", str(wav), "--speakers", "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    segments = json.loads(out)["segments"]
    assert segments and all(s["speaker"] in ("Speaker 1", "Speaker 2") for s in segments)
    assert all(w["speaker"] == s["speaker"] for s in segments for w in s["words"])
    for s in segments:  # each segment's speaker is the voice of the turn it lies in
        mid = (s["start"] + s["end"]) / 2
        voice = min(reference, key=lambda r: 0 if r[0] <= mid <= r[1] else min(abs(mid - r[0]), abs(mid - r[1])))[2]
        assert s["speaker"] == f"Speaker {voice + 1}", s
    target = tmp_path / "named.vtt"
    code = cli.main(["transcribe", str(wav), "--speakers", "2", "--speaker-names", "Ana,Bruno",
                     "--format", "vtt", "-o", str(target)])
    capsys.readouterr()
    assert code == 0
    vtt = target.read_text()
    assert "<v Ana>" in vtt and "<v Bruno>" in vtt and "Speaker" not in vtt


def test_listen_speakers_json(capsys, tmp_path):
    # Live finals end at pauses: a second between turns lets each final hold one voice.
    wav, reference = two_voices(tmp_path, gap=1.0)
    code = cli.main(["listen", "--from-file", str(wav), "--json", "--no-autosave", "--speakers", "--speed", "0"])
    out, err = capsys.readouterr()
    assert code == 0, err
    finals = [e for e in map(json.loads, out.splitlines()) if e["type"] == "final" and e["text"]]
    assert finals and all("speaker" in e for e in finals)
    assert all(w["speaker"] == e["speaker"] for e in finals for w in e.get("words", ()))
    for e in finals:  # each final has the voice of the turn it lies in
        mid = (e["start"] + e["end"]) / 2
        voice = next(v for s, end, v in reference if s - 0.5 <= mid <= end + 0.5)
        assert e["speaker"] == f"Speaker {voice + 1}", finals


@pytest.mark.parametrize("argv, message", [
    (["--speakers", "0"], "at least 1"),
    (["--speakers", "two"], "at least 1"),
    (["--speaker-names", "Ana"], "needs --speakers"),
])
def test_bad_speaker_arguments(capsys, dialogue, argv, message):
    code = cli.main(["transcribe", str(dialogue[0]), *argv])
    _, err = capsys.readouterr()
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
