"""The speech engine with the real bundled models: Whisper tiny.en (faster-whisper) and Silero VAD.

Speech is made at test time with espeak-ng and sox; scores use word error rate.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from speech_support import PHRASES, FakeSoundDevice, concat, silence, speak, transcribe  # noqa: E402

from playground.core import audio  # noqa: E402
from playground.core.speech import live  # noqa: E402
from playground.core.speech import accuracy, file_transcription, input_devices, recognizers, sources  # noqa: E402
from playground.core.errors import Cancelled, DeviceError, InputError  # noqa: E402
from playground.core.jobs import Job  # noqa: E402
from playground.core.runner import run_sync

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def recognizer():
    return recognizers.load_recognizer()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("speech")
    files = {
        "p0": speak(PHRASES[0], d / "p0.wav"),
        "p1_44k_stereo": speak(PHRASES[1], d / "p1.flac", rate=44100, channels=2, voice="en-gb", speed=150),
        "p2_8k_fast": speak(PHRASES[2], d / "p2.wav", rate=8000, speed=190),
        "gap": silence(d / "gap.wav", 2.5),
    }
    files["two"] = concat(d / "two.wav", files["p0"], files["gap"], d / "p2.wav")
    return files


def test_word_error_rate_of_the_bundled_model(recognizer, data):
    for key, ref in (("p0", PHRASES[0]), ("p1_44k_stereo", PHRASES[1]), ("p2_8k_fast", PHRASES[2])):
        result = transcribe(data[key])
        wer = accuracy.word_error_rate(ref, result.text)
        assert wer < 0.3, f"{key}: WER {wer:.2f} for {result.text!r}"
        assert result.duration == pytest.approx(audio.probe(data[key]).duration, abs=0.01)
        seg = result.segments[0]
        assert 0 <= seg.start < seg.end <= result.duration + 0.5


def test_long_file_in_windows_keeps_timestamps(recognizer, data):
    """A 6 s window forces a cut: both phrases come back, in order, with absolute times."""
    events = []
    result = run_sync(Job(file_transcription.transcribe_file, (data["two"],), {"window_seconds": 6.0}), events.append)
    assert accuracy.word_error_rate(PHRASES[0] + " " + PHRASES[2], result.text) < 0.3
    starts = [s.start for s in result.segments]
    assert starts == sorted(starts)
    p0 = audio.probe(data["p0"]).duration
    second = [s for s in result.segments if "window" in s.text.lower()]
    assert second and second[0].start > p0 + 1.0  # after the 2.5 s gap, not at 0
    assert [e for e in events if isinstance(e, file_transcription.FileSegment)]
    fractions = [e.fraction for e in events if hasattr(e, "fraction") and e.fraction is not None]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_silent_and_corrupt_files(recognizer, data, tmp_path):
    noise = tmp_path / "hiss.wav"
    import soundfile as sf

    sf.write(noise, (np.random.default_rng(0).standard_normal(3 * 16000) * 0.003).astype(np.float32), 16000)
    for path in (data["gap"], noise):
        with pytest.raises(file_transcription.NoSpeechError, match=rf"^No speech found in {path.name}\.$"):
            transcribe(path)
    broken = tmp_path / "bad.ogg"
    broken.write_bytes(b"OggS" + bytes(500))
    with pytest.raises(InputError, match="bad.ogg: not a readable audio file"):
        transcribe(broken)


def test_cancel_stops_a_file_between_windows(recognizer, data):
    flag = threading.Event()
    seen = []

    def sink(event):
        seen.append(event)
        if isinstance(event, file_transcription.FileSegment):
            flag.set()  # cancel after the first segment

    with pytest.raises(Cancelled):
        run_sync(Job(file_transcription.transcribe_file, (data["two"],), {"window_seconds": 6.0}), sink, flag)
    assert len([e for e in seen if isinstance(e, file_transcription.FileSegment)]) == 1


def test_unknown_model_folder_is_one_sentence(tmp_path):
    (tmp_path / "m").mkdir()
    with pytest.raises(Exception, match="neither a faster-whisper nor a Hugging Face speech model"):
        recognizers.load_recognizer(str(tmp_path / "m"))


# -- live ----------------------------------------------------------------------------

LIVE_OPTIONS = live.LiveOptions(partial_max_lag=60.0)  # partials even on a busy CI machine


def run_live(source, options=LIVE_OPTIONS, on_event=None):
    events = []

    def sink(e):
        if isinstance(e, live.LiveText):
            events.append(e)
            if on_event:
                on_event(e)

    result = run_sync(Job(live.listen, (source,), {"options": options}), sink)
    return events, result


def test_live_from_file_source_partial_then_final(recognizer, data, isolated_home):
    source = sources.FileSource(data["p0"], speed=1.5, tail_silence=1.0)
    events, result = run_live(source)
    kinds = [e.kind for e in events]
    assert "partial" in kinds and kinds[-1] == "final"
    assert kinds.index("partial") < kinds.index("final")
    finals = [e for e in events if e.kind == "final"]
    assert accuracy.word_error_rate(PHRASES[0], " ".join(f.text for f in finals)) < 0.3
    # Words become final once: the finals' words, in order of time, are the session's segments' words.
    words = [w for f in finals for w in f.words]
    assert [w.start for w in words] == sorted(w.start for w in words)
    assert [w.word for w in words] == [w.word for s in result.segments for w in s.words]
    for e in events:
        assert 0 <= e.start <= e.end <= audio.probe(data["p0"]).duration + 1.1
        assert e.emitted_at > 0
    assert [e.emitted_at for e in events] == sorted(e.emitted_at for e in events)
    # The session was autosaved into the data folder.
    assert result.autosave and Path(result.autosave).parent == isolated_home / "data" / "transcripts"
    assert accuracy.word_error_rate(PHRASES[0], Path(result.autosave).read_text()) < 0.3


def test_stop_transcribes_what_was_buffered(recognizer, data):
    """Stop mid-phrase (no trailing silence): all audio already buffered still becomes final text."""
    source = sources.FileSource(data["two"], speed=1.0, tail_silence=0.0)
    buffered = []

    def stop_after_first_partial(event):
        if event.kind == "partial" and not buffered:
            source.stop()
            source.join(2)
            buffered.append(source.buffer.total / 16000)

    events, result = run_live(source, on_event=stop_after_first_partial)
    finals = [e for e in events if e.kind == "final" and e.text]
    assert finals, "Stop lost the buffered audio"
    assert result.duration == pytest.approx(buffered[0], abs=0.05)  # every buffered sample was read
    assert result.duration < audio.probe(data["two"]).duration  # it really stopped early
    assert events[-1].kind == "final"  # the utterance cut by Stop was made final
    assert accuracy.word_error_rate(PHRASES[0], finals[0].text) < 0.5 or result.duration < 3.0


def test_microphone_at_another_rate_is_resampled(data):
    """A device that refuses 16 kHz is opened at its own rate; the buffer still gets 16 kHz audio."""
    import soxr

    clean = audio.load(data["p0"])
    samples = soxr.resample(clean, 16000, 48000).astype(np.float32)
    sd = FakeSoundDevice(samples, samplerate=48000, speed=4.0)
    source = sources.MicrophoneSource(sd, stall_seconds=5)
    source.start()
    while source.buffer.total < len(clean) * 0.9:
        source.buffer.wait(source.buffer.total, 1.0)
    source.stop()
    assert source.samplerate == 48000 and sd.streams[0].samplerate == 48000
    got = source.buffer.latest(source.buffer.total)[: len(clean) - 2000]
    # Same speech at 16 kHz: strongly correlated with the original (allowing the resampler's delay).
    best = max(np.corrcoef(got[d:d + 16000], clean[:16000])[0, 1] for d in range(0, 200, 2))
    assert best > 0.95
    assert source.error is None  # a Stop is not a lost device


def test_device_lost_mid_recording_keeps_the_text(recognizer, data):
    heard = np.concatenate([audio.load(data["p0"]), np.zeros(12000, np.float32), audio.load(data["p2_8k_fast"])])
    lose_at = (len(audio.load(data["p0"])) + 12000) / 16000 + 0.4
    sd = FakeSoundDevice(heard, lose_after=lose_at, speed=2.0)
    source = sources.MicrophoneSource(sd, stall_seconds=5)
    events, result = run_live(source)
    assert result.error and "stopped delivering audio" in result.error and "Fake microphone" in result.error
    text = " ".join(e.text for e in events if e.kind == "final")
    assert accuracy.word_error_rate(PHRASES[0], text.split("Open")[0].split("open")[0]) < 0.35


def test_a_device_that_goes_silent_is_noticed(recognizer):
    """A stream that stays 'active' but delivers nothing (driver hang) is reported, not waited on forever."""
    sd = FakeSoundDevice(np.zeros(16000, np.float32), lose_after=0.5)
    source = sources.MicrophoneSource(sd, stall_seconds=0.5)
    source.start()
    source._finished = lambda: None  # the hung driver never says the stream ended  # noqa: SLF001
    sd.streams[0].finished_callback = None
    events, result = run_live(source)
    assert result.error and "stopped delivering audio" in result.error


def test_microphone_faults_are_one_sentence():
    def no_portaudio(name):
        raise OSError("PortAudio library not found")

    with pytest.raises(DeviceError, match="PortAudio library is not installed"):
        input_devices.load_sounddevice(no_portaudio)
    with pytest.raises(DeviceError, match="No microphone found"):
        sources.MicrophoneSource(FakeSoundDevice(devices=[
            {"name": "Speakers", "index": 0, "hostapi": 0, "max_input_channels": 0, "default_samplerate": 48000.0}]))
    with pytest.raises(DeviceError, match="'Nope' was not found"):
        sources.MicrophoneSource(FakeSoundDevice(), device="Nope")


def test_live_transcriber_ignores_silence(recognizer):
    vad = recognizers.load_vad()
    transcriber = live.LiveTranscriber(recognizer, vad, LIVE_OPTIONS)
    rng = np.random.default_rng(1)
    events = transcriber.feed((rng.standard_normal(16000 * 3) * 0.002).astype(np.float32)) + transcriber.flush()
    assert events == [] and transcriber.segments == []


def test_job_context_cancel_ends_listening(recognizer, data):
    source = sources.FileSource(data["two"], speed=1.0)
    flag = threading.Event()
    threading.Timer(1.0, flag.set).start()
    try:
        result = run_sync(Job(live.listen, (source,)), None, flag)
    except Cancelled:
        pass
    else:
        assert result.duration < 3
    source.join(2)
    assert source.finished


def test_a_run_on_phrase_is_cut_at_a_short_pause(recognizer, tmp_path):
    """Real VAD and Whisper: a long clause, a 0.4 s breath (shorter than min_silence), more words:
    the first final comes at the breath, not when the speaker stops for good."""
    first = "The old lighthouse stood at the end of the harbour where the road turned to sand and the boats came in"
    second = "and every evening the keeper climbed the stairs"
    def trimmed(x):  # espeak's own leading and trailing silence off: the breath is the only pause
        loud = np.flatnonzero(np.abs(x) > 0.01)
        return x[loud[0]:loud[-1] + 1]

    clause = trimmed(audio.load(speak(first, tmp_path / "a.wav")))
    rest = trimmed(audio.load(speak(second, tmp_path / "b.wav")))
    assert len(clause) / 16000 > 5.5
    breath = np.zeros(int(0.4 * 16000), np.float32)  # min_silence is 0.5 s
    transcriber = live.LiveTranscriber(recognizer, recognizers.load_vad(), LIVE_OPTIONS)
    events = [e for e in transcriber.feed(np.concatenate([clause, breath])) if e.kind == "final"]
    assert len(events) == 1  # cut at the breath
    events += [e for e in transcriber.feed(np.concatenate([rest, np.zeros(16000, np.float32)])) + transcriber.flush()
               if e.kind == "final"]
    assert len(events) == 2
    assert accuracy.word_error_rate(first + " " + second, " ".join(e.text for e in events)) < 0.35
