"""TranscriptStore (issue 15, item 5): one JSON per transcript in the data folder, written atomically."""

from __future__ import annotations

import json
import os
import re

import pytest

from playground.core import paths
from playground.core.transcript import Segment, Transcript, Word
from playground.core.transcript_store import StoredTranscript, TranscriptStore, live_name


def _transcript(text: str, words: bool = False) -> Transcript:
    seg_words = (Word(0.1, 0.4, " Hello", 0.9), Word(0.5, 0.9, " there", 0.8)) if words else ()
    return Transcript([Segment(0.0, 1.0, text, seg_words), Segment(1.5, 2.5, "second line")], 3.0,
                      "bundled/whisper-base", 0.7, "fr", 0.93, "transcribe")


def test_save_list_load_delete_round_trip(isolated_home):
    store = TranscriptStore()
    assert store.folder == paths.data_dir() / "transcripts"
    a = store.new("talk.wav", "file", "/tmp/talk.wav", _transcript("Hello there", words=True), created=100.0)
    b = store.new(live_name(200.0), "live", "Fake microphone", _transcript("live words"), created=200.0)
    assert a.id != b.id and re.fullmatch(r"[A-Za-z0-9._-]+", a.id)
    assert store.list() == []  # nothing on disk before save
    store.save(b)
    store.save(a)
    assert sorted(p.name for p in store.folder.iterdir()) == sorted([f"{a.id}.json", f"{b.id}.json"])
    listed = store.list()
    assert [t.id for t in listed] == [a.id, b.id]  # oldest first
    assert listed[0].to_dict() == a.to_dict() and listed[0].segments[0].words == a.segments[0].words
    assert listed[0].transcript.language == "fr" and listed[0].transcript.language_probability == 0.93
    assert listed[1].name == b.name and listed[1].kind == "live"
    assert store.load(a.id).segments == a.segments
    assert store.delete(a.id) and not store.path(a.id).exists()
    assert not store.delete(a.id)
    assert [t.id for t in store.list()] == [b.id]


def test_a_half_written_or_damaged_file_is_never_listed(isolated_home):
    store = TranscriptStore()
    whole = store.new("whole.wav", "file", "", _transcript("kept"))
    store.save(whole)
    text = json.dumps(store.new("half.wav", "file", "", _transcript("cut")).to_dict())
    half_id = "20261201-000000-half-abcdef"
    store.path(half_id).write_text(text[: len(text) // 2])  # a writer killed half-way (no atomic rename)
    (store.folder / f".{half_id}.json.x1y2.part").write_text(text)  # atomic.py's temporary file
    (store.folder / "other.json").write_text('{"not": "a transcript"}')
    (store.folder / "live-20261201-000000.txt").write_text("the live autosave's text\n")
    assert [t.id for t in store.list()] == [whole.id]


def test_a_crash_while_saving_keeps_the_previous_version(isolated_home, monkeypatch):
    store = TranscriptStore()
    item = store.new("talk.wav", "file", "", _transcript("first version"))
    store.save(item)
    item.transcript.segments.append(Segment(3.0, 4.0, "added later"))

    def killed(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(OSError):
        store.save(item)
    monkeypatch.undo()
    (again,) = store.list()
    assert [s.text for s in again.segments] == ["first version", "second line"]
    assert [p.name for p in store.folder.iterdir()] == [f"{item.id}.json"]  # no temporary file left


def test_ids_stay_inside_the_folder_and_live_names_read_like_a_clock(isolated_home):
    store = TranscriptStore()
    with pytest.raises(ValueError):
        store.path("../escape")
    with pytest.raises(ValueError):
        store.path(".hidden")
    weird = store.new("../../a b?.wav", "file")
    assert store.path(weird.id).parent == store.folder
    assert re.fullmatch(r"Live, \d\d:\d\d", live_name())
    assert isinstance(StoredTranscript.from_dict(weird.to_dict()), StoredTranscript)


def test_same_named_transcripts_are_told_apart_by_folder_then_time(isolated_home):
    from playground.core.transcript_store import list_labels

    store = TranscriptStore()
    t0 = 1_765_000_000.0
    a = store.new("speech.wav", "file", "/home/ana/talks/speech.wav", created=t0)
    b = store.new("speech.wav", "file", "/home/ana/demo/speech.wav", created=t0 + 60)
    c = store.new("speech.wav", "file", "/home/ana/demo/speech.wav", created=t0 + 3600)  # the same file again
    d = store.new("other.wav", "file", "/home/ana/demo/other.wav", created=t0)
    labels = list_labels([a, b, c, d])
    assert labels[0] == "speech.wav (talks)" and labels[3] == "other.wav"  # a unique name stays as it is
    assert labels[1].startswith("speech.wav (demo, ") and labels[2].startswith("speech.wav (demo, ")
    assert len(set(labels)) == 4
    # folders that share their own name: more of the path
    e = store.new("speech.wav", "file", "/x/a/in/speech.wav", created=t0)
    f = store.new("speech.wav", "file", "/x/b/in/speech.wav", created=t0)
    assert list_labels([e, f]) == ["speech.wav (a/in)", "speech.wav (b/in)"]
    # two live recordings in one minute: the seconds tell them apart
    g = store.new(live_name(t0), "live", "Mic", created=t0)
    h = store.new(live_name(t0), "live", "Mic", created=t0 + 5)
    one, two = list_labels([g, h])
    assert one != two and one.startswith(g.name + " (")
