"""A scrolling waveform and a live mel spectrogram of 16 kHz audio, drawn with pyqtgraph.

Both take raw samples from the UI's timer and do only cheap numpy work per
frame: a min/max envelope for the waveform, and one FFT per new 32 ms hop
for the spectrogram (a Slaney mel filter bank, the same as librosa's default,
computed once here: importing librosa would cost the Speech tab about a second).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QVBoxLayout, QWidget

SR = 16_000
LEFT_AXIS_WIDTH = 36  # the same for both views, so their plot areas start at the same pixel


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above (librosa's default, htk=False)."""
    mels = hz / (200.0 / 3)
    log = hz >= 1000.0
    mels[log] = 15.0 + np.log(hz[log] / 1000.0) / (np.log(6.4) / 27.0)
    return mels


def _mel_to_hz(mels: np.ndarray) -> np.ndarray:
    hz = mels * (200.0 / 3)
    log = mels >= 15.0
    hz[log] = 1000.0 * np.exp(np.log(6.4) / 27.0 * (mels[log] - 15.0))
    return hz


def mel_filters(sr: int, n_fft: int, n_mels: int) -> np.ndarray:
    """(n_mels, 1 + n_fft // 2) float32 triangles from 0 Hz to sr/2, Slaney-normalised:
    `librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels)`."""
    fft_freqs = np.fft.rfftfreq(n=n_fft, d=1.0 / sr)
    top = _hz_to_mel(np.array([sr / 2.0]))[0]
    mel_f = _mel_to_hz(np.linspace(0.0, top, n_mels + 2))  # the bands' edges and centres, in Hz
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fft_freqs)
    weights = np.zeros((n_mels, 1 + n_fft // 2), np.float32)
    for i in range(n_mels):
        weights[i] = np.maximum(0, np.minimum(-ramps[i] / fdiff[i], ramps[i + 2] / fdiff[i + 1]))
    weights *= (2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels]))[:, np.newaxis]
    return weights


class WaveformView(pg.PlotWidget):
    """The last `seconds` of audio as a min/max envelope (about 2 points per pixel column)."""

    def __init__(self, seconds: float = 6.0, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("audioWaveform")
        self.setAccessibleName("Waveform")
        self.seconds = seconds
        self.setMenuEnabled(False)
        self.setMouseEnabled(False, False)
        self.hideButtons()
        self.setYRange(-1, 1, padding=0.02)
        self.setXRange(-seconds, 0, padding=0)
        self.getPlotItem().setLabel("bottom", "seconds")
        self.getPlotItem().getAxis("left").setWidth(LEFT_AXIS_WIDTH)
        self.curve = self.plot(pen=pg.mkPen("#2f80ed", width=1))
        self.setMinimumHeight(90)
        self.frames = 0
        self._overview = False  # showing a whole file (set_overview) rather than the last seconds

    def set_overview(self, samples: np.ndarray) -> None:
        """A whole file's envelope, its time axis from 0 to its end (seconds)."""
        samples = np.asarray(samples, np.float32)
        n = len(samples)
        self._overview = True
        if n == 0:
            self.curve.setData([], [])
            return
        per = max(1, n // 800)
        usable = (n // per) * per
        blocks = samples[:usable].reshape(-1, per)
        y = np.empty(len(blocks) * 2, np.float32)
        y[0::2], y[1::2] = blocks.min(axis=1), blocks.max(axis=1)
        t = np.repeat(np.arange(len(blocks)), 2) * per / SR
        self.setXRange(0, max(n / SR, 0.1), padding=0)
        self.curve.setData(t, y)
        self.frames += 1

    def set_samples(self, samples: np.ndarray) -> None:
        if self._overview:  # back to the last `seconds` of a live source
            self._overview = False
            self.setXRange(-self.seconds, 0, padding=0)
        n = len(samples)
        if n == 0:
            self.curve.setData([], [])
            return
        columns = 800
        per = max(1, n // columns)
        usable = (n // per) * per
        blocks = samples[n - usable:].reshape(-1, per)
        lo, hi = blocks.min(axis=1), blocks.max(axis=1)
        y = np.empty(lo.size * 2, np.float32)
        y[0::2], y[1::2] = lo, hi
        t = (np.repeat(np.arange(lo.size), 2) * per - usable) / SR
        self.curve.setData(t, y)
        self.frames += 1


class MelSpectrogramView(QWidget):
    """A rolling log-mel spectrogram: feed it new samples with `append`.

    Its x axis is time in seconds, like the waveform's: -seconds..0 while live, 0..the end
    for a whole file (`set_overview`); `link_time_axis` makes the two share one axis.
    """

    def __init__(self, seconds: float = 6.0, n_mels: int = 64, n_fft: int = 512, hop: int = 256,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("audioSpectrogram")
        self.setAccessibleName("Mel spectrogram")
        self.n_fft, self.hop, self.n_mels = n_fft, hop, n_mels
        self.columns = int(seconds * SR / hop)
        self._mel = mel_filters(SR, n_fft, n_mels)
        self._window = np.hanning(n_fft).astype(np.float32)
        self._pending = np.zeros(0, np.float32)
        self.image = np.full((self.columns, n_mels), -80.0, np.float32)
        self.plot = pg.PlotWidget()
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(False, False)
        self.plot.hideButtons()
        self.plot.getPlotItem().hideAxis("bottom")
        self.plot.getPlotItem().getAxis("left").setWidth(LEFT_AXIS_WIDTH)
        self.plot.getPlotItem().setLabel("left", "mel")
        self.item = pg.ImageItem(axisOrder="col-major")
        self.item.setLookupTable(pg.colormap.get("inferno").getLookupTable(nPts=256))
        self.plot.addItem(self.item)
        self._live = False
        self._go_live()
        self.plot.setYRange(0, n_mels, padding=0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self.setMinimumHeight(90)
        self.frames = 0
        self._draw()

    def link_time_axis(self, waveform: pg.PlotWidget) -> None:
        """Share the waveform's time axis: the same second at the same pixel column."""
        self.plot.setXLink(waveform.getPlotItem())

    def _set_time_span(self, start_s: float, width_s: float, shown_s: tuple[float, float]) -> None:
        """Where the image's `columns` columns lie on the time axis; `shown_s`: the range in view
        (a linked view takes the waveform's instead)."""
        self._live = start_s < 0
        self.item.setRect(QRectF(start_s, 0.0, max(width_s, 1e-3), float(self.n_mels)))
        if self.plot.getViewBox().linkedView(0) is None:
            self.plot.setXRange(*shown_s, padding=0)

    def _go_live(self) -> None:
        if not self._live:
            span = self.columns * self.hop / SR
            self._set_time_span(-span, span, (-span, 0.0))

    def clear(self) -> None:
        self._pending = np.zeros(0, np.float32)
        self.image.fill(-80.0)
        self._go_live()
        self._draw()

    def mel_columns(self, samples: np.ndarray) -> np.ndarray:
        """Log-mel columns (dB) for every whole hop in `samples` plus what was left from before."""
        data = np.concatenate([self._pending, samples]) if self._pending.size else samples
        count = (len(data) - self.n_fft) // self.hop + 1 if len(data) >= self.n_fft else 0
        if count <= 0:
            self._pending = data
            return np.zeros((0, self.n_mels), np.float32)
        start = 0
        if count > self.columns:  # more than fits: keep the newest columns only
            start = (count - self.columns) * self.hop
            count = self.columns
        idx = start + np.arange(count)[:, None] * self.hop + np.arange(self.n_fft)[None, :]
        frames = data[idx] * self._window
        power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
        mel = power @ self._mel.T
        self._pending = data[start + count * self.hop:].copy()
        return (10.0 * np.log10(np.maximum(mel, 1e-10))).astype(np.float32)

    def set_overview(self, samples: np.ndarray) -> None:
        """A whole file: at most `columns` log-mel columns spread evenly over it, from the left."""
        samples = np.asarray(samples, np.float32)
        self._pending = np.zeros(0, np.float32)
        self.image.fill(-80.0)
        n = len(samples)
        count = 0
        if n >= self.n_fft:
            count = min(self.columns, (n - self.n_fft) // self.hop + 1)
            starts = np.linspace(0, n - self.n_fft, count).astype(np.int64)
            frames = samples[starts[:, None] + np.arange(self.n_fft)[None, :]] * self._window
            mel = (np.abs(np.fft.rfft(frames, axis=1)) ** 2) @ self._mel.T
            self.image[:count] = 10.0 * np.log10(np.maximum(mel, 1e-10))
        # the `count` filled columns span the file, 0 .. n / SR seconds (the rest lies past its end)
        self._set_time_span(0.0, n / SR * self.columns / max(count, 1), (0.0, max(n / SR, 0.1)))
        self._draw()
        self.frames += 1

    def append(self, samples: np.ndarray) -> None:
        cols = self.mel_columns(np.asarray(samples, np.float32))
        if len(cols) == 0:
            return
        k = len(cols)
        self._go_live()
        self.image = np.roll(self.image, -k, axis=0)
        self.image[-k:] = cols
        self._draw()
        self.frames += 1

    def _draw(self) -> None:
        self.item.setImage(self.image, autoLevels=False, levels=(-80.0, 10.0))
