"""The CLI contract, for every sub-command: usage errors exit 2 with one line on stderr;
failures (missing file, bad model folder) exit 1 with one line naming the file or model and
the reason; no traceback unless --debug.

Sub-commands are discovered from the parser, so a new command is covered the day it lands.
Most checks run in-process (`cli.main`); a few run `python -m playground` for real.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from playground import cli

MISSING = "/nonexistent-dir/missing-input"


def _leaves(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield prefix, parser
        return
    for action in subs:
        for name, child in action.choices.items():
            yield from _leaves(child, prefix + (name,))


LEAVES = {" ".join(prefix): parser for prefix, parser in _leaves(cli.build_parser()) if prefix}


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{err}"
    assert "Traceback" not in err
    return lines[0]


def test_every_feature_command_is_discovered():
    for name in ("devices", "models", "classify-image", "detect-objects", "detect-faces", "transcribe", "listen",
                 "text embed", "text classify", "text generate"):
        assert name in LEAVES, sorted(LEAVES)


@pytest.mark.parametrize("command", sorted(LEAVES))
def test_unknown_option_is_a_usage_error(command, capsys):
    parser = LEAVES[command]
    required = [x for a in parser._actions if a.option_strings and a.required for x in (a.option_strings[0], "x")]
    for group in parser._mutually_exclusive_groups:
        if group.required:
            required += [group._group_actions[0].option_strings[0], "x"]
    filler = ["x" for _ in _required_positionals(parser)] + required
    with pytest.raises(SystemExit) as stop:
        cli.main([*command.split(), *filler, "--no-such-option-xyz"])
    assert stop.value.code == cli.EXIT_USAGE
    out, err = capsys.readouterr()
    line = _one_line(err)
    assert "error" in line and "--no-such-option-xyz" in line
    assert out == ""


def _required_positionals(parser) -> list[argparse.Action]:
    return [a for a in parser._actions if not a.option_strings and a.nargs not in ("?", "*", argparse.SUPPRESS)
            and not isinstance(a, argparse._SubParsersAction)]


@pytest.mark.parametrize("command", sorted(c for c, p in LEAVES.items()
                                           if _required_positionals(p)
                                           or any(a.required for a in p._actions if a.option_strings)))
def test_missing_arguments_are_a_usage_error(command, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(command.split())
    assert stop.value.code == cli.EXIT_USAGE
    line = _one_line(capsys.readouterr().err)
    assert "required" in line or "arguments" in line


@pytest.mark.parametrize("argv", [
    ["no-such-command"],
    ["text", "no-such-task"],
    ["models", "--task", "no-such-task"],
    ["classify-image", "x.png", "--top-k", "0"],
    ["classify-image", "x.png", "--top-k", "many"],
    ["detect-objects", "x.png", "--threshold", "7"],
    ["transcribe", "x.wav", "--format", "docx"],
])
def test_bad_values_are_usage_errors(argv, capsys):
    try:
        code = cli.main(argv)
    except SystemExit as stop:
        code = stop.code
    assert code == cli.EXIT_USAGE
    _one_line(capsys.readouterr().err)


# -- failures: exit 1, one line naming the file or model and the reason ---------------------


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli-files")
    (root / "empty-model").mkdir()
    bad = root / "junk-model"
    bad.mkdir()
    (bad / "config.json").write_text("{ this is not json")
    (bad / "model.safetensors").write_bytes(b"\x00" * 16)
    (root / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    (root / "corrupt.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x01" * 40)
    (root / "notes.txt").write_text("hello")
    from PIL import Image

    Image.new("RGB", (32, 32), (200, 30, 30)).save(root / "red.png")
    return root


def _failure_cases(files: Path) -> dict[str, list[tuple[list[str], str]]]:
    """command -> [(argv, a name the error line must contain)]."""
    png, empty, junk = str(files / "red.png"), str(files / "empty-model"), str(files / "junk-model")
    return {
        "classify-image": [(["classify-image", MISSING + ".png"], "missing-input.png"),
                           (["classify-image", str(files / "corrupt.png")], "corrupt.png"),
                           (["classify-image", png, "--model", empty], "empty-model")],
        "detect-objects": [(["detect-objects", MISSING + ".jpg"], "missing-input.jpg"),
                           (["detect-objects", png, "--model", junk], "junk-model")],
        "detect-faces": [(["detect-faces", MISSING + ".jpg"], "missing-input.jpg"),
                         (["detect-faces", str(files / "corrupt.png")], "corrupt.png")],
        "transcribe": [(["transcribe", MISSING + ".wav"], "missing-input.wav"),
                       (["transcribe", str(files / "corrupt.wav")], "corrupt.wav"),
                       (["transcribe", str(files / "notes.txt")], "notes.txt")],
        "listen": [(["listen", "--from-file", MISSING + ".wav"], "missing-input.wav")],
        "text embed": [(["text", "embed", "hello", "--model", empty], "empty-model"),
                       (["text", "embed", "hello", "--model", MISSING], "missing-input")],
        "text zero-shot": [(["text", "zero-shot", "hi", "--labels", "a,b", "--model", junk], "junk-model")],
        "text similar": [(["text", "similar", "a", "b", "--query", "q", "--candidates-file", MISSING + ".txt"],
                          "missing-input.txt")],
        "text classify": [(["text", "classify", "hi", "--model", empty], "empty-model"),
                          (["text", "classify", "hi", "--model", "no-such-org/no-such-model"], "no-such-model")],
        "text generate": [(["text", "generate", "hi", "--model", empty], "empty-model")],
        "text answer": [(["text", "answer", "who?", "--context-file", MISSING + ".txt"], "missing-input.txt")],
        "text entities": [(["text", "entities", "Paris", "--model", empty], "empty-model")],
        "text translate": [(["text", "translate", "hello", "--to", "pt", "--model", empty], "empty-model")],
        "finetune image": [(["finetune", "image", MISSING], "missing-input")],
        "finetune text": [(["finetune", "text", MISSING + ".csv"], "missing-input.csv")],
        "finetune charlm": [(["finetune", "charlm", MISSING + ".txt"], "missing-input.txt")],
        "finetune sound": [(["finetune", "sound", MISSING], "missing-input")],
        "classify-sound": [(["classify-sound", "--model", MISSING, str(files / "corrupt.wav")], "missing-input"),
                           (["classify-sound", "--model", empty, str(files / "corrupt.wav")], "empty-model")],
        "evaluate": [(["evaluate", "--model", MISSING, str(files)], "missing-input"),
                     (["evaluate", "--model", empty, str(files)], "empty-model"),
                     (["evaluate", "--model", MISSING + ".onnx", str(files)], "missing-input.onnx")],
        "compare": [(["compare", "--models", MISSING, empty, str(files)], "missing-input"),
                    (["compare", "--models", empty, junk, str(files)], "empty-model"),
                    (["compare", "--models", "bundled/whisper-tiny.en", "bundled/whisper-tiny.en", MISSING],
                     "missing-input")],
        "export": [(["export", "--model", MISSING, "--out", str(files / "x.onnx")], "missing-input"),
                   (["export", "--model", empty, "--out", str(files / "x.onnx")], "empty-model")],
    }


def _generic_case(command: str, parser) -> list[tuple[list[str], str]]:
    """A command this file does not know yet: a missing model folder, or missing input files."""
    options = {s for a in parser._actions for s in a.option_strings}
    if any(a.required for a in parser._actions if a.option_strings):
        return []
    positionals = ["x" for _ in _required_positionals(parser)]
    if "--model" in options:
        return [([*command.split(), *positionals, "--model", MISSING], "missing-input")]
    if positionals:
        return [([*command.split(), *(MISSING + f"-{i}" for i in range(len(positionals)))], "missing-input")]
    return []


ALWAYS_SUCCEED = {"devices", "models"}  # nothing to fail on: covered by --device below


@pytest.mark.parametrize("command", sorted(set(LEAVES) - ALWAYS_SUCCEED))
def test_failures_exit_1_with_one_line_naming_the_input(command, files, capsys):
    cases = _failure_cases(files).get(command) or _generic_case(command, LEAVES[command])
    if not cases:
        pytest.skip(f"no generic failure case for '{command}'")
    for argv, name in cases:
        code = cli.main(argv)
        out, err = capsys.readouterr()
        assert code == cli.EXIT_FAILURE, (argv, code, out, err)
        lines = [line for line in err.splitlines() if line.strip()]
        assert "Traceback" not in err, (argv, err)
        assert len(lines) == 1, (argv, err)
        assert name in lines[0], (argv, lines[0])
        reason = lines[0].split(name, 1)[-1] + lines[0].split(name, 1)[0]
        assert any(w in lines[0].lower() for w in ("not found", "not", "no ", "cannot", "corrupt", "invalid",
                                                    "empty", "unreadable", "missing", "does")), (argv, lines[0])
        assert reason.strip()


@pytest.fixture
def _restore_device_preference():
    from playground.core import devices

    before = devices.get_preference()
    yield
    devices.set_preference(before)


def test_unavailable_device_is_one_line(capsys, _restore_device_preference):
    code = cli.main(["--device", "cuda:7", "devices"])
    err = capsys.readouterr().err
    assert code == cli.EXIT_FAILURE
    line = _one_line(err)
    assert "cuda" in line.lower()


def test_debug_lets_the_traceback_through(files):
    with pytest.raises(Exception) as err:
        cli.main(["--debug", "transcribe", MISSING + ".wav"])
    assert "missing-input.wav" in str(err.value)


def test_json_mode_keeps_stdout_parseable_on_partial_failure(files, capsys):
    code = cli.main(["classify-image", "--json", str(files / "corrupt.png"), str(files / "red.png")])
    out, err = capsys.readouterr()
    assert code == cli.EXIT_FAILURE
    rows = json.loads(out)
    assert len(rows) == 2
    assert "corrupt.png" in rows[0]["error"] and rows[1]["predictions"]
    assert "Traceback" not in err


# -- the real executable -----------------------------------------------------------


def _run(*argv: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONWARNINGS="ignore")
    return subprocess.run([sys.executable, "-m", "playground", *argv], capture_output=True, text=True, env=env,
                          timeout=120, cwd=Path(__file__).resolve().parents[2])


def test_executable_usage_error_exits_2():
    proc = _run("no-such-command")
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_executable_failure_exits_1_and_debug_shows_the_traceback():
    proc = _run("transcribe", MISSING + ".wav")
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "missing-input.wav" in lines[0] and "Traceback" not in proc.stderr
    debug = _run("--debug", "transcribe", MISSING + ".wav")
    assert debug.returncode != 0
    assert "Traceback" in debug.stderr and "missing-input.wav" in debug.stderr
