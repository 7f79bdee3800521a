"""Reading audio (formats, rates, channels, bad files), the ring buffer and transcript writers."""

from __future__ import annotations

import re
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from speech_support import speak  # noqa: E402

from playground.core import audio, transcript  # noqa: E402
from playground.core.errors import InputError  # noqa: E402
from playground.core.speech.ring_buffer import RingBuffer  # noqa: E402
from playground.core.transcript import Segment  # noqa: E402


def tone(seconds: float, rate: int, channels: int = 1, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    x = (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.stack([x] * channels, axis=1) if channels > 1 else x


@pytest.mark.parametrize(("suffix", "rate", "channels"), [
    (".wav", 16000, 1), (".wav", 44100, 2), (".flac", 48000, 2), (".ogg", 22050, 1), (".wav", 8000, 1),
])
def test_any_rate_and_channels_become_16k_mono(tmp_path, suffix, rate, channels):
    path = tmp_path / f"tone{suffix}"
    sf.write(path, tone(2.0, rate, channels), rate)
    info = audio.probe(path)
    assert info.samplerate == rate and info.channels == channels
    assert info.duration == pytest.approx(2.0, abs=0.01)
    x = audio.load(path)
    assert x.dtype == np.float32 and x.ndim == 1
    assert len(x) == pytest.approx(2 * 16000, abs=200)
    # The 440 Hz tone survives resampling: its spectrum peaks at 440 Hz.
    spec = np.abs(np.fft.rfft(x[4000:20000]))
    assert np.argmax(spec) * 16000 / 16000 == pytest.approx(440, abs=2)  # 16000-sample window: 1 Hz bins


def test_mp3_from_speech_is_read(tmp_path):
    path = speak("hello there", tmp_path / "hello.mp3", rate=22050, fmt="mp3")
    x = audio.load(path)
    assert len(x) > 16000 * 0.5 and audio.rms_dbfs(x) > -40


def test_blocks_are_bounded_and_complete(tmp_path):
    path = tmp_path / "long.wav"
    sf.write(path, tone(25.0, 44100), 44100)
    sizes = [len(b) for b in audio.iter_blocks(path, block_seconds=2.0)]
    assert max(sizes) <= 2 * 16000 * 1.05  # never the whole file at once (the resampler delays a little)
    assert sum(sizes) == pytest.approx(25 * 16000, abs=64)


@pytest.mark.parametrize(("name", "content", "why"), [
    ("random.wav", b"RIFF\x00\x00garbage" + bytes(range(256)) * 20, "not a readable audio file"),
    ("notes.mp3", b"this is just text, not audio\n" * 50, "not a readable audio file"),
    ("empty.flac", b"", "empty"),
])
def test_bad_files_say_why_in_one_sentence(tmp_path, name, content, why):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError) as err:
        audio.load(path)
    message = str(err.value)
    assert message.startswith(name) and why in message and "\n" not in message


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        audio.probe(tmp_path / "nope.wav")
    with pytest.raises(InputError, match="folder"):
        audio.probe(tmp_path)


def test_levels():
    assert audio.rms_dbfs(np.zeros(100, np.float32)) == -100.0
    assert audio.peak_dbfs(np.full(10, 0.5, np.float32)) == pytest.approx(-6.02, abs=0.01)
    assert audio.rms_dbfs(tone(1.0, 16000)) == pytest.approx(-9.03, abs=0.05)


# -- ring buffer ----------------------------------------------------------------------


def test_ring_buffer_wraps_and_clamps_slow_readers():
    rb = RingBuffer(capacity_seconds=1.0)  # 16000 samples
    data = np.arange(40000, dtype=np.float32)
    for i in range(0, len(data), 3000):
        rb.write(data[i:i + 3000])
    assert rb.total == 40000
    out, nxt = rb.read(0)  # the first 24000 were overwritten
    assert nxt == 40000 and len(out) == 16000
    np.testing.assert_array_equal(out, data[-16000:])
    assert rb.dropped == 24000
    np.testing.assert_array_equal(rb.latest(5), data[-5:])
    part, nxt = rb.read(30000, max_samples=100)
    np.testing.assert_array_equal(part, data[30000:30100])
    assert nxt == 30100


def test_ring_buffer_threads_and_close():
    rb = RingBuffer(capacity_seconds=2.0)
    chunks = [np.full(160, i, np.float32) for i in range(200)]

    def writer():
        for c in chunks:
            rb.write(c)
        rb.close()

    got, pos = [], 0
    t = threading.Thread(target=writer)
    t.start()
    while True:
        rb.wait(pos, 1.0)
        data, pos = rb.read(pos)
        got.append(data)
        if rb.closed and pos >= rb.total:
            break
    t.join()
    np.testing.assert_array_equal(np.concatenate(got), np.concatenate(chunks))


# -- transcript writers -------------------------------------------------------------------

SEGS = [Segment(0.0, 1.5, "Hello there."), Segment(61.25, 3725.5, "Second --> line\nwith a break")]


def test_srt():
    text = transcript.to_srt(SEGS)
    assert text.startswith("1\n00:00:00,000 --> 00:00:01,500\nHello there.\n\n2\n00:01:01,250 --> 01:02:05,500\n")
    assert "Second -> line\nwith a break" in text
    assert len(re.findall(r"-->", text)) == 2


def test_vtt_txt_json(tmp_path):
    vtt = transcript.to_vtt(SEGS)
    assert vtt.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nHello there.\n")
    assert transcript.to_txt(SEGS) == "Hello there.\nSecond --> line\nwith a break\n"
    import json

    data = json.loads(transcript.render(SEGS, "json", duration=3726.0))
    assert data["duration"] == 3726.0 and data["segments"][1]["start"] == 61.25
    assert data["text"].startswith("Hello there. Second")
    with pytest.raises(InputError):
        transcript.render(SEGS, "doc")
    out = transcript.save(SEGS, tmp_path / "t.srt")
    assert out.read_text() == transcript.to_srt(SEGS)
    assert not list(tmp_path.glob(".*part"))  # the atomic temp file is gone


def test_autosave_goes_to_the_data_folder(isolated_home):
    saver = transcript.Autosaver(stem="session")
    saver.add(Segment(0, 1, "one"))
    saver.add(Segment(1, 2, "two"))
    assert saver.txt_path.parent == isolated_home / "data" / "transcripts"
    assert saver.txt_path.read_text() == "one\ntwo\n"
    assert "00:00:01,000 --> 00:00:02,000\ntwo" in saver.srt_path.read_text()


def test_word_error_rate():
    from playground.core.speech.accuracy import word_error_rate

    assert word_error_rate("the cat sat", "the cat sat") == 0
    assert word_error_rate("the cat sat", "The cat, sat!") == 0
    assert word_error_rate("the cat sat on the mat", "the bat sat on mat") == pytest.approx(2 / 6)
    assert word_error_rate("a b", "") == 1.0
