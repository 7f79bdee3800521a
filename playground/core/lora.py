"""LoRA adapters (peft) as models you can generate from: a run's adapter and its live checkpoints.

A LoRA run (`training/lm.py`) leaves OUT/adapter next to the merged model and, while it
trains, writes the adapter at each evaluation into `OUT.checkpoint/live/step-NNNNNN` with the
app's marker naming the base. The Generate panel lists the live folder as the running job's
"latest checkpoint"; generation loads the newest complete step as base + adapter, merged, so
a person tries the run while it goes on. Writers and readers never see a half-written step:
a step folder is renamed into place whole, marker included, and the previous one is kept
for a reader that is still loading it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from playground.core import models
from playground.core.atomic import write_text
from playground.core.errors import ModelError

ADAPTER_CONFIG = "adapter_config.json"
LIVE_DIR = "live"
KEEP_STEPS = 2  # the newest step and the one before it (a reader may still be loading it)
_STEP = re.compile(r"^step-(\d+)$")


def is_adapter(folder: Path) -> bool:
    """A peft adapter folder (weights of the adapter alone, no config.json of a full model)."""
    return (folder / ADAPTER_CONFIG).is_file() and not (folder / "config.json").is_file()


def steps(live: Path) -> list[tuple[int, Path]]:
    """The complete step folders of a live folder, oldest first (complete: the marker is in)."""
    found = []
    try:
        children = list(live.iterdir())
    except OSError:
        return []
    for child in children:
        m = _STEP.match(child.name)
        if m and (child / models.FINETUNED_MARKER).is_file() and (child / ADAPTER_CONFIG).is_file():
            found.append((int(m.group(1)), child))
    return sorted(found)


def is_live(folder: Path) -> bool:
    return folder.name == LIVE_DIR and bool(steps(folder))


def adapter_folder(model_id: str) -> Path | None:
    """The adapter folder that `model_id` names (a live folder: its newest step), or None when it
    does not name one (a full model, a bundled or Hub id)."""
    text = (model_id or "").strip()
    if not text or text.startswith("bundled/"):
        return None
    folder = Path(text).expanduser()
    if not folder.is_dir():
        return None
    if folder.name == LIVE_DIR and not is_adapter(folder):
        found = steps(folder)
        if not found:
            raise ModelError(f"'{model_id}' has no checkpoint yet: the run saves one at its first evaluation.")
        return found[-1][1]
    return folder if is_adapter(folder) else None


def adapter_info(folder: Path) -> dict:
    """The app's marker for an adapter: its own (a live step), else the run's (OUT/adapter in OUT)."""
    for where in (folder, folder.parent):
        meta = models.read_marker(where)
        if meta and meta.get("base_model"):
            return meta
    raise ModelError(f"'{folder}' is a LoRA adapter without the app's marker: the base model it adapts "
                     "is unknown (train it here, or use the merged model folder).")


def save_live(peft_model, live: Path, step: int, meta: dict) -> Path:
    """Write the adapter of `step` into `live` atomically (a temp folder renamed into place, the
    marker written last) and drop older steps beyond KEEP_STEPS. Returns the step's folder."""
    live.mkdir(parents=True, exist_ok=True)
    target = live / f"step-{step:06d}"
    tmp = live / f".step-{step:06d}.saving-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        peft_model.save_pretrained(str(tmp), safe_serialization=True)
        write_text(tmp / models.FINETUNED_MARKER, json.dumps(meta | {"step": step}, indent=2) + "\n")
        if target.exists():  # a resumed run reaching the same step again
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for _n, old in steps(live)[:-KEEP_STEPS]:
        shutil.rmtree(old, ignore_errors=True)
    return target


def merge_into(model, folder: Path):
    """`model` (a freshly loaded base, not a cached one: peft changes it in place) with the adapter
    in `folder` merged into its weights: a plain model that generates as fast as the base."""
    try:
        from peft import PeftModel
    except ImportError as exc:
        raise ModelError("Loading a LoRA adapter needs the 'peft' package (pip install peft).") from exc
    try:
        tuned = PeftModel.from_pretrained(model, str(folder))
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ModelError(f"The LoRA adapter in '{folder}' does not fit its base model "
                         f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}).") from exc
    return tuned.merge_and_unload()
