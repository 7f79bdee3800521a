"""What the computer plays (issue 15, item 4), through a real PulseAudio server: two null sinks
("Speakers" and "Headphones"), the default source set to the Headphones' monitor, espeak speech
played into Speakers with `paplay`; the Speakers' monitor, chosen in the source list, records it
(PULSE_SOURCE picks it for the ALSA `pulse` device) and the live transcript says the phrase.

The test starts its own daemon (runtime folder in tmp) and kills it by its pid at the end.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from speech_support import PHRASES, pulse_server, speak  # noqa: E402

from playground.core.speech import live  # noqa: E402
from playground.core.speech import accuracy, input_devices, recognizers, system_audio  # noqa: E402
from playground.core.jobs import Job  # noqa: E402
from playground.core.runner import run_sync  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture
def pulse(tmp_path, monkeypatch):
    # The default source is the *other* monitor: recording the Speakers' needs the app's choice.
    with pulse_server(tmp_path, monkeypatch, {"vmic": "Speakers", "other": "Headphones"}, "other.monitor") as env:
        yield env


def test_the_speakers_monitor_records_what_paplay_plays(pulse, tmp_path):
    wav = speak(PHRASES[2], tmp_path / "phrase.wav")
    sd = input_devices.load_sounddevice()
    sd._terminate()  # noqa: SLF001 - PortAudio lists devices once per initialisation
    sd._initialize()  # noqa: SLF001
    listed = system_audio.list_sources(sd)
    assert listed.system_problem == "", listed.system_problem
    labels = [s.label for s in listed.system]
    assert "What the computer plays: Monitor of Speakers" in labels, labels
    assert "What the computer plays: Monitor of Headphones" in labels, labels
    monitor = next(s for s in listed.system if s.pulse_source == "vmic.monitor")

    recognizers.load_recognizer()
    source = system_audio.SystemAudioSource(monitor, sd, stall_seconds=15)
    assert source.name == "What the computer plays: Monitor of Speakers"

    def play_then_stop():
        time.sleep(0.3)
        subprocess.run(["paplay", "--device=vmic", str(wav)], env=pulse, check=True, timeout=60)
        time.sleep(1.2)
        source.stop()

    player = threading.Thread(target=play_then_stop)
    events = []
    source.start()
    assert "PULSE_SOURCE" not in os.environ  # set only while the stream opened
    player.start()
    result = run_sync(Job(live.listen, (source,), {"autosave": False}), events.append)
    player.join()
    assert result.error is None
    finals = " ".join(e.text for e in events if isinstance(e, live.LiveText) and e.kind == "final")
    assert accuracy.word_error_rate(PHRASES[2], finals) < 0.3, finals


def test_the_controller_records_the_chosen_monitor_into_its_own_transcript(pulse, qtbot, worker, settings,
                                                                           tmp_path):
    from playground.ui.context import AppContext
    from playground.ui.speech_controller import SpeechController

    wav = speak(PHRASES[0], tmp_path / "phrase.wav")
    sd = input_devices.load_sounddevice()
    sd._terminate()  # noqa: SLF001
    sd._initialize()  # noqa: SLF001
    c = SpeechController(AppContext(worker, settings, None))
    try:
        choices = c.refresh_devices()
        labels = [d.label for d in choices]
        assert any(label.startswith("pulse") for label in labels)  # the microphones are still there
        assert "What the computer plays: Monitor of Speakers" in labels and c.system_problem == ""
        chosen = next(d for d in choices if d.label == "What the computer plays: Monitor of Speakers")
        source = c.make_source(chosen.data)
        source.stall_seconds = 15  # a CPU-starved PulseAudio can pause delivery for seconds
        recognizers.load_recognizer()
        assert c.start_recording(source=source)
        time.sleep(0.3)
        subprocess.run(["paplay", "--device=vmic", str(wav)], env=pulse, check=True, timeout=60)
        time.sleep(1.2)
        c.stop_recording()
        qtbot.waitUntil(lambda: not c.recording, timeout=120_000)
        assert accuracy.word_error_rate(PHRASES[0], c.transcript_text()) < 0.3, c.transcript_text()
        (live,) = c.transcripts()
        assert live.kind == "live" and live.source == chosen.label and live.name.startswith("Live, ")
    finally:
        c.shutdown()


def test_the_cli_lists_and_records_what_the_computer_plays(pulse, tmp_path):
    import json

    cli = [sys.executable, "-m", "playground", "listen"]
    listed = subprocess.run([*cli, "--list-devices", "--json"], env=pulse, capture_output=True, text=True,
                            timeout=120)
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    system = [r for r in rows if r["kind"] == "system"]
    assert {r["pulse_source"] for r in system} >= {"vmic.monitor", "other.monitor"}
    assert any(r["kind"] == "microphone" and r["name"] == "pulse" for r in rows)
    unknown = subprocess.run([*cli, "--system", "Television"], env=pulse, capture_output=True, text=True,
                             timeout=120)
    assert unknown.returncode == 2 and "no output named 'Television'" in unknown.stderr
    assert "Monitor of Speakers" in unknown.stderr

    wav = speak(PHRASES[1], tmp_path / "phrase.wav")
    proc = subprocess.Popen([*cli, "--system", "Speakers", "--json", "--no-autosave"], env=pulse,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(8)  # the model loads and the stream opens before the sound plays
        subprocess.run(["paplay", "--device=vmic", str(wav)], env=pulse, check=True, timeout=60)
        time.sleep(1.5)
        proc.send_signal(signal.SIGINT)  # Ctrl+C: stop recording, finish what was heard
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    finals = [json.loads(line) for line in out.splitlines() if '"final"' in line]
    assert finals and all(f["language"] == "en" for f in finals), out
    assert accuracy.word_error_rate(PHRASES[1], " ".join(f["text"] for f in finals)) < 0.3, out
