"""The Speech tab's controller alone (no tab, no window): live sessions from a fake microphone,
Stop keeping what was buffered, timed file segments, playback, export and a missing microphone."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from speech_support import PHRASES, FakeSoundDevice, concat, silence, speak  # noqa: E402

from playground.core import audio  # noqa: E402
from playground.core.speech import live, sources  # noqa: E402
from playground.core.speech.accuracy import word_error_rate  # noqa: E402
from playground.core.speech.languages import DEFAULT_MODEL  # noqa: E402

TIMEOUT = 120_000  # ms; the bundled model loads on a small shared machine


@pytest.fixture(scope="module")
def wavs(tmp_path_factory):
    d = tmp_path_factory.mktemp("speech-controller")
    p0, p1 = speak(PHRASES[0], d / "p0.wav"), speak(PHRASES[1], d / "p1.wav")
    return {"p0": p0, "p1": p1,
            "two": concat(d / "two.wav", p0, silence(d / "gap.wav", 1.5), p1)}


def make_controller(worker, settings, **kwargs):
    from playground.ui.context import AppContext
    from playground.ui.speech_controller import SpeechController

    return SpeechController(AppContext(worker, settings, None), **kwargs)


@pytest.fixture
def made(worker, settings):
    """`made(**kwargs)` -> a SpeechController on a throw-away context; each is shut down at the end."""
    controllers = []

    def make(**kwargs):
        controllers.append(make_controller(worker, settings, **kwargs))
        return controllers[-1]

    yield make
    for c in controllers:
        c.shutdown()


class Recorder:
    """Every signal the controller sends, in order."""

    NAMES = ("devices_changed", "status", "recording_changed", "file_busy_changed", "partial_text",
             "partial_dropped", "segment_added", "realtime_changed", "autosaved", "transcript_done",
             "playback_changed", "cleared")

    def __init__(self, c):
        self.log: list[tuple[str, tuple]] = []
        for name in self.NAMES:
            getattr(c, name).connect(lambda *a, n=name: self.log.append((n, a)))

    def of(self, name: str) -> list[tuple]:
        return [a for n, a in self.log if n == name]


def finish_live(qtbot, c) -> None:
    assert c.live_handle is not None
    qtbot.waitUntil(lambda: not c.recording, timeout=TIMEOUT)
    assert c.live_handle is None


@pytest.mark.slow
def test_a_live_session_from_a_fake_microphone_gives_the_spoken_text(qtbot, made, wavs):
    spoken = audio.load(wavs["p0"])
    sd = FakeSoundDevice(np.concatenate([spoken, np.zeros(16000, np.float32)]), speed=1.5)
    c = made(sounddevice_importer=lambda name: sd)
    rec = Recorder(c)
    assert c.start_recording(device=1, model=DEFAULT_MODEL)
    assert c.recording and rec.of("recording_changed") == [(True,)]
    assert c.message.startswith("Recording from Fake microphone")
    assert [d.data for d in c.devices if d.is_default] == [1]  # the fake's default input
    # final words while still recording (they come as the phrase goes on); Stop once all of it was heard
    qtbot.waitUntil(lambda: bool(c.segments()) and c.source is not None
                    and c.source.buffer.total >= len(spoken) + 8000, timeout=TIMEOUT)
    assert c.recording
    c.stop_recording()
    finish_live(qtbot, c)
    assert word_error_rate(PHRASES[0], c.transcript_text()) < 0.3, c.transcript_text()
    added = rec.of("segment_added")
    # indexes in order of arrival; a line's next final words come again with its index (they extend it)
    assert sorted({a[0] for a in added}) == list(range(len(c.segments())))
    assert [a[0] for a in added] == sorted(a[0] for a in added)
    assert [w.word.strip() for s in c.segments() for w in s.words]  # live words have times, as a file's
    assert all(a[2] >= 0 for a in added)  # live: each final names its utterance (to replace the partial)
    assert c.partials() == {}
    assert rec.of("realtime_changed") and "s heard" in c.realtime
    (done,) = rec.of("transcript_done")
    assert done[0].segments == c.segments() and done[0].model == DEFAULT_MODEL
    assert rec.of("autosaved") and Path(c.autosave_path).read_text().strip()
    assert c.message.startswith("Done: ") and not c.message_is_error
    assert sd.streams and not sd.streams[0].active  # the microphone stream was closed


@pytest.mark.slow
def test_stop_transcribes_what_was_buffered_and_makes_it_final(qtbot, made, wavs):
    spoken = audio.load(wavs["p1"])
    voiced = np.flatnonzero(np.abs(spoken) > 0.01)
    spoken = spoken[: voiced[-1] + 1]  # no trailing silence: the utterance is still open when Stop comes
    sd = FakeSoundDevice(np.concatenate([spoken, np.zeros(16000 * 10, np.float32)]), speed=1.5)
    c = made(sounddevice_importer=lambda name: sd)
    rec = Recorder(c)
    assert c.start_recording(device=1)
    qtbot.waitUntil(lambda: c.source.buffer.total >= len(spoken), timeout=TIMEOUT)
    c.stop_recording()
    words_before_stop = len(c.transcript_text().split())
    assert c.stopping and c.message.startswith("Stopped: ")
    finish_live(qtbot, c)
    # no pause ended the phrase: its last words became final only when Stop transcribed the buffer
    assert len(c.transcript_text().split()) > words_before_stop
    assert word_error_rate(PHRASES[1], c.transcript_text()) < 0.3, c.transcript_text()
    assert c.partials() == {} and not c.stopping
    assert rec.of("transcript_done")[0][0].segments == c.segments()
    assert c.source.buffer.closed and c.source.buffer.total < len(spoken) + 16000  # capture ended at Stop


@pytest.mark.slow
def test_a_file_gives_timed_segments_that_play_and_export(qtbot, made, wavs, tmp_path):
    sd = FakeSoundDevice()
    c = made(sounddevice_importer=lambda name: sd)
    rec = Recorder(c)
    duration = audio.probe(wavs["two"]).duration
    with qtbot.waitSignal(c.transcript_done, timeout=TIMEOUT) as done:
        handle = c.open_paths([str(wavs["two"]), "notes.txt"])
    assert handle is not None
    qtbot.waitUntil(lambda: c.file_handle is None, timeout=10_000)
    result = done.args[0]
    segs = c.segments()
    assert segs == result.segments and len(segs) >= 2
    assert all(0 <= s.start < s.end <= duration + 0.5 for s in segs)
    assert all(a.end <= b.start + 0.01 for a, b in zip(segs, segs[1:]))  # in time order, not overlapping
    assert word_error_rate(PHRASES[0] + " " + PHRASES[1], c.transcript_text()) < 0.3
    assert [a[2] for a in rec.of("segment_added")] == [-1] * len(segs)  # from a file: no utterance
    assert rec.of("file_busy_changed") == [(True,), (False,)]
    assert c.message.startswith("Transcribed two.wav: ") and "real-time factor" in c.message

    with qtbot.waitSignal(c.playback_changed, timeout=10_000, check_params_cb=lambda playing: not playing):
        assert c.play_segment(0)
    samples, rate = sd.played[-1]
    assert rate == 16000 and np.array_equal(samples, audio.load_range(wavs["two"], segs[0].start, segs[0].end))

    for fmt in ("txt", "srt", "vtt"):
        target = tmp_path / f"out.{fmt}"
        assert c.save(str(target))
        text = target.read_text()
        assert PHRASES[0].split()[0] in text
    assert (tmp_path / "out.srt").read_text().startswith("1\n00:00:0")
    assert (tmp_path / "out.vtt").read_text().startswith("WEBVTT")
    assert not c.save(str(tmp_path / "out.txt" / "out.txt"))  # its folder is a file
    assert c.message_is_error and "out.txt" in c.message

    c.clear()
    assert c.segments() == [] and rec.of("cleared") and not c.play_segment(0)


@pytest.mark.slow
def test_no_microphone_says_why_in_one_sentence_and_files_still_work(qtbot, made, wavs):
    from playground.core.speech.session import FILE_SOURCE, NO_MICROPHONE

    def no_portaudio(name):
        raise OSError("PortAudio library not found")

    c = made(sounddevice_importer=no_portaudio)
    rec = Recorder(c)
    c.list_devices_once()
    ((choices, problem),) = rec.of("devices_changed")
    assert [d.data for d in choices] == [NO_MICROPHONE, FILE_SOURCE] and problem == c.mic_problem
    assert choices[0].is_default and choices[0].why == problem  # the list starts on why there is none
    assert "PortAudio library is not installed" in problem
    assert "\n" not in problem and problem.endswith(".") and problem.count(". ") == 0
    assert c.message_is_error and c.message.endswith("You can still transcribe audio files.")
    assert not c.start_recording(device=NO_MICROPHONE)  # the list's first entry: cannot start, says why
    assert c.message == problem and c.message_is_error

    assert not c.start_recording(device=None)  # the microphone: it cannot start, and says why
    assert not c.recording and c.message == problem and c.message_is_error

    with qtbot.waitSignal(c.transcript_done, timeout=TIMEOUT):
        c.transcribe_file(str(wavs["p0"]))
    assert word_error_rate(PHRASES[0], c.transcript_text()) < 0.3


def test_the_real_time_factor_line_suggests_a_smaller_model_above_one():
    from playground.core.speech.session import realtime_text

    assert realtime_text(live.LiveStatus(3.2, 0.0, None, True), DEFAULT_MODEL) == "3 s heard"
    fast = realtime_text(live.LiveStatus(10, 0.1, 0.25, False), "Systran/faster-whisper-small.en")
    assert fast == "10 s heard, real-time factor 0.25"
    slow = realtime_text(live.LiveStatus(10, 3.0, 1.4, True), "Systran/faster-whisper-small.en")
    assert "choose a smaller model" in slow and slow.endswith("3 s behind")
    assert "close busy programs" in realtime_text(live.LiveStatus(10, 0, 1.4, True), DEFAULT_MODEL)
    # KeepUp: decoding faster first, then "falling behind" with the model to choose, and skipped audio
    cheaper = realtime_text(live.LiveStatus(10, 1.8, 0.9, True, keep_up="cheaper"), DEFAULT_MODEL)
    assert cheaper.endswith("1.8 s behind: decoding faster to catch up")
    behind = realtime_text(live.LiveStatus(30, 6.0, 1.3, True, keep_up="behind", skipped_seconds=12.0),
                           "bundled/whisper-base")
    assert "real-time factor 1.30" in behind and "falling behind, 6 s to catch up: choose whisper-tiny.en" in behind
    assert behind.endswith("(12 s of audio left untranscribed to keep up)")
    hub = realtime_text(live.LiveStatus(30, 6.0, 1.3, True, keep_up="behind"), "Systran/faster-whisper-small.en")
    assert "choose whisper-tiny.en to keep up" in hub


@pytest.mark.slow
def test_busy_refuses_a_second_job_and_a_file_source_needs_a_path(qtbot, made, wavs):
    from playground.core.speech.session import FILE_SOURCE

    c = made(source_factory=lambda data: sources.FileSource(wavs["p0"], speed=1.0))
    c.list_devices_once()
    assert [d.data for d in c.devices] == ["injected", FILE_SOURCE] and c.mic_problem == ""
    assert c.make_source(FILE_SOURCE) is None
    assert not c.start_recording(device=FILE_SOURCE)  # no file chosen: nothing starts, nothing said
    assert not c.recording
    assert c.start_recording(device="injected")
    assert c.open_paths([str(wavs["p0"])]) is None
    assert c.message.startswith("Busy: ") and c.message_is_error and c.file_handle is None
    assert not c.start_recording(device="injected")
    c.stop_recording()
    finish_live(qtbot, c)
