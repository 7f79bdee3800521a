"""Reading images safely: every format users drop, EXIF orientation, no decompression bombs.

Each failure is an InputError with one sentence naming the file.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

from playground.core.errors import InputError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff", ".jfif", ".ppm", ".pgm"}
MAX_PIXELS = 50_000_000  # about 7000x7000; larger images are refused before decoding


def is_image_path(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def list_images(root: str | Path) -> list[Path]:
    """Image files under a folder, walked recursively, sorted; hidden files skipped."""
    root = Path(root)
    return sorted(p for p in root.rglob("*") if p.is_file() and is_image_path(p)
                  and not any(part.startswith(".") for part in p.relative_to(root).parts))


def open_image(source: str | Path | bytes, name: str | None = None, draft: tuple[int, int] | None = None):
    """An RGB PIL image, upright, first frame; InputError on anything unusable.

    `draft=(w, h)`: JPEGs may be decoded at a reduced scale that still covers w x h
    (much faster for big photos); `img.info["original_size"]` keeps the upright full size.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    label = name or (Path(source).name if not isinstance(source, bytes) else "image")
    try:
        fh = io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")  # noqa: SIM115
    except FileNotFoundError as exc:
        raise InputError(f"{label}: file not found.") from exc
    except IsADirectoryError as exc:
        raise InputError(f"{label}: is a folder, not an image.") from exc
    except OSError as exc:
        raise InputError(f"{label}: cannot be read ({exc.strerror or exc}).") from exc
    with fh:
        if not isinstance(source, bytes) and os.fstat(fh.fileno()).st_size == 0:
            raise InputError(f"{label}: the file is empty.")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                img = Image.open(fh)
                w, h = img.size
                if w * h > MAX_PIXELS:
                    raise InputError(f"{label}: {w}x{h} pixels is too large to load safely (limit {MAX_PIXELS // 1_000_000} megapixels).")
                img.seek(0)  # GIF/TIFF: the first frame
                if draft and img.format == "JPEG":
                    img.draft(img.mode, tuple(draft))
                img.load()
        except InputError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise InputError(f"{label}: image is too large to load safely (possible decompression bomb).") from exc
        except UnidentifiedImageError as exc:
            raise InputError(f"{label}: not an image file, or a format that cannot be read.") from exc
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise InputError(f"{label}: the image is corrupt or truncated.") from exc
    before = img.size
    try:
        img = ImageOps.exif_transpose(img) or img
    except Exception:  # a broken EXIF block must not lose the image
        pass
    rotated = img.size != before
    rgb = to_rgb(img)
    rgb.info["original_size"] = (h, w) if rotated else (w, h)
    return rgb


def to_rgb(img):
    """Any mode to RGB: alpha over white, 16-bit grey scaled down, CMYK converted."""
    from PIL import Image

    if img.mode == "RGB":
        return img
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        import numpy as np

        arr = np.asarray(img, dtype=np.float32)
        lo, hi = float(arr.min()), float(arr.max())
        arr = (arr - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(arr)
        return Image.fromarray(arr.astype("uint8"), "L").convert("RGB")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")
