"""`playground classify-image` end to end with the bundled model (in-process, offline)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from PIL import Image

from playground import cli


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from skimage import data

    root = tmp_path_factory.mktemp("cli")
    (root / "folder" / "nested").mkdir(parents=True)
    Image.fromarray(data.chelsea()).save(root / "cat.png")
    Image.fromarray(data.coffee()).save(root / "folder" / "coffee.jpg")
    Image.fromarray(data.chelsea()).save(root / "folder" / "nested" / "cat2.webp")
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return root


def call(capsys, *argv):
    try:
        code = cli.main(list(map(str, argv)))
    except SystemExit as stop:  # usage errors end in argparse, as for the real executable
        code = stop.code
    out, err = capsys.readouterr()
    return code, out, err


def test_json_array_exit_code_and_folders(files, capsys):
    code, out, err = call(capsys, "classify-image", files / "cat.png", files / "folder", files / "broken.jpg",
                          "--top-k", "3", "--json")
    assert code == 1  # one input failed; the rest are still printed
    data = json.loads(out)
    assert isinstance(data, list) and [d["path"] for d in data] == [
        str(files / "cat.png"), str(files / "folder" / "coffee.jpg"), str(files / "folder" / "nested" / "cat2.webp"),
        str(files / "broken.jpg")]
    cat, coffee, cat2, broken = data
    assert set(cat) == {"path", "predictions"} and len(cat["predictions"]) == 3
    assert all(set(p) == {"label", "score"} and 0 <= p["score"] <= 1 for p in cat["predictions"])
    assert {"tabby", "tiger cat", "Egyptian cat"} & {p["label"] for p in cat["predictions"]}
    assert coffee["predictions"][0]["label"] in {"espresso", "cup", "coffee mug"}
    assert {"tabby", "tiger cat", "Egyptian cat"} & {p["label"] for p in cat2["predictions"]}
    assert broken == {"path": str(files / "broken.jpg"), "error": "broken.jpg: the image is corrupt or truncated."}
    assert err == ""


def test_all_good_exits_zero_and_prints_text(files, capsys):
    code, out, err = call(capsys, "classify-image", files / "cat.png", "--top-k", "2")
    assert code == 0
    line = out.strip()
    assert line.startswith(f"{files / 'cat.png'}: ") and line.count(",") == 1


def test_usage_and_model_errors(files, capsys):
    code, out, err = call(capsys, "classify-image", files / "cat.png", "--top-k", "0")
    assert code == 2 and "--top-k" in err and out == ""
    code, out, err = call(capsys, "classify-image", files / "cat.png", "--model", "/no/such/model")
    assert code == 1 and err == "playground: error: Model folder not found: /no/such/model\n"
    code, out, err = call(capsys, "classify-image", files / "cat.png", "--model", "torchvision/resnet50", "--json")
    assert code == 1 and err.count("\n") == 1 and "resnet50" in err and "Traceback" not in err


@pytest.mark.slow
def test_real_command_offline(files, tmp_path):
    """The installed entry point in a fresh process, with the Hub switched off."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", PLAYGROUND_HOME=str(tmp_path))
    proc = subprocess.run([sys.executable, "-m", "playground", "classify-image", str(files / "folder"), "--json"],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert len(data) == 2 and all("predictions" in d for d in data)
