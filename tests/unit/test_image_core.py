"""The image engine with the real bundled model (offline): classes, formats, bad input, Grad-CAM, sources."""

from __future__ import annotations

import http.server
import io
import json
import struct
import threading
import zlib

import numpy as np
import pytest
from PIL import Image

from playground.core import image, models
from playground.core.errors import ModelError
from playground.core.explain import image as explain_image
from playground.core.jobs import Job, JobContext
from playground.core.runner import run_sync

CATS = {"tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat", "lynx", "cougar"}
COFFEE = {"espresso", "cup", "coffee mug"}


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    from skimage import data

    root = tmp_path_factory.mktemp("photos")
    cat = Image.fromarray(data.chelsea())
    cat.save(root / "cat.jpg", quality=92)
    Image.fromarray(data.coffee()).save(root / "coffee.png")
    return root


@pytest.fixture(scope="module")
def bundled():
    return image.load_classifier(image.DEFAULT_MODEL, device="cpu")


def run(sources, **kw):
    events = []
    summary = run_sync(Job(image.classify, (list(map(str, sources)),), {"device": "cpu", **kw}), events.append)
    return summary, events


def labels(result, k=3):
    return [p.label for p in result.predictions[:k]]


def test_cat_and_coffee_real_model(photos, bundled):
    summary, events = run([photos / "cat.jpg", photos / "coffee.png"], top_k=5)
    cat, coffee = summary.results
    assert cat.ok and coffee.ok
    assert CATS & set(labels(cat, 3)), labels(cat, 5)
    assert coffee.top.label in COFFEE, labels(coffee, 5)
    assert len(cat.predictions) == 5
    scores = [p.score for p in cat.predictions]
    assert scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1.0001
    # one event per input, in order, after the start event
    rows = [e for e in events if isinstance(e, image.ImageResult)]
    assert [r.path for r in rows] == [str(photos / "cat.jpg"), str(photos / "coffee.png")]
    started = next(e for e in events if isinstance(e, image.ClassifyStarted))
    assert started.total == 2 and started.device == "cpu"
    assert cat.thumbnail is not None and max(cat.thumbnail.width, cat.thumbnail.height) == image.THUMB_SIZE
    assert len(cat.thumbnail.rgb) == cat.thumbnail.width * cat.thumbnail.height * 3
    assert summary.images_per_s > 0


def _every_format(root, cat: Image.Image) -> dict[str, tuple[int, int]]:
    """Write the cat in every format of the issue; returns file -> expected upright (width, height)."""
    w, h = cat.size
    out = {}
    cat.save(root / "plain.jpg")
    out["plain.jpg"] = (w, h)
    rgba = cat.convert("RGBA")
    alpha = Image.new("L", cat.size, 255)
    alpha.paste(0, (0, 0, w // 8, h))  # a transparent strip: composited over white
    rgba.putalpha(alpha)
    rgba.save(root / "alpha.png")
    out["alpha.png"] = (w, h)
    cat.save(root / "cat.webp", quality=90)
    out["cat.webp"] = (w, h)
    cat.save(root / "cat.bmp")
    out["cat.bmp"] = (w, h)
    other = Image.new("RGB", cat.size, (0, 0, 255))
    cat.save(root / "anim.gif", save_all=True, append_images=[other], duration=100)
    out["anim.gif"] = (w, h)
    grey16 = (np.asarray(cat.convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
    Image.fromarray(grey16).save(root / "grey16.tif")
    assert Image.open(root / "grey16.tif").mode.startswith("I;16")
    out["grey16.tif"] = (w, h)
    cat.convert("CMYK").save(root / "cmyk.jpg")
    out["cmyk.jpg"] = (w, h)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when shown
    cat.transpose(Image.Transpose.ROTATE_90).save(root / "rotated.jpg", exif=exif)
    out["rotated.jpg"] = (w, h)
    return out


def test_every_format_classifies(photos, bundled, tmp_path):
    cat = Image.open(photos / "cat.jpg").convert("RGB")
    expected = _every_format(tmp_path, cat)
    summary, _ = run([tmp_path / name for name in expected], top_k=5)
    for result in summary.results:
        name = result.path.rsplit("/", 1)[-1]
        assert result.ok, (name, result.error)
        assert (result.width, result.height) == expected[name], name
        if name != "grey16.tif":  # colour versions of the cat stay a cat
            assert CATS & set(labels(result, 5)), (name, labels(result, 5))


def _png_header_only(path, width: int, height: int) -> None:
    """A tiny PNG file whose header claims width x height (a decompression bomb's signature)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = zlib.compress(b"\x00" * 64)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b""))


def test_bad_files_get_their_own_rows(photos, bundled, tmp_path):
    good = photos / "cat.jpg"
    whole = good.read_bytes()
    (tmp_path / "truncated.jpg").write_bytes(whole[: len(whole) // 3])
    (tmp_path / "random.jpg").write_bytes(bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8)))
    (tmp_path / "notes.png").write_text("this is text, not a picture")
    (tmp_path / "empty.gif").write_bytes(b"")
    _png_header_only(tmp_path / "bomb.png", 30000, 30000)
    names = ["truncated.jpg", "random.jpg", "notes.png", "empty.gif", "bomb.png", "missing.webp"]
    sources = [tmp_path / n for n in names[:3]] + [good] + [tmp_path / n for n in names[3:]]
    summary, _ = run(sources)
    rows = summary.results
    assert [r.path for r in rows] == [str(s) for s in sources]  # order kept
    assert rows[3].ok and CATS & set(labels(rows[3], 3))  # the good one carries on
    bad = rows[:3] + rows[4:]
    for r, name in zip(bad, names):
        assert not r.ok, name
        assert r.error.startswith(name) and r.error.endswith(".") and "\n" not in r.error, r.error
        assert r.to_dict() == {"path": r.path, "error": r.error}
    assert "too large" in rows[5].error  # the bomb is refused, not decoded
    assert "not found" in rows[6].error
    assert len(summary.failed) == 6 and len(summary.succeeded) == 1


def test_gradcam_peaks_on_the_cat(photos, bundled):
    """The cat pasted at a known place on a plain background: the heatmap is hot there."""
    canvas = Image.new("RGB", (900, 600), (128, 128, 128))
    cat = Image.open(photos / "cat.jpg").convert("RGB")  # 451 x 300
    canvas.paste(cat, (40, 260))
    box = (40, 260, 40 + cat.width, 260 + cat.height)
    path = photos / "cat_on_grey.png"
    canvas.save(path)
    cam = run_sync(Job(explain_image.explain, (str(path),), {"device": "cpu"}))
    assert cam.label in CATS
    heat = cam.heatmap
    assert heat.shape == (600, 900) and heat.dtype == np.float32
    assert 0.0 <= float(heat.min()) and float(heat.max()) == pytest.approx(1.0)
    inside = np.zeros_like(heat, dtype=bool)
    inside[box[1]:box[3], box[0]:box[2]] = True
    assert heat[inside].mean() > 2.5 * heat[~inside].mean()
    y, x = np.unravel_index(int(heat.argmax()), heat.shape)
    assert inside[y, x]
    # a chosen class and a requested output size (the UI's preview) plus a colour overlay
    cam2 = explain_image.explain(JobContext(), str(photos / "cat.jpg"), class_index=cat_index(bundled), device="cpu",
                         size=(200, 133), overlay=True)
    assert cam2.heatmap.shape == (133, 200) and cam2.image_size == (451, 300)
    assert cam2.overlay.width == 200 and len(cam2.overlay.rgb) == 200 * 133 * 4


def cat_index(clf) -> int:
    return clf.labels.index("tabby")


def test_folders_expand_recursively_and_empty_folders_are_rows(photos, bundled, tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "empty").mkdir()
    (tmp_path / ".hidden").mkdir()
    data = (photos / "cat.jpg").read_bytes()
    for rel in ("a/one.jpg", "a/b/two.JPG", ".hidden/three.jpg", "a/.four.jpg"):
        (tmp_path / rel).write_bytes(data)
    (tmp_path / "a" / "readme.txt").write_text("not an image")
    found = image.expand_sources(None, [tmp_path / "a", tmp_path / "empty"])
    assert found == [str(tmp_path / "a" / "b" / "two.JPG"), str(tmp_path / "a" / "one.jpg"), str(tmp_path / "empty")]
    summary, _ = run([tmp_path])  # the root: hidden folder and files skipped
    assert [r.path.rsplit("/", 1)[-1] for r in summary.results] == ["two.JPG", "one.jpg"]
    summary, _ = run([tmp_path / "empty"])
    assert summary.results[0].error == "empty: no images in this folder."


def test_cancel_keeps_what_is_done(photos, bundled):
    cancel = threading.Event()

    def sink(event):
        if isinstance(event, image.ImageResult):
            cancel.set()

    files = [str(photos / "cat.jpg")] * 4
    summary = run_sync(Job(image.classify, (files,), {"device": "cpu", "batch_size": 1}), sink, cancel)
    assert summary.cancelled
    assert len(summary.results) == 1 and summary.results[0].ok


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_urls_download_or_say_why(photos, bundled, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    handler = lambda *a, **k: _Quiet(*a, directory=str(photos), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        ok_url = f"http://127.0.0.1:{port}/cat.jpg"
        missing_url = f"http://127.0.0.1:{port}/nope.jpg"
        dead_url = "http://127.0.0.1:9/cat.jpg"  # nothing listens there
        summary, _ = run([ok_url, missing_url, dead_url])
    finally:
        server.shutdown()
        server.server_close()
    ok, missing, dead = summary.results
    assert ok.ok and CATS & set(labels(ok, 3)) and ok.path == ok_url
    assert missing.error == f"{missing_url}: the server answered 404 (File not found)."
    assert dead.error.startswith(f"{dead_url}: cannot download the image")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    summary, _ = run(["https://example.com/photo.jpg"])
    assert summary.results[0].error == "https://example.com/photo.jpg: cannot download the image while offline mode is on."


def test_torchvision_needs_weights_offline(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError) as err:
        image.load_classifier("torchvision/resnet50", device="cpu")
    message = str(err.value)
    assert "resnet50" in message and "download.pytorch.org" in message and "offline" in message
    assert image.torchvision_name("resnet50") == "resnet50"  # bare names work too
    assert image.torchvision_name("google/vit-base-patch16-224") is None
    with pytest.raises(ModelError, match="not a torchvision classification model"):
        image.load_classifier("torchvision/not_a_model", device="cpu")
    from playground.core import tasks

    tv = [c for c in tasks.models_for("image-classification") if c.source == "torchvision"]
    assert {c.id for c in tv} >= {"torchvision/resnet50", "torchvision/vit_b_16"}
    assert not any(c.available for c in tv) and "network" in tv[0].unavailable_reason


def test_torchvision_cnn_from_cached_weights(photos, monkeypatch, tmp_path):
    """A torchvision checkpoint already in torch's cache loads safely (weights_only) and supports Grad-CAM."""
    import torch
    import torchvision

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    url, target = image.torchvision_checkpoint("mobilenet_v3_small")
    assert str(target).startswith(str(tmp_path))
    target.parent.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(torchvision.models.mobilenet_v3_small().state_dict(), target)
    try:
        clf = image.load_classifier("torchvision/mobilenet_v3_small", device="cpu")
        assert clf.kind == "torchvision" and len(clf.labels) == 1000 and clf.labels[281] == "tabby"
        summary, _ = run([photos / "cat.jpg"], model="torchvision/mobilenet_v3_small", top_k=3)
        assert summary.results[0].ok and len(summary.results[0].predictions) == 3
        assert summary.results[0].top.label in clf.labels
        cam = explain_image.explain(JobContext(), str(photos / "cat.jpg"), "torchvision/mobilenet_v3_small", device="cpu")
        assert cam.heatmap.shape == (300, 451)
        assert cam.method == "grad-cam" and cam.layer == "features"  # the last feature map, before pooling
    finally:
        models.cache.clear()


def test_hub_style_local_folder(photos, tmp_path):
    """A tiny transformers ViT saved with save_pretrained loads through AutoModelForImageClassification."""
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor

    cfg = ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                    intermediate_size=64, num_labels=3, id2label={0: "apple", 1: "banana", 2: "cherry"},
                    label2id={"apple": 0, "banana": 1, "cherry": 2})
    folder = tmp_path / "tiny-vit"
    ViTForImageClassification(cfg).save_pretrained(folder)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(folder)
    summary, _ = run([photos / "cat.jpg", photos / "coffee.png"], model=str(folder), top_k=2)
    for r in summary.results:
        assert r.ok and len(r.predictions) == 2
        assert {p.label for p in r.predictions} <= {"apple", "banana", "cherry"}
    cam = explain_image.explain(JobContext(), str(photos / "cat.jpg"), str(folder), device="cpu")
    assert cam.method == "grad-cam" and cam.heatmap.shape == (300, 451)  # tokens reshaped to the patch grid
    # custom code is refused unless allowed
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoModelForImageClassification": "modeling.Net"}
    evil = tmp_path / "evil"
    evil.mkdir()
    for f in folder.iterdir():
        (evil / f.name).write_bytes(f.read_bytes())
    (evil / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="trust_remote_code"):
        image.load_classifier(str(evil), device="cpu")


def test_finetuned_folder_from_the_train_tab(photos, isolated_home):
    """The shared fine-tuned format: timm backbone + safetensors + playground_model.json."""
    import timm
    import torch
    from safetensors.torch import save_file

    from playground.core import paths

    folder = paths.models_dir() / "my-pets"
    folder.mkdir(parents=True)
    torch.manual_seed(0)
    net = timm.create_model("mobilenetv3_small_050", pretrained=False, num_classes=2)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(folder / "model.safetensors"))
    (folder / "playground_model.json").write_text(json.dumps({
        "task": "image-classification", "name": "My pets", "backbone": "mobilenetv3_small_050", "num_classes": 2,
        "labels": ["cat", "dog"], "image_size": 64, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}))
    from playground.core import tasks

    choices = {c.id: c for c in tasks.models_for("image-classification")}
    assert choices[str(folder)].source == "finetuned" and choices[str(folder)].display_name == "My pets"
    summary, _ = run([photos / "cat.jpg"], model=str(folder), top_k=5)
    result = summary.results[0]
    assert result.ok and [p.label for p in result.predictions] in (["cat", "dog"], ["dog", "cat"])
    clf = image.load_classifier(str(folder), device="cpu")
    assert clf.input_size == (64, 64) and clf.preprocess(Image.open(photos / "cat.jpg")).shape == (3, 64, 64)
    cam = explain_image.explain(JobContext(), str(photos / "cat.jpg"), str(folder), device="cpu")
    assert cam.heatmap.shape == (300, 451)
    wrong = paths.models_dir() / "a-text-model"
    wrong.mkdir()
    (wrong / "playground_model.json").write_text(json.dumps({"task": "text-classification", "name": "t"}))
    with pytest.raises(ModelError, match="text-classification model, not an image classifier"):
        image.load_classifier(str(wrong), device="cpu")


def test_uses_the_gpu_when_present(monkeypatch):
    """With CUDA reported available, the model is moved to cuda:0 in half precision (no GPU needed)."""
    import torch

    from playground.core import devices

    moves = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    monkeypatch.setattr(torch.nn.Module, "to", lambda self, *a, **k: (moves.append((a, k)), self)[1])
    monkeypatch.setattr(devices, "_preference", "auto")
    key = (image.TASK, image.DEFAULT_MODEL, "cuda:0")
    try:
        clf = image.load_classifier()
        assert clf.device == "cuda:0" and clf.dtype == torch.float16
        assert (("cuda:0",), {"dtype": torch.float16}) in moves
        batch = clf.to_device  # inputs follow the model
        sent = []
        monkeypatch.setattr(torch.Tensor, "to", lambda self, *a, **k: (sent.append((a, k)), self)[1])
        batch(torch.zeros(1, 3, 8, 8))
        assert sent == [(("cuda:0",), {"dtype": torch.float16, "non_blocking": True})]
    finally:
        models.cache._items.pop(key, None)


def test_csv_export_is_atomic_and_complete(tmp_path):
    rows = [image.ImageResult("/x/a.jpg", [image.Prediction("tabby", 0.5, 281)]),
            image.ImageResult("/x/b,c.jpg", error="b,c.jpg: the image is corrupt or truncated.")]
    target = tmp_path / "out" / "results.csv"
    image.export_csv(target, rows)
    import csv

    with open(target, newline="") as fh:
        data = list(csv.reader(fh))
    assert data == [["path", "label", "score", "error"], ["/x/a.jpg", "tabby", "0.500000", ""],
                    ["/x/b,c.jpg", "", "", "b,c.jpg: the image is corrupt or truncated."]]
    assert [p.name for p in target.parent.iterdir()] == ["results.csv"]  # no temp file left behind
    assert io.StringIO(image.results_csv([])).read() == "path,label,score,error\n"


def test_big_jpeg_decodes_at_draft_scale_but_reports_full_size(photos, bundled, tmp_path):
    from skimage import data

    big = Image.fromarray(data.chelsea()).resize((3608, 2400))
    exif = Image.Exif()
    exif[0x0112] = 8  # shown rotated: upright size is 2400 x 3608
    big.save(tmp_path / "big.jpg", quality=85, exif=exif)
    img = image.load_image(str(tmp_path / "big.jpg"), draft=(448, 448))
    assert max(img.size) < 3608 and min(img.size) >= 448  # decoded smaller, still big enough
    assert image.full_size(img) == (2400, 3608)
    summary, _ = run([tmp_path / "big.jpg"])
    row = summary.results[0]
    assert row.ok and (row.width, row.height) == (2400, 3608)
    cam = explain_image.explain(JobContext(), str(tmp_path / "big.jpg"), device="cpu", size=(240, 361))
    assert cam.image_size == (2400, 3608) and cam.heatmap.shape == (361, 240)


def test_long_strips_are_letterboxed_not_exploded(bundled, tmp_path):
    Image.new("RGB", (20000, 5), (0, 128, 0)).save(tmp_path / "strip.png")
    Image.new("RGB", (1, 1), (255, 0, 0)).save(tmp_path / "dot.png")
    (tmp_path / "empty.jpg").write_bytes(b"")
    padded = image.limit_aspect(Image.new("RGB", (20000, 5)))
    assert padded.size == (20000, 5000)
    summary, _ = run([tmp_path / "strip.png", tmp_path / "dot.png", tmp_path / "empty.jpg"])
    strip, dot, empty = summary.results
    assert strip.ok and (strip.width, strip.height) == (20000, 5) and dot.ok
    assert empty.error == "empty.jpg: the file is empty."
