"""Speech tab and controller: language and task choices, the detected language, each model's measured
real-time factor, the English-only message, and word timing (the played word highlighted, a click on
a word plays from it)."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from speech_support import FakeSoundDevice, speak

from playground.core import audio
from playground.core.transcript import Segment, Word

TIMEOUT = 120_000
BASE = "bundled/whisper-base"
SPANISH = "El perro corre todas las mañanas por el parque y juega con los otros perros."


class PlayingSoundDevice(FakeSoundDevice):
    """play(blocking=True) lasts as long as the audio (stop() ends it), like PortAudio's."""

    def play(self, data, samplerate, blocking=False):
        super().play(data, samplerate, blocking)
        self._stopped = threading.Event()
        if blocking:
            self._stopped.wait(len(data) / samplerate)

    def stop(self):
        if getattr(self, "_stopped", None) is not None:
            self._stopped.set()


@pytest.fixture(scope="module")
def spanish(tmp_path_factory):
    return speak(SPANISH, tmp_path_factory.mktemp("langs-gui") / "es.wav", voice="es", speed=150)


@pytest.fixture
def controller(worker, settings):
    from playground.ui.context import AppContext
    from playground.ui.speech_controller import SpeechController

    made = []

    def make(**kwargs):
        made.append(SpeechController(AppContext(worker, settings, None), **kwargs))
        return made[-1]

    yield make
    for c in made:
        c.shutdown()


def test_pure_helpers():
    from playground.core.speech.languages import options_problem
    from playground.core.speech.session import language_text, rtf_advice, word_index

    assert options_problem("bundled/whisper-tiny.en", "fr", "transcribe").endswith("to transcribe French.")
    assert "cannot translate" in options_problem("bundled/whisper-tiny.en", None, "translate")
    assert options_problem("bundled/whisper-tiny.en", "en", "transcribe") == ""
    assert options_problem(BASE, "fr", "translate") == ""
    assert language_text("fr", 0.93) == "Language: French (fr) detected, 93% sure"
    assert language_text("fr", 1.0) == "Language: French (fr)"
    assert "whisper-tiny.en" in rtf_advice(BASE, 1.3) and rtf_advice(BASE, 0.4) == ""
    seg = Segment(1.0, 2.0, "a b c", (Word(1.0, 1.2, " a", 0.9), Word(1.3, 1.5, " b", 0.9),
                                      Word(1.6, 2.0, " c", 0.9)))
    assert [word_index(seg, t) for t in (0.5, 1.0, 1.25, 1.3, 1.9)] == [-1, 0, 0, 1, 2]


@pytest.mark.slow
def test_english_only_model_refuses_another_language_in_one_sentence(controller, spanish):
    c = controller(sounddevice_importer=lambda name: FakeSoundDevice())
    c.set_language("es")
    assert c.transcribe_file(str(spanish)) is None  # the default model is tiny.en
    assert c.message_is_error and "English only" in c.message and c.message.count(". ") == 0
    assert not c.start_recording(device="x")
    c.set_language("auto")
    c.set_task("translate")
    assert c.transcribe_file(str(spanish)) is None and "cannot translate" in c.message
    # A live session's status carries the language heard.
    from playground.core.speech import live

    c.live_model = BASE
    c._on_live_event(live.LiveStatus(3.0, 0.0, 0.4, True, "fr", 0.8))
    assert c.detected == "Language: French (fr) detected, 80% sure" and c.model_rtf[BASE] == 0.4


@pytest.mark.slow
def test_base_detects_the_language_words_play_and_the_played_word_is_highlighted(qtbot, controller, spanish):
    from playground.ui.speech_tab import SpeechTab

    sd = PlayingSoundDevice()
    c = controller(sounddevice_importer=lambda name: sd)
    with qtbot.waitSignal(c.transcript_done, timeout=TIMEOUT) as done:
        c.transcribe_file(str(spanish), BASE)
    result = done.args[0]
    assert result.language == "es" and c.detected.startswith("Language: Spanish (es) detected")
    assert "Spanish (es)" in c.message
    assert BASE in c.model_rtf and "whisper-base" in c.rtf_summary(BASE)
    seg = c.segment(0)
    assert seg is not None and len(seg.words) >= 3

    # Exports: JSON carries the language and the words; SRT one cue per word.
    import json

    target = Path(str(spanish)).with_name("out.json")
    assert c.save(str(target))
    data = json.loads(target.read_text())
    assert data["language"] == "es" and data["segments"][0]["words"][0]["word"].strip()
    srt = target.with_suffix(".srt")
    assert c.save(str(srt), per="word")
    assert srt.read_text().count(" --> ") == sum(len(s.words) for s in c.segments())

    # Clicking word 2 plays from its start to the segment's end.
    qtbot.waitUntil(lambda: c.file_handle is None, timeout=10_000)
    positions = []
    c.playback_position.connect(lambda i, t: positions.append((i, t)))
    with qtbot.waitSignal(c.playback_changed, timeout=20_000, check_params_cb=lambda playing: not playing):
        assert c.play_word(0, 2)
    samples, _ = sd.played[-1]
    assert np.array_equal(samples, audio.load_range(spanish, seg.words[2].start, seg.end))
    assert positions and positions[0][0] == 0 and positions[0][1] >= seg.words[2].start
    assert [t for _, t in positions] == sorted(t for _, t in positions)

    # The tab: the factors measured before (kept in the settings), language and task pickers,
    # the detected language, word links, the highlight.
    c.measured("bundled/whisper-tiny.en", 0.1)
    c._save_rtf()
    tab = SpeechTab(c.ctx, sounddevice_importer=lambda name: sd)
    qtbot.addWidget(tab)
    try:
        shown = tab.model_rtf_label.text()
        assert "whisper-base" in shown and "whisper-tiny.en 0.10" in shown
        tab.language_combo.setCurrentIndex(tab.language_combo.findData("es"))
        tab.task_combo.setCurrentIndex(tab.task_combo.findData("translate"))
        assert tab.controller.language == "es" and tab.controller.task == "translate"
        tab.language_combo.setCurrentIndex(0)
        tab.task_combo.setCurrentIndex(0)
        tab.controller._add_segment(seg, ("file", str(spanish)), -1)
        tab.controller.language_changed.emit(c.detected)
        assert tab.language_label.text() == c.detected
        tab.view.setCurrentItem(tab.view.topLevelItem(0))
        assert 'href="word:0:2"' in tab.words_label.text()
        highlighted = []
        tab.controller.playback_position.connect(lambda i, t: highlighted.append(tab.playing_word()))
        with qtbot.waitSignal(tab.controller.playback_changed, timeout=20_000,
                              check_params_cb=lambda playing: not playing):
            tab._on_word_clicked("word:0:1")
        assert highlighted and min(h for h in highlighted if h >= 0) >= 1 and max(highlighted) >= 2
        assert tab.playing_word() == -1  # the highlight goes when playback ends
    finally:
        tab.shutdown()
