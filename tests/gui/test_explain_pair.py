"""From the confusion matrix down: clicking an example of a cell opens its explanation for the predicted
and for the true class side by side (an image's maps, a text's words, a sound's moments); and the live
sound panel's "Why?" on the last second heard."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

import explain_support as es
from playground.core import models
from playground.core.evaluate import Evaluation, Example
from playground.ui.context import AppContext

TIMEOUT = 120_000


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("why-pair")
    digits, held = es.train_digit_classifier(root / "digits", epochs=5)
    sentiment, _ = es.sentiment_classifier(root / "reviews")
    beeps = es.train_beep_classifier(root / "beeps")
    yield {"root": root, "digits": str(digits), "held": held, "sentiment": sentiment, "beeps": beeps}
    models.cache.clear()


@pytest.fixture
def panel(qtbot, worker, settings):
    from playground.ui.evaluation_panel import EvaluationPanel

    p = EvaluationPanel(AppContext(worker, settings, None))
    qtbot.addWidget(p)
    p.resize(1000, 800)
    p.show()
    yield p
    if p.why_dialog is not None:
        p.why_dialog.close()


def open_example(qtbot, panel, evaluation, model, task, true, predicted):
    """Show the evaluation, open the (true, predicted) cell and click its first example; the dialog."""
    from PySide6.QtCore import Qt

    panel.set_model(model, task)
    panel.view.show_evaluation(evaluation)
    view = panel.view
    qtbot.mouseClick(view.matrix, Qt.MouseButton.LeftButton, pos=view.matrix.cell_rect(true, predicted).center())
    shown = set()
    if evaluation.kind == "image":
        rect = view.gallery.visualItemRect(view.gallery.item(0))
        qtbot.mouseClick(view.gallery.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    else:
        rect = view.texts.visualItemRect(view.texts.item(0, 0))
        qtbot.mouseClick(view.texts.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    dialog = panel.why_dialog
    assert dialog is not None and dialog.isVisible()
    dialog.shown.connect(shown.add)
    dialog.failed.connect(lambda c, m: pytest.fail(m))
    qtbot.waitUntil(lambda: shown == {0, 1}, timeout=TIMEOUT)
    return dialog


def test_an_image_example_predicted_and_true_side_by_side(qtbot, panel, trained):
    images, labels = es.digit_images()
    i = trained["held"][0]
    path = trained["root"] / "held.png"
    images[i].save(path)
    wrong = (labels[i] + 1) % 10  # shown as if the model had said another digit
    names = [str(d) for d in range(10)]
    evaluation = Evaluation("digits", "image", str(trained["root"]), names, [Example(str(path), labels[i], wrong, 0.6)])
    dialog = open_example(qtbot, panel, evaluation, trained["digits"], "image-classification", labels[i], wrong)
    assert dialog.classes == [str(wrong), str(labels[i])]
    assert all(v.has_overlay() for v in dialog.views)
    assert dialog.notes[0].text().startswith(f"Red: where it sees '{wrong}' (grad-cam")
    assert dialog.notes[1].text().startswith(f"Red: where it sees '{labels[i]}' (grad-cam")


def test_a_text_example_predicted_and_true_side_by_side(qtbot, panel, trained):
    review = "The concert was dreadful, honestly."
    evaluation = Evaluation("reviews", "text", "x.csv", ["negative", "positive"], [Example(review, 0, 1, 0.7)])
    dialog = open_example(qtbot, panel, evaluation, trained["sentiment"], "text-classification", 0, 1)
    predicted, true = (v.explanation for v in dialog.views)
    assert (predicted.label, true.label) == ("positive", "negative")
    assert min(predicted.tokens, key=lambda t: t.score).token == "dreadful"  # against 'positive' ...
    assert true.top(1)[0].token == "dreadful"  # ... and for 'negative'
    assert all(v.badge.text().startswith("trust: ") for v in dialog.views)


def test_a_sound_example_predicted_and_true_side_by_side(qtbot, panel, trained):
    path = trained["root"] / "beep.wav"
    soundfile.write(path, es.beep_clip(0.6, seed=77), 16000)
    labels = ["beep", "background noise"]
    evaluation = Evaluation("beeps", "sound", str(trained["root"]), labels, [Example(str(path), 0, 1, 0.55)])
    dialog = open_example(qtbot, panel, evaluation, trained["beeps"], "audio-classification", 0, 1)
    predicted, true = (v.explanation for v in dialog.views)
    assert (predicted.label, true.label) == ("background noise", "beep")
    assert 0.55 <= true.peak_time <= 0.8  # the beep made 'beep'
    assert "most at" in dialog.notes[1].text()


def test_the_live_sound_panel_explains_the_last_second(qtbot, worker, settings, trained):
    from playground.ui.sound_panel import SoundPanel
    from playground.ui.speech_controller import SpeechController
    from speech_support import FakeSoundDevice

    mic = np.concatenate([es.beep_clip(None, 1), es.beep_clip(0.5, 2), es.beep_clip(None, 3)])
    sd = FakeSoundDevice(mic)
    ctx = AppContext(worker, settings, None)
    speech = SpeechController(ctx, sounddevice_importer=lambda name: sd)
    sound_panel = SoundPanel(ctx, speech, device_data=lambda: 1)
    qtbot.addWidget(sound_panel)
    sound_panel.show()
    sound_panel.picker.set_model(trained["beeps"])
    assert not sound_panel.why_button.isEnabled()
    heard = []
    sound_panel.controller.scores.connect(lambda e: heard.append(e.top))
    assert sound_panel.start()
    qtbot.waitUntil(lambda: "beep" in heard, timeout=TIMEOUT)
    sound_panel.toggle()
    qtbot.waitUntil(lambda: not sound_panel.controller.listening, timeout=10_000)
    last = sound_panel.controller.last
    assert sound_panel.why_button.isEnabled() and last.clip is not None
    sound_panel.why_button.click()
    qtbot.waitUntil(lambda: sound_panel.waveform.explanation is not None, timeout=TIMEOUT)
    why = sound_panel.waveform.explanation
    assert why.label == last.top and sound_panel.waveform.isVisible()
    if why.label == "beep":  # the loudest 10 ms of the second heard is where it decided
        loudest = int(np.argmax(np.abs(last.clip))) / 16000
        assert abs(why.peak_time - loudest) < 0.2
    assert "Red: the moments that made it" in sound_panel.message.text()
    speech.shutdown()
