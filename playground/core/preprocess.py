"""One description of how an image becomes a model input, shared by training and inference.

A fine-tuned image classifier saves its `Preprocess` in `playground_model.json`
under "preprocess"; training's evaluation and the Image tab / `classify-image`
both prepare images with it, so the model sees at inference exactly what it saw
when it was validated. The geometry keeps the aspect ratio: the short side is
resized to `resize` (more when the crop needs it), then the centre is cropped to
`crop` = (height, width). A non-square photo is cropped, never squashed.

Pixels are computed with PIL (`Image.resize` over the crop's source box, so a
10000 x 10 strip never becomes a huge intermediate image), then
uint8 -> float / 255 -> (x - mean) / std: the same arithmetic training applies
to its batches. No torch at import time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "lanczos")  # PIL's filters (antialiased when shrinking)
MAX_SIDE = 4096  # a marker asking for more is damaged, not a model


@dataclass(frozen=True)
class Preprocess:
    resize: int  # the short side after resizing (the aspect ratio is kept)
    crop: tuple[int, int]  # (height, width) of the centre crop: the model's input size
    interpolation: str = "bilinear"
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    def __post_init__(self):
        object.__setattr__(self, "resize", int(self.resize))
        object.__setattr__(self, "crop", tuple(int(v) for v in self.crop))
        object.__setattr__(self, "mean", tuple(float(v) for v in self.mean))
        object.__setattr__(self, "std", tuple(float(v) for v in self.std))
        if len(self.crop) != 2 or not 1 <= min(self.resize, *self.crop) <= max(self.resize, *self.crop) <= MAX_SIDE:
            raise ValueError(f"invalid size: resize {self.resize}, crop {self.crop}")
        if self.interpolation not in INTERPOLATIONS:
            raise ValueError(f"unknown interpolation '{self.interpolation}' (one of {', '.join(INTERPOLATIONS)})")
        if (len(self.mean) != 3 or len(self.std) != 3 or not all(map(math.isfinite, self.mean + self.std))
                or min(self.std) <= 0):
            raise ValueError("mean and std need three finite values each, std above 0")

    @classmethod
    def square(cls, size: int, mean=IMAGENET_MEAN, std=IMAGENET_STD, interpolation: str = "bilinear",
               crop_pct: float = 1.0) -> Preprocess:
        """Short side to size / crop_pct, centre crop size x size (timm's eval recipe)."""
        return cls(int(round(size / crop_pct)), (size, size), interpolation, tuple(mean), tuple(std))

    # -- the marker's JSON ---------------------------------------------------------------

    def to_dict(self) -> dict:
        return {"resize": self.resize, "crop": list(self.crop), "interpolation": self.interpolation,
                "mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, data) -> Preprocess:
        """ValueError (one sentence) when `data` is not a valid description."""
        if not isinstance(data, dict):
            raise ValueError("'preprocess' is not an object")
        try:
            return cls(data["resize"], tuple(data["crop"]), str(data.get("interpolation", "bilinear")),
                       tuple(data.get("mean", IMAGENET_MEAN)), tuple(data.get("std", IMAGENET_STD)))
        except (KeyError, TypeError, OverflowError) as exc:
            raise ValueError(f"'preprocess' lacks or mistypes {exc}") from exc

    # -- geometry ----------------------------------------------------------------------

    @property
    def input_size(self) -> tuple[int, int]:
        """(height, width) of the tensors this makes."""
        return self.crop

    @property
    def draft(self) -> tuple[int, int]:
        """JPEG draft size: decoding at a reduced scale is fine while it stays twice what is used."""
        side = 2 * max(self.resize, *self.crop)
        return side, side

    def box(self, width: int, height: int) -> tuple[float, float, float, float]:
        """The source region (left, top, right, bottom) that ends up in the crop."""
        ch, cw = self.crop
        scale = max(self.resize / min(width, height), ch / height, cw / width)
        left = (width * scale - cw) / 2 / scale
        top = (height * scale - ch) / 2 / scale
        return left, top, left + cw / scale, top + ch / scale

    def scaled_size(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) of the whole image resized the same way, without the crop (for Grad-CAM)."""
        ch, cw = self.crop
        scale = max(self.resize / min(width, height), ch / height, cw / width)
        return max(1, round(width * scale)), max(1, round(height * scale))

    def _filter(self):
        from PIL import Image

        return getattr(Image.Resampling, self.interpolation.upper())

    def fit(self, img):
        """The RGB PIL image resized (aspect kept) and centre-cropped to the input size."""
        ch, cw = self.crop
        img = img.convert("RGB")
        return img.resize((cw, ch), self._filter(), box=self.box(*img.size))

    def resize_whole(self, img):
        """The whole image resized the same way, not cropped (Grad-CAM covers all of it)."""
        return img.convert("RGB").resize(self.scaled_size(*img.size), self._filter())

    # -- values ------------------------------------------------------------------------

    def pixels(self, img):
        """uint8 numpy array (3, height, width): what training keeps in memory."""
        import numpy as np

        return np.asarray(self.fit(img), dtype=np.uint8).transpose(2, 0, 1).copy()

    def normalize(self, x):
        """uint8 or [0, 1] float tensor (..., 3, H, W) -> normalised float tensor, training's arithmetic."""
        import torch

        if x.dtype == torch.uint8:
            x = x.float().div_(255.0)
        shape = (1,) * (x.dim() - 3) + (3, 1, 1)
        mean = torch.tensor(self.mean, device=x.device).view(shape)
        std = torch.tensor(self.std, device=x.device).view(shape)
        return (x - mean) / std

    def tensor(self, img):
        """PIL image -> normalised float CHW tensor (inference's transform)."""
        import torch

        return self.normalize(torch.from_numpy(self.pixels(img)))

    def __call__(self, img):
        return self.tensor(img)
