"""`playground FILE...`: files named at start are routed like a drop, in-process and as a real start."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from playground import cli

IMAGE_TAB, SPEECH_TAB = 1, 2


@pytest.fixture
def files(tmp_path):
    png = tmp_path / "red square.png"
    Image.new("RGB", (64, 64), (200, 30, 30)).save(png)
    wav = tmp_path / "tone.wav"
    t = np.arange(16000) / 16000
    sf.write(wav, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 16000)
    return str(png), str(wav)


def test_files_at_start_go_to_their_tabs_and_missing_ones_are_named(main_window, qtbot, files, tmp_path):
    png, wav = files
    ghost = str(tmp_path / "ghost.png")
    image_tab = main_window.page(IMAGE_TAB)
    with qtbot.waitSignal(image_tab.batch_finished, timeout=240_000) as done:
        routing = main_window.open_at_start([png, wav, ghost])
        assert routing.groups == {"image": [png], "speech": [wav]}
        speech_tab = main_window.page(SPEECH_TAB)
        assert speech_tab.file_handle is not None and speech_tab.file_handle.job.args[0] == wav
        assert main_window.tabs.currentIndex() == IMAGE_TAB  # ties: the first named file's tab is shown
        message = main_window.statusBar().currentMessage()
        assert message.startswith("Opened: ") and "1 to Image" in message and "1 to Speech" in message
        assert message.endswith("not found: ghost.png.")
    assert done.args[0] is not None
    assert [item.path for item in image_tab.items] == [png]  # the strip got the file
    assert image_tab.thumbs.count() == 1


def test_only_missing_files_still_open_the_window_with_one_sentence(main_window, tmp_path):
    assert main_window.open_at_start([str(tmp_path / "a.png"), str(tmp_path / "b.wav")]) is None
    assert main_window.statusBar().currentMessage() == "Not found: a.png, b.wav."


def test_parsing_files_versus_sub_commands(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = cli.parse_app_args(["--debug", "cat.png", "--device", "cpu", "talk.wav"])
    assert args.command is None and args.files == ["cat.png", "talk.wav"] and args.debug and args.device == "cpu"
    assert cli.parse_app_args(["--quit-after-show"]).files == []
    # A sub-command wins over a file of the same name; `./name` is the file.
    (tmp_path / "transcribe").write_bytes(b"x")
    assert cli.parse_app_args(["transcribe", "a.wav"]) is None
    assert cli.parse_args(["transcribe", "a.wav"]).command == "transcribe"
    assert cli.parse_app_args(["./transcribe"]).files == ["./transcribe"]
    (tmp_path / "digits").mkdir()
    assert cli.parse_app_args(["digits"]).files == ["digits"]  # an existing bare name that is no command
    assert cli.parse_app_args(["trancsribe"]) is None  # a typo stays a usage error of the full parser
    assert not any("." in name for name in cli.command_names())  # why `name.ext` never needs the lookup


def test_unknown_option_after_files_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.parse_app_args(["cat.png", "--no-such-flag"])
    assert exc.value.code == cli.EXIT_USAGE
    assert capsys.readouterr().err.strip().endswith("unrecognized arguments: --no-such-flag (see --help)")


def test_help_shows_the_file_usage():
    out = subprocess.run([sys.executable, "-m", "playground", "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0
    assert out.stdout.startswith("usage: playground [options] [FILE ...]")
    assert "FILE ...: open the window" in " ".join(out.stdout.split())


def test_quit_after_show_with_files_routes_them_and_exits_0(files, tmp_path):
    png, wav = files
    home = tmp_path / "home"
    env = dict(os.environ, PLAYGROUND_HOME=str(home), XDG_CONFIG_HOME=str(tmp_path / "config"),
               QT_QPA_PLATFORM="offscreen", HF_HUB_OFFLINE="1")
    out = subprocess.run([sys.executable, "-m", "playground", "--quit-after-show", png, wav,
                          str(tmp_path / "ghost.wav")], env=env, capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr[-2000:]
    log_text = (home / "logs" / "playground.log").read_text(encoding="utf-8")
    assert f"Opened from the command line: {png} -> Image tab" in log_text
    assert f"Opened from the command line: {wav} -> Speech tab" in log_text
    assert "ghost.wav" in log_text and "exits with code 0" in log_text


def test_file_urls_open_and_web_addresses_get_a_sentence(main_window, qtbot, files):
    png, _ = files
    from PySide6.QtCore import QUrl

    image_tab = main_window.page(IMAGE_TAB)
    with qtbot.waitSignal(image_tab.batch_finished, timeout=240_000):
        routing = main_window.open_at_start([QUrl.fromLocalFile(png).toString(), "https://example.com/cat.jpg"])
        assert routing.groups == {"image": [png]}
        message = main_window.statusBar().currentMessage()
        assert message.startswith("Opened: ") and "web addresses are not opened (https://example.com/cat.jpg)" in message
    assert main_window.open_at_start(["http://example.com/a.wav"]) is None
    assert main_window.statusBar().currentMessage().startswith("Web addresses are not opened (http://example.com/a.wav)")


def test_a_second_start_hands_its_files_to_the_running_window(files, tmp_path):
    """One window (issue 20): `playground FILE` while the app runs opens FILE in that window (relative
    paths resolved in the second start's folder) and exits 0 at once instead of opening a second one."""
    import time

    png, _ = files
    home = tmp_path / "home"
    env = dict(os.environ, PLAYGROUND_HOME=str(home), XDG_CONFIG_HOME=str(tmp_path / "config"),
               QT_QPA_PLATFORM="offscreen", HF_HUB_OFFLINE="1")
    first = subprocess.Popen([sys.executable, "-m", "playground"], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    log_file = home / "logs" / "playground.log"
    try:
        deadline = time.monotonic() + 180
        while not (log_file.is_file() and "starting" in log_file.read_text(encoding="utf-8")):
            assert first.poll() is None and time.monotonic() < deadline, "the first window did not start"
            time.sleep(0.2)
        second = subprocess.run([sys.executable, "-m", "playground", os.path.basename(png)], env=env,
                                cwd=os.path.dirname(png), capture_output=True, text=True, timeout=60)
        assert second.returncode == 0, second.stderr[-2000:]
        assert "already open" in second.stdout
        while f"Opened from the command line: {png} -> Image tab" not in log_file.read_text(encoding="utf-8"):
            assert first.poll() is None and time.monotonic() < deadline, "the running window never opened the file"
            time.sleep(0.2)
        assert "A second start handed over 1 file(s)" in log_file.read_text(encoding="utf-8")
    finally:
        first.terminate()
        try:
            first.wait(timeout=30)
        except subprocess.TimeoutExpired:
            first.kill()
            first.wait()
