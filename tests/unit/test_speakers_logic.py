"""Speaker labels without audio: the weights load safely, clustering, labels on segments and words,
renaming, and the names in TXT/SRT/VTT/JSON (core/speakers.py, core/transcript.py)."""

from __future__ import annotations

import json
from unittest import mock

import numpy as np
import pytest

from playground.core import transcript
from playground.core.errors import InputError
from playground.core.speech import speakers
from playground.core.speech.library import SpeakerNames
from playground.core.transcript import Segment, Word


def test_weights_load_with_weights_only():
    import torch

    calls = []
    real_load = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real_load(*args, **kwargs)

    with mock.patch.object(torch, "load", spy):
        model = speakers._build_encoder()
    assert calls and all(c.get("weights_only") is True for c in calls)
    assert speakers.weights_path().name == "pretrained.pt"
    out = model(torch.rand(2, 100, speakers.N_MELS))
    assert out.shape == (2, 256)
    assert torch.allclose(out.norm(dim=1), torch.ones(2), atol=1e-5) and (out >= 0).all()


def _blobs(rng, centres, per=12, noise=0.05):
    points = [c + noise * rng.standard_normal((per, len(c))) for c in centres]
    return np.abs(np.concatenate(points))


def test_cluster_finds_the_number_or_takes_it():
    rng = np.random.default_rng(0)
    centres = [np.abs(rng.standard_normal(16)) for _ in range(3)]
    e = _blobs(rng, centres)
    found = speakers.cluster(e)
    assert len(set(found)) == 3
    assert list(found[:12]) == [0] * 12  # numbered by first appearance
    assert len(set(speakers.cluster(e, num_speakers=2))) == 2
    assert set(speakers.cluster(e, num_speakers=1)) == {0}


def test_windows_cover_speech_and_skip_crumbs():
    spans = speakers.windows([(0.0, 2.6), (3.0, 3.2), (4.0, 4.7)], size=1.0, step=0.5)
    assert spans[0] == (0.0, 1.0) and spans[-2] == (1.6, 2.6) and spans[-1] == (4.0, 4.7)
    assert all(not (3.0 <= s < 3.2) for s, _ in spans)  # 0.2 s is too short to embed


TURNS = [speakers.Turn(0.0, 2.0, "Speaker 1"), speakers.Turn(2.0, 4.0, "Speaker 2")]


def test_segments_and_words_take_the_overlapping_speaker_and_split_at_a_change():
    words = (Word(0.2, 0.8, " Hello", 0.9), Word(0.9, 1.8, " there.", 0.9), Word(2.1, 2.6, " Hi", 0.9),
             Word(2.7, 3.5, " back.", 0.9))
    plain = Segment(0.1, 1.9, "No words here.")
    out = speakers.label_segments([plain, Segment(0.2, 3.5, "Hello there. Hi back.", words)], TURNS)
    assert [(s.text, s.speaker) for s in out] == [("No words here.", "Speaker 1"), ("Hello there.", "Speaker 1"),
                                                  ("Hi back.", "Speaker 2")]
    assert [w.speaker for w in out[2].words] == ["Speaker 2", "Speaker 2"]
    assert transcript.speakers_of(out) == ["Speaker 1", "Speaker 2"]


def _labelled():
    w1 = (Word(0.0, 0.5, " Good", 0.9, "Speaker 1"), Word(0.5, 1.0, " morning.", 0.9, "Speaker 1"))
    w2 = (Word(1.5, 2.0, " Hi.", 0.9, "Speaker 2"),)
    return [Segment(0.0, 1.0, "Good morning.", w1, "Speaker 1"), Segment(1.5, 2.0, "Hi.", w2, "Speaker 2")]


def test_a_rename_reaches_every_export():
    named = transcript.rename_speakers(_labelled(), {"Speaker 1": "Ana", "Speaker 2": " "})  # blank keeps the label
    assert transcript.to_txt(named) == "Ana: Good morning.\nSpeaker 2: Hi.\n"
    srt = transcript.to_srt(named)
    assert "Ana: Good morning." in srt and "Speaker 2: Hi." in srt
    vtt = transcript.to_vtt(named)
    assert "<v Ana>Good morning." in vtt and "<v Speaker 2>Hi." in vtt
    data = json.loads(transcript.render(named, "json"))
    assert [s["speaker"] for s in data["segments"]] == ["Ana", "Speaker 2"]
    assert [w["speaker"] for s in data["segments"] for w in s["words"]] == ["Ana", "Ana", "Speaker 2"]
    # word cues keep their speaker too
    assert "<v Ana>Good" in transcript.to_vtt(named, per="word")


def test_no_speakers_leaves_the_exports_as_they_were():
    seg = [Segment(0.0, 1.0, "Hello.", (Word(0.0, 1.0, " Hello.", 0.9),))]
    assert transcript.to_txt(seg) == "Hello.\n"
    assert "<v" not in transcript.to_vtt(seg)
    data = json.loads(transcript.render(seg, "json"))
    assert "speaker" not in data["segments"][0] and "speaker" not in data["segments"][0]["words"][0]


def test_parse_names():
    assert SpeakerNames.parse("Ana, Bruno").mapping == {"Speaker 1": "Ana", "Speaker 2": "Bruno"}


def test_live_speakers_join_the_nearest_or_start_a_new_one():
    live = speakers.LiveSpeakers(threshold=0.2)
    a, b = np.zeros(256, np.float32), np.zeros(256, np.float32)
    a[0], b[1] = 1, 1
    assert live._nearest(a) == "Speaker 1"
    assert live._nearest(b) == "Speaker 2"
    assert live._nearest(speakers._unit(a + 0.1 * b)) == "Speaker 1"
    capped = speakers.LiveSpeakers(max_speakers=1)
    capped._nearest(a)
    assert capped._nearest(b) == "Speaker 1"


def test_bad_number_of_speakers():
    with pytest.raises(InputError):
        speakers.diarize(np.zeros(16000, np.float32), num_speakers=0)


def test_a_lone_short_word_at_a_turn_keeps_its_neighbours_speaker():
    words = (Word(0.2, 1.0, " Well,", 0.9), Word(1.0, 1.9, " isn't", 0.9), Word(1.95, 2.1, " that", 0.9),
             Word(2.2, 3.5, " much.", 0.9))
    turns = [speakers.Turn(0.0, 1.9, "Speaker 1"), speakers.Turn(1.9, 2.15, "Speaker 2"),
             speakers.Turn(2.15, 4.0, "Speaker 1")]
    out = speakers.label_segments([Segment(0.2, 3.5, "Well, isn't that much.", words)], turns)
    assert [(s.text, s.speaker) for s in out] == [("Well, isn't that much.", "Speaker 1")]
    assert {w.speaker for w in out[0].words} == {"Speaker 1"}
