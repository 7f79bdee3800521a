"""`playground detect-objects` and `playground detect-faces`: JSON shapes, per-file errors, exit codes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from playground import cli


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    from skimage import data

    root = tmp_path_factory.mktemp("cli_photos")
    Image.fromarray(data.coffee()).save(root / "coffee.jpg", quality=92)
    Image.fromarray(data.astronaut()).save(root / "astronaut.png")
    (root / "notes.txt").write_text("not an image")
    (root / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    return root


def run(capsys, *argv):
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_detect_objects_json_shape(capsys, photos):
    code, out, err = run(capsys, "detect-objects", str(photos / "coffee.jpg"), "--json")
    assert code == 0, err
    data = json.loads(out)
    assert isinstance(data, list) and len(data) == 1
    entry = data[0]
    assert set(entry) == {"path", "objects"} and entry["path"] == str(photos / "coffee.jpg")
    labels = [o["label"] for o in entry["objects"]]
    assert labels and labels[0] == "cup"
    for o in entry["objects"]:
        assert set(o) == {"label", "score", "box"} and len(o["box"]) == 4 and o["score"] >= 0.25
        assert 0 <= o["box"][0] < o["box"][2] <= 600 and 0 <= o["box"][1] < o["box"][3] <= 400


def test_detect_objects_threshold_and_per_file_errors(capsys, photos):
    code, out, err = run(capsys, "detect-objects", str(photos / "bad.png"), str(photos / "coffee.jpg"),
                         "--threshold", "0.99", "--json")
    assert code == 1
    data = json.loads(out)
    assert data[0]["path"].endswith("bad.png") and "error" in data[0] and "objects" not in data[0]
    assert data[1]["objects"] == []  # nothing is that sure
    assert "bad.png" in err and "Traceback" not in err


def test_detect_objects_folder_expands_to_images(capsys, photos):
    code, out, _ = run(capsys, "detect-objects", str(photos), "--json")
    paths = [d["path"] for d in json.loads(out)]
    assert sorted(p.rsplit("/", 1)[-1] for p in paths) == ["astronaut.png", "bad.png", "coffee.jpg"]
    assert code == 1  # bad.png failed


def test_usage_errors_exit_2(photos, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["detect-objects", str(photos / "coffee.jpg"), "--threshold", "7"])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        cli.main(["detect-faces"])
    assert info.value.code == 2


def test_torchvision_model_offline_is_one_line(capsys, photos, monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    code, out, err = run(capsys, "detect-objects", str(photos / "coffee.jpg"), "--model",
                         "torchvision/ssdlite320_mobilenet_v3_large", "--json")
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "ssdlite320_mobilenet_v3_large_coco-a79551df.pth" in err


def test_detect_faces_json_and_blur_to(capsys, photos, tmp_path):
    out_dir = tmp_path / "blurred"
    code, out, err = run(capsys, "detect-faces", str(photos / "astronaut.png"), str(photos / "coffee.jpg"),
                         str(photos / "bad.png"), "--blur-to", str(out_dir), "--json")
    assert code == 1  # bad.png
    data = {d["path"].rsplit("/", 1)[-1]: d for d in json.loads(out)}
    astro, coffee, bad = data["astronaut.png"], data["coffee.jpg"], data["bad.png"]
    assert set(astro) == {"path", "faces", "blurred"}
    assert len(astro["faces"]) == 1 and set(astro["faces"][0]) == {"score", "box"}
    assert astro["faces"][0]["score"] >= 0.95
    assert coffee["faces"] == []
    assert set(bad) == {"path", "error"}
    assert astro["blurred"] == str(out_dir / "astronaut.png")
    blurred = Image.open(astro["blurred"])
    original = Image.open(photos / "astronaut.png")
    assert (blurred.format, blurred.size) == (original.format, original.size)
    x0, y0, x1, y1 = (int(v) for v in astro["faces"][0]["box"])
    a, b = np.asarray(original, dtype=float), np.asarray(blurred, dtype=float)
    assert np.abs(np.diff(b[y0:y1, x0:x1], axis=1)).mean() < 0.2 * np.abs(np.diff(a[y0:y1, x0:x1], axis=1)).mean()
    assert np.array_equal(a[300:], b[300:])
    assert Image.open(coffee["blurred"]).format == "JPEG"
    # Without --blur-to, "blurred" is null; the original files are untouched.
    code, out, _ = run(capsys, "detect-faces", str(photos / "astronaut.png"), "--json", "--landmarks")
    (entry,) = json.loads(out)
    assert code == 0 and entry["blurred"] is None and len(entry["faces"][0]["landmarks"]) == 5
    assert np.array_equal(np.asarray(Image.open(photos / "astronaut.png")), a.astype(np.uint8))


def test_plain_text_output(capsys, photos):
    code, out, _ = run(capsys, "detect-objects", str(photos / "coffee.jpg"))
    assert code == 0 and out.startswith(str(photos / "coffee.jpg") + ": cup 0.")


def test_detect_objects_names_the_best_candidates_when_nothing_passes(capsys, tmp_path):
    from skimage import data

    Image.fromarray(data.chelsea()).save(tmp_path / "chelsea.png")
    code, out, err = run(capsys, "detect-objects", str(tmp_path / "chelsea.png"))
    assert code == 0, err
    assert out.startswith(f"{tmp_path / 'chelsea.png'}: no objects at or above 0.25 (best below it: cat 0.0")
    code, out, _ = run(capsys, "detect-objects", str(tmp_path / "chelsea.png"), "--json")
    entry = json.loads(out)[0]
    assert entry["objects"] == [] and entry["candidates"][0]["label"] == "cat"
