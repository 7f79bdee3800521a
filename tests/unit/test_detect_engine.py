"""Object and face detection and face blurring with the real bundled models, offline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from playground.core import detection
from playground.core.errors import InputError, ModelError
from playground.core.jobs import Job, JobContext, Progress
from playground.core.runner import run_sync

ORIENTATION = 0x0112


def exif_rotated_jpeg(upright: Image.Image, path: Path, orientation: int) -> Path:
    """A JPEG whose stored pixels are rotated; its EXIF tag says how to show it upright."""
    undo = {6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270, 3: Image.Transpose.ROTATE_180}
    raw = upright.transpose(undo[orientation])
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    raw.save(path, "JPEG", quality=95, exif=exif.tobytes())
    return path


def laplacian_var(arr: np.ndarray) -> float:
    import cv2

    grey = cv2.cvtColor(np.ascontiguousarray(arr), cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    from skimage import data

    root = tmp_path_factory.mktemp("photos")
    Image.fromarray(data.coffee()).save(root / "coffee.png")
    Image.fromarray(data.astronaut()).save(root / "astronaut.png")
    Image.fromarray(data.astronaut()).save(root / "astronaut.jpg", quality=92)
    exif_rotated_jpeg(Image.fromarray(data.coffee()), root / "coffee_rot6.jpg", 6)
    exif_rotated_jpeg(Image.fromarray(data.astronaut()), root / "astronaut_rot8.jpg", 8)
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return root


@pytest.fixture(scope="module")
def face_results(photos):
    """MTCNN once on the astronaut and the coffee (it is the slow part)."""
    results = detection.detect_faces(JobContext(), [photos / "astronaut.png", photos / "coffee.png"])
    return {Path(r.path).name: r for r in results}


# -- objects ----------------------------------------------------------------------------


def test_letterbox_keeps_aspect_and_pads():
    rgb = np.zeros((100, 300, 3), dtype=np.uint8)
    canvas, scale, px, py = detection.letterbox(rgb, (416, 416))
    assert canvas.shape == (416, 416, 3)
    assert scale == pytest.approx(416 / 300)
    assert px == 0 and py == (416 - round(100 * scale)) // 2
    assert (canvas[:py] == 128).all() and (canvas[py + 2:416 - py - 2] == 0).all()


def test_coffee_cup_found_with_box_in_original_pixels(photos):
    events = []
    results = run_sync(Job(detection.detect_objects, ([photos / "coffee.png"],)), events.append)
    (res,) = results
    assert res.error is None and (res.width, res.height) == (600, 400)
    top = res.above(detection.OBJECT_THRESHOLD)
    assert top and top[0].label == "cup", top
    x0, y0, x1, y1 = top[0].box
    assert 0 <= x0 < x1 <= 600 and 0 <= y0 < y1 <= 400
    # The cup sits in the middle of the photo and fills a good part of it.
    assert x0 < 300 < x1 and y0 < 200 < y1 and (x1 - x0) * (y1 - y0) > 0.2 * 600 * 400
    assert any(isinstance(e, detection.ObjectResult) for e in events)
    # Weaker detections are kept down to the floor (OpenCV's own cut at 0.2 is lowered) for the slider.
    assert any(detection.OBJECT_FLOOR <= o.score < 0.2 for o in res.objects)
    assert all(o.score >= detection.OBJECT_FLOOR for o in res.objects)
    assert top[0].score > 0.5  # objectness x class probability, not squared
    assert res.to_dict(0.25) == {"path": res.path, "objects": [o.to_dict() for o in top]}


def test_exif_orientation_applied_to_boxes(photos):
    upright, rotated = detection.detect_objects(JobContext(), [photos / "coffee.png", photos / "coffee_rot6.jpg"])
    assert (rotated.width, rotated.height) == (600, 400)  # stored 400x600, shown 600x400
    cup_a = upright.above(0.25)[0]
    cup_b = next(o for o in rotated.above(0.2) if o.label == "cup")
    assert np.allclose(cup_a.box, cup_b.box, atol=20), (cup_a.box, cup_b.box)


def test_bad_file_is_its_own_error_and_the_rest_carry_on(photos):
    results = detection.detect_objects(JobContext(), [photos / "broken.jpg", photos / "coffee.png",
                                                      photos / "missing.png"])
    assert [r.error is None for r in results] == [False, True, False]
    assert "broken.jpg" in results[0].error and "missing.png" in results[2].error
    assert results[0].to_dict() == {"path": str(photos / "broken.jpg"), "error": results[0].error}


def test_folders_expand_and_cancel_stops(photos):
    import threading

    cancel = threading.Event()
    seen = []

    def sink(ev):
        if isinstance(ev, detection.ObjectResult):
            seen.append(ev)
            cancel.set()  # cancel after the first image

    from playground.core.errors import Cancelled

    with pytest.raises(Cancelled):
        run_sync(Job(detection.detect_objects, ([photos],)), sink, cancel)
    assert len(seen) == 1
    assert len(detection.expand_sources([photos])) == 6


# -- torchvision and Hugging Face detectors (random weights built here) ------------------------


@pytest.fixture(scope="module")
def random_ssdlite():
    import torch
    from torchvision.models import detection as tvd
    from torchvision.models import get_model_weights

    torch.manual_seed(0)
    module = tvd.ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=91)
    categories = get_model_weights("ssdlite320_mobilenet_v3_large").DEFAULT.meta["categories"]
    return module, categories


def test_torchvision_detector_pipeline_random_weights(photos, random_ssdlite):
    module, categories = random_ssdlite
    det = detection.TorchDetector(module, categories, "random-ssdlite")
    (res,) = detection.detect_objects(JobContext(), [photos / "coffee_rot6.jpg"], model=det, min_score=0.0)
    assert res.error is None and res.model == "random-ssdlite"
    assert res.objects, "SSDlite keeps low-score boxes; random weights still give some"
    scores = [o.score for o in res.objects]
    assert scores == sorted(scores, reverse=True)
    for o in res.objects:
        assert o.label in categories and o.label not in ("N/A", "__background__")
        x0, y0, x1, y1 = o.box
        assert 0 <= x0 <= x1 <= 600 and 0 <= y0 <= y1 <= 400


def test_torchvision_weights_offline_say_which_file(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError) as info:
        detection.load_torchvision_detector("fasterrcnn_mobilenet_v3_large_320_fpn")
    message = str(info.value)
    assert "fasterrcnn_mobilenet_v3_large_320_fpn-907ea3f9.pth" in message and "offline" in message
    assert "\n" not in message


def test_torchvision_weights_loaded_from_the_cache(monkeypatch, tmp_path, random_ssdlite, photos):
    import torch

    module, _ = random_ssdlite
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    checkpoints = tmp_path / "torch" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    torch.save(module.state_dict(), checkpoints / "ssdlite320_mobilenet_v3_large_coco-a79551df.pth")
    from playground.core import tasks

    choices = {c.id: c for c in tasks.models_for("object-detection")}
    assert choices["torchvision/ssdlite320_mobilenet_v3_large"].available
    assert not choices["torchvision/fasterrcnn_resnet50_fpn_v2"].available
    assert choices[detection.YOLO_ID].available
    det = detection.load_torchvision_detector("ssdlite320_mobilenet_v3_large")
    a = det.detect(Image.open(photos / "coffee.png"), 0.0)
    b = detection.TorchDetector(module, det.categories, "x").detect(Image.open(photos / "coffee.png"), 0.0)
    assert [o.box for o in a[:5]] == [o.box for o in b[:5]]


@pytest.mark.slow
def test_hugging_face_detr_style_folder(tmp_path, photos):
    from transformers import YolosConfig, YolosForObjectDetection, YolosImageProcessor

    labels = {0: "apple", 1: "boat", 2: "cat"}
    cfg = YolosConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37,
                      image_size=[64, 64], patch_size=16, num_detection_tokens=5, num_labels=3,
                      id2label=labels, label2id={v: k for k, v in labels.items()})
    folder = tmp_path / "tiny-yolos"
    YolosForObjectDetection(cfg).save_pretrained(folder)
    YolosImageProcessor(size={"shortest_edge": 64, "longest_edge": 96}).save_pretrained(folder)
    (res,) = detection.detect_objects(JobContext(), [photos / "coffee.png"], model=str(folder), min_score=0.0)
    assert res.error is None and len(res.objects) == 5  # one per detection token
    for o in res.objects:
        assert o.label in labels.values()
        assert 0 <= o.box[0] <= o.box[2] <= 600 and 0 <= o.box[1] <= o.box[3] <= 400


def test_unknown_local_folder_is_one_sentence(tmp_path, photos):
    with pytest.raises(ModelError) as info:
        detection.detect_objects(JobContext(), [photos / "coffee.png"], model=str(tmp_path / "nope"))
    assert "not found" in str(info.value)


# -- faces -----------------------------------------------------------------------------------------


def test_face_on_astronaut_none_on_coffee(face_results):
    astro, coffee = face_results["astronaut.png"], face_results["coffee.png"]
    faces = astro.above(detection.FACE_THRESHOLD)
    assert len(faces) == 1
    face = faces[0]
    x0, y0, x1, y1 = face.box
    # Her face: roughly x 180..268, y 60..172 in the 512x512 photo.
    assert 150 < x0 < 210 and 240 < x1 < 300 and 30 < y0 < 95 and 145 < y1 < 200
    assert len(face.landmarks) == 5
    assert all(x0 <= x <= x1 and y0 <= y <= y1 for x, y in face.landmarks)
    assert coffee.above(detection.FACE_THRESHOLD) == []
    d = astro.to_dict(0.95)
    assert set(d) == {"path", "faces", "blurred"} and set(d["faces"][0]) == {"score", "box"}
    assert len(astro.to_dict(0.95, landmarks=True)["faces"][0]["landmarks"]) == 5


def _face_box(face_results):
    return face_results["astronaut.png"].above(detection.FACE_THRESHOLD)[0].box


def test_blurred_png_loses_face_detail_and_keeps_every_other_pixel(face_results, photos, tmp_path):
    box = _face_box(face_results)
    out = detection.blur_image(photos / "astronaut.png", [box], tmp_path / "astronaut.png")
    before = np.asarray(Image.open(photos / "astronaut.png"))
    after_img = Image.open(out)
    assert after_img.format == "PNG" and after_img.size == (512, 512) and after_img.mode == "RGB"
    after = np.asarray(after_img)
    x0, y0, x1, y1 = detection.enlarge_box(box, 512, 512)
    fx0, fy0, fx1, fy1 = (int(v) for v in box)
    assert laplacian_var(after[fy0:fy1, fx0:fx1]) < 0.05 * laplacian_var(before[fy0:fy1, fx0:fx1])
    mask = np.ones(before.shape[:2], bool)
    mask[y0:y1, x0:x1] = False
    assert np.array_equal(before[mask], after[mask])
    assert not np.array_equal(before[~mask], after[~mask])
    assert (x1 - x0) > (box[2] - box[0])  # enlarged a little beyond the detector's box


def test_blurred_jpeg_keeps_format_size_and_the_rest(face_results, photos, tmp_path):
    box = _face_box(face_results)
    out = detection.blur_image(photos / "astronaut.jpg", [box], tmp_path / "out" / "astronaut.jpg")
    src, dst = Image.open(photos / "astronaut.jpg"), Image.open(out)
    assert dst.format == "JPEG" and dst.size == src.size
    before, after = np.asarray(src).astype(int), np.asarray(dst).astype(int)
    x0, y0, x1, y1 = detection.enlarge_box(box, 512, 512)
    mask = np.ones(before.shape[:2], bool)
    mask[max(0, y0 - 16):y1 + 16, max(0, x0 - 16):x1 + 16] = False  # JPEG blocks touching the edit
    assert np.abs(before[mask] - after[mask]).mean() < 1.5
    fx0, fy0, fx1, fy1 = (int(v) for v in box)
    assert laplacian_var(after[fy0:fy1, fx0:fx1].astype(np.uint8)) < 0.1 * laplacian_var(
        before[fy0:fy1, fx0:fx1].astype(np.uint8))


def test_blur_respects_exif_orientation(face_results, photos, tmp_path):
    from PIL import ImageOps

    box = _face_box(face_results)  # upright coordinates (the rotated file shows the same photo)
    src = photos / "astronaut_rot8.jpg"
    out = detection.blur_image(src, [box], tmp_path / "rot.jpg")
    raw = Image.open(out)
    assert raw.size == Image.open(src).size == (512, 512)
    assert raw.getexif().get(ORIENTATION) == 8  # the file keeps its own orientation
    upright_after = np.asarray(ImageOps.exif_transpose(raw))
    upright_before = np.asarray(ImageOps.exif_transpose(Image.open(src)))
    fx0, fy0, fx1, fy1 = (int(v) for v in box)
    assert laplacian_var(upright_after[fy0:fy1, fx0:fx1]) < 0.1 * laplacian_var(upright_before[fy0:fy1, fx0:fx1])
    # Far from the face (the lower half) the picture did not change.
    assert np.abs(upright_after[300:].astype(int) - upright_before[300:].astype(int)).mean() < 1.5


def test_blur_never_overwrites_the_original(photos, tmp_path):
    src = tmp_path / "a.png"
    Image.new("RGB", (40, 40), "white").save(src)
    with pytest.raises(InputError):
        detection.blur_image(src, [(1, 1, 10, 10)], src)
    assert detection.blurred_copy_path(src, tmp_path) == tmp_path / "a_blurred.png"
    assert detection.blurred_copy_path(src, tmp_path / "out") == tmp_path / "out" / "a.png"


def test_blur_modes_other_than_rgb(tmp_path):
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 255, (64, 64), dtype=np.uint8)
    cases = {"grey.png": Image.fromarray(noise, "L"),
             "alpha.png": Image.fromarray(np.dstack([noise] * 4), "RGBA"),
             "palette.gif": Image.fromarray(np.dstack([noise, 255 - noise, noise // 2])).convert("P"),
             "deep.tif": Image.fromarray(noise.astype(np.uint16) * 200)}
    for name, img in cases.items():
        src = tmp_path / name
        img.save(src)
        out = detection.blur_image(src, [(16, 16, 48, 48)], tmp_path / "out" / name, margin=0.0)
        a, b = Image.open(src), Image.open(out)
        assert (b.format, b.size, b.mode) == (a.format, a.size, a.mode), name
        before, after = np.asarray(a), np.asarray(b)
        assert np.array_equal(before[:16], after[:16]) and np.array_equal(before[48:], after[48:]), name
        assert detail(b, (16, 16, 48, 48)) < 0.3 * detail(a, (16, 16, 48, 48)), name


def detail(img: Image.Image, box) -> float:
    """Mean absolute difference between neighbouring pixels (colours, not palette indexes)."""
    x0, y0, x1, y1 = box
    arr = np.asarray(img.convert("RGB") if img.mode == "P" else img, dtype=float)[y0:y1, x0:x1]
    return float(np.abs(np.diff(arr, axis=0)).mean() + np.abs(np.diff(arr, axis=1)).mean())


def test_blur_folder_batch_with_known_faces(face_results, photos, tmp_path, monkeypatch):
    """The GUI's blur action: faces already found, a folder with sub-folders, a bad file."""
    import shutil

    src = tmp_path / "album"
    (src / "trip").mkdir(parents=True)
    shutil.copy(photos / "astronaut.png", src / "trip" / "astronaut.png")
    shutil.copy(photos / "coffee.png", src / "coffee.png")
    shutil.copy(photos / "broken.jpg", src / "broken.jpg")
    known = {str(src / "trip" / "astronaut.png"): face_results["astronaut.png"].faces,
             str(src / "coffee.png"): []}

    class NoDetector:
        def detect(self, img, min_score):
            raise AssertionError("faces were known; the detector must not run")

    out = tmp_path / "safe"
    events = []
    monkeypatch.setattr(detection, "load_face_detector", lambda device=None: NoDetector())
    results = run_sync(Job(detection.blur_faces, ([src], out), {"known": known}), events.append)
    by_name = {Path(r.path).name: r for r in results}
    assert by_name["broken.jpg"].error and by_name["broken.jpg"].blurred is None
    assert by_name["astronaut.png"].blurred == str(out / "trip" / "astronaut.png")
    assert (out / "coffee.png").read_bytes() == (src / "coffee.png").read_bytes()  # no face: same file
    assert not np.array_equal(np.asarray(Image.open(out / "trip" / "astronaut.png")),
                              np.asarray(Image.open(src / "trip" / "astronaut.png")))
    assert (src / "trip" / "astronaut.png").read_bytes() == (photos / "astronaut.png").read_bytes()
    fractions = [e.fraction for e in events if isinstance(e, Progress) and e.fraction is not None]
    assert fractions and fractions[-1] == 1.0 and fractions == sorted(fractions)
    assert not list(out.rglob("*.part"))


def test_coco_names_match_torchvision():
    from torchvision.models import get_model_weights

    yolo = detection.load_object_detector(detection.YOLO_ID)
    tv = {c for c in get_model_weights("ssdlite320_mobilenet_v3_large").DEFAULT.meta["categories"]}
    assert len(yolo.labels) == 80 and set(yolo.labels) <= tv


def test_gpu_choice_reaches_the_detectors(monkeypatch):
    """No GPU here: CUDA is mocked; the chosen device is what the face and torch detectors get."""
    import torch

    from playground.core import devices, models

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(devices, "_preference", "auto")
    made = []

    class FakeFaces:
        def __init__(self, device):
            made.append(device)
            self.nbytes = 1

    monkeypatch.setattr(detection, "FaceDetector", FakeFaces)
    monkeypatch.setattr(models, "cache", models.ModelCache())
    detection.load_face_detector()
    assert made == ["cuda:0"]
    monkeypatch.setattr(detection.devices, "choose_device", lambda pref=None: "mps")
    detection.load_face_detector()
    assert made == ["cuda:0", "cpu"]  # MTCNN stays on the CPU rather than MPS


def test_weights_download_with_progress_hash_check_and_no_half_file(monkeypatch, tmp_path):
    """torchvision weights are fetched once into torch's cache; file:// stands in for the network."""
    import hashlib

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    payload = bytes(range(256)) * 8192  # 2 MB, two progress chunks
    prefix = hashlib.sha256(payload).hexdigest()[:8]
    good = tmp_path / "srv" / f"net-{prefix}.pth"
    bad = tmp_path / "srv" / "net-00000000.pth"
    good.parent.mkdir()
    good.write_bytes(payload)
    bad.write_bytes(payload)
    events = []
    got = detection._fetch_url(good.as_uri(), JobContext(events.append), "test net", 2.0)
    assert got == tmp_path / "torch" / "hub" / "checkpoints" / good.name and got.read_bytes() == payload
    fractions = [e.fraction for e in events if isinstance(e, Progress)]
    assert fractions[-1] == 1.0 and "MB/s" in events[-1].text
    assert detection._fetch_url(good.as_uri(), JobContext(), "test net", 2.0) == got  # cached: no download
    with pytest.raises(ModelError, match="checksum"):
        detection._fetch_url(bad.as_uri(), JobContext(), "test net", 2.0)
    assert sorted(p.name for p in got.parent.iterdir()) == [good.name]  # no half or corrupt file left
    with pytest.raises(ModelError, match="network"):
        detection._fetch_url((tmp_path / "srv" / "gone-12345678.pth").as_uri(), JobContext(), "test net", 1.0)


def test_nothing_above_the_threshold_keeps_the_best_candidates_below_it(photos, tmp_path):
    """YOLOv3-tiny scores frame-filling subjects low (the astronaut, a cat close-up): the best
    few below the threshold are kept, with their scores, instead of an unexplained empty result."""
    from skimage import data

    Image.fromarray(data.chelsea()).save(tmp_path / "chelsea.png")
    results = detection.detect_objects(JobContext(), [photos / "astronaut.png", tmp_path / "chelsea.png",
                                                      photos / "coffee.png"])
    astro, cat, coffee = results
    for res in (astro, cat):
        assert res.above(detection.OBJECT_THRESHOLD) == []
        best = res.best_below(detection.OBJECT_THRESHOLD)
        assert 1 <= len(best) <= detection.CANDIDATES
        assert [o.score for o in best] == sorted((o.score for o in best), reverse=True)
        assert all(detection.CANDIDATE_FLOOR <= o.score < detection.OBJECT_THRESHOLD for o in best)
        d = res.to_dict(detection.OBJECT_THRESHOLD)
        assert d["objects"] == [] and d["candidates"] == [o.to_dict() for o in best]
    assert "person" in [o.label for o in astro.best_below(0.25)]
    assert cat.best_below(0.25)[0].label == "cat"  # under the 0.05 floor, still the right guess
    assert all(o.score >= detection.OBJECT_FLOOR for o in cat.objects)  # the floor still holds for objects
    assert set(coffee.to_dict(0.25)) == {"path", "objects"}  # found something: no candidates
