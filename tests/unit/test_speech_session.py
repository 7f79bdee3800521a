"""The Speech tab's session without Qt (core/speech/session.py, library.py): the transcript library,
speaker names, live and file jobs driven through the front-end hooks, the English-only rule."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from playground.core.errors import InputError
from playground.core.speech import languages
from playground.core.speech.file_transcription import FileSegment
from playground.core.speech.library import SpeakerNames, TranscriptLibrary
from playground.core.speech.live import LiveResult, LiveStatus, LiveText
from playground.core.speech.ring_buffer import RingBuffer
from playground.core.speech.session import LIVE_LANE, FILE_LANE, SpeechSession
from playground.core.transcript import Segment, Transcript, Word
from playground.core.transcript_store import TranscriptStore


class Session(SpeechSession):
    """A front end that records what it is asked: events, jobs, status notes."""

    def __init__(self, store: TranscriptStore, **kwargs):
        self.events: list[tuple] = []
        self.jobs: list[tuple] = []  # (lane, job, callbacks)
        self.notes: list[str] = []
        super().__init__(store=store, **kwargs)

    def _emit(self, event: str, *args) -> None:
        self.events.append((event, *args))

    def _submit(self, lane, job, **callbacks):
        self.jobs.append((lane, job, callbacks))
        return object()  # the handle: the session only checks that there is one

    def _show_status(self, text: str) -> None:
        self.notes.append(text)

    def emitted(self, name: str) -> list[tuple]:
        return [e[1:] for e in self.events if e[0] == name]


class Source:
    """What the session needs of an audio source: a name, a buffer, start and stop."""

    name = "Test microphone"

    def __init__(self):
        self.buffer = RingBuffer(5.0)
        self.started = self.stopped = False

    def start(self):
        self.started = True

    def stop(self):
        self.stopped = True
        self.buffer.close()

    @property
    def finished(self):
        return self.buffer.closed


@pytest.fixture
def store(tmp_path):
    return TranscriptStore(tmp_path / "transcripts")


def final(utterance: int, text: str, start: float, end: float, speaker: str | None = None) -> LiveText:
    return LiveText("final", text, start, end, end + 0.5, utterance, speaker=speaker)


# -- speaker names and the library ----------------------------------------------------------------

def test_speaker_names_follow_renames_of_labels_and_of_names():
    names = SpeakerNames.parse("Ana, , Bruno")
    assert names.mapping == {"Speaker 1": "Ana", "Speaker 3": "Bruno"}
    assert names.of("Speaker 1") == "Ana" and names.of("Speaker 2") == "Speaker 2" and names.of(None) is None
    names.rename("Ana", "Ana Lopes")  # a name given before is renamed where it stands
    names.rename("Speaker 2", "Carla")  # a label not named yet gets its name
    assert [names.of(f"Speaker {i}") for i in (1, 2, 3)] == ["Ana Lopes", "Carla", "Bruno"]
    words = (Word(0.0, 0.4, " Hi", 0.9, "Speaker 1"), Word(0.5, 0.9, " there", 0.9, "Speaker 1"))
    out = names.apply([Segment(0.0, 0.9, "Hi there", words, "Speaker 1"), Segment(1.0, 2.0, "Yes", (), "Speaker 4")])
    assert [s.speaker for s in out] == ["Ana Lopes", "Speaker 4"]
    assert {w.speaker for w in out[0].words} == {"Ana Lopes"}
    assert SpeakerNames().apply(out) is out  # no names: the segments as they are


def test_the_library_lists_saves_and_deletes_transcripts(store):
    lib = TranscriptLibrary(store)
    assert lib.items() == []
    item = lib.new("talk.wav", "file", "/audio/talk.wav")
    item.transcript.segments.append(Segment(0.0, 1.0, "Hello."))
    lib.add(item)
    assert lib.save(item) == ""
    again = TranscriptLibrary(store)  # a restart reads it back
    assert [t.id for t in again.items()] == [item.id] and again.find(item.id).segments[0].text == "Hello."
    assert again.find("nope") is None
    again.delete(item.id)
    again.forget(item.id)
    assert again.items() == [] and TranscriptLibrary(store).items() == []


def test_a_disk_that_refuses_the_transcript_is_one_sentence(store, monkeypatch):
    lib = TranscriptLibrary(store)
    item = lib.new("talk.wav", "file", "")

    def refuse(_item):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "save", refuse)
    problem = lib.save(item)
    assert problem.startswith("The transcript could not be saved to ") and "No space left on device" in problem
    assert problem.endswith("export it elsewhere.")


# -- the English-only rule, once -------------------------------------------------------------------

def test_the_english_only_rule_speaks_the_same_sentence_before_and_after_loading(store):
    before = languages.options_problem("bundled/whisper-tiny.en", "fr", "transcribe")
    assert before == ("whisper-tiny.en understands English only: choose Whisper base (bundled/whisper-base, "
                      "multilingual) to transcribe French.")
    loaded = type("Rec", (), {"model_id": "bundled/whisper-tiny.en", "multilingual": False})()
    with pytest.raises(InputError) as info:
        languages.check_options(loaded, languages.SpeechOptions("fr"))
    assert str(info.value) == before
    # The loaded model's own word wins over its id (a Hub model named without ".en").
    hub = type("Rec", (), {"model_id": "someone/whisper-small-english", "multilingual": False})()
    with pytest.raises(InputError, match="cannot translate"):
        languages.check_options(hub, languages.SpeechOptions(None, "translate"))
    languages.check_options(type("Rec", (), {"model_id": "x", "multilingual": True})(),
                            languages.SpeechOptions("fr", "translate"))
    # The session refuses before any job starts, with that sentence.
    s = Session(store)
    s.set_language("fr")
    assert s.transcribe_file("/audio/talk.wav") is None and s.jobs == []
    assert s.message == before and s.message_is_error


# -- a file transcription ---------------------------------------------------------------------------

def test_a_file_job_fills_one_transcript_kept_on_disk(store, tmp_path):
    wav = tmp_path / "talk.wav"
    wav.write_bytes(b"")  # the session only needs its name and that it exists (playback)
    s = Session(store)
    s.set_speakers(True)
    assert s.transcribe_file(str(wav)) is not None and s.file_busy
    ((lane, job, callbacks),) = s.jobs
    assert lane == FILE_LANE and job.kwargs["speakers"] is True and job.kwargs["options"].word_timestamps
    first = Segment(0.0, 1.0, "Hello there.")
    callbacks["on_event"](FileSegment(first, 1.0, 2.0, "en", 0.97))
    (item,) = s.transcripts()
    assert item.kind == "file" and item.source == str(wav) and s.current is item
    assert s.segments() == [first] and s.emitted("segment_added")[-1] == (0, first, -1)
    assert s.detected == "Language: English (en) detected, 97% sure"
    # With "Who spoke", the labelled segments come with the result and replace the ones shown.
    labelled = [Segment(0.0, 1.0, "Hello there.", speaker="Speaker 1")]
    callbacks["on_result"](Transcript(labelled, 2.0, "bundled/whisper-tiny.en", 0.5, "en", 0.97))
    callbacks["on_finished"]()
    assert not s.file_busy and s.speaker_names() == ["Speaker 1"]
    assert s.message.startswith("Transcribed talk.wav: 1 segment, 2.0 s of audio")
    assert s.model_rtf == {"bundled/whisper-tiny.en": 0.25}
    on_disk = json.loads(store.path(item.id).read_text())
    assert [seg["speaker"] for seg in on_disk["segments"]] == ["Speaker 1"]
    # Renaming reaches the copy on disk and the exports.
    assert s.rename_speaker("Speaker 1", "  Ana  ")
    assert json.loads(store.path(item.id).read_text())["segments"][0]["speaker"] == "Ana"
    out = tmp_path / "talk.vtt"
    assert s.export(item.id, str(out))
    assert "<v Ana>Hello there." in out.read_text()
    assert not s.rename_speaker("Ana", " ") and s.message == "A speaker's name cannot be empty."


def test_a_file_that_fails_before_any_text_clears_the_view(store):
    s = Session(store)
    s.transcribe_file("/audio/missing.wav")
    (_, _, callbacks), = s.jobs
    callbacks["on_error"]("missing.wav: no such file.")
    callbacks["on_finished"]()
    assert s.transcripts() == [] and s.current is None and s.message_is_error
    assert ("",) in s.emitted("current_changed")
    assert s.transcribe_file("/audio/other.wav") is not None  # not busy any more


# -- a live session -----------------------------------------------------------------------------------

def test_a_live_session_renames_a_speaker_for_the_finals_still_to_come(store):
    s = Session(store)
    source = Source()
    assert s.start_recording(source=source, model="bundled/whisper-tiny.en") and source.started and s.recording
    ((lane, job, callbacks),) = s.jobs
    assert lane == LIVE_LANE and job.args == (source,) and job.kwargs["model"] == "bundled/whisper-tiny.en"
    (item,) = s.transcripts()
    assert item.kind == "live" and item.source == "Test microphone" and s.current is item
    on_event = callbacks["on_event"]
    on_event(LiveText("partial", "hello", 0.2, 0.9, 1.0, 0))
    assert s.partials() == {0: "hello"} and s.emitted("partial_text") == [(0, 0.2, "hello")]
    on_event(final(0, "Hello.", 0.2, 1.0, "Speaker 1"))
    assert s.partials() == {} and [x.speaker for x in s.segments()] == ["Speaker 1"]
    assert s.rename_speaker("Speaker 1", "Ana")
    on_event(final(1, "Still me.", 1.5, 2.5, "Speaker 1"))
    on_event(final(2, "Someone else.", 3.0, 4.0, "Speaker 2"))
    assert [x.speaker for x in s.segments()] == ["Ana", "Ana", "Speaker 2"]
    on_event(LiveText("partial", "and", 4.5, 5.0, 5.1, 3))
    on_event(LiveText("final", "", 4.5, 5.0, 5.2, 3))  # no words after all: the partial line goes
    assert s.emitted("partial_dropped") == [(3,)]
    on_event(LiveStatus(5.0, 0.1, 0.3, False, "en", 1.0))
    assert s.realtime == "5 s heard, real-time factor 0.30" and s.model_rtf["bundled/whisper-tiny.en"] == 0.3
    s.stop_recording()
    assert source.stopped and s.stopping
    callbacks["on_result"](LiveResult(s.segments(), 5.0, None))
    callbacks["on_finished"]()
    assert not s.recording and s.message == "Done: 3 segments from 5.0 s of audio."
    kept = TranscriptLibrary(store).find(item.id)
    assert [x.speaker for x in kept.segments] == ["Ana", "Ana", "Speaker 2"] and kept.transcript.duration == 5.0
    assert s.segment(0) is not None and s.transcript_text().splitlines()[0].endswith("Hello.")


def test_a_live_session_without_words_leaves_no_transcript(store):
    s = Session(store)
    assert s.start_recording(source=Source())
    (_, _, callbacks), = s.jobs
    assert not s.start_recording(source=Source())  # busy: one job at a time
    callbacks["on_result"](LiveResult([], 3.0, None))
    callbacks["on_finished"]()
    assert s.transcripts() == [] and s.message == "No speech found in the recording."


def test_playback_without_a_view_reports_on_the_calling_thread(store, tmp_path):
    """Without an event loop the playback thread's outcome is handled at once (the Qt adapter queues it)."""
    played = []

    class FakeSD:
        def query_devices(self):
            return [{"name": "out", "max_output_channels": 2, "max_input_channels": 0}]

        def play(self, samples, rate, blocking=True):
            played.append((len(samples), rate))

        def stop(self):
            pass

    s = Session(store, sounddevice_importer=lambda name: FakeSD())
    source = Source()
    source.buffer.write(np.full(16000 * 2, 0.1, np.float32))
    s.start_recording(source=source)
    (_, _, callbacks), = s.jobs
    callbacks["on_event"](final(0, "Hello.", 0.5, 1.5))
    assert s.play_segment(0)
    for _ in range(200):
        if not s.playing:
            break
        import time

        time.sleep(0.01)
    assert played == [(16000, 16000)] and not s.playing and s.emitted("playback_changed") == [(True,), (False,)]


def test_the_session_module_imports_no_qt():
    code = ("import sys, playground.core.speech.session, playground.core.speech.library; "
            "bad = sorted(m for m in sys.modules if m.startswith(('PySide6', 'playground.ui'))); "
            "print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
