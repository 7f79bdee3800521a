"""The ring buffer live audio goes through: 16 kHz mono float32, one writer, many readers.

A source (microphone, system audio, a file played live) writes; the live transcriber reads at its
own pace, and the UI reads the latest samples for its level meter, waveform and spectrogram, so
drawing never waits for the recogniser.
"""

from __future__ import annotations

import threading

import numpy as np

from playground.core.audio import SAMPLE_RATE as SR


class RingBuffer:
    """A fixed-capacity float32 ring addressed by absolute sample index; one writer, many readers."""

    def __init__(self, capacity_seconds: float = 120.0):
        self.capacity = int(capacity_seconds * SR)
        self._data = np.zeros(self.capacity, np.float32)
        self._total = 0  # samples ever written
        self._closed = False
        self._cond = threading.Condition()
        self.dropped = 0  # samples a slow reader lost (overwritten before it read them)

    @property
    def total(self) -> int:
        return self._total

    @property
    def closed(self) -> bool:
        return self._closed

    def write(self, samples: np.ndarray) -> None:
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        if samples.size == 0:
            return
        if samples.size > self.capacity:
            samples = samples[-self.capacity:]
        with self._cond:
            start = self._total % self.capacity
            first = min(samples.size, self.capacity - start)
            self._data[start:start + first] = samples[:first]
            if first < samples.size:
                self._data[: samples.size - first] = samples[first:]
            self._total += samples.size
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def wait(self, after: int, timeout: float) -> bool:
        """Block until more than `after` samples were written or the buffer closed."""
        with self._cond:
            return self._cond.wait_for(lambda: self._total > after or self._closed, timeout)

    def read(self, start: int, max_samples: int | None = None) -> tuple[np.ndarray, int]:
        """Samples from absolute index `start` (clamped to the oldest kept); returns (data, next_index)."""
        with self._cond:
            oldest = max(0, self._total - self.capacity)
            if start < oldest:
                self.dropped += oldest - start
                start = oldest
            end = self._total if max_samples is None else min(self._total, start + max_samples)
            n = end - start
            if n <= 0:
                return np.zeros(0, np.float32), start
            i = start % self.capacity
            first = min(n, self.capacity - i)
            out = np.empty(n, np.float32)
            out[:first] = self._data[i:i + first]
            if first < n:
                out[first:] = self._data[: n - first]
            return out, end

    def latest(self, n: int) -> np.ndarray:
        """The last `n` samples (fewer at the start)."""
        data, _ = self.read(max(0, self._total - n))
        return data
