"""Downloading one URL to a file: atomic, with byte progress, speed, ETA and cancel."""

from __future__ import annotations

import hashlib
import time
import urllib.request
from pathlib import Path

from playground.core.atomic import atomic_path
from playground.core.errors import Cancelled, ModelError
from playground.core.jobs import JobContext


def download_to(url: str, target: Path, ctx: JobContext, label: str, sha256_prefix: str | None = None) -> None:
    """Stream `url` into `target`; nothing is left at `target` unless the whole file arrived.

    A checksum mismatch raises ModelError before the rename. Network and disk
    errors (urllib.error.URLError, OSError) propagate for the caller to phrase.
    """
    with urllib.request.urlopen(url, timeout=30) as response, atomic_path(target) as tmp:
        total = int(response.headers.get("Content-Length") or 0)
        done, t0, digest = 0, time.monotonic(), hashlib.sha256()
        with open(tmp, "wb") as fh:
            while chunk := response.read(1 << 20):
                if ctx.cancelled:
                    raise Cancelled("Download cancelled.")
                fh.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                speed = done / max(time.monotonic() - t0, 1e-6)
                left = (total - done) / speed if total and speed else 0
                ctx.progress(done / total if total else None,
                             f"Downloading {label}: {done / 1e6:.1f} of {total / 1e6:.1f} MB, "
                             f"{speed / 1e6:.1f} MB/s, {left:.0f} s left")
        if sha256_prefix and not digest.hexdigest().startswith(sha256_prefix):
            raise ModelError(f"The download of {target.name} is corrupt (checksum mismatch); try again.")
