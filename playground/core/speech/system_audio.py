"""What can be recorded: the microphones and what the computer plays (system audio).

Linux: the PulseAudio (or PipeWire's pipewire-pulse) *monitor* sources, one per
output, listed with `pactl`; a monitor is recorded through PortAudio's ALSA
device `pulse` with `PULSE_SOURCE` naming it while the stream opens (libpulse
reads it when the ALSA plugin connects), so the system's default source is
left as it is. Windows: PortAudio's WASAPI loopback inputs ("... [Loopback]")
and "Stereo Mix" where the driver has one. macOS: a virtual loopback device
(BlackHole, Soundflower, Loopback) when one is installed. Where none of these
exists, `SourceList.system_problem` says why in one sentence.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from playground.core.errors import DeviceError, PlaygroundError
from playground.core.speech.input_devices import InputDevice, list_input_devices, load_sounddevice
from playground.core.speech.ring_buffer import RingBuffer
from playground.core.speech.sources import MicrophoneSource

log = logging.getLogger(__name__)

SYSTEM_PREFIX = "What the computer plays: "
PULSE_DEVICE = "pulse"  # PortAudio's ALSA device that goes through the PulseAudio/PipeWire server
_LOOPBACK_NAMES = ("[loopback]", "stereo mix", "blackhole", "soundflower", "loopback audio", "what u hear")
_env_lock = threading.Lock()  # PULSE_SOURCE is process-wide: one stream opens at a time


@dataclass(frozen=True)
class SystemSource:
    """One output whose sound can be recorded: a Pulse monitor (`pulse_source`) or a PortAudio input."""

    name: str  # what the user reads after SYSTEM_PREFIX
    device: int | str  # the PortAudio device to open
    pulse_source: str = ""  # the PulseAudio source (e.g. "vmic.monitor"), set through PULSE_SOURCE

    @property
    def label(self) -> str:
        return SYSTEM_PREFIX + self.name

    def to_dict(self) -> dict:
        return {"name": self.name, "device": self.device, "pulse_source": self.pulse_source}


@dataclass
class SourceList:
    microphones: list[InputDevice] = field(default_factory=list)
    system: list[SystemSource] = field(default_factory=list)
    mic_problem: str = ""
    system_problem: str = ""  # why what the computer plays cannot be recorded here ("" when it can)


def _run_pactl(args: list[str], env=None) -> str:
    exe = shutil.which("pactl")
    if exe is None:
        raise FileNotFoundError("pactl")
    env = dict(os.environ if env is None else env)
    # Listing must not start a sound server: libpulse's autospawn runs PULSE_BINARY, here one that fails.
    env["PULSE_BINARY"] = shutil.which("false") or "/nonexistent/pulseaudio"
    done = subprocess.run([exe, *args], capture_output=True, text=True, timeout=5, env=env)
    if done.returncode != 0:
        raise RuntimeError((done.stderr or done.stdout).strip() or f"pactl exited with {done.returncode}")
    return done.stdout


NO_PULSE = ("What the computer plays cannot be recorded here: no PulseAudio or PipeWire sound server is running "
            "(Linux records the computer's output from such a server's monitor sources).")


def pulse_monitors(run: Callable[[list[str]], str] = _run_pactl) -> list[SystemSource]:
    """The monitor sources of the running PulseAudio/PipeWire server; DeviceError (one sentence) without one."""
    try:
        try:
            data = json.loads(run(["--format=json", "list", "sources"]))
            found = []
            for s in data if isinstance(data, list) else []:
                name = str(s.get("name", "")) if isinstance(s, dict) else ""
                # a source that monitors a sink names it in "monitor_of_sink" ("n/a" otherwise)
                if name and (str(s.get("monitor_of_sink") or "n/a") != "n/a" or name.endswith(".monitor")):
                    found.append((name, str(s.get("description") or name)))
        except (ValueError, TypeError):  # an older pactl without JSON output
            found = []
            for line in run(["list", "short", "sources"]).splitlines():
                cols = line.split("\t")
                if len(cols) >= 2 and cols[1].endswith(".monitor"):
                    found.append((cols[1], cols[1]))
    except FileNotFoundError as exc:
        raise DeviceError(NO_PULSE) from exc
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        log.debug("pactl failed: %s", exc)
        raise DeviceError(NO_PULSE) from exc
    return [SystemSource(desc, PULSE_DEVICE, name) for name, desc in found if name]


def _loopback_inputs(mics: list[InputDevice]) -> list[SystemSource]:
    return [SystemSource(d.name, d.index) for d in mics if any(k in d.name.lower() for k in _LOOPBACK_NAMES)]


def system_sources(microphones: list[InputDevice], mic_problem: str = "", platform: str | None = None,
                   monitors: Callable[[], list[SystemSource]] = pulse_monitors) -> tuple[list[SystemSource], str]:
    """What the computer plays, as sources to record, and one sentence when there is none ("" otherwise)."""
    platform = platform or sys.platform
    if platform.startswith("linux"):
        try:
            found = monitors()
        except DeviceError as exc:
            return [], str(exc)
        if not found:
            return [], "What the computer plays cannot be recorded here: the sound server lists no monitor source."
        if mic_problem:
            return [], ("What the computer plays cannot be recorded here: PortAudio, which records it, "
                        "is unavailable.")
        if not any(d.name == PULSE_DEVICE for d in microphones):
            return [], ("What the computer plays cannot be recorded here: PortAudio has no 'pulse' device "
                        "(on Debian or Ubuntu: sudo apt install libasound2-plugins).")
        return found, ""
    found = _loopback_inputs(microphones)
    if found:
        return found, ""
    if platform == "win32":
        return [], ("What the computer plays cannot be recorded here: this PortAudio build lists no WASAPI "
                    "loopback input (enable 'Stereo Mix' in the Sound control panel, or use a PortAudio built from "
                    "its current sources, whose WASAPI lists '[Loopback]' inputs).")
    if platform == "darwin":
        return [], ("What the computer plays cannot be recorded here: macOS offers no loopback capture, so "
                    "install a virtual audio device such as BlackHole and send the output to it.")
    return [], "What the computer plays cannot be recorded here: this platform's audio layer offers no loopback input."


def list_sources(sd=None, platform: str | None = None,
                 monitors: Callable[[], list[SystemSource]] = pulse_monitors) -> SourceList:
    """Microphones (PortAudio inputs) and what the computer plays, with a sentence for what is missing."""
    out = SourceList()
    try:
        module = sd if sd is not None else load_sounddevice()
        out.microphones = list_input_devices(module)
    except PlaygroundError as exc:
        out.mic_problem = str(exc)
    out.system, out.system_problem = system_sources(out.microphones, out.mic_problem, platform, monitors)
    return out


class SystemAudioSource(MicrophoneSource):
    """Records what the computer plays: a PortAudio input, with PULSE_SOURCE set while a Pulse monitor opens.

    No audio for a while is not a lost device here: the sound server suspends an output that
    plays nothing (PulseAudio's suspend-on-idle), and its monitor then delivers nothing until the
    next sound. A stream that really ends is still reported (PortAudio's finished callback)."""

    def __init__(self, source: SystemSource, sd=None, buffer: RingBuffer | None = None,
                 stall_seconds: float = math.inf, block_seconds: float = 0.02):
        super().__init__(sd, device=source.device, buffer=buffer, stall_seconds=stall_seconds,
                         block_seconds=block_seconds)
        self.system = source
        self.name = source.label

    def _open(self, rate: float):
        if not self.system.pulse_source:
            return super()._open(rate)
        with _env_lock:
            before = os.environ.get("PULSE_SOURCE")
            os.environ["PULSE_SOURCE"] = self.system.pulse_source
            try:
                return super()._open(rate)
            finally:
                if before is None:
                    os.environ.pop("PULSE_SOURCE", None)
                else:
                    os.environ["PULSE_SOURCE"] = before
