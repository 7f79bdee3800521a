"""Start-up on any tab: the last tab's content is at the first paint, and that paint loads no numpy/pyqtgraph/torch.

`sys.modules` is only meaningful in a fresh process (other tests import those
modules), so each start runs `python -m playground --quit-after-show` in a
subprocess; the in-process tests check that the heavy parts come right after.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TAB_CLASSES = ("TextTab", "ImageTab", "SpeechTab", "TrainTab")


def _env(tmp_path: Path) -> dict:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HF_HUB_OFFLINE="1", PLAYGROUND_STARTUP_STAMP="1",
               PLAYGROUND_HOME=str(tmp_path / "home"), XDG_CONFIG_HOME=str(tmp_path / "config"))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return env


@pytest.mark.parametrize("tab", range(len(TAB_CLASSES)), ids=TAB_CLASSES)
def test_the_first_paint_shows_the_last_tab_without_heavy_imports(tmp_path, tab):
    env = _env(tmp_path)
    # The last tab, written through the same Settings() the app reads (whatever file that is).
    subprocess.run([sys.executable, "-c", "import sys\nfrom playground.settings import Key, Settings\n"
                    "s = Settings()\ns.set(Key.LAST_TAB, int(sys.argv[1]))\ns.sync()", str(tab)],
                   env=env, check=True, timeout=60, cwd=ROOT)
    out = subprocess.run([sys.executable, "-m", "playground", "--quit-after-show"], env=env, capture_output=True,
                         text=True, timeout=180, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.splitlines()
    assert lines and lines[0].startswith("first-paint "), out.stdout
    state = dict(part.split("=", 1) for part in next(
        line for line in lines if line.startswith("first-paint-state ")).split()[1:])
    assert state["tab"] == str(tab)
    assert state["content"] == TAB_CLASSES[tab]  # built before the first paint, not after it
    assert state["heavy"] == "", f"{TAB_CLASSES[tab]}: {state['heavy']} imported before the first paint"


def test_the_train_plot_is_made_just_after_the_first_paint(qtbot, main_window):
    from playground.ui.widgets.train_plot import TrainPlot

    main_window.tabs.setCurrentIndex(3)
    tab = main_window.page(3)
    qtbot.waitUntil(lambda: tab._plot_slot.is_built, timeout=10_000)
    assert isinstance(tab.plot, TrainPlot) and tab.plot.isVisible()
    assert tab.plot.parent() is tab._plot_slot


def test_a_train_tab_never_shown_makes_its_plot_when_asked(qtbot, main_window):
    from playground.ui.train_tab import TrainTab
    from playground.ui.widgets.train_plot import TrainPlot

    tab = TrainTab(main_window.ctx)
    qtbot.addWidget(tab)
    assert not tab._plot_slot.is_built
    tab.shutdown()  # closing a tab whose plot was never made does not make it
    assert not tab._plot_slot.is_built
    plot = tab.plot
    assert isinstance(plot, TrainPlot) and tab.plot is plot and tab._plot_slot.is_built
    plot.start_run("run")
    assert tab.plot.current is not None and tab.plot.current.name == "run"


def test_the_speech_views_and_devices_come_just_after_the_first_paint(qtbot, main_window):
    from playground.ui.speech_tab import FILE_SOURCE, NO_MICROPHONE
    from playground.ui.widgets.audio_views import MelSpectrogramView, WaveformView

    main_window.tabs.setCurrentIndex(2)
    tab = main_window.page(2)
    qtbot.waitUntil(lambda: tab._devices_listed and tab._waveform_slot.is_built and tab._spectrogram_slot.is_built,
                    timeout=10_000)
    assert isinstance(tab.waveform, WaveformView) and isinstance(tab.spectrogram, MelSpectrogramView)
    combo = [tab.device_combo.itemData(i) for i in range(tab.device_combo.count())]
    assert combo and combo[-1] == FILE_SOURCE
    if tab.device_combo.currentData() == NO_MICROPHONE:  # a machine without one: Record says why
        assert not tab.record_button.isEnabled() and "microphone" in tab.record_button.toolTip().lower()
    else:
        assert tab.record_button.isEnabled()


def test_the_mel_filter_bank_is_librosas():
    librosa = pytest.importorskip("librosa")
    import numpy as np

    from playground.ui.widgets.audio_views import mel_filters

    for sr, n_fft, n_mels in ((16_000, 512, 64), (16_000, 400, 80), (22_050, 2048, 128)):
        ours = mel_filters(sr, n_fft, n_mels)
        theirs = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmax=sr / 2).astype(np.float32)
        assert ours.dtype == np.float32 and ours.shape == theirs.shape
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-9)
