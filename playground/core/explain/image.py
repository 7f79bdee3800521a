"""Which pixels made an image classifier choose a class.

- Models with gradients (timm and torchvision CNNs and transformers, Hugging Face ViT/DeiT/BEiT/Swin/
  ConvNeXt-style models, the user's fine-tuned timm folders): Grad-CAM from `pytorch-grad-cam`, on a
  layer found from the model's own structure (`find_target`), with the reshape a token layer needs.
- Models without gradients (ONNX exports run by onnxruntime) or on request: occlusion (captum): a
  window painted in the image's median colour slides over the image, and the drop of the class's
  logit is that place's importance. Deterministic, and model-agnostic.

Grad-CAM's users' known traps, designed against here: transformer maps are empty without the reshape
of tokens into a grid, or when taken at the last block's output (only the class token reaches the
head from there), so the target is the normalisation at the *input* of the last block; and gradients
never flow under `no_grad`/`inference_mode`, so the map is computed with both switched off here.
"""

from __future__ import annotations

import math
import os
import re
import threading
import urllib.parse
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playground.core import image
from playground.core.errors import InputError, ModelError
from playground.core.jobs import JobContext

GRAD_CAM = "grad-cam"
OCCLUSION = "occlusion"
METHODS = ("auto", GRAD_CAM, OCCLUSION)
_UNSAFE = re.compile(r"[^\w.-]+")  # what a file name should not carry from a label
MAX_PREFIX_TOKENS = 8  # class, distillation and register tokens before a transformer's patch grid

# One map at a time: the hooks and the frozen parameters belong to a model shared through the cache.
_LOCK = threading.Lock()
_TARGETS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> CamTarget | None


@dataclass
class ImageExplanation:
    path: str
    class_index: int
    label: str
    score: float  # the class's probability
    heatmap: Any  # numpy float32 (height, width) in [0, 1], brighter = more important; the image's size by default
    image_size: tuple[int, int]  # (width, height) of the image
    method: str  # GRAD_CAM | OCCLUSION
    layer: str | None = None  # Grad-CAM's layer
    signed: Any = None  # occlusion only: the logit drop per pixel, negative where hiding raised the class
    overlay: image.Thumbnail | None = None  # RGBA colour map at the heatmap's size, when asked


@dataclass(frozen=True)
class CamTarget:
    layer: str  # module name in the model
    layout: str  # "nchw" (CNN maps), "nhwc" (Swin's channels-last maps) or "tokens" (batch, tokens, channels)


# -- which layer -----------------------------------------------------------------------------------


def _is_attention(module) -> bool:
    import torch

    return isinstance(module, torch.nn.MultiheadAttention) or "Attention" in type(module).__name__


def _is_norm(module) -> bool:
    return "Norm" in type(module).__name__


def token_grid(tokens: int, height: int, width: int) -> tuple[int, int, int] | None:
    """(prefix tokens, rows, cols) when `tokens` are a few prefix tokens and a patch grid of the input's shape."""
    for prefix in range(0, MAX_PREFIX_TOKENS + 1):
        n = tokens - prefix
        if n < 1:
            return None
        rows = max(1, round(math.sqrt(n * height / width)))
        if n % rows == 0:
            cols = n // rows
            if abs(math.log((cols / rows) / (width / height))) < 0.3:
                return prefix, rows, cols
    return None


def find_target(model, example) -> CamTarget | None:
    """The layer Grad-CAM should read, from one probe forward pass of `example` (N, 3, H, W).

    Transformers (any model with attention): the normalisation at the input of the last block, whose
    tokens still map to image patches. CNNs: the last module whose output is a spatial map (N, C, H, W)
    with H, W > 1, i.e. the final features before pooling. None when the model has neither.
    """
    import torch

    parents: dict[str, str] = {}
    for name, module in model.named_modules():
        for child, _ in module.named_children():
            parents[f"{name}.{child}" if name else child] = name
    modules = dict(model.named_modules())
    ran: list[str] = []
    shapes: dict[str, tuple] = {}

    def hook(name):
        def record(_m, _i, out):
            out = out[0] if isinstance(out, tuple) and out and isinstance(out[0], torch.Tensor) else out
            if isinstance(out, torch.Tensor):
                ran.append(name)
                shapes[name] = tuple(out.shape)
        return record

    handles = [m.register_forward_hook(hook(n)) for n, m in modules.items() if n]
    try:
        with torch.inference_mode():
            model(example)
    finally:
        for h in handles:
            h.remove()
    h, w = example.shape[-2:]
    attention = [n for n in ran if _is_attention(modules[n])]
    if attention:
        outer = attention[-1]
        while parents.get(outer) and _is_attention(modules[parents[outer]]):
            outer = parents[outer]
        block = parents.get(outer, "")
        for child, module in modules[block].named_children():
            name = f"{block}.{child}" if block else child
            if _is_norm(module) and name in shapes:
                shape = shapes[name]
                if len(shape) == 3 and token_grid(shape[1], h, w):
                    return CamTarget(name, "tokens")
                if len(shape) == 4 and shape[1] > 1 and shape[2] > 1:
                    return CamTarget(name, "nhwc")  # a LayerNorm normalises the last axis: channels last
                break
    for name in reversed(ran):
        shape = shapes[name]
        module = modules[name]
        if (len(shape) == 4 and shape[-1] > 1 and shape[-2] > 1
                and not isinstance(module, (torch.nn.LayerNorm, torch.nn.Linear))):
            return CamTarget(name, "nchw")
    return None


def _reshape(target: CamTarget, height: int, width: int):
    """pytorch-grad-cam's `reshape_transform`: activations (and gradients) -> float32 (N, C, rows, cols).

    Always float32: on a GPU the model runs in half precision, and the library's OpenCV resize takes
    no float16 maps."""
    if target.layout == "nchw":
        return lambda t: t.float()
    if target.layout == "nhwc":
        return lambda t: t.permute(0, 3, 1, 2).float()

    def tokens(t):
        prefix, rows, cols = token_grid(t.shape[1], height, width)
        return t[:, prefix:, :].reshape(t.shape[0], rows, cols, t.shape[2]).permute(0, 3, 1, 2).float()

    return tokens


def target_for(clf: image.Classifier, x) -> CamTarget | None:
    key = clf.model
    try:
        if key in _TARGETS:
            return _TARGETS[key]
    except TypeError:  # not weak-referenceable (an onnxruntime wrapper): never cached, never asked
        return None
    found = find_target(_Logits(clf), x)
    if found is not None:
        found = CamTarget(found.layer.removeprefix("net."), found.layout)
    _TARGETS[key] = found
    return found


def _logits_module():
    import torch

    class Logits(torch.nn.Module):
        """The classifier as pixels -> logits (what pytorch-grad-cam calls), for HF outputs too."""

        def __init__(self, clf):
            super().__init__()
            self.net = clf.model
            self._clf = clf

        def forward(self, x):
            return self._clf.logits(x)

    return Logits


def _Logits(clf):
    return _logits_module()(clf)


# -- the image, as the model sees it whole ------------------------------------------------------------


def model_input(clf: image.Classifier, source: str, ctx: JobContext):
    """(1, 3, H, W) tensor of the whole image (no crop, so the map covers all of it) and the PIL image.

    A saved recipe (fine-tuned models, their ONNX exports): its scale with the aspect ratio kept (a CNN
    takes any size), unless the file has a fixed input size. Otherwise the model's input size.
    """
    import numpy as np
    import torch
    from torchvision.transforms import functional as TF

    h, w = clf.input_size
    if clf.recipe is not None:
        img = image.load_image(source, ctx, draft=clf.recipe.draft)
        ctx.check_cancelled()
        fixed = _fixed_size(clf)
        if fixed:  # an export from before inputs of any size: the whole image squeezed into it
            from PIL import Image

            whole = img.convert("RGB").resize((fixed[1], fixed[0]), Image.Resampling[clf.recipe.interpolation.upper()])
        else:
            whole = clf.recipe.resize_whole(image.limit_aspect(img))

        x = clf.recipe.normalize(torch.from_numpy(np.asarray(whole, dtype=np.uint8).transpose(2, 0, 1).copy()))
        return x.unsqueeze(0), img
    img = image.load_image(source, ctx, draft=(2 * w, 2 * h))
    ctx.check_cancelled()
    x = TF.to_tensor(img.convert("RGB").resize((w, h), resample=3))
    return TF.normalize(x, list(clf.mean), list(clf.std)).unsqueeze(0), img


def _fixed_size(clf: image.Classifier) -> tuple[int, int] | None:
    """(height, width) an ONNX file insists on, or None when it takes any size."""
    session = getattr(clf.model, "session", None)
    if clf.kind != "onnx" or session is None:
        return None
    shape = session.get_inputs()[0].shape
    return (shape[2], shape[3]) if all(isinstance(v, int) for v in shape[2:4]) else None


# -- the methods --------------------------------------------------------------------------------------


def grad_cam(clf: image.Classifier, x, class_index: int, target: CamTarget):
    """Grad-CAM map (H, W) in [0, 1] at the input's size; gradients reach the input only, never the weights."""
    import torch
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    wrapper = _Logits(clf)
    layer = dict(clf.model.named_modules())[target.layer]
    params = [p for p in clf.model.parameters() if p.requires_grad]
    with _LOCK, torch.inference_mode(False), torch.enable_grad():
        for p in params:
            p.requires_grad_(False)
        try:
            x = x.clone().requires_grad_(True)  # the graph then reaches the target layer through the input
            with GradCAM(model=wrapper, target_layers=[layer],
                         reshape_transform=_reshape(target, x.shape[-2], x.shape[-1])) as cam:
                maps = cam(input_tensor=x, targets=[ClassifierOutputTarget(class_index)])
        finally:
            for p in params:
                p.requires_grad_(True)
    return maps[0]


def occlusion(clf: image.Classifier, x, class_index: int, batch: int = 32):
    """Logit drop (H, W) when a window around each place is hidden (captum's Occlusion)."""
    import torch
    from captum.attr import Occlusion

    h, w = x.shape[-2:]
    window = max(2, round(min(h, w) / 6))
    stride = max(1, window // 2)
    baseline = x.flatten(2).median(dim=2).values[..., None, None].expand_as(x).contiguous()

    def forward(batch_x):
        return clf.logits(clf.to_device(batch_x)).float().cpu()

    with _LOCK, torch.inference_mode():
        attr = Occlusion(forward).attribute(x, sliding_window_shapes=(3, window, window), strides=(3, stride, stride),
                                            baselines=baseline, target=class_index, perturbations_per_eval=batch)
    return attr[0].sum(0).numpy()


def _resize(values, size: tuple[int, int]):
    """A float map resized to (width, height), bilinear."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    t = torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32))[None, None]
    return F.interpolate(t, size=(int(size[1]), int(size[0])), mode="bilinear", align_corners=False)[0, 0].numpy()


def _unit(values):
    import numpy as np

    v = np.clip(np.asarray(values, dtype=np.float32), 0, None)
    peak = float(v.max()) if v.size else 0.0
    return v / peak if peak > 0 else v


# -- the job -------------------------------------------------------------------------------------------


def class_index_for(clf: image.Classifier, label: str) -> int:
    """The index of a class named `label` (exact, then case-insensitive); InputError naming some labels."""
    if label in clf.labels:
        return clf.labels.index(label)
    folded = [x.casefold() for x in clf.labels]
    if label.casefold() in folded:
        return folded.index(label.casefold())
    some = ", ".join(clf.labels[:8]) + (", ..." if len(clf.labels) > 8 else "")
    raise InputError(f"'{label}' is not a class of {clf.name} ({some}).")


def explain(ctx: JobContext, source: str, model: str | None = None, class_index: int | None = None,
            method: str = "auto", device: str | None = None, size: tuple[int, int] | None = None,
            overlay: bool = False, trust_remote_code: bool = False, label: str | None = None) -> ImageExplanation:
    """Why `model` gives `source` class `class_index` or the class named `label` (default: its top class),
    as a map the image's size.

    `method`: "auto" (Grad-CAM where the model has gradients and a layer for it, else occlusion),
    "grad-cam" or "occlusion". `size=(width, height)` returns the map at that size (the UI's preview).
    """
    import torch

    if method not in METHODS:
        raise InputError(f"Unknown explanation method '{method}' (one of {', '.join(METHODS)}).")
    clf = image.load_classifier(model, ctx, device, trust_remote_code=trust_remote_code)
    if label is not None:
        class_index = class_index_for(clf, label)
    x, img = model_input(clf, source, ctx)
    x = clf.to_device(x)
    with torch.inference_mode():
        probs = clf.logits(x).float().softmax(-1)[0]
    idx = int(probs.argmax()) if class_index is None else int(class_index)
    if not 0 <= idx < probs.shape[-1]:
        raise InputError(f"Class {idx} does not exist in {clf.name} ({probs.shape[-1]} classes).")
    ctx.check_cancelled()
    target = None if clf.kind == "onnx" or method == OCCLUSION else target_for(clf, x)
    if method == GRAD_CAM and target is None:
        raise ModelError(f"Grad-CAM needs gradients and a spatial layer; {clf.name} has none (try occlusion).")
    out_size = size or image.full_size(img)
    signed = None
    if target is not None:
        heat = _unit(_resize(grad_cam(clf, x, idx, target), out_size))
    else:
        signed = _resize(occlusion(clf, x, idx), out_size)
        heat = _unit(signed)
    result = ImageExplanation(source, idx, clf.label(idx), float(probs[idx]), heat, image.full_size(img),
                              GRAD_CAM if target is not None else OCCLUSION,
                              target.layer if target is not None else None, signed)
    if overlay:
        result.overlay = colorize(heat)
    return result


def colorize(heat) -> image.Thumbnail:
    """A jet-like RGBA colour map of a [0, 1] heatmap (alpha opaque; the UI sets the opacity)."""
    import numpy as np

    v = np.clip(np.asarray(heat, dtype=np.float32), 0.0, 1.0)
    r = np.clip(1.5 - np.abs(4.0 * v - 3.0), 0, 1)
    g = np.clip(1.5 - np.abs(4.0 * v - 2.0), 0, 1)
    b = np.clip(1.5 - np.abs(4.0 * v - 1.0), 0, 1)
    rgba = np.stack([r, g, b, np.ones_like(v)], axis=-1)
    rgba = np.ascontiguousarray((rgba * 255).astype(np.uint8))
    return image.Thumbnail(int(v.shape[1]), int(v.shape[0]), rgba.tobytes())


def grayscale_png(heat) -> bytes:
    """The map as an 8-bit grayscale PNG (brighter = more important)."""
    import io

    import numpy as np
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray((np.clip(heat, 0, 1) * 255).round().astype(np.uint8), "L").save(buf, format="PNG")
    return buf.getvalue()


# -- maps as files (the CLI's --explain-out) ---------------------------------------------------------


def prepare_out_dir(folder: str | os.PathLike) -> Path:
    """Create `folder` if needed; InputError (one sentence) when maps cannot be written there."""
    path = Path(folder).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"Cannot create the folder {path} for the maps ({exc.strerror or exc}).") from exc
    if not path.is_dir() or not os.access(path, os.W_OK | os.X_OK):
        raise InputError(f"Cannot write the maps into {path} (not a writable folder).")
    return path


def save_map(result: ImageExplanation, folder: Path, taken: set[str]) -> Path:
    """Write the map as `<image name>.<class>.png` (a number added when taken), atomically; its path."""
    from playground.core import atomic

    stem = Path(urllib.parse.urlparse(result.path).path if image.is_url(result.path) else result.path).stem or "image"
    label = _UNSAFE.sub("_", result.label).strip("._") or str(result.class_index)
    base = f"{stem}.{label}"
    name, n = f"{base}.png", 1
    while name in taken:
        n += 1
        name = f"{base}-{n}.png"
    taken.add(name)
    target = folder / name
    try:
        atomic.write_bytes(target, grayscale_png(result.heatmap))
    except OSError as exc:
        raise InputError(f"Cannot write {target} ({exc.strerror or exc}).") from exc
    return target
