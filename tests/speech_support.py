"""Helpers for the speech tests: spoken phrases made with espeak-ng + sox, and a fake `sounddevice`.

Imported by tests/*/test_speech*.py (they put this folder on sys.path).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

PHRASES = (
    "Hello world, this is a test of the speech recognition system.",
    "Please call me tomorrow morning before the meeting starts.",
    "Open the window and let some fresh air into the room.",
)


def need_tools(*names: str) -> None:
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (Debian packages espeak-ng, sox)")


def speak(text: str, out: Path, rate: int = 16000, channels: int = 1, voice: str = "en-us", speed: int = 160,
          fmt: str | None = None) -> Path:
    """espeak-ng speech, resampled by sox to `rate` Hz and `channels` channels (format from the suffix)."""
    need_tools("espeak-ng", "sox")
    raw = out.with_name(out.stem + ".raw.wav")
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(raw), text], check=True,
                   capture_output=True)
    cmd = ["sox", str(raw), "-r", str(rate), "-c", str(channels)]
    if fmt:
        cmd += ["-t", fmt]
    subprocess.run(cmd + [str(out)], check=True, capture_output=True)
    raw.unlink()
    return out


def silence(out: Path, seconds: float, rate: int = 16000) -> Path:
    sf.write(out, np.zeros(int(seconds * rate), np.float32), rate)
    return out


def concat(out: Path, *parts: Path) -> Path:
    """One 16 kHz mono WAV of the parts (any rates) one after the other."""
    from playground.core import audio

    sf.write(out, np.concatenate([audio.load(p) for p in parts]), 16000)
    return out


# Two espeak-ng voices taking turns (a low male US voice and a high female variant), for speaker labels.
VOICES = (("en-us", 160, 35), ("en+f3", 175, 80))  # voice, words per minute, pitch
TURNS = (
    "Good morning, thank you all for coming to the meeting today.",
    "Thanks for having me, I have a few questions about the budget.",
    "Of course, we can start with the numbers from last quarter.",
    "Great, the travel costs look much higher than we expected.",
)


def two_voices(folder: Path, turns=TURNS, gap: float = 0.3) -> tuple[Path, list[tuple[float, float, int]]]:
    """One 16 kHz WAV of `turns` spoken alternately by the two VOICES with `gap` s of silence between
    them, and the reference turns (start, end, voice index) in seconds."""
    need_tools("espeak-ng", "sox")
    parts, ref, t = [], [], 0.0
    for i, text in enumerate(turns):
        voice, speed, pitch = VOICES[i % 2]
        raw = folder / f"turn{i}.raw.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(raw), text],
                       check=True, capture_output=True)
        wav = folder / f"turn{i}.wav"
        # silence 1 0.1 1%: cut espeak's leading and trailing silence so the reference turns are exact
        subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", str(wav), "silence", "1", "0.05", "1%",
                        "reverse", "silence", "1", "0.05", "1%", "reverse"], check=True, capture_output=True)
        samples, _ = sf.read(wav, dtype="float32")
        ref.append((t, t + len(samples) / 16000, i % 2))
        parts.append(samples)
        parts.append(np.zeros(int(gap * 16000), np.float32))
        t += len(samples) / 16000 + gap
    out = folder / "two_voices.wav"
    sf.write(out, np.concatenate(parts), 16000)
    return out, ref


# -- a fake sounddevice module (Buzz's idea): its stream feeds a WAV from a thread -----------


class PortAudioError(Exception):
    pass


class _Default:
    def __init__(self, device):
        self.device = device


class FakeInputStream:
    def __init__(self, module, device=None, channels=1, samplerate=16000, dtype="float32", blocksize=320,
                 callback=None, finished_callback=None):
        if samplerate != module.samplerate:
            raise PortAudioError("Invalid sample rate")
        self.module = module
        self.callback = callback
        self.finished_callback = finished_callback
        self.blocksize = blocksize or 320
        self.samplerate = samplerate
        self.active = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.active = True
        self.module.streams.append(self)
        self._thread.start()

    def _run(self):
        data = self.module.samples
        n = 0
        t0 = time.monotonic()
        lose_at = self.module.lose_after
        while not self._stop.is_set():
            block = data[n:n + self.blocksize]
            if len(block) < self.blocksize:
                block = np.concatenate([block, np.zeros(self.blocksize - len(block), np.float32)])
            self.callback(block.reshape(-1, 1), self.blocksize, None, None)
            n += self.blocksize
            if lose_at is not None and n >= lose_at * self.samplerate:
                self.active = False  # the device vanished: PortAudio ends the stream by itself
                if self.finished_callback:
                    self.finished_callback()
                return
            delay = t0 + n / (self.samplerate * self.module.speed) - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)

    def stop(self):
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(2)
        if self.active:
            self.active = False
            if self.finished_callback:
                self.finished_callback()

    def close(self):
        pass


class FakeSoundDevice:
    """Enough of `sounddevice` for MicrophoneSource: one input device that 'hears' `samples`."""

    PortAudioError = PortAudioError

    def __init__(self, samples: np.ndarray | None = None, samplerate: int = 16000, devices: list[dict] | None = None,
                 lose_after: float | None = None, speed: float = 1.0):
        self.samples = np.zeros(0, np.float32) if samples is None else np.asarray(samples, np.float32)
        self.samplerate = samplerate
        self.lose_after = lose_after
        self.speed = speed
        self.streams: list[FakeInputStream] = []
        self._devices = devices if devices is not None else [
            {"name": "Fake speakers", "index": 0, "hostapi": 0, "max_input_channels": 0, "max_output_channels": 2,
             "default_samplerate": 48000.0},
            {"name": "Fake microphone", "index": 1, "hostapi": 0, "max_input_channels": 1, "max_output_channels": 0,
             "default_samplerate": float(samplerate)},
        ]
        self.default = _Default([1, 0])

    def query_devices(self):
        return list(self._devices)

    def query_hostapis(self):
        return [{"name": "Fake API"}]

    def InputStream(self, **kwargs):  # noqa: N802 (sounddevice's name)
        return FakeInputStream(self, **kwargs)

    played: list
    fail_playback: str | None = None

    def play(self, data, samplerate, blocking=False):
        """Output: records what would be heard (a stop() ends a blocking play early)."""
        if self.fail_playback:
            raise self.PortAudioError(self.fail_playback)
        if not hasattr(self, "played"):
            self.played = []
        self.played.append((np.asarray(data, np.float32).copy(), samplerate))

    def stop(self):
        pass


@contextlib.contextmanager
def pulse_server(tmp_path, monkeypatch, sinks: dict[str, str], default_source: str):
    """A PulseAudio daemon of this test's own (runtime folder in tmp, killed by its pid at the end)
    with a null sink per `sinks` item (name: description); yields the environment to run pactl/paplay in."""
    if shutil.which("pulseaudio") is None or shutil.which("pactl") is None:
        pytest.skip("the 'pulseaudio' and 'pactl' binaries are absent (Debian packages pulseaudio, "
                    "pulseaudio-utils, libasound2-plugins); CI installs them")
    runtime = tmp_path / "pulse"
    runtime.mkdir()
    monkeypatch.setenv("PULSE_RUNTIME_PATH", str(runtime))
    monkeypatch.setenv("PULSE_STATE_PATH", str(runtime))
    monkeypatch.delenv("PULSE_SOURCE", raising=False)
    monkeypatch.delenv("PULSE_SERVER", raising=False)
    env = os.environ.copy()
    subprocess.run(["pulseaudio", "--daemonize=yes", "--exit-idle-time=-1", "--use-pid-file=yes"],
                   env=env, check=True, capture_output=True, timeout=30)
    pid_file = runtime / "pid"
    deadline = time.monotonic() + 10
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    pid = int(pid_file.read_text().strip())
    try:
        for sink, desc in sinks.items():
            subprocess.run(["pactl", "load-module", "module-null-sink", f"sink_name={sink}",
                            f"sink_properties=device.description={desc}"], env=env, check=True,
                           capture_output=True, timeout=30)
        subprocess.run(["pactl", "set-default-source", default_source], env=env, check=True, capture_output=True,
                       timeout=30)
        yield env
    finally:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)


def transcribe(path, model=None, sink=None, cancel_event=None, options=None):
    """`file_transcription.transcribe_file` run to the end on this thread: its Transcript."""
    from playground.core.speech import file_transcription
    from playground.core.jobs import Job
    from playground.core.runner import run_sync

    return run_sync(Job(file_transcription.transcribe_file, (path,), {"model": model, "options": options}), sink, cancel_event)
