"""The real PortAudio path: PulseAudio null sink -> its monitor -> sounddevice -> live transcription.

The test starts its own PulseAudio daemon (runtime folder in tmp, so it never
touches another one), plays espeak speech into the null sink `vmic` with
`paplay`, records from the ALSA device `pulse` through the app's
MicrophoneSource, and kills the daemon by its pid at the end.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from speech_support import PHRASES, pulse_server, speak  # noqa: E402

from playground.core.speech import live  # noqa: E402
from playground.core.speech import accuracy, input_devices, recognizers, sources  # noqa: E402
from playground.core.jobs import Job  # noqa: E402
from playground.core.runner import run_sync

pytestmark = pytest.mark.slow


@pytest.fixture
def pulse(tmp_path, monkeypatch):
    with pulse_server(tmp_path, monkeypatch, {"vmic": "Speakers"}, "vmic.monitor") as env:
        yield env


def test_pulseaudio_null_sink_recorded_through_sounddevice(pulse, tmp_path):
    wav = speak(PHRASES[1], tmp_path / "phrase.wav")
    sd = input_devices.load_sounddevice()
    # PortAudio lists devices once per initialisation: refresh it now that the daemon runs.
    sd._terminate()  # noqa: SLF001
    sd._initialize()  # noqa: SLF001
    recognizers.load_recognizer()  # loaded before recording, so timing does not depend on it
    # A CPU-starved PulseAudio can pause delivery for seconds: only device-loss tests need the 2 s default.
    source = sources.MicrophoneSource(sd, device="pulse", stall_seconds=15)
    assert source.name == "pulse"

    def play_then_stop():
        time.sleep(0.3)
        subprocess.run(["paplay", "--device=vmic", str(wav)], env=pulse, check=True, timeout=60)
        time.sleep(1.2)
        source.stop()

    player = threading.Thread(target=play_then_stop)
    events = []
    source.start()
    player.start()
    result = run_sync(Job(live.listen, (source,), {"autosave": False}), events.append)
    player.join()
    assert result.error is None
    finals = " ".join(e.text for e in events if isinstance(e, live.LiveText) and e.kind == "final")
    assert accuracy.word_error_rate(PHRASES[1], finals) < 0.3, finals
    assert result.duration > 2.0  # real audio flowed for the whole playback
