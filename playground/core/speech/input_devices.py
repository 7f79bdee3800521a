"""PortAudio through `sounddevice`: loading it (one sentence when it cannot load), the input devices
it lists, and whether anything can be played here. The module is passed in, so tests hand in a fake."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from playground.core.audio import SAMPLE_RATE as SR
from playground.core.errors import DeviceError


@dataclass(frozen=True)
class InputDevice:
    index: int
    name: str
    channels: int
    samplerate: float
    hostapi: str
    is_default: bool

    @property
    def label(self) -> str:
        return f"{self.name} ({self.hostapi})" + (" - default" if self.is_default else "")

    def to_dict(self) -> dict:
        return {"index": self.index, "name": self.name, "channels": self.channels, "samplerate": self.samplerate,
                "hostapi": self.hostapi, "default": self.is_default}


def load_sounddevice(importer: Callable[[str], object] = importlib.import_module, what: str = "The microphone"):
    """The `sounddevice` module, or one clear sentence why `what` (the microphone, playback) cannot work here."""
    try:
        return importer("sounddevice")
    except OSError as exc:
        raise DeviceError(f"{what} is unavailable: the PortAudio library is not installed "
                          "(on Debian or Ubuntu: sudo apt install libportaudio2).") from exc
    except ImportError as exc:
        raise DeviceError(f"{what} is unavailable: the 'sounddevice' package is not installed.") from exc


def output_problem(sd) -> str:
    """Why audio cannot be played here, in one sentence ("" when PortAudio sees an output device)."""
    try:
        found = sd.query_devices()
    except Exception as exc:  # noqa: BLE001 - PortAudio's own errors
        return f"Playback is unavailable: PortAudio cannot list audio devices ({exc})."
    if not any(int(d.get("max_output_channels", 0)) > 0 for d in found):
        return "Playback is unavailable: this computer has no audio output device (speakers or headphones)."
    return ""


def list_input_devices(sd) -> list[InputDevice]:
    """Input devices PortAudio sees; DeviceError when there is none."""
    try:
        found = sd.query_devices()
        hostapis = sd.query_hostapis()
        default_in = sd.default.device[0] if isinstance(sd.default.device, list | tuple) else sd.default.device
    except Exception as exc:
        raise DeviceError(f"The microphone is unavailable: PortAudio cannot list audio devices ({exc}).") from exc
    out = []
    for i, d in enumerate(found):
        if int(d.get("max_input_channels", 0)) <= 0:
            continue
        api = hostapis[d["hostapi"]]["name"] if 0 <= d.get("hostapi", -1) < len(hostapis) else ""
        out.append(InputDevice(int(d.get("index", i)), str(d["name"]), int(d["max_input_channels"]),
                               float(d.get("default_samplerate", SR)), api, int(d.get("index", i)) == default_in))
    if not out:
        raise DeviceError("No microphone found: this computer has no audio input device.")
    return out


def find_input_device(sd, device: int | str | None) -> InputDevice:
    devices = list_input_devices(sd)
    if device is None or device == "":
        return next((d for d in devices if d.is_default), devices[0])
    for d in devices:
        if (isinstance(device, int) and d.index == device) or (isinstance(device, str) and
                                                               (device == d.name or device.isdigit() and int(device) == d.index)):
            return d
    if isinstance(device, str):
        matches = [d for d in devices if device.lower() in d.name.lower()]
        if matches:
            return matches[0]
    raise DeviceError(f"Input device '{device}' was not found; `playground listen --list-devices` shows the choices.")
