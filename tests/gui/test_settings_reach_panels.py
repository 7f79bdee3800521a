"""Each setting changes what a panel's job does, not only what is stored.

The Settings dialog of the real window is applied, then the tabs' jobs are looked at (their
arguments, as submitted to the lanes) and run: the default model per task, the device (the Train
tab's default included), "allow remote code" in every loader, the Hub token and offline mode.
"""

from __future__ import annotations

import json
import sys

import pytest

from playground.core.jobs import Job
from playground.settings import Key


def _tab(window, index):
    window.tabs.setCurrentIndex(index)
    return window.page(index)


def _apply(window, **changes):
    dialog = window.show_settings()
    for name, value in changes.items():
        if name == "models":
            for task, model in value.items():
                dialog.model_pickers[task].set_model(model)
        elif name == "device":
            dialog.device_combo.setCurrentIndex(dialog.device_combo.findData(value))
        elif name == "generation":
            dialog.generation_combo.setCurrentIndex(dialog.generation_combo.findData(value))
        elif name == "trust":
            dialog.trust_check.setChecked(value)
        elif name == "token":
            dialog.token_edit.setText(value)
        elif name == "offline":
            dialog.offline_check.setChecked(value)
    dialog.accept()


@pytest.fixture
def submitted(main_window, monkeypatch):
    """Every job the tabs submit, with its lane (the jobs still run)."""
    seen: list[tuple[str, Job]] = []
    original = main_window.lanes.submit

    def spy(job, lane):
        seen.append((lane, job))
        return original(job, lane)

    monkeypatch.setattr(main_window.lanes, "submit", spy)
    return seen


def _last(seen, fn_name):
    return next(job for _lane, job in reversed(seen) if job.fn.__name__ == fn_name)


def test_default_model_per_task_reaches_the_panels(main_window, qtbot, tmp_path, submitted):
    text = _tab(main_window, 0)
    classify = text.select("Classify")
    image = _tab(main_window, 1)
    speech = _tab(main_window, 2)
    assert image.current_model() == "bundled/efficientnet-lite0"
    _apply(main_window, models={"text-classification": "someone/sentiment", "image-classification": str(tmp_path),
                                "speech-recognition": "Systran/faster-whisper-small.en"})
    assert classify.picker.model_id() == "someone/sentiment"
    classify.input.setPlainText("Nice.")
    assert classify.make_job().args[1] == "someone/sentiment"
    assert image.current_model() == str(tmp_path)
    with qtbot.waitSignal(image.batch_finished, timeout=60_000):
        image.open_paths([str(tmp_path / "missing.png")])
    assert _last(submitted, "classify").kwargs["model"] == str(tmp_path)
    assert speech.model_id() == "Systran/faster-whisper-small.en"
    # A new panel (and a restart) starts on it too.
    assert main_window.settings.get_model("text-classification") == "someone/sentiment"


def _tiny_corpus_training(qtbot, train, tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sat on the mat. the dog sat on the log.\n" * 30)
    train.open_paths([str(corpus)])
    qtbot.waitUntil(lambda: train.preview is not None and train.start_button.isEnabled(), timeout=120_000)
    train.extra_options = {"block_size": 16, "layers": 1, "heads": 2, "embed": 32, "eval_every": 10}
    train.steps.setValue(20)
    train.batch.setValue(8)


@pytest.mark.timeout(600)
def test_the_settings_device_reaches_the_train_tabs_default(main_window, qtbot, tmp_path, submitted):
    train = _tab(main_window, 3)
    assert train.device_combo.currentData() is None  # "Default (Settings)"
    missing = "mps" if sys.platform != "darwin" else "cuda"
    _apply(main_window, device=missing)
    _tiny_corpus_training(qtbot, train, tmp_path)
    train.start_button.click()
    qtbot.waitUntil(lambda: train.handle is None, timeout=120_000)
    assert train.last_result is None and "was requested but" in train.status_label.text()
    _apply(main_window, device="cpu")
    train.name_edit.setText("on-cpu")
    train.start_button.click()
    qtbot.waitUntil(lambda: train.handle is None, timeout=300_000)
    assert train.last_result is not None, train.status_label.text()
    assert _last(submitted, "train_charlm").kwargs["device"] is None  # the tab follows Settings


def _remote_code_folder(tmp_path):
    folder = tmp_path / "custom-model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"architectures": ["CustomForSequenceClassification"],
                                                    "auto_map": {"AutoConfig": "custom.CustomConfig"},
                                                    "model_type": "custom"}))
    (folder / "model.safetensors").write_bytes(b"")
    return folder


@pytest.mark.timeout(600)
def test_allow_remote_code_reaches_every_loader(main_window, qtbot, tmp_path, submitted):
    folder = _remote_code_folder(tmp_path)
    classify = _tab(main_window, 0).select("Classify")
    classify.picker.set_model(str(folder))
    classify.input.setPlainText("Nice.")
    with qtbot.waitSignal(classify.failed, timeout=60_000) as refused:
        classify.run()
    assert "needs its own Python code" in refused.args[0]
    assert _last(submitted, "classify").kwargs["trust_remote_code"] is False
    qtbot.waitUntil(lambda: not classify.busy, timeout=10_000)

    _apply(main_window, trust=True)
    assert classify.picker.model_id() == str(folder)  # applying Settings keeps the panel's own choice
    with qtbot.waitSignal(classify.failed, timeout=60_000) as loaded:
        classify.run()
    assert "needs its own Python code" not in loaded.args[0], loaded.args  # past the refusal
    assert _last(submitted, "classify").kwargs["trust_remote_code"] is True

    # The other tabs' loaders get it too: image classification, object detection, file transcription.
    image = _tab(main_window, 1)
    image.set_model(str(folder))
    with qtbot.waitSignal(image.batch_finished, timeout=60_000):
        image.open_paths([str(tmp_path / "missing.png")])
    assert _last(submitted, "classify").kwargs["trust_remote_code"] is True
    image.set_mode("objects")
    panel = image.mode_page("objects")
    with qtbot.waitSignal(panel.job_finished, timeout=120_000):
        panel.set_images([str(tmp_path / "missing.png")])
    assert _last(submitted, "detect_objects").kwargs["trust_remote_code"] is True
    speech = _tab(main_window, 2)
    wav = tmp_path / "a.wav"
    import numpy as np
    import soundfile

    soundfile.write(wav, np.zeros(8000, np.float32), 16000)
    speech.open_paths([str(wav)])
    qtbot.waitUntil(lambda: any(j.fn.__name__ == "transcribe_file" for _l, j in submitted), timeout=60_000)
    assert _last(submitted, "transcribe_file").kwargs["trust_remote_code"] is True
    qtbot.waitUntil(lambda: speech.file_handle is None, timeout=120_000)


@pytest.mark.timeout(300)
def test_hub_token_and_offline_mode_reach_the_download(main_window, qtbot, monkeypatch):
    import huggingface_hub
    from huggingface_hub import constants

    from playground import settings as settings_mod

    monkeypatch.setattr(settings_mod, "_original_env", {})
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    asked: list[str | None] = []

    class ConnectError(Exception):
        pass

    def model_info(self, repo_id, **kwargs):
        asked.append(self.token or huggingface_hub.get_token())
        raise ConnectError("no network in the tests")

    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", model_info)
    classify = _tab(main_window, 0).select("Classify")
    classify.picker.set_model("someone/tiny-sentiment")
    classify.input.setPlainText("Nice.")
    _apply(main_window, token="hf_settings_token_123", offline=False)
    with qtbot.waitSignal(classify.failed, timeout=60_000) as failed:
        classify.run()
    assert asked == ["hf_settings_token_123"] and "Cannot reach the Hugging Face Hub" in failed.args[0]
    qtbot.waitUntil(lambda: not classify.busy, timeout=10_000)
    _apply(main_window, offline=True)
    assert main_window.settings.get(Key.OFFLINE) is True
    with qtbot.waitSignal(classify.failed, timeout=60_000) as failed:
        classify.run()
    assert "offline mode is on" in failed.args[0] and len(asked) == 1  # the Hub was not asked again


def test_the_generation_path_setting_reaches_generate(main_window, qtbot, tmp_path, submitted):
    from tests.unit.test_generation_fast import make_tiny_llama

    panel = _tab(main_window, 0).select("Generate")
    panel.picker.set_model(str(make_tiny_llama(tmp_path / "llama")))
    panel.max_tokens.setValue(4)
    panel.temperature.setValue(0.0)
    for setting, backend in (("auto", "CTranslate2 int8"), ("transformers", "transformers float32")):
        _apply(main_window, generation=setting)
        panel.input.setPlainText("hello")  # (a chat turn empties the input)
        assert main_window.settings.get(Key.GENERATION_BACKEND) == setting
        outcome = []
        panel.failed.connect(outcome.append)
        panel.result_ready.connect(outcome.append)
        panel.run()
        qtbot.waitUntil(lambda: bool(outcome), timeout=60_000)
        assert _last(submitted, "generate").kwargs["backend"] == setting
        assert outcome[0].backend == backend and f"on {backend}" in panel.stats.text()
        qtbot.waitUntil(lambda: not panel.busy, timeout=10_000)
