"""The Speech tab's spectrogram lines up with the waveform above it: one time axis, the same
second under the same pixel column, for a whole file and while live."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF

SPEECH_TAB = 2
SR = 16_000


@pytest.fixture
def views(main_window, qtbot):
    main_window.resize(1100, 750)
    main_window.show()
    main_window.tabs.setCurrentIndex(SPEECH_TAB)
    tab = main_window.page(SPEECH_TAB)
    wave, spec = tab.waveform, tab.spectrogram
    qtbot.waitUntil(lambda: wave.isVisible() and spec.isVisible() and wave.width() > 100, timeout=10_000)
    return wave, spec


def _wave_x(wave, t: float) -> float:
    scene = wave.getPlotItem().vb.mapViewToScene(QPointF(t, 0.0))
    return wave.mapToGlobal(wave.mapFromScene(scene)).x()


def _spec_x(spec, column: float) -> float:
    """The screen x of the mel image's column `column` (0 = its left edge)."""
    scene = spec.item.mapToScene(QPointF(column, 0.0))
    return spec.plot.mapToGlobal(spec.plot.mapFromScene(scene)).x()


def _settle(qtbot):
    qtbot.wait(50)


def test_a_files_spectrogram_and_waveform_share_one_time_axis(views, qtbot):
    wave, spec = views
    seconds = 3.0  # shorter than the 6 s the spectrogram holds: its columns do not fill its width
    samples = np.sin(np.linspace(0, 440 * 2 * np.pi * seconds, int(SR * seconds))).astype(np.float32)
    wave.set_overview(samples)
    spec.set_overview(samples)
    _settle(qtbot)
    assert spec.plot.getViewBox().viewRange()[0] == pytest.approx(wave.getPlotItem().vb.viewRange()[0])
    count = min(spec.columns, (len(samples) - spec.n_fft) // spec.hop + 1)  # filled columns span the file
    for t in (0.0, 0.75, 1.5, 3.0):
        assert _spec_x(spec, count * t / seconds) == pytest.approx(_wave_x(wave, t), abs=1.5), t


def test_a_live_spectrogram_and_waveform_share_one_time_axis(views, qtbot):
    wave, spec = views
    wave.set_overview(np.zeros(SR, np.float32))
    spec.set_overview(np.zeros(SR, np.float32))
    spec.clear()  # a live source starts: both show the last seconds, ending now (0)
    noise = np.random.default_rng(0).normal(0, 0.1, SR * 2).astype(np.float32)
    wave.set_samples(noise)
    spec.append(noise)
    _settle(qtbot)
    assert wave.getPlotItem().vb.viewRange()[0] == pytest.approx([-wave.seconds, 0.0])
    assert spec.plot.getViewBox().viewRange()[0] == pytest.approx([-wave.seconds, 0.0])
    span = spec.columns * spec.hop / SR
    for t in (-6.0, -3.0, -1.0, 0.0):
        assert _spec_x(spec, spec.columns * (t + span) / span) == pytest.approx(_wave_x(wave, t), abs=1.5), t
