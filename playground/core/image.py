"""Image classification: typed inputs -> typed results, no Qt (why a class: `core/explain/image.py`).

Models: the bundled EfficientNet-Lite0 (timm, ImageNet-1k), torchvision
classification models by name (`torchvision/resnet50`; weights downloaded once
from download.pytorch.org), Hugging Face image classifiers by Hub id or local
folder, and the user's fine-tuned timm folders (`playground_model.json`).

Jobs (run by the GUI worker, the CLI and the tests alike):
- `classify(ctx, sources, model, top_k, batch_size)` emits one `ImageResult`
  per input (errors are rows, the rest carry on) and returns a `BatchSummary`;
  inputs and per-file errors, cancel and progress are `core/batch.py`'s, in chunks
  of `batch_size` images per forward pass.

A fine-tuned folder whose marker has "preprocess" (see `core/preprocess.py`) is
fed exactly what its training evaluated on: same resize, crop, interpolation and
normalisation, aspect ratio kept. Older folders keep their square resize.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
import urllib.error
import urllib.parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playground.core import batch, devices, download, imageio, models, onnx_runtime, paths
from playground.core.batch import is_url
from playground.core.errors import InputError, ModelError, PlaygroundError
from playground.core.jobs import JobContext
from playground.core.preprocess import Preprocess
from playground.core.results import item_dict
from playground.core.wording import plural

log = logging.getLogger(__name__)

TASK = "image-classification"
DEFAULT_MODEL = "bundled/efficientnet-lite0"
TORCHVISION_PREFIX = "torchvision/"
# The torchvision classifiers the picker offers by default (any other torchvision name works too).
THUMB_SIZE = 128
MAX_DOWNLOAD_BYTES = 50 * 1024 * 1024


# -- results ------------------------------------------------------------------


@dataclass(frozen=True)
class Prediction:
    label: str
    score: float
    index: int

    def to_dict(self) -> dict:
        return {"label": self.label, "score": round(float(self.score), 6)}


@dataclass(frozen=True)
class Thumbnail:
    """A small RGB copy of the image, for the thumbnail strip (row-major, 3 bytes a pixel)."""

    width: int
    height: int
    rgb: bytes


@dataclass
class ImageResult:
    """One input's outcome: predictions, or one sentence saying why it failed."""

    path: str
    predictions: list[Prediction] = field(default_factory=list)
    error: str | None = None
    width: int = 0
    height: int = 0
    thumbnail: Thumbnail | None = None
    index: int = 0  # position in the job's input list

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def top(self) -> Prediction | None:
        return self.predictions[0] if self.predictions else None

    def to_dict(self) -> dict:
        return item_dict(self.path, self.error, lambda: {"predictions": [p.to_dict() for p in self.predictions]})


@dataclass(frozen=True)
class ClassifyStarted:
    """Emitted once the model is loaded and the inputs are listed."""

    total: int
    model: str
    device: str


@dataclass
class BatchSummary:
    results: list[ImageResult]
    model: str
    device: str
    elapsed_s: float  # inference and decoding, model load excluded
    images_per_s: float
    cancelled: bool = False

    @property
    def failed(self) -> list[ImageResult]:
        return [r for r in self.results if not r.ok]

    @property
    def succeeded(self) -> list[ImageResult]:
        return [r for r in self.results if r.ok]


# -- input ----------------------------------------------------------------------


def offline() -> bool:
    return models.hub_offline() or os.environ.get("PLAYGROUND_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def expand_sources(ctx: JobContext | None, sources: Iterable[str | os.PathLike]) -> list[str]:
    """Files and URLs as given; folders walked recursively (hidden files skipped), cancellable.

    A folder with no images stays in the list so that it gets its own error row.
    """
    return [item.source for item in _items(ctx, sources)]


def _items(ctx: JobContext | None, sources: Iterable[str | os.PathLike]) -> list[batch.Item]:
    return batch.expand(ctx, sources, imageio.is_image_path, urls=True, what="images")


def fetch_url(url: str, ctx: JobContext | None = None, timeout: float = 20.0) -> Path:
    """Download an image URL into the cache (once); InputError with one sentence when it cannot."""
    ctx = ctx or JobContext()
    parsed = urllib.parse.urlparse(url)
    suffix = Path(parsed.path).suffix.lower()
    suffix = suffix if imageio.is_image_path(f"x{suffix}") else ".img"
    target = paths.cache_dir() / "downloads" / (hashlib.sha1(url.encode()).hexdigest()[:20] + suffix)
    if target.is_file():
        return target
    if offline():
        raise InputError(f"{url}: cannot download the image while offline mode is on.")
    try:
        download.download_to(url, target, ctx, parsed.netloc, max_bytes=MAX_DOWNLOAD_BYTES,
                             headers={"User-Agent": "model-playground"}, timeout=timeout)
    except PlaygroundError:
        raise
    except urllib.error.HTTPError as exc:
        raise InputError(f"{url}: the server answered {exc.code} ({exc.reason}).") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise InputError(f"{url}: cannot download the image (no network connection? {reason}).") from exc
    return target


def load_image(source: str, ctx: JobContext | None = None, draft: tuple[int, int] | None = None):
    """An upright RGB PIL image from a path or URL (InputError per bad input).

    `draft`: big JPEGs may decode at a reduced scale covering that size; the full
    size stays in `img.info["original_size"]` (see `full_size`).
    """
    if is_url(source):
        return imageio.open_image(fetch_url(source, ctx), name=source, draft=draft)
    return imageio.open_image(source, draft=draft)


def full_size(img) -> tuple[int, int]:
    return tuple(img.info.get("original_size", img.size))


MAX_ASPECT = 4.0


def limit_aspect(img, max_ratio: float = MAX_ASPECT):
    """Letterbox very long strips (e.g. 10000 x 10) so resizing the short side cannot explode memory."""
    from PIL import Image

    w, h = img.size
    if min(w, h) == 0 or max(w, h) / min(w, h) <= max_ratio:
        return img
    new = (w, int(round(w / max_ratio))) if w > h else (int(round(h / max_ratio)), h)
    canvas = Image.new("RGB", new, (124, 116, 104))  # the ImageNet mean colour
    canvas.paste(img, ((new[0] - w) // 2, (new[1] - h) // 2))
    return canvas


def make_thumbnail(img, size: int = THUMB_SIZE) -> Thumbnail:
    from PIL import Image

    w, h = img.size
    scale = min(1.0, size / max(w, h, 1))
    thumb = img if scale == 1.0 else img.resize((max(1, round(w * scale)), max(1, round(h * scale))),
                                                Image.Resampling.BILINEAR, reducing_gap=2.0)
    thumb = thumb.convert("RGB")
    return Thumbnail(thumb.width, thumb.height, thumb.tobytes())


def preview(ctx: JobContext | None, source: str, max_side: int = 1024) -> Thumbnail:
    """A screen-sized RGB copy of an image (the large view); InputError if unreadable."""
    img = load_image(source, ctx, draft=(max_side, max_side))
    full = full_size(img)
    thumb = make_thumbnail(img, max_side)
    return PreviewImage(thumb.width, thumb.height, thumb.rgb, full)


@dataclass(frozen=True)
class PreviewImage(Thumbnail):
    full_size: tuple[int, int] = (0, 0)


# -- the model ---------------------------------------------------------------------


@dataclass
class Classifier:
    """A loaded classifier: the module, its labels and how to prepare images for it."""

    model_id: str
    name: str
    kind: str  # "timm" | "torchvision" | "hf"
    model: Any
    labels: list[str]
    transform: Any  # PIL image -> CHW float tensor (the model's own eval preprocessing)
    input_size: tuple[int, int]  # (height, width)
    mean: tuple[float, ...]
    std: tuple[float, ...]
    device: str
    dtype: Any
    recipe: Preprocess | None = None  # a fine-tuned model's saved preprocessing (then `transform` is it)

    def preprocess(self, img):
        return self.transform(img)

    def logits(self, batch):
        """Raw scores for a CHW batch already on the model's device and dtype."""
        out = self.model(pixel_values=batch) if self.kind == "hf" else self.model(batch)
        return out.logits if hasattr(out, "logits") else out

    def to_device(self, batch):
        return batch.to(self.device, dtype=self.dtype, non_blocking=True)

    def predict(self, batch, top_k: int = 5) -> list[list[Prediction]]:
        """Top-k predictions for a CPU or device batch of preprocessed images."""
        import torch

        with torch.inference_mode():
            probs = self.logits(self.to_device(batch)).float().softmax(dim=-1)
            k = max(1, min(int(top_k), probs.shape[-1]))
            scores, idx = probs.topk(k, dim=-1)
        scores, idx = scores.cpu().tolist(), idx.cpu().tolist()
        return [[Prediction(self.label(i), s, i) for s, i in zip(row_s, row_i)] for row_s, row_i in zip(scores, idx)]

    def label(self, index: int) -> str:
        return self.labels[index] if 0 <= index < len(self.labels) else f"class {index}"


def imagenet_labels() -> list[str]:
    from torchvision.models import ResNet18_Weights

    return list(ResNet18_Weights.DEFAULT.meta["categories"])


def _place(model, device: str | None):
    device = device or devices.choose_device()
    dtype = devices.dtype_for(device)
    model = model.to(device, dtype=dtype).eval()
    return model, device, dtype


def _square_transform(size: int, mean, std):
    from torchvision import transforms as T

    return T.Compose([T.Resize((size, size), interpolation=T.InterpolationMode.BICUBIC, antialias=True),
                      T.ToTensor(), T.Normalize(mean, std)])


def _timm_classifier(model_id: str, name: str, model, labels, device: str | None, transform=None) -> Classifier:
    import timm.data

    cfg = timm.data.resolve_data_config({}, model=model)
    transform = transform or timm.data.create_transform(**cfg)
    model, device, dtype = _place(model, device)
    _, h, w = cfg["input_size"]
    return Classifier(model_id, name, "timm", model, labels, transform, (h, w), tuple(cfg["mean"]),
                      tuple(cfg["std"]), device, dtype)


def _load_bundled(model_id: str, device: str | None) -> Classifier:
    import timm
    import torch

    weights = models.bundled_path(model_id)
    model = timm.create_model("efficientnet_lite0", pretrained=False)
    state = torch.load(weights, map_location="cpu", weights_only=True)
    ours = model.state_dict()
    if len(state) != len(ours) or any(a.shape != b.shape for a, b in zip(state.values(), ours.values())):
        raise ModelError(f"{weights.name}: its tensors do not match timm's efficientnet_lite0; reinstall the package.")
    model.load_state_dict(dict(zip(ours.keys(), state.values())))
    return _timm_classifier(model_id, "EfficientNet-Lite0 (ImageNet-1k)", model, imagenet_labels(), device)


def _load_finetuned(folder: Path, meta: dict, device: str | None) -> Classifier:
    import timm
    from safetensors.torch import load_file

    backbone = meta.get("backbone")
    try:
        labels = [str(x) for x in meta.get("labels") or []]
        n = int(meta.get("num_classes") or len(labels))
    except (TypeError, ValueError) as exc:
        raise ModelError(f"'{folder.name}/playground_model.json' has invalid 'labels' or 'num_classes'.") from exc
    weights = folder / "model.safetensors"
    if not backbone or not n:
        raise ModelError(f"'{folder.name}/playground_model.json' lacks 'backbone' or 'labels'.")
    if not weights.is_file():
        raise ModelError(f"'{folder.name}' has no model.safetensors.")
    try:
        model = timm.create_model(backbone, pretrained=False, num_classes=n)
        model.load_state_dict(load_file(str(weights)))
    except (RuntimeError, ValueError) as exc:
        raise ModelError(f"'{folder.name}': the weights do not fit {backbone} with {n} classes.") from exc
    except Exception as exc:  # a truncated model.safetensors, a backbone that is not a name ...
        raise ModelError(f"'{folder.name}': cannot load its model ({type(exc).__name__}); "
                         "model.safetensors or playground_model.json is damaged.") from exc
    name = str(meta.get("name") or folder.name)
    labels = labels or [f"class {i}" for i in range(n)]
    if "preprocess" in meta:  # saved by training: apply exactly that
        try:
            recipe = Preprocess.from_dict(meta["preprocess"])
        except ValueError as exc:
            raise ModelError(f"'{folder.name}/playground_model.json' has an invalid 'preprocess' ({exc}).") from exc
        clf = _timm_classifier(str(folder), name, model, labels, device, recipe)
        clf.input_size, clf.mean, clf.std, clf.recipe = recipe.input_size, recipe.mean, recipe.std, recipe
        return clf
    # Folders from before "preprocess" was saved: the square resize they always had.
    size = int(meta.get("image_size") or 224)
    mean = tuple(meta.get("mean") or (0.485, 0.456, 0.406))
    std = tuple(meta.get("std") or (0.229, 0.224, 0.225))
    clf = _timm_classifier(str(folder), name, model, labels, device, _square_transform(size, mean, std))
    clf.input_size, clf.mean, clf.std = (size, size), mean, std
    return clf


def _load_hf(model_id: str, folder: Path, device: str | None, trust_remote_code: bool = False) -> Classifier:
    from transformers import AutoImageProcessor, AutoModelForImageClassification

    models.check_weights_safe(folder, allow_pickle=False, trust_remote_code=trust_remote_code)
    try:
        processor = AutoImageProcessor.from_pretrained(str(folder), trust_remote_code=trust_remote_code)
        model = AutoModelForImageClassification.from_pretrained(str(folder), trust_remote_code=trust_remote_code)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"'{model_id}' is not an image-classification model transformers can load: "
                         f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc
    id2label = getattr(model.config, "id2label", None) or {}
    labels = [str(id2label.get(i, id2label.get(str(i), f"class {i}"))) for i in range(model.config.num_labels)]
    size = getattr(processor, "size", None) or {}
    crop = getattr(processor, "crop_size", None) or {}
    h = int(crop.get("height") or size.get("height") or size.get("shortest_edge") or 224)
    w = int(crop.get("width") or size.get("width") or size.get("shortest_edge") or h)

    def transform(img, _p=processor):
        return _p(images=img, return_tensors="pt")["pixel_values"][0]

    mean = tuple(getattr(processor, "image_mean", None) or (0.5, 0.5, 0.5))
    std = tuple(getattr(processor, "image_std", None) or (0.5, 0.5, 0.5))
    model, device, dtype = _place(model, device)
    name = getattr(model.config, "_name_or_path", "") or model_id
    return Classifier(model_id, Path(name).name if Path(name).exists() else name, "hf", model, labels, transform,
                      (h, w), mean, std, device, dtype)


# torchvision's own loader unpickles without weights_only; load its checkpoints safely instead.
_TV_LOCK = threading.Lock()


@contextlib.contextmanager
def _torchvision_weights_only():
    from torch.hub import load_state_dict_from_url
    from torchvision.models._api import WeightsEnum

    original = WeightsEnum.get_state_dict

    def safe(self, *args, **kwargs):
        kwargs["weights_only"] = True
        return load_state_dict_from_url(self.url, *args, **kwargs)

    with _TV_LOCK:
        WeightsEnum.get_state_dict = safe
        try:
            yield
        finally:
            WeightsEnum.get_state_dict = original


def torchvision_names() -> list[str]:
    import torchvision.models as tvm

    return list(tvm.list_models(module=tvm))


def torchvision_checkpoint(name: str) -> tuple[str, Path]:
    """The URL of a torchvision model's default weights and where torch keeps them once downloaded."""
    from torchvision.models import get_model_weights

    url = get_model_weights(name).DEFAULT.url
    return url, download.torch_checkpoint(url)


def _download_checkpoint(name: str, url: str, target: Path, ctx: JobContext) -> None:
    if offline():
        raise ModelError(f"torchvision {name} needs its weights downloaded once from {url}, "
                         "and offline mode is on.")
    try:
        download.download_to(url, target, ctx, f"torchvision {name}")
    except PlaygroundError:
        raise
    except (urllib.error.URLError, OSError) as exc:
        if getattr(exc, "errno", None) == 28:
            raise ModelError(f"Disk full while downloading torchvision {name} weights.") from exc
        raise ModelError(f"torchvision {name} needs its weights from {url} and the download failed "
                         f"(no network connection? {getattr(exc, 'reason', exc)}).") from exc


def _load_torchvision(model_id: str, name: str, ctx: JobContext, device: str | None) -> Classifier:
    import torch  # noqa: F401
    from torchvision.models import get_model, get_model_weights

    if name not in torchvision_names():
        raise ModelError(f"'{name}' is not a torchvision classification model.")
    weights = get_model_weights(name).DEFAULT
    url, target = torchvision_checkpoint(name)
    if not target.is_file():
        _download_checkpoint(name, url, target, ctx)
    ctx.progress(None, f"Loading torchvision {name}...")
    try:
        with _torchvision_weights_only():
            model = get_model(name, weights=weights)
    except Exception as exc:
        raise ModelError(f"torchvision {name}: the weights file {target.name} cannot be loaded ({exc}).") from exc
    tf = weights.transforms()
    crop = int(tf.crop_size[0])
    model, device, dtype = _place(model, device)
    return Classifier(model_id, f"torchvision {name}", "torchvision", model, list(weights.meta["categories"]), tf,
                      (crop, crop), tuple(tf.mean), tuple(tf.std), device, dtype)


def torchvision_name(model_id: str) -> str | None:
    """'torchvision/resnet50' (or a bare torchvision name that is not a folder) -> 'resnet50'."""
    text = model_id.strip()
    if text.startswith(TORCHVISION_PREFIX):
        return text[len(TORCHVISION_PREFIX):]
    if "/" not in text and not Path(text).expanduser().exists() and text in torchvision_names():
        return text
    return None


def load_onnx_classifier(model_id: str) -> Classifier:
    """A `Classifier` that runs an exported file with onnxruntime and its saved recipe."""
    import torch

    path = Path(model_id).expanduser()
    meta = onnx_runtime.read_metadata(path)
    if meta.get("kind", "image") != "image":
        raise ModelError(f"'{path.name}' is an exported {meta.get('kind')} classifier, not an image classifier.")
    try:
        recipe = Preprocess.from_dict(meta.get("preprocess"))
    except ValueError as exc:
        raise ModelError(f"'{path.name}' has no valid preprocessing in its metadata ({exc}).") from exc
    sess = onnx_runtime.session(path)
    labels = [str(x) for x in meta.get("labels") or []]
    n = sess.get_outputs()[0].shape[-1]
    if isinstance(n, int) and not labels:
        labels = [f"class {i}" for i in range(n)]
    clf = Classifier(str(path), f"{meta.get('name') or path.stem} (ONNX)", "onnx",
                     onnx_runtime.OrtModule(sess, sess.get_inputs()[0].name), labels, recipe, recipe.input_size,
                     recipe.mean, recipe.std, "cpu", torch.float32, recipe=recipe)
    return clf


def load_classifier(model: str | None = None, ctx: JobContext | None = None, device: str | None = None,
                    trust_remote_code: bool = False) -> Classifier:
    """Load (or reuse from the cache) an image classifier by id, name or folder."""
    ctx = ctx or JobContext()
    model_id = (model or DEFAULT_MODEL).strip()
    device = device or devices.choose_device()
    key = (TASK, model_id, device, bool(trust_remote_code))

    def loader() -> Classifier:
        ctx.progress(None, f"Loading {model_id}...")
        if model_id.lower().endswith(".onnx"):  # an exported file: onnxruntime with its saved recipe
            return load_onnx_classifier(model_id)
        tv = torchvision_name(model_id)
        if tv is not None:
            return _load_torchvision(model_id, tv, ctx, device)
        ref = models.resolve(model_id)
        if ref.kind == "bundled":
            if model_id != DEFAULT_MODEL:
                raise ModelError(f"'{model_id}' is not an image-classification model.")
            return _load_bundled(model_id, device)
        folder = ref.path if ref.path is not None else models.local_folder(model_id, ctx)
        if folder.is_file():
            raise ModelError(f"'{folder.name}' is a file; choose the model's folder.")
        meta = models.read_marker(folder)
        if meta is not None and meta.get("task") not in (None, TASK):
            raise ModelError(f"'{folder.name}' is a {meta.get('task')} model, not an image classifier.")
        if meta is not None and meta.get("backbone"):
            return _load_finetuned(folder, meta, device)
        if not (folder / "config.json").is_file():
            raise ModelError(f"'{folder}' holds no image-classification model (no config.json or playground_model.json).")
        return _load_hf(model_id, folder, device, trust_remote_code)

    clf = models.cache.get(key, loader, size=lambda c: models.estimate_size(c.model))
    return clf


# -- jobs ------------------------------------------------------------------------------


def classify(ctx: JobContext, sources: Sequence[str], model: str | None = None, top_k: int = 5,
             batch_size: int = 16, device: str | None = None, thumbnails: bool = True,
             trust_remote_code: bool = False) -> BatchSummary:
    """Classify files, folders and URLs in batches; one `ImageResult` event per input."""
    import torch

    items = _items(ctx, sources)
    clf = load_classifier(model, ctx, device, trust_remote_code=trust_remote_code)
    ctx.emit(ClassifyStarted(len(items), clf.name, clf.device))
    total = len(items)
    side = 2 * max(clf.input_size)  # JPEGs decode at 1/2..1/8 scale when still twice the model's input
    draft = clf.recipe.draft if clf.recipe is not None else (side, side)  # a recipe: as training decoded
    tensors: dict[int, Any] = {}  # item index -> preprocessed image, until its chunk's forward pass

    def prepare(item: batch.Item) -> ImageResult:
        row = ImageResult(item.source, index=item.index)
        img = load_image(item.source, ctx, draft=draft)
        row.width, row.height = full_size(img)
        if thumbnails:
            row.thumbnail = make_thumbnail(img)
        # A saved recipe crops from the source box (no huge strips) exactly as in training.
        tensors[item.index] = clf.preprocess(img if clf.recipe is not None else limit_aspect(img))
        return row

    def fail(item: batch.Item, message: str) -> ImageResult:
        return ImageResult(item.source, error=message, index=item.index)

    def predict(rows: list[ImageResult]) -> None:
        nonlocal clf
        ready = [row for row in rows if row.index in tensors]
        if ready:
            stacked = torch.stack([tensors.pop(row.index) for row in ready])
            preds_list, clf = predict_with_fallback(ctx, clf, stacked, top_k)
            for row, preds in zip(ready, preds_list):
                row.predictions = preds

    ctx.progress(0.0 if total else 1.0, f"Classifying {plural(total, 'image')} with {clf.name}")
    run = batch.for_each(ctx, items, prepare, fail, chunk=batch_size, finish=predict,
                         unexpected="cannot be prepared for the model",
                         progress_text="Classified {done} of {total} image{s}, {rate:.1f} images/s")
    tensors.clear()  # a cancelled chunk's
    return BatchSummary(run.results, clf.name, clf.device, run.elapsed, run.rate, run.cancelled)


def predict_with_fallback(ctx: JobContext, clf: Classifier, batch, top_k: int):
    """Predict; on GPU out-of-memory halve the batch, and at batch 1 move to the CPU.

    Returns the predictions and the classifier that made them (the CPU one after a fallback).
    """
    try:
        return clf.predict(batch, top_k), clf
    except Exception as exc:
        if not devices.is_out_of_memory(exc):
            raise
        devices.free_gpu_memory()
        if len(batch) > 1:
            half = len(batch) // 2
            ctx.progress(None, f"Out of GPU memory: retrying with batches of {half}")
            first, clf = predict_with_fallback(ctx, clf, batch[:half], top_k)
            second, clf = predict_with_fallback(ctx, clf, batch[half:], top_k)
            return first + second, clf
        if clf.device == "cpu":
            raise
        ctx.progress(None, f"Out of GPU memory even for one image: {clf.name} continues on the CPU")
        cpu = load_classifier(clf.model_id, ctx, "cpu")
        return cpu.predict(batch.to("cpu"), top_k), cpu


def classify_tensors(ctx: JobContext, batch, model: str | None = None, top_k: int = 5,
                     device: str | None = None) -> list[list[Prediction]]:
    """The thin engine path on an already preprocessed batch (the benchmark compares it with timm)."""
    clf = load_classifier(model, ctx, device)
    ctx.check_cancelled()
    return clf.predict(batch, top_k)


def results_csv(results: Iterable[ImageResult]) -> str:
    """The batch table as CSV text: path, top-1 label, score, error."""
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["path", "label", "score", "error"])
    for r in results:
        top = r.top
        writer.writerow([r.path, top.label if top else "", f"{top.score:.6f}" if top else "", r.error or ""])
    return buf.getvalue()


def export_csv(target: str | os.PathLike, results: Iterable[ImageResult]) -> Path:
    """Write the table atomically (a crash never leaves half a CSV)."""
    from playground.core import atomic

    atomic.write_text(target, results_csv(results))
    return Path(target)
