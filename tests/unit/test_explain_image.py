"""Why an image classifier chose a class: Grad-CAM on the layer found for each kind of model, occlusion
for ONNX exports, and the CLI's maps as files. The pointing tests use a digit classifier trained here
and held-back digits pasted at known places into canvases three digits long."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

import explain_support as es
from playground import cli
from playground.core import image, models
from playground.core.explain import image as explain_image
from playground.core.jobs import JobContext

POINTED = 12  # held-back digits per pointing test (4 in each slot, half of them in upright canvases)


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    root = tmp_path_factory.mktemp("explain-digits")
    folder, held = es.train_digit_classifier(root / "digits-model", epochs=5)
    images, labels = es.digit_images()
    canvases = []
    for k, i in enumerate(held[:POINTED]):
        canvas, box = es.paste(images[i], k % 3, vertical=k % 2 == 1)
        path = root / f"digit{i}_slot{k % 3}.png"
        canvas.save(path)
        canvases.append((str(path), box, labels[i]))
    yield {"model": str(folder), "canvases": canvases, "root": root}
    models.cache.clear()


def explain(path, model, label, **kw):
    return explain_image.explain(JobContext(), path, model, class_index=label, device="cpu", **kw)


def test_gradcam_of_a_finetuned_digit_classifier_points_at_the_digit(digits):
    shares, peaks = [], []
    for path, box, label in digits["canvases"]:
        result = explain(path, digits["model"], label)
        assert result.method == "grad-cam" and result.layer
        w, h = Image.open(path).size
        assert result.heatmap.shape == (h, w) and result.image_size == (w, h)
        shares.append(es.mass_in_box(result.heatmap, box))
        y, x = np.unravel_index(int(result.heatmap.argmax()), result.heatmap.shape)
        peaks.append(box[0] <= x < box[2] and box[1] <= y < box[3])
    print(f"Grad-CAM mass in the digit's box: mean {np.mean(shares):.2f} (a third by chance)")
    assert np.mean(shares) > 0.5 and min(shares) > 0.34
    assert np.mean(peaks) >= 0.9


def test_occlusion_agrees_in_sign_with_gradcam(digits):
    """Hiding the digit lowers its class (positive occlusion inside the box), where Grad-CAM is hot too."""
    shares = []
    for path, box, label in digits["canvases"][:6]:
        occ = explain(path, digits["model"], label, method="occlusion")
        cam = explain(path, digits["model"], label, method="grad-cam")
        assert occ.method == "occlusion" and occ.signed.shape == cam.heatmap.shape
        inside = np.zeros(cam.heatmap.shape, dtype=bool)
        inside[box[1]:box[3], box[0]:box[2]] = True
        assert occ.signed[inside].sum() > 0  # the digit supports its class
        assert abs(occ.signed[~inside].sum()) < occ.signed[inside].sum()  # the blank canvas barely matters
        hot = cam.heatmap > 0.5  # where Grad-CAM says the evidence is, occlusion says the same sign
        assert (occ.signed[hot] > 0).mean() > 0.6
        shares.append(es.mass_in_box(occ.heatmap, box))
    assert np.mean(shares) > 0.6


def test_onnx_export_is_explained_by_occlusion_and_points_at_the_digit(digits):
    from playground.core import onnx_export

    out = digits["root"] / "digits.onnx"
    onnx_export.export(JobContext(), digits["model"], out)
    shares = []
    for path, box, label in digits["canvases"][:6]:
        result = explain(path, str(out), label)
        assert result.method == "occlusion" and result.layer is None
        shares.append(es.mass_in_box(result.heatmap, box))
    print(f"ONNX occlusion mass in the digit's box: mean {np.mean(shares):.2f}")
    assert np.mean(shares) > 0.6
    with pytest.raises(models.ModelError, match="Grad-CAM needs gradients"):
        explain(digits["canvases"][0][0], str(out), None, method="grad-cam")


def tiny_vit(folder, seed=0):
    import torch
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor

    torch.manual_seed(seed)
    cfg = ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                    intermediate_size=64, num_labels=3, id2label={0: "apple", 1: "banana", 2: "cherry"},
                    label2id={"apple": 0, "banana": 1, "cherry": 2})
    ViTForImageClassification(cfg).save_pretrained(folder)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(folder)
    return str(folder)


def test_a_tiny_random_hugging_face_vit_gets_a_map_of_the_right_shape(tmp_path):
    """The token layer at the last block's input, reshaped into the 4 x 4 patch grid; even when the caller
    is under inference_mode (a ViT map is empty without gradients)."""
    import torch

    from skimage import data

    Image.fromarray(data.chelsea()).save(tmp_path / "cat.png")  # 451 x 300
    model = tiny_vit(tmp_path / "vit")
    with torch.inference_mode():
        result = explain(str(tmp_path / "cat.png"), model, None)
    assert result.method == "grad-cam" and result.layer.endswith("1.layernorm_before")  # the last block's input norm
    assert result.heatmap.shape == (300, 451) and result.heatmap.dtype == np.float32
    assert float(result.heatmap.max()) == pytest.approx(1.0) and (result.heatmap > 0.05).mean() > 0.05
    assert 0.0 <= float(result.heatmap.min())
    small = explain(str(tmp_path / "cat.png"), model, 2, size=(90, 60), overlay=True)
    assert small.heatmap.shape == (60, 90) and small.label == "cherry" and small.overlay.width == 90


def test_the_layer_found_for_each_kind_of_model():
    import torch
    import torchvision

    def target(net, size):
        clf = image.Classifier("x", "x", "torchvision", net.eval(), ["a"] * 1000, None, (size, size), (0.5,) * 3,
                               (0.5,) * 3, "cpu", torch.float32)
        return explain_image.target_for(clf, torch.zeros(1, 3, size, size))

    vit = torchvision.models.VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=1, hidden_dim=8,
                                               mlp_dim=8)
    assert target(vit, 32) == explain_image.CamTarget("encoder.layers.encoder_layer_1.ln_1", "tokens")
    cnn = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                              torch.nn.Flatten(), torch.nn.Linear(4, 2))
    assert target(cnn, 16) == explain_image.CamTarget("1", "nchw")  # the last map before pooling
    assert target(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 2)), 8) is None
    # a channels-last Swin stage (torchvision, timm): the last block's input norm, permuted
    swin = torchvision.models.SwinTransformer(patch_size=[4, 4], embed_dim=8, depths=[1, 1], num_heads=[1, 1],
                                              window_size=[2, 2], num_classes=3)
    assert target(swin, 32) == explain_image.CamTarget("features.3.0.norm1", "nhwc")
    # tokens: a class token (or two, or registers) before the grid, found from the input's shape
    assert explain_image.token_grid(197, 224, 224) == (1, 14, 14)
    assert explain_image.token_grid(198, 224, 224) == (2, 14, 14)
    assert explain_image.token_grid(49, 224, 224) == (0, 7, 7)
    assert explain_image.token_grid(1 + 4 * 8, 64, 128) == (1, 4, 8)


def test_cli_writes_each_map_as_a_grayscale_png_the_size_of_the_image(digits, tmp_path, capsys):
    out = tmp_path / "maps" / "new"
    paths = [p for p, _, _ in digits["canvases"][:2]]
    code = cli.main(["classify-image", *paths, "--model", digits["model"], "--explain", "--explain-out", str(out),
                     "--json", "--top-k", "2"])
    rows = json.loads(capsys.readouterr().out)
    assert code == 0 and len(rows) == 2
    for row, path in zip(rows, paths, strict=True):
        assert set(row) == {"path", "predictions", "explanation", "method", "class"}
        assert row["method"] == "grad-cam" and row["class"] == row["predictions"][0]["label"]
        png = Image.open(row["explanation"])
        assert png.mode == "L" and png.size == Image.open(path).size
        assert str(out) in row["explanation"]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{image_stem}.{row['class']}.png" for image_stem, row in zip([p.split("/")[-1][:-4] for p in paths], rows))
    # a chosen class: every map is for it
    code = cli.main(["classify-image", paths[0], "--model", digits["model"], "--explain", "--explain-class", "7",
                     "--explain-out", str(out), "--json"])
    (row,) = json.loads(capsys.readouterr().out)
    assert code == 0 and row["class"] == "7"


def test_cli_explain_errors_are_one_line_and_fail(digits, tmp_path, capsys):
    path = digits["canvases"][0][0]
    code = cli.main(["classify-image", path, "--model", digits["model"], "--explain", "--explain-class", "eleven",
                     "--explain-out", str(tmp_path / "m"), "--json"])
    out, err = capsys.readouterr()
    assert code == 1 and out == "" and err.count("\n") == 1
    assert err.startswith("playground: error: 'eleven' is not a class of digits (0, 1, 2")
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    code = cli.main(["classify-image", path, "--model", digits["model"], "--explain", "--explain-out",
                     str(blocker / "maps"), "--json"])
    out, err = capsys.readouterr()
    assert code == 1 and out == "" and err.count("\n") == 1 and "Cannot create the folder" in err
    code = cli.main(["classify-image", path, "--explain", "--json"])
    assert code == 2 and "--explain needs --explain-out" in capsys.readouterr().err


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_models_as_on_a_gpu(dtype):
    """On a GPU the classifier runs in half precision; the library's OpenCV resize takes only float32 maps."""
    import timm
    import torch

    dt = getattr(torch, dtype)
    net = timm.create_model(es.BACKBONE, num_classes=3).eval().to(dtype=dt)
    clf = image.Classifier("half", "half", "timm", net, ["a", "b", "c"], None, (64, 64), (0.5,) * 3, (0.5,) * 3,
                           "cpu", dt)
    x = clf.to_device(torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0)))
    heat = explain_image.grad_cam(clf, x, 0, explain_image.target_for(clf, x))
    assert heat.shape == (64, 64) and heat.dtype == np.float32 and np.isfinite(heat).all()
