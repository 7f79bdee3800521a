"""Audio sources (issue 15, item 4): microphones and what the computer plays, or one sentence why not."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from speech_support import FakeInputStream, FakeSoundDevice  # noqa: E402

from playground.core.speech import input_devices, system_audio  # noqa: E402
from playground.core.errors import DeviceError  # noqa: E402


def one_sentence(text: str) -> bool:
    return text.endswith(".") and "\n" not in text and text.count(". ") == 0


def mic(index: int, name: str) -> input_devices.InputDevice:
    return input_devices.InputDevice(index, name, 2, 48000.0, "API", False)


PACTL_JSON = [
    {"index": 0, "name": "vmic.monitor", "description": "Monitor of Speakers", "monitor_of_sink": "vmic"},
    {"index": 1, "name": "alsa_input.usb", "description": "USB Microphone", "monitor_of_sink": "n/a"},
    {"index": 2, "name": "hdmi.monitor", "description": "Monitor of HDMI", "monitor_of_sink": "hdmi"},
]


def test_pulse_monitors_from_pactl_json_and_from_the_short_listing():
    def run_json(args):
        assert args == ["--format=json", "list", "sources"]
        return json.dumps(PACTL_JSON)

    found = system_audio.pulse_monitors(run_json)
    assert [(s.name, s.device, s.pulse_source) for s in found] == [
        ("Monitor of Speakers", "pulse", "vmic.monitor"), ("Monitor of HDMI", "pulse", "hdmi.monitor")]
    assert found[0].label == "What the computer plays: Monitor of Speakers"

    def run_old(args):
        if "--format=json" in args:
            return "Unrecognised option\n"  # not JSON: an older pactl
        return "0\tvmic.monitor\tmodule-null-sink.c\ts16le 2ch 44100Hz\tSUSPENDED\n1\tmic\talsa\ts16le\tRUNNING\n"

    assert [s.pulse_source for s in system_audio.pulse_monitors(run_old)] == ["vmic.monitor"]


def test_no_sound_server_gives_one_sentence(monkeypatch, tmp_path):
    def missing(args):
        raise FileNotFoundError("pactl")

    with pytest.raises(DeviceError) as err:
        system_audio.pulse_monitors(missing)
    assert one_sentence(str(err.value)) and "PulseAudio or PipeWire" in str(err.value)
    if shutil.which("pactl"):  # the real pactl with no server to talk to
        monkeypatch.setenv("PULSE_SERVER", f"unix:{tmp_path / 'no-server'}")
        monkeypatch.setenv("PULSE_RUNTIME_PATH", str(tmp_path))
        with pytest.raises(DeviceError) as err:
            system_audio.pulse_monitors()
        assert str(err.value) == system_audio.NO_PULSE


def test_system_sources_per_platform():
    pulse = [mic(0, "default"), mic(1, "pulse")]
    monitors = lambda: system_audio.pulse_monitors(lambda args: json.dumps(PACTL_JSON))  # noqa: E731
    found, problem = system_audio.system_sources(pulse, platform="linux", monitors=monitors)
    assert problem == "" and [s.pulse_source for s in found] == ["vmic.monitor", "hdmi.monitor"]

    def no_server():
        raise DeviceError(system_audio.NO_PULSE)

    for mics, lister, mic_problem in ((pulse, no_server, ""), (pulse, lambda: [], ""),
                                      ([mic(0, "default")], monitors, ""), ([], monitors, "No microphone.")):
        found, problem = system_audio.system_sources(mics, mic_problem, "linux", lister)
        assert found == [] and one_sentence(problem) and problem.startswith("What the computer plays cannot")

    win = [mic(3, "Microphone (Realtek)"), mic(7, "Speakers (Realtek) [Loopback]"), mic(8, "Stereo Mix (Realtek)")]
    found, problem = system_audio.system_sources(win, platform="win32")
    assert problem == "" and [(s.device, s.name) for s in found] == [(7, "Speakers (Realtek) [Loopback]"),
                                                                      (8, "Stereo Mix (Realtek)")]
    for platform, word in (("win32", "WASAPI"), ("darwin", "BlackHole"), ("freebsd", "loopback")):
        found, problem = system_audio.system_sources([mic(0, "Built-in Microphone")], platform=platform)
        assert found == [] and one_sentence(problem) and word in problem
    found, _ = system_audio.system_sources([mic(2, "BlackHole 2ch")], platform="darwin")
    assert [s.device for s in found] == [2]


def test_a_monitor_opens_the_pulse_device_with_pulse_source_set_only_while_opening(monkeypatch):
    monkeypatch.delenv("PULSE_SOURCE", raising=False)
    seen = []

    class Recording(FakeSoundDevice):
        def InputStream(self, **kwargs):  # noqa: N802
            seen.append((kwargs["device"], os.environ.get("PULSE_SOURCE")))
            return FakeInputStream(self, **kwargs)

    sd = Recording(devices=[{"name": "pulse", "index": 4, "hostapi": 0, "max_input_channels": 32,
                             "default_samplerate": 16000.0}])
    sd.default.device = [4, 4]
    src = system_audio.SystemAudioSource(system_audio.SystemSource("Monitor of Speakers", "pulse", "vmic.monitor"),
                                          sd)
    assert src.name == "What the computer plays: Monitor of Speakers"
    src.start()
    src.stop()
    assert seen == [(4, "vmic.monitor")] and "PULSE_SOURCE" not in os.environ
    listed = system_audio.list_sources(sd, "linux", lambda: system_audio.pulse_monitors(
        lambda args: json.dumps(PACTL_JSON[:1])))
    assert [m.name for m in listed.microphones] == ["pulse"] and [s.label for s in listed.system] == [
        "What the computer plays: Monitor of Speakers"]
