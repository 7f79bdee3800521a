"""The Speech tab's live sound classes: a classifier trained here on espeak-ng words, a fake microphone
saying "stop" then "yes", and the class bars following it."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import sound_support as ss
from speech_support import FakeSoundDevice

pytestmark = pytest.mark.slow
TIMEOUT = 120_000


@pytest.fixture(scope="module")
def sound_model(tmp_path_factory):
    from playground.core.jobs import Job
    from playground.core.runner import run_sync
    from playground.core.training.sound import train_sound_classifier

    root = tmp_path_factory.mktemp("sound-panel")
    data = ss.make_word_folder(root / "data", voices=ss.TRAIN_VOICES[:4], speeds=(150,), seed=3)
    return run_sync(Job(train_sound_classifier, (data, root / "model"), {})).model_dir


def _mic_samples(tmp_path) -> np.ndarray:
    """1 s of noise, "stop", 1.5 s of noise, "yes", 1.5 s of noise (in a voice the model never heard)."""
    rng = np.random.default_rng(9)
    voice = ss.HELD_OUT_VOICES[0]
    parts = [ss.noise(rng, 16000, 0.005)]
    for word in ("stop", "yes"):
        w = ss.spoken(word, voice, 150, tmp_path)
        parts += [0.8 * w / np.abs(w).max() + ss.noise(rng, len(w), 0.005), ss.noise(rng, 24000, 0.005)]
    return np.concatenate(parts).astype(np.float32)


def test_bars_follow_a_fake_microphone(qtbot, worker, settings, sound_model, tmp_path):
    from playground.ui.context import AppContext
    from playground.ui.sound_panel import SoundPanel
    from playground.ui.speech_controller import SpeechController

    sd = FakeSoundDevice(_mic_samples(tmp_path))
    ctx = AppContext(worker, settings, None)
    speech = SpeechController(ctx, sounddevice_importer=lambda name: sd)
    panel = SoundPanel(ctx, speech, device_data=lambda: 1)
    qtbot.addWidget(panel)
    panel.show()
    panel.picker.set_model(sound_model)
    tops = []
    panel.controller.scores.connect(lambda e: tops.append(e.top))
    assert panel.start()
    assert panel.listen_button.text() == "Stop"
    qtbot.waitUntil(lambda: "yes" in tops, timeout=TIMEOUT)
    assert "stop" in tops[:tops.index("yes")], tops  # "stop" came first, as it was said
    assert set(panel.bars) == {*ss.WORDS, ss.NOISE_CLASS}
    assert panel.controller.updates >= 4
    values = {label: bar.value() for label, bar in panel.bars.items()}
    assert all(0 <= v <= 1000 for v in values.values())
    assert panel.top_label.text()
    panel.toggle()
    qtbot.waitUntil(lambda: not panel.controller.listening, timeout=10_000)
    assert panel.listen_button.text() == "Listen"
    assert tops.count(ss.NOISE_CLASS) >= 1  # the noise between the words is called noise
    speech.shutdown()
