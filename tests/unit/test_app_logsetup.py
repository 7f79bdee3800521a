"""The rotating log file and the token filter; settings exported to the environment."""

from __future__ import annotations

import logging
import os

import pytest

from playground import logsetup
from playground.core import paths

TOKEN = "hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123"


@pytest.fixture
def logfile():
    path = logsetup.setup_logging(logging.DEBUG)
    yield path
    logsetup.shutdown_logging()


def test_log_file_lives_in_the_user_log_folder(logfile):
    assert logfile.parent == paths.log_dir()
    logging.getLogger("playground.test").info("hello from the test")
    assert any("hello from the test" in line for line in logsetup.tail(5))
    handler = next(h for h in logging.getLogger().handlers if getattr(h, "baseFilename", None) == str(logfile))
    assert isinstance(handler, logging.handlers.RotatingFileHandler)
    assert handler.maxBytes > 0 and handler.backupCount >= 1
    # Calling it again does not add a second handler.
    logsetup.setup_logging()
    assert sum(getattr(h, "baseFilename", None) == str(logfile) for h in logging.getLogger().handlers) == 1


def test_token_never_reaches_the_log(logfile):
    log = logging.getLogger("playground.test")
    log.warning("token in the message %s", TOKEN)
    log.warning("token in args: %s / %r", TOKEN, {"Authorization": f"Bearer {TOKEN}"})
    log.info(f"token in an f-string {TOKEN}")
    try:
        raise RuntimeError(f"401 for token {TOKEN}")
    except RuntimeError:
        log.exception("a failed request")
    logsetup.add_secret("my-private-token-42")  # a token without the hf_ prefix
    log.error("custom secret: my-private-token-42")
    text = logfile.read_text(encoding="utf-8")
    assert TOKEN not in text and "hf_AbCd" not in text and "my-private-token-42" not in text
    assert text.count("hf_***") >= 4
    assert "RuntimeError: 401 for token hf_***" in text and "a failed request" in text


def test_log_rotates(monkeypatch):
    monkeypatch.setattr(logsetup, "MAX_BYTES", 2000)
    path = logsetup.setup_logging()
    try:
        for i in range(100):
            logging.getLogger("playground.test").info("line %03d %s", i, "x" * 40)
        assert path.with_name(path.name + ".1").is_file()
        assert path.stat().st_size <= 2000
    finally:
        logsetup.shutdown_logging()


def test_apply_environment_sets_and_restores(monkeypatch, settings, tmp_path):
    from playground.settings import Key, apply_environment

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr("playground.settings._original_env", {})
    settings.set(Key.MODELS_DIR, str(tmp_path / "mine"))
    settings.set(Key.HUB_TOKEN, TOKEN)
    settings.set(Key.OFFLINE, True)
    apply_environment(settings)
    assert os.environ["HF_TOKEN"] == TOKEN and os.environ["HF_HUB_OFFLINE"] == "1"
    assert paths.models_dir() == tmp_path / "mine"
    assert logsetup.mask(f"x {TOKEN} y") == "x hf_*** y"
    # Off / empty again: back to what the environment had at start-up.
    settings.set(Key.MODELS_DIR, "")
    settings.set(Key.HUB_TOKEN, "")
    settings.set(Key.OFFLINE, False)
    apply_environment(settings)
    assert "HF_TOKEN" not in os.environ and "PLAYGROUND_MODELS_DIR" not in os.environ
    assert os.environ["HF_HUB_OFFLINE"] == "1"  # it was set before the app started
