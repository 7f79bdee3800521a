"""The settings dialog: round trip through a throw-away store, and what applying changes."""

from __future__ import annotations

import logging
import os

from PySide6.QtWidgets import QLineEdit

from playground import logsetup
from playground.core import devices, paths
from playground.settings import Key, Settings
from playground.ui.settings_dialog import SettingsDialog

TOKEN = "hf_SettingsDialogToken987654"


def test_round_trip(qtbot, settings, tmp_path, monkeypatch):
    monkeypatch.setattr("playground.settings._original_env", {})
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    dialog = SettingsDialog(settings)
    qtbot.addWidget(dialog)
    # Defaults shown.
    assert dialog.device_combo.currentData() == "auto"
    assert dialog.theme_combo.currentData() == "system"
    assert not dialog.trust_check.isChecked() and not dialog.offline_check.isChecked()
    assert dialog.token_edit.echoMode() == QLineEdit.EchoMode.Password

    dialog.device_combo.setCurrentIndex(dialog.device_combo.findData("cpu"))
    dialog.theme_combo.setCurrentIndex(dialog.theme_combo.findData("dark"))
    dialog.models_dir_edit.setText(str(tmp_path / "my-models"))
    dialog.token_edit.setText(TOKEN)
    dialog.offline_check.setChecked(True)
    combo = dialog.model_combos["text-generation"]
    combo.setCurrentIndex(combo.findData("openai-community/gpt2"))
    dialog.model_combos["image-classification"].setEditText("/some/local/folder")
    dialog.accept()

    assert settings.get(Key.DEVICE) == "cpu" and devices.get_preference() == "cpu"
    assert settings.get(Key.THEME) == "dark"
    assert settings.get(Key.HUB_TOKEN) == TOKEN and os.environ["HF_TOKEN"] == TOKEN
    assert settings.get(Key.OFFLINE) is True and os.environ["HF_HUB_OFFLINE"] == "1"
    assert constants.HF_HUB_OFFLINE is True  # an already-imported huggingface_hub follows the setting
    assert paths.models_dir() == tmp_path / "my-models"
    assert settings.get_model("text-generation") == "openai-community/gpt2"
    assert settings.get_model("image-classification") == "/some/local/folder"
    assert settings.get_model("speech-recognition") == ""  # left at the app default

    # A fresh store on the same file reads the same values back, and a new dialog shows them.
    again = Settings.in_file(settings.file_name)
    second = SettingsDialog(again)
    qtbot.addWidget(second)
    v = second.values()
    assert v["device"] == "cpu" and v["theme"] == "dark" and v["token"] == TOKEN and v["offline"]
    assert v["models_dir"] == str(tmp_path / "my-models")
    assert v["models"]["text-generation"] == "openai-community/gpt2"
    assert v["models"]["image-classification"] == "/some/local/folder"
    assert v["models"]["speech-recognition"] == ""
    devices.set_preference("auto")


def test_trust_remote_code_warns_when_switched_on(qtbot, settings):
    dialog = SettingsDialog(settings)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.tabs.setCurrentIndex(2)  # Hub and safety
    assert dialog.trust_check.isVisible() and not dialog.trust_warning.isVisible()
    dialog.trust_check.setChecked(True)
    assert dialog.trust_warning.isVisible() and "trust" in dialog.trust_warning.text()
    dialog.apply()
    assert settings.get(Key.TRUST_REMOTE_CODE) is True
    dialog.trust_check.setChecked(False)
    assert not dialog.trust_warning.isVisible()


def test_applying_from_the_window_sets_theme_and_refreshes_device(main_window, qtbot, monkeypatch):
    refreshed = []
    monkeypatch.setattr(main_window, "refresh_device", lambda: refreshed.append(True))
    dialog = main_window.show_settings()
    dialog.theme_combo.setCurrentIndex(dialog.theme_combo.findData("light"))
    dialog.device_combo.setCurrentIndex(dialog.device_combo.findData("cpu"))
    dialog.apply()
    assert main_window.theme_actions["light"].isChecked()
    assert refreshed == [True]
    dialog.apply()  # nothing changed: no second device refresh
    assert refreshed == [True]
    dialog.close()
    devices.set_preference("auto")


def test_token_from_settings_is_masked_in_the_log(qtbot, settings, monkeypatch):
    monkeypatch.setattr("playground.settings._original_env", {})
    monkeypatch.delenv("HF_TOKEN", raising=False)
    path = logsetup.setup_logging()
    try:
        dialog = SettingsDialog(settings)
        qtbot.addWidget(dialog)
        dialog.token_edit.setText("plain-token-without-prefix-1234")
        dialog.apply()
        logging.getLogger("huggingface_hub.test").warning(
            "request with Authorization: Bearer %s", os.environ["HF_TOKEN"])
        text = path.read_text(encoding="utf-8")
        assert "Bearer ***" in text and "plain-token-without-prefix-1234" not in text
    finally:
        logsetup.shutdown_logging()
