"""Fine-tune an image classifier from a folder of class sub-folders (transfer learning).

The default backbone is the bundled EfficientNet-Lite0 (timm architecture,
weights from its package mapped by position); any timm model name with
downloadable weights, or an earlier fine-tuned image model folder, works too.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from playground.core import models
from playground.core.errors import InputError, ModelError
from playground.core.jobs import JobContext
from playground.core.preprocess import IMAGENET_MEAN, IMAGENET_STD, Preprocess
from playground.core.training import data as tdata
from playground.core.training import defaults, distributed
from playground.core.training.common import make_config, resolve_out
from playground.core.training.events import DataReport, TrainResult
from playground.core.training.loop import TrainControl, TrainSpec, fit

BUNDLED_BACKBONE = defaults.IMAGE_BACKBONE
PRELOAD_BUDGET = 1_500_000_000  # bytes of decoded pixels kept in memory; beyond it images are decoded per batch


def load_backbone(backbone: str, num_classes: int, ctx: JobContext | None = None):
    """(timm model with a fresh `num_classes` head, architecture name, mean, std)."""
    import timm
    import torch

    backbone = (backbone or BUNDLED_BACKBONE).strip()
    if backbone in (BUNDLED_BACKBONE, "efficientnet_lite0"):
        model = timm.create_model("efficientnet_lite0", pretrained=False)
        state = torch.load(models.bundled_path(BUNDLED_BACKBONE), map_location="cpu", weights_only=True)
        target = model.state_dict()
        if len(state) != len(target) or any(a.shape != b.shape for a, b in zip(state.values(), target.values(), strict=True)):
            raise ModelError("The bundled EfficientNet-Lite0 weights do not match timm's efficientnet_lite0.")
        model.load_state_dict(dict(zip(target.keys(), state.values(), strict=True)))
        model.reset_classifier(num_classes)
        return model, "efficientnet_lite0", IMAGENET_MEAN, IMAGENET_STD
    folder = Path(backbone).expanduser()
    meta = models.read_marker(folder) if folder.is_dir() else None
    if meta is not None:
        if meta.get("task") != "image-classification":
            raise ModelError(f"'{folder.name}' is a {meta.get('task')} model, not an image classifier.")
        models.check_weights_safe(folder)
        from safetensors.torch import load_file

        arch = meta["backbone"]
        model = timm.create_model(arch, pretrained=False, num_classes=int(meta["num_classes"]))
        model.load_state_dict(load_file(str(folder / "model.safetensors")))
        model.reset_classifier(num_classes)
        return model, arch, tuple(meta.get("mean", IMAGENET_MEAN)), tuple(meta.get("std", IMAGENET_STD))
    if backbone not in timm.list_models():
        raise ModelError(f"'{backbone}' is not a timm model name, a fine-tuned image model folder or "
                         f"'{BUNDLED_BACKBONE}'.")
    if models.hub_offline():
        raise ModelError(f"Backbone '{backbone}' needs its weights downloaded, and offline mode is on.")
    try:
        model = timm.create_model(backbone, pretrained=True, num_classes=num_classes)
    except Exception as exc:
        raise ModelError(f"Cannot load the weights of '{backbone}' ({type(exc).__name__}); "
                         "check the network connection.") from exc
    cfg = model.pretrained_cfg or {}
    return model, backbone, tuple(cfg.get("mean", IMAGENET_MEAN)), tuple(cfg.get("std", IMAGENET_STD))


def load_pixels(path: Path, recipe: Preprocess | int):
    """uint8 array (3, H, W) prepared by `recipe` (an int: square, short side resized, centre crop).

    Decoded the way inference decodes (same JPEG draft), so a saved model's inputs match.
    """
    from playground.core.imageio import open_image

    if not isinstance(recipe, Preprocess):
        recipe = Preprocess.square(int(recipe))
    return recipe.pixels(open_image(path, draft=recipe.draft))


class ImageSpec(TrainSpec):
    task = "image-classification"

    def __init__(self, ctx: JobContext, data: tdata.ClassFolderData, backbone: str, image_size: int, batch_size: int,
                 val_share: float, head_only: bool, augment: bool, flip: bool, seed: int):
        import numpy as np
        import torch

        self.ctx = ctx
        self.image_size = int(image_size)
        if not 16 <= self.image_size <= 1024:
            raise InputError(f"The image size must be between 16 and 1024 pixels (got {image_size}).")
        self.batch_size = int(batch_size)
        self.head_only = head_only
        self.augment = augment
        self.flip = flip
        self.seed = seed
        self.backbone = backbone
        # The eval recipe (saved in the marker; inference applies the same). Mean/std follow the backbone.
        self.recipe = Preprocess.square(self.image_size, interpolation="bilinear")

        # Decode every image once: unreadable files are found (and skipped) before training starts.
        n = len(data.files)
        self.preload = n * 3 * self.image_size**2 <= PRELOAD_BUDGET
        pixels, bad = [], []
        for i, path in enumerate(data.files):
            if i % 50 == 0:
                ctx.check_cancelled()
                ctx.progress(i / n, f"Reading images {i}/{n}")
            try:
                if self.preload:
                    pixels.append(load_pixels(path, self.recipe))
                else:
                    from PIL import Image

                    with Image.open(path) as im:
                        im.verify()
            except (InputError, OSError, SyntaxError, ValueError):
                bad.append(i)
        self.data = tdata.drop_unreadable(data, bad)
        if self.preload:
            self.pixels = torch.from_numpy(np.stack(pixels)) if pixels else None
        self.train_idx, self.val_idx = tdata.split_indices(self.data.targets, val_share, seed)
        self.targets = torch.tensor(self.data.targets, dtype=torch.long)
        self.steps_per_epoch = max(1, -(-len(self.train_idx) // self.batch_size))

        ctx.progress(None, "Loading the backbone")
        self.model, self.arch, self.mean, self.std = load_backbone(backbone, len(self.data.labels), ctx)
        self.recipe = dataclasses.replace(self.recipe, mean=tuple(self.mean), std=tuple(self.std))
        self.head = self.model.get_classifier()
        head_ids = {id(p) for p in self.head.parameters()}
        for p in self.model.parameters():
            p.requires_grad = (id(p) in head_ids) or not head_only
        self._mean = torch.tensor(self.recipe.mean).view(1, 3, 1, 1)
        self._std = torch.tensor(self.recipe.std).view(1, 3, 1, 1)

    def shard(self, rank: int, world_size: int) -> None:
        self.rank, self.world_size = rank, world_size
        self.steps_per_epoch = distributed.rank_steps(len(self.train_idx), self.batch_size, world_size)

    def signature(self) -> dict:
        return {"labels": list(self.data.labels), "backbone": self.arch, "image_size": self.image_size,
                "head_only": self.head_only, "batch_size": self.batch_size}

    def to(self, device: str) -> None:
        import torch

        # channels_last: about 2x faster depthwise convolutions on the CPU, and the layout GPUs prefer.
        self.model.to(device, memory_format=torch.channels_last)
        self._mean = self._mean.to(device)
        self._std = self._std.to(device)

    def train_mode(self) -> None:
        # Head-only too: batch norm then uses (and tracks) this data's statistics, which matters
        # when the images are far from ImageNet's (an eval-mode frozen backbone gave digits chance accuracy).
        self.model.train()

    def _pixels(self, idx: list[int]):
        import numpy as np
        import torch

        if self.preload:
            return self.pixels[idx]
        return torch.from_numpy(np.stack([load_pixels(self.data.files[i], self.recipe) for i in idx]))

    def _normalize(self, x):
        return (x - self._mean) / self._std  # the arithmetic of Preprocess.normalize

    def eval_inputs(self, idx: list[int], device: str = "cpu"):
        """What evaluation feeds the model for these examples: the saved recipe, no augmentation."""
        import torch

        x = self._normalize(self._pixels(idx).to(device).float().div_(255.0))
        return x.contiguous(memory_format=torch.channels_last)

    def calibration_inputs(self, device: str):
        """This rank's training images, shuffled the same way every time (every class in the first
        batches, however the folder is ordered), prepared as evaluation prepares them."""
        for idx in self.rank_batches(self.train_idx, 0):
            yield self.eval_inputs(idx, device)

    def _augment(self, x):
        import torch
        import torch.nn.functional as F

        b = x.shape[0]
        scale = torch.empty(b, device=x.device).uniform_(0.85, 1.0)
        shift = torch.empty(b, 2, device=x.device).uniform_(-0.08, 0.08)
        theta = torch.zeros(b, 2, 3, device=x.device)
        theta[:, 0, 0] = scale
        theta[:, 1, 1] = scale
        if self.flip:
            theta[:, 0, 0] *= torch.where(torch.rand(b, device=x.device) < 0.5, -1.0, 1.0)
        theta[:, :, 2] = shift
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
        contrast = torch.empty(b, 1, 1, 1, device=x.device).uniform_(0.9, 1.1)
        bright = torch.empty(b, 1, 1, 1, device=x.device).uniform_(-0.08, 0.08)
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        return ((x - mean) * contrast + mean + bright).clamp_(0.0, 1.0)

    def batches(self, epoch: int, start: int, device: str):
        import torch

        batches = self.rank_batches(self.train_idx, epoch)
        for b in range(start, self.steps_per_epoch):
            idx = batches[b]
            x = self._pixels(idx).to(device, non_blocking=True).float().div_(255.0)
            if self.augment:
                x = self._augment(x)
            x = self._normalize(x).contiguous(memory_format=torch.channels_last)
            yield x, self.targets[idx].to(device, non_blocking=True)

    def loss(self, batch):
        import torch.nn.functional as F

        x, y = batch
        return F.cross_entropy(self.model(x), y), int(y.shape[0])

    def eval_sums(self, device: str, autocast):
        import torch.nn.functional as F

        total_loss, correct, n = 0.0, 0, 0
        bs = self.batch_size * 2
        val_idx = distributed.shard(self.val_idx, self.rank, self.world_size)
        for b in range(0, len(val_idx), bs):
            self.ctx.check_cancelled()
            idx = val_idx[b:b + bs]
            x = self.eval_inputs(idx, device)
            y = self.targets[idx].to(device)
            with autocast():
                logits = self.model(x)
            total_loss += float(F.cross_entropy(logits.float(), y, reduction="sum"))
            correct += int((logits.argmax(1) == y).sum())
            n += len(idx)
        return total_loss, correct, n

    def save(self, folder: Path) -> None:
        from safetensors.torch import save_file

        state = {k: v.detach().to("cpu").contiguous() for k, v in self.model.state_dict().items()}
        save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
        r = self.recipe
        config = {
            "architecture": self.arch, "num_classes": len(self.data.labels), "num_features": self.head.in_features,
            "label_names": list(self.data.labels),
            "pretrained_cfg": {"input_size": [3, *r.crop], "mean": list(r.mean), "std": list(r.std),
                               "interpolation": r.interpolation, "crop_pct": max(r.crop) / r.resize,
                               "crop_mode": "center"},
        }
        (folder / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")

    def marker(self) -> dict:
        return {"task": self.task, "backbone": self.arch, "base_model": self.backbone,
                "num_classes": len(self.data.labels), "labels": list(self.data.labels),
                "image_size": self.image_size, "mean": list(self.recipe.mean), "std": list(self.recipe.std),
                "preprocess": self.recipe.to_dict(), "head_only": self.head_only}


def train_image_classifier(ctx: JobContext, data_dir: str | Path, out: str | Path | None = None, *,
                           name: str | None = None, backbone: str = BUNDLED_BACKBONE,
                           image_size: int = defaults.IMAGE_SIZE, head_only: bool = False, augment: bool = True,
                           flip: bool = False, resume: bool = False, overwrite: bool = False,
                           control: TrainControl | None = None, **train_options) -> TrainResult:
    """The job: check the folder, fine-tune, save `out` (or `<models>/<name>`) with labels and a card."""
    data = tdata.scan_image_folder(data_dir)
    cfg = make_config(name or "", **defaults.config_options("image", train_options))
    out_dir = resolve_out(out, name, f"{data.root.name}-classifier", resume, overwrite)
    tdata.check_val_share(cfg.val_share)
    spec = ImageSpec(ctx, data, backbone, image_size, cfg.batch_size, cfg.val_share, head_only, augment, flip, cfg.seed)
    d = spec.data
    ctx.emit(DataReport("image", str(d.root), len(spec.train_idx), len(spec.val_idx), list(d.labels), d.counts,
                        d.skipped, list(d.warnings)))
    return fit(ctx, spec, cfg, out_dir, control=control, resume=resume,
               data_meta={"data": str(d.root), "n_train": len(spec.train_idx), "n_val": len(spec.val_idx)})
