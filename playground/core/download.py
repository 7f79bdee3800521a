"""The one downloader: a URL to a file, atomic, with byte progress, speed, ETA and cancel.

Used for torchvision weights (image classification and detection), image URLs,
and (through `ByteProgress`) the byte counts huggingface_hub reports while it
fetches a model (`models.hub_download`), so every download reports and cancels alike.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
import urllib.parse
from pathlib import Path

from playground.core import devices
from playground.core.atomic import atomic_path
from playground.core.errors import Cancelled, InputError, ModelError
from playground.core.jobs import JobContext


class ByteProgress:
    """Counts downloaded bytes: job progress with speed and time left; `Cancelled` once the job is."""

    def __init__(self, ctx: JobContext, label: str, total: int = 0):
        self.ctx, self.label, self.total = ctx, label, int(total or 0)
        self.done = 0
        self.t0 = time.monotonic()

    def add(self, n: int) -> None:
        if self.ctx.cancelled:
            raise Cancelled("Download cancelled.")
        self.done += int(n or 0)
        speed = self.done / max(time.monotonic() - self.t0, 1e-6)
        left = (self.total - self.done) / speed if self.total and speed > 0 else 0
        self.ctx.progress(self.done / self.total if self.total else None,
                          f"Downloading {self.label}: {self.done / 1e6:.1f} of {self.total / 1e6:.1f} MB, "
                          f"{speed / 1e6:.1f} MB/s, {left:.0f} s left")


def download_to(url: str, target: Path, ctx: JobContext, label: str, sha256_prefix: str | None = None, *,
                max_bytes: int | None = None, headers: dict[str, str] | None = None, timeout: float = 30.0) -> None:
    """Stream `url` into `target`; nothing is left at `target` unless the whole file arrived.

    A checksum mismatch raises ModelError before the rename; more than `max_bytes` raises
    InputError ("<url>: the download is larger than N MB, refused."). Network and disk
    errors (urllib.error.URLError, OSError) propagate for the caller to phrase.
    """
    # Imported here: with http, email and ssl it costs about 30 ms, paid only when something downloads.
    from urllib.request import Request, urlopen

    request = Request(url, headers=headers or {})
    with urlopen(request, timeout=timeout) as response, atomic_path(target) as tmp:
        progress = ByteProgress(ctx, label, int(response.headers.get("Content-Length") or 0))
        digest = hashlib.sha256()
        with open(tmp, "wb") as fh:
            while chunk := response.read(1 << 20):
                if max_bytes is not None and progress.done + len(chunk) > max_bytes:
                    raise InputError(f"{url}: the download is larger than {max_bytes // 2**20} MB, refused.")
                progress.add(len(chunk))
                fh.write(chunk)
                digest.update(chunk)
        if sha256_prefix and not digest.hexdigest().startswith(sha256_prefix):
            raise ModelError(f"The download of {target.name} is corrupt (checksum mismatch); try again.")


def hub_dir() -> Path:
    """torch's hub cache folder, the one place of the rule (the torchvision weights' listing uses it too):
    torch.hub.get_dir() once torch is imported, else, without importing it, the same rule
    (TORCH_HOME, then XDG_CACHE_HOME)."""
    torch = devices.imported("torch")
    if torch is not None and hasattr(torch, "hub"):
        return Path(torch.hub.get_dir())
    home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "torch")
    return Path(home) / "hub"


def torch_checkpoint(url: str) -> Path:
    """Where torch keeps the checkpoint downloaded from `url` (its hub cache's checkpoints folder)."""
    import torch  # noqa: F401 (once imported, hub_dir() is torch.hub.get_dir() itself, a set_dir() included)

    return hub_dir() / "checkpoints" / os.path.basename(urllib.parse.urlparse(url).path)


def checkpoint_sha256(name: str) -> str | None:
    """The sha256 prefix torch's naming rule puts in a checkpoint's file name ("net-1a2b3c4d.pth")."""
    found = re.search(r"-([a-f0-9]{6,})\.", name)
    return found.group(1) if found else None
