"""Audio sources: something that writes 16 kHz mono audio into a `RingBuffer` until stopped.

`FileSource` plays a file at real-time pace as if it were a microphone (tests, `listen --from-file`);
`MicrophoneSource` records a PortAudio input through an injected `sounddevice` module
(`system_audio.SystemAudioSource` records what the computer plays the same way).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from playground.core import audio
from playground.core.errors import DeviceError, PlaygroundError
from playground.core.speech.input_devices import find_input_device, load_sounddevice
from playground.core.speech.ring_buffer import RingBuffer

log = logging.getLogger(__name__)

SR = audio.SAMPLE_RATE


class AudioSource:
    """Something that writes 16 kHz mono audio into `self.buffer` until stopped or exhausted."""

    name = "audio"
    paced = True  # audio comes in real time (KeepUp applies); a file read as fast as it can is not

    def __init__(self, buffer: RingBuffer | None = None):
        self.buffer = buffer or RingBuffer()
        self.error: PlaygroundError | None = None
        self.started_at: float | None = None  # time.monotonic() when audio began

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        """Stop capturing (thread-safe); the buffer is closed once the source is done."""
        raise NotImplementedError

    @property
    def finished(self) -> bool:
        return self.buffer.closed

    def check(self) -> None:
        """Called by the consumer while waiting: notices a device that went silent for good."""


class FileSource(AudioSource):
    """A file played as if it were a microphone: real-time pace, then `tail_silence` seconds of silence.

    `speed` > 1 plays faster (tests); `speed=0` writes as fast as it can.
    """

    def __init__(self, path: str | Path, speed: float = 1.0, tail_silence: float = 1.0, chunk_seconds: float = 0.05,
                 buffer: RingBuffer | None = None):
        super().__init__(buffer)
        self.path = Path(path)
        self.name = self.path.name
        self.speed = speed
        self.paced = speed > 0
        self.tail_silence = tail_silence
        self.chunk = max(1, int(chunk_seconds * SR))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        audio.probe(self.path)  # a bad file fails here, in one sentence

    def start(self) -> None:
        if self._thread is not None:
            return
        self.started_at = time.monotonic()
        self._thread = threading.Thread(target=self._run, name=f"file-source {self.name}", daemon=True)
        self._thread.start()

    def _pace(self, written: int) -> None:
        if self.speed <= 0:
            return
        due = self.started_at + written / (SR * self.speed)
        delay = due - time.monotonic()
        if delay > 0:
            self._stop.wait(delay)

    def _chunks(self) -> Iterator[np.ndarray]:
        for block in audio.iter_blocks(self.path, block_seconds=1.0):
            for i in range(0, len(block), self.chunk):
                yield block[i:i + self.chunk]
        silence = np.zeros(self.chunk, np.float32)
        for _ in range(int(round(self.tail_silence * SR / self.chunk))):
            yield silence

    def _run(self) -> None:
        written = 0
        try:
            for piece in self._chunks():
                if self._stop.is_set():
                    break
                self._pace(written + len(piece))
                if self._stop.is_set():
                    break
                self.buffer.write(piece)
                written += len(piece)
        except PlaygroundError as exc:
            self.error = exc
        except Exception as exc:  # noqa: BLE001 - reported to the user as one sentence
            self.error = PlaygroundError(f"{self.name}: reading failed ({exc}).")
        finally:
            self.buffer.close()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is None:
            self.buffer.close()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)


class MicrophoneSource(AudioSource):
    """Records from a PortAudio input device through `sounddevice` (injected, so tests can fake it).

    Records at 16 kHz when the device allows it, else at its own rate with a
    streaming resampler. A stream that ends without Stop, or that delivers
    nothing for `stall_seconds`, means the device was lost: `error` says so.
    """

    def __init__(self, sd=None, device: int | str | None = None, buffer: RingBuffer | None = None,
                 stall_seconds: float = 2.0, block_seconds: float = 0.02):
        super().__init__(buffer)
        self.sd = sd if sd is not None else load_sounddevice()
        self.device = find_input_device(self.sd, device)
        self.name = self.device.name
        self.stall_seconds = stall_seconds
        self.block_seconds = block_seconds
        self.samplerate = SR
        self.overflows = 0
        self._stream = None
        self._stopping = False
        self._resampler = None
        self._last_data = 0.0
        self._lock = threading.Lock()

    def _open(self, rate: float):
        return self.sd.InputStream(device=self.device.index, channels=1, samplerate=rate, dtype="float32",
                                   blocksize=int(rate * self.block_seconds), callback=self._callback,
                                   finished_callback=self._finished)

    def start(self) -> None:
        if self._stream is not None:
            return
        error_type = getattr(self.sd, "PortAudioError", Exception)
        try:
            try:
                self._stream = self._open(SR)
            except error_type:
                rate = int(self.device.samplerate or 48000)
                import soxr

                self._resampler = soxr.ResampleStream(rate, SR, 1, dtype="float32")
                self.samplerate = rate
                self._stream = self._open(rate)
            self.started_at = self._last_data = time.monotonic()
            self._stream.start()
        except error_type as exc:
            self.buffer.close()
            raise DeviceError(f"Cannot open the microphone '{self.name}': {exc}.") from exc

    def _callback(self, indata, frames, time_info, status) -> None:
        if status and getattr(status, "input_overflow", False):
            self.overflows += 1
        mono = audio.to_mono(np.asarray(indata, dtype=np.float32))
        if self._resampler is not None:
            mono = self._resampler.resample_chunk(mono)
        self._last_data = time.monotonic()
        self.buffer.write(mono)

    def _finished(self) -> None:
        with self._lock:
            if not self._stopping and self.error is None:
                self.error = DeviceError(f"The microphone '{self.name}' stopped delivering audio "
                                         "(unplugged or taken by another program); the text so far is kept.")
        self.buffer.close()

    def check(self) -> None:
        if self._stream is None or self.buffer.closed:
            return
        stalled = time.monotonic() - self._last_data > self.stall_seconds
        inactive = not getattr(self._stream, "active", True)
        if (stalled or inactive) and not self._stopping:
            with self._lock:
                if self.error is None:
                    self.error = DeviceError(f"The microphone '{self.name}' stopped delivering audio "
                                             "(unplugged or taken by another program); the text so far is kept.")
            self._close_stream()

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            except Exception:  # noqa: BLE001 - a lost device may fail to close; the buffer still closes
                log.debug("closing the input stream failed", exc_info=True)
        self.buffer.close()

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
        self._close_stream()
