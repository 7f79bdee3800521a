"""What the end-to-end tests share."""

from __future__ import annotations

import signal

import pytest


@pytest.fixture(autouse=True)
def restore_sigint():
    """`playground` commands install their own Ctrl+C handler: the next test starts with Python's."""
    yield
    signal.signal(signal.SIGINT, signal.default_int_handler)
