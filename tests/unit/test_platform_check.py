"""When Qt cannot open the window, `playground` says why in one sentence (issue 20)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from playground.ui import platform_check


def test_debian_package_names_follow_the_soname_rule():
    assert platform_check.debian_package("libxcb-icccm.so.4") == "libxcb-icccm4"
    assert platform_check.debian_package("libxkbcommon-x11.so.0") == "libxkbcommon-x11-0"
    assert platform_check.debian_package("libX11-xcb.so.1") == "libx11-xcb1"
    assert platform_check.debian_package("libglib-2.0.so.0") == "libglib2.0-0"


def test_missing_libraries_give_one_sentence_with_the_apt_command():
    text = platform_check.explain(["libxcb-icccm.so.4", "libxcb-keysyms.so.1"], ":0")
    assert "\n" not in text
    assert text.endswith("sudo apt-get install libxcb-icccm4 libxcb-keysyms1")
    assert "libxcb-icccm.so.4, libxcb-keysyms.so.1" in text


@pytest.mark.skipif(not sys.platform.startswith("linux") or platform_check.xcb_plugin() is None,
                    reason="Qt's xcb plugin is Linux's")
def test_no_display_is_one_line_and_exit_1_not_a_qt_abort(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env |= {"QT_QPA_PLATFORM": "xcb", "PLAYGROUND_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "playground", "--quit-after-show"], capture_output=True, text=True,
                         timeout=120, env=env)
    assert out.returncode == 1, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("The window cannot open: no display was found"), lines
    assert "xcb-cursor0" not in out.stderr  # Qt's misleading line is held back
