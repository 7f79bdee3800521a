"""Every CLI command checks its input paths before it loads a model.

`classify-image missing.jpg` used to load the classifier (12 s) before saying the file
does not exist. Now each command with a missing input exits 1 with one line naming the
path, within a moment and without importing torch. (A list of inputs with some there
keeps the batch contract: the missing ones are rows of per-input errors.)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from playground import cli

MISSING = "/nonexistent-dir/missing-input"
ROOT = Path(__file__).resolve().parents[2]


def _leaves(parser, prefix=()):
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield " ".join(prefix), parser
    for action in subs:
        for name, child in action.choices.items():
            yield from _leaves(child, (*prefix, name))


def test_every_positional_path_argument_is_checked():
    for name, parser in _leaves(cli.build_parser()):
        checked = parser.get_default("input_paths") or {}
        for action in parser._actions:
            if not action.option_strings and action.metavar in ("PATH", "FILE", "DIR", "DATA"):
                assert action.dest in checked, f"'{name}' does not check its {action.metavar} argument"


def _cases(tmp: Path) -> list[list[str]]:
    folder, image = str(tmp), str(tmp / "red.png")
    return [
        ["classify-image", MISSING + ".jpg"],
        ["classify-image", MISSING + "-a.jpg", MISSING + "-b.jpg"],  # several, none there
        ["detect-objects", MISSING + ".jpg"],
        ["detect-faces", MISSING + ".jpg", "--blur-to", folder],
        ["transcribe", MISSING + ".wav"],
        ["listen", "--from-file", MISSING + ".wav"],
        ["classify-sound", "--model", MISSING, image],
        ["classify-sound", "--model", folder, MISSING + ".wav"],
        ["evaluate", "--model", "bundled/efficientnet-lite0", MISSING],
        ["export", "--model", MISSING, "--out", str(tmp / "x.onnx")],
        ["export", "--model", folder, "--out", str(tmp / "x.onnx"), "--check-data", MISSING],
        ["finetune", "image", MISSING],
        ["finetune", "text", MISSING + ".csv"],
        ["finetune", "charlm", MISSING + ".txt"],
        ["finetune", "sound", MISSING],
        ["text", "similar", "a", "--query", "q", "--candidates-file", MISSING + ".txt"],
        ["text", "answer", "who?", "--context-file", MISSING + ".txt"],
    ]


_PROBE = """
import contextlib, io, json, sys, time
from playground import cli
out = []
for argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stderr(err):
        code = cli.main(argv)
    out.append({"argv": argv, "code": code, "err": err.getvalue(), "s": time.perf_counter() - start,
                "torch": "torch" in sys.modules})
print(json.dumps(out))
"""


def test_a_missing_input_fails_at_once_without_loading_a_model(tmp_path):
    from PIL import Image

    Image.new("RGB", (8, 8), (200, 30, 30)).save(tmp_path / "red.png")
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONWARNINGS="ignore", PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(_cases(tmp_path))], capture_output=True,
                          text=True, env=env, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    for row in json.loads(proc.stdout):
        lines = [line for line in row["err"].splitlines() if line.strip()]
        assert row["code"] == cli.EXIT_FAILURE, row
        assert len(lines) == 1 and "missing-input" in lines[0] and "not found" in lines[0], row
        assert not row["torch"], f"{row['argv']} imported torch before saying the input is missing"
        assert row["s"] < 2.0, row
