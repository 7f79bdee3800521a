"""A fine-tuned image model sees at inference what it saw in training, on NON-square photos.

The photo set is built so that squashing would be caught: three classes of shapes
(circle, tall ellipse, wide ellipse) on 96x48 and 48x96 canvases. Squashing such a
photo into a square turns a circle into an ellipse and a wide ellipse into a circle,
so a model fed squashed images at inference gets about a third right; fed the saved
recipe (short side resized, centre crop) it gets nearly all right.
"""

from __future__ import annotations

import json
import random
import shutil

import numpy as np
import pytest
from PIL import Image, ImageDraw

from playground import cli
from playground.core.errors import ModelError
from playground.core.explain import image as explain_image
from playground.core.jobs import Job, JobContext
from playground.core.preprocess import IMAGENET_MEAN, IMAGENET_STD, Preprocess

CLASSES = ("circle", "tall", "wide")
SIZE = 48


def write_shapes(root, per_class: int, seed: int):
    """PNG class folders of non-square photos: half 96x48, half 48x96, noisy random colours."""
    rng = random.Random(seed)
    noise = np.random.default_rng(seed)
    for label in CLASSES:
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            w, h = (96, 48) if i % 2 == 0 else (48, 96)
            bg = tuple(rng.randrange(0, 256) for _ in range(3))
            fg = tuple((c + 128 + rng.randrange(-40, 40)) % 256 for c in bg)
            pixels = np.full((h, w, 3), bg, dtype=np.float64) + noise.normal(0, 10, (h, w, 3))
            img = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
            if label == "circle":
                a = b = rng.uniform(9, 15)
            elif label == "wide":
                b = rng.uniform(6, 10)
                a = 2 * b
            else:
                a = rng.uniform(6, 10)
                b = 2 * a
            cx, cy = w / 2 + rng.uniform(-3, 3), h / 2 + rng.uniform(-3, 3)
            ImageDraw.Draw(img).ellipse((cx - a, cy - b, cx + a, cy + b), fill=fg)
            img.save(root / label / f"{label}-{i}.png")
    return root


def manual_crop(img, size: int):
    """Resize the short side to `size` (bilinear), then centre-crop size x size: the reference."""
    w, h = img.size
    scale = size / min(w, h)
    nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
    big = img.resize((nw, nh), Image.Resampling.BILINEAR)
    left, top = (nw - size) // 2, (nh - size) // 2
    return np.asarray(big.crop((left, top, left + size, top + size)), dtype=np.int16)


# -- the recipe itself (fast) --------------------------------------------------------------


def test_recipe_round_trips_and_refuses_nonsense():
    r = Preprocess.square(SIZE, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25), "bicubic")
    d = r.to_dict()
    assert d == {"resize": SIZE, "crop": [SIZE, SIZE], "interpolation": "bicubic", "mean": [0.5] * 3,
                 "std": [0.25] * 3}
    assert Preprocess.from_dict(json.loads(json.dumps(d))) == r
    assert Preprocess.square(224, crop_pct=0.875).resize == 256
    for bad in ({"crop": [8, 8]}, {"resize": 8, "crop": [8]}, {"resize": 8, "crop": [8, 8], "interpolation": "x"},
                {"resize": 8, "crop": [8, 8], "std": [0, 1, 1]}, [1, 2]):
        with pytest.raises(ValueError):
            Preprocess.from_dict(bad)


def test_a_non_square_photo_is_cropped_not_squashed():
    from skimage import data

    photo = Image.fromarray(data.chelsea())  # 451 x 300
    r = Preprocess.square(SIZE)
    ours = r.pixels(photo).transpose(1, 2, 0).astype(np.int16)
    assert ours.shape == (SIZE, SIZE, 3)
    reference = manual_crop(photo, SIZE)
    squashed = np.asarray(photo.resize((SIZE, SIZE), Image.Resampling.BILINEAR), dtype=np.int16)
    assert np.abs(ours - reference).mean() < 1.0  # sub-pixel offsets only (the crop box is exact, not rounded)
    assert np.abs(ours - squashed).mean() > 5 * max(np.abs(ours - reference).mean(), 0.2)
    # a wide non-square crop, and a strip that would be huge if resized whole first
    wide = Preprocess(SIZE, (SIZE, 2 * SIZE))
    assert wide.pixels(photo).shape == (3, SIZE, 2 * SIZE)
    assert r.pixels(photo.resize((20_000, 10))).shape == (3, SIZE, SIZE)
    x = r.tensor(photo)
    assert x.shape == (3, SIZE, SIZE) and x.dtype.is_floating_point


# -- a real fine-tune on non-square photos ---------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from playground.core.training.image import train_image_classifier

    root = tmp_path_factory.mktemp("preprocess")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PLAYGROUND_HOME", str(root / "home"))
        data = write_shapes(root / "shapes", 60, seed=1)
        result = Job(train_image_classifier, (data, root / "shapes-model"),
                     {"image_size": SIZE, "epochs": 4, "lr": 2e-3, "batch_size": 32}).run(JobContext())
    held_out = write_shapes(root / "held-out", 10, seed=2)
    return {"data": data, "model": root / "shapes-model", "held_out": held_out, "result": result, "root": root}


@pytest.mark.slow
def test_the_marker_saves_the_preprocessing(trained):
    meta = json.loads((trained["model"] / "playground_model.json").read_text())
    assert meta["preprocess"] == {"resize": SIZE, "crop": [SIZE, SIZE], "interpolation": "bilinear",
                                  "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)}
    assert meta["image_size"] == SIZE and meta["mean"] == list(IMAGENET_MEAN)  # still there for older readers
    cfg = json.loads((trained["model"] / "config.json").read_text())["pretrained_cfg"]
    assert cfg["input_size"] == [3, SIZE, SIZE] and cfg["interpolation"] == "bilinear" and cfg["crop_pct"] == 1.0


@pytest.mark.slow
def test_inference_prepares_exactly_what_training_evaluated(trained, tmp_path):
    import torch

    from playground.core import image
    from playground.core.training import data as tdata
    from playground.core.training.image import BUNDLED_BACKBONE, ImageSpec, load_pixels

    clf = image.load_classifier(str(trained["model"]), device="cpu")
    assert clf.recipe == Preprocess.from_dict(json.loads((trained["model"] / "playground_model.json").read_text())
                                              ["preprocess"])
    assert clf.input_size == (SIZE, SIZE)
    folder = tdata.scan_image_folder(trained["data"])
    spec = ImageSpec(JobContext(), folder, BUNDLED_BACKBONE, SIZE, 32, 0.2, False, True, False, 0)
    assert spec.recipe == clf.recipe
    idx = spec.val_idx[:12]
    assert {Image.open(spec.data.files[i]).size for i in idx} == {(96, 48), (48, 96)}
    train_side = spec.eval_inputs(idx, "cpu")
    for k, i in enumerate(idx):
        img = image.load_image(str(spec.data.files[i]), draft=clf.recipe.draft)  # as classify() reads it
        assert torch.equal(clf.preprocess(img), train_side[k])
    # ... and classify() scores those images as the model does on training's evaluation inputs
    summary = image.classify(JobContext(), [str(spec.data.files[i]) for i in idx], model=str(trained["model"]),
                             device="cpu", top_k=3)
    expected = clf.predict(train_side.contiguous(), top_k=3)
    for row, preds in zip(summary.results, expected, strict=True):
        assert [p.label for p in row.predictions] == [p.label for p in preds]
        assert [p.score for p in row.predictions] == pytest.approx([p.score for p in preds], abs=1e-4)
    # a big non-square JPEG (decoded in draft mode) gets the same pixels on both sides too
    from skimage import data

    Image.fromarray(data.chelsea()).resize((1353, 900)).save(tmp_path / "cat.jpg", quality=90)
    assert np.array_equal(load_pixels(tmp_path / "cat.jpg", clf.recipe),
                          clf.recipe.pixels(image.load_image(str(tmp_path / "cat.jpg"), draft=clf.recipe.draft)))
    cam = explain_image.explain(JobContext(), str(tmp_path / "cat.jpg"), model=str(trained["model"]), device="cpu")
    assert cam.heatmap.shape == (900, 1353)


@pytest.mark.slow
def test_classify_image_cli_gets_held_out_non_square_photos_right(trained, capsys):
    import torch

    from playground.core import image

    held_out = trained["held_out"]
    code = cli.main(["classify-image", str(held_out), "--model", str(trained["model"]), "--top-k", "1", "--json"])
    out, _ = capsys.readouterr()
    assert code == 0
    rows = json.loads(out)
    assert len(rows) == 3 * 10
    hits = [r["predictions"][0]["label"] == r["path"].split("/")[-2] for r in rows]
    accuracy = sum(hits) / len(hits)
    print(f"held-out accuracy {accuracy:.2f} (validation {trained['result'].val_accuracy:.2f})")
    assert accuracy >= 0.85
    # the same model fed squashed photos (what inference did before) is far worse: the recipe matters
    clf = image.load_classifier(str(trained["model"]), device="cpu")
    squash = image._square_transform(SIZE, clf.mean, clf.std)
    files = [r["path"] for r in rows]
    preds = clf.predict(torch.stack([squash(Image.open(f).convert("RGB")) for f in files]), top_k=1)
    squashed = sum(p[0].label == f.split("/")[-2] for f, p in zip(files, preds, strict=True)) / len(files)
    assert squashed <= accuracy - 0.3


@pytest.mark.slow
def test_an_old_marker_without_preprocess_still_loads(trained, tmp_path):
    from playground.core import image

    old = tmp_path / "old-model"
    shutil.copytree(trained["model"], old)
    meta = json.loads((old / "playground_model.json").read_text())
    del meta["preprocess"]
    (old / "playground_model.json").write_text(json.dumps(meta))
    clf = image.load_classifier(str(old), device="cpu")
    assert clf.recipe is None and clf.input_size == (SIZE, SIZE)
    photo = next(trained["held_out"].rglob("*.png"))
    assert clf.preprocess(Image.open(photo).convert("RGB")).shape == (3, SIZE, SIZE)  # the square resize as before
    summary = image.classify(JobContext(), [str(photo)], model=str(old), device="cpu", top_k=2)
    assert summary.results[0].ok and len(summary.results[0].predictions) == 2
    w, h = Image.open(photo).size
    assert explain_image.explain(JobContext(), str(photo), model=str(old), device="cpu").heatmap.shape == (h, w)
    broken = tmp_path / "broken-model"
    shutil.copytree(trained["model"], broken)
    meta["preprocess"] = {"resize": "big"}
    (broken / "playground_model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="invalid 'preprocess'"):
        image.load_classifier(str(broken), device="cpu")
