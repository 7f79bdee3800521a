"""The Train tab's "Sound classes" job: hold a button to record one-second clips from a (fake)
microphone into a class, and a run on a folder of spoken words that lands in the pickers' task."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import sound_support as ss
from speech_support import FakeSoundDevice

from playground.ui.context import AppContext


@pytest.fixture
def tab(qtbot, worker, settings):
    from playground.ui.train_tab import build

    widget = build(AppContext(worker, settings, None))
    qtbot.addWidget(widget)
    widget.resize(1100, 760)
    widget.show()
    yield widget
    widget.shutdown()


def _choose_sound(tab) -> None:
    index = next(i for i in range(tab.kind_combo.count()) if tab.kind_combo.itemData(i) == "sound")
    tab.kind_combo.setCurrentIndex(index)


def test_holding_the_button_records_one_second_clips_into_the_class(qtbot, tab, tmp_path):
    from playground.core.speech import sources

    rec = tab.sound_recorder
    assert not rec.isVisible()
    _choose_sound(tab)
    assert rec.isVisible() and not tab.head_only.isVisible() and tab.epochs.isVisible()
    assert rec.classes() == [ss.NOISE_CLASS]
    rec.folder = tmp_path / "my-sounds"
    sd = FakeSoundDevice(np.full(16000 * 30, 0.05, np.float32))
    rec._source_factory = lambda: sources.MicrophoneSource(sd, device=1)
    rec.new_class.setText("clap")
    rec.add_class_from_field()
    assert rec.classes() == [ss.NOISE_CLASS, "clap"] and rec.class_combo.currentText() == "clap"
    rec.hold_button.pressed.emit()
    assert rec.recording
    qtbot.wait(2600)
    rec.hold_button.released.emit()
    assert not rec.recording
    clips = sorted((rec.folder / "clap").glob("*.wav"))
    assert 2 <= len(clips) <= 3  # every second held is a clip; a last part over 0.3 s is padded
    from playground.core import audio

    assert all(len(audio.load(c)) == 16000 for c in clips)
    assert "clap: " in rec.counts_label.text()
    # The recordings folder became the tab's data (one class only yet: the check says so).
    qtbot.waitUntil(lambda: tab.path_edit.text() == str(rec.folder), timeout=10_000)
    assert tab.kind == "sound"


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_sound_run_from_the_tab_saves_an_audio_classifier(qtbot, tab, tmp_path):
    from playground.core import models

    data = ss.make_word_folder(tmp_path / "words", voices=ss.TRAIN_VOICES[:3], speeds=(150,), seed=5)
    tab.open_paths([str(data)])
    qtbot.waitUntil(lambda: tab.preview is not None, timeout=60_000)
    assert tab.kind == "sound" and "audio clips in 4 classes" in tab.preview.summary
    tab.epochs.setValue(30)
    tab.start_button.click()
    qtbot.waitUntil(lambda: tab.handle is None, timeout=300_000)
    result = tab.last_result
    assert result is not None and result.task == "audio-classification"
    meta = models.read_marker(Path(result.model_dir))
    assert meta["features"] == "whisper" and len(meta["labels"]) == 4


def test_the_recorder_records_from_the_input_chosen_in_its_list(qtbot, tmp_path):
    from playground.core.speech import input_devices, sources, system_audio
    from playground.ui.sound_recorder import SoundRecorder

    devices = [
        {"name": "Built-in microphone", "index": 0, "hostapi": 0, "max_input_channels": 1, "default_samplerate": 16000.0},
        {"name": "USB microphone", "index": 3, "hostapi": 0, "max_input_channels": 1, "default_samplerate": 16000.0},
        {"name": "pulse", "index": 5, "hostapi": 0, "max_input_channels": 32, "default_samplerate": 16000.0},
    ]
    sd = FakeSoundDevice(np.full(16000 * 30, 0.05, np.float32), devices=devices)
    sd.default = type(sd.default)([0, -1])
    monitor = system_audio.SystemSource("Monitor of Speakers", "pulse", "vmic.monitor")
    listed = system_audio.SourceList(microphones=input_devices.list_input_devices(sd), system=[monitor])
    rec = SoundRecorder(folder=tmp_path / "sounds", lister=lambda: listed, sounddevice=sd)
    qtbot.addWidget(rec)
    assert [rec.input_combo.itemText(i) for i in range(rec.input_combo.count())] == ["Default microphone"]
    assert rec.refresh_inputs() == 4
    labels = [rec.input_combo.itemText(i) for i in range(rec.input_combo.count())]
    assert labels[0] == "Default microphone" and labels[-1] == "What the computer plays: Monitor of Speakers"
    assert any(label.startswith("USB microphone") for label in labels)
    rec.input_combo.setCurrentIndex(next(i for i, label in enumerate(labels) if label.startswith("USB")))
    assert rec.refresh_inputs() == 4 and rec.input_combo.currentText().startswith("USB")  # the choice stays
    source = rec._make_source()  # noqa: SLF001
    assert isinstance(source, sources.MicrophoneSource) and source.device.index == 3
    rec.input_combo.setCurrentIndex(rec.input_combo.count() - 1)
    system = rec._make_source()  # noqa: SLF001
    assert isinstance(system, system_audio.SystemAudioSource) and system.system == monitor
    rec.input_combo.setCurrentIndex(0)
    assert rec._make_source().device.index == 0  # noqa: SLF001 - the system's default input
