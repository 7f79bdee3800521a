"""Checkpoints that survive a cancel, a crash or a kill, and the final model's atomic install.

A run writing the model folder OUT keeps its checkpoints beside it in
`OUT.checkpoint/` (no marker there, so the model catalog never lists it):
`checkpoint.pt` (model, optimizer, step, history; replaced atomically) and
`best.pt` (the weights of the best validation epoch). Both are read with
`torch.load(weights_only=True)`: no pickled code runs. The final model is
written to a temp folder beside OUT and renamed into place.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from playground.core.atomic import atomic_path, write_text
from playground.core.errors import InputError
from playground.core.lora import LIVE_DIR
from playground.core.models import FINETUNED_MARKER

FORMAT = 1
CHECKPOINT_FILE = "checkpoint.pt"
BEST_FILE = "best.pt"


def checkpoint_dir(out_dir: str | Path) -> Path:
    out = Path(out_dir)
    return out.parent / f"{out.name}.checkpoint"


def live_dir(out_dir: str | Path) -> Path:
    """Where a run writes the model to try while it trains (removed with the checkpoints)."""
    return checkpoint_dir(out_dir) / LIVE_DIR


def checkpoint_path(out_dir: str | Path) -> Path:
    return checkpoint_dir(out_dir) / CHECKPOINT_FILE


def has_checkpoint(out_dir: str | Path) -> bool:
    return checkpoint_path(out_dir).is_file()


def _to_cpu(obj):
    import torch

    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj


def save_state(target: Path, state: dict) -> None:
    """torch.save to a temp file beside `target`, fsync, rename."""
    import torch

    with atomic_path(target) as tmp:
        torch.save(_to_cpu(state), tmp)


def load_state(target: Path) -> dict:
    import torch

    try:
        return torch.load(target, map_location="cpu", weights_only=True)
    except FileNotFoundError as exc:
        raise InputError(f"No checkpoint to resume from: '{target}' does not exist.") from exc
    except Exception as exc:  # truncated, or not ours
        raise InputError(f"The checkpoint '{target}' cannot be read ({type(exc).__name__}); start a new run.") from exc


def save_checkpoint(out_dir: Path, state: dict) -> Path:
    path = checkpoint_path(out_dir)
    state = dict(state, format=FORMAT, saved_at=time.time())
    save_state(path, state)
    return path


def load_checkpoint(out_dir: Path, task: str, signature: dict) -> dict:
    """The last whole checkpoint; refuses one from another task or with other labels/architecture."""
    path = checkpoint_path(out_dir)
    if not path.is_file():
        raise InputError(f"No checkpoint to resume from in '{checkpoint_dir(out_dir)}'; start without resume.")
    state = load_state(path)
    if state.get("format") != FORMAT or state.get("task") != task:
        raise InputError(f"The checkpoint in '{checkpoint_dir(out_dir)}' is from a different kind of run "
                         f"({state.get('task')}); start a new run or choose another output.")
    saved = state.get("signature", {})
    for key, value in signature.items():
        if key in saved and saved[key] != value:
            raise InputError(f"The checkpoint in '{checkpoint_dir(out_dir)}' was made with a different {key} "
                             f"({saved[key]!r} vs {value!r}); resume with the same data and options.")
    return state


def remove_checkpoints(out_dir: Path) -> None:
    shutil.rmtree(checkpoint_dir(out_dir), ignore_errors=True)


# -- the final model folder -------------------------------------------------------


def check_output(out_dir: Path, resume: bool, overwrite: bool) -> None:
    """Never clobber a folder the user did not hand us."""
    if resume or overwrite or not out_dir.exists():
        return
    if out_dir.is_file():
        raise InputError(f"The output '{out_dir}' is a file; choose a folder name.")
    if (out_dir / FINETUNED_MARKER).is_file():
        raise InputError(f"A model already exists in '{out_dir}'; choose another name or allow overwriting.")
    if any(out_dir.iterdir()):
        raise InputError(f"The output folder '{out_dir}' is not empty; choose an empty or new folder.")


def staging_dir(out_dir: Path) -> Path:
    tmp = out_dir.parent / f".{out_dir.name}.saving-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    return tmp


def install(tmp: Path, out_dir: Path) -> Path:
    """Rename the finished temp folder into place (replacing an older model of the same name)."""
    old = None
    if out_dir.exists():
        old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
        shutil.rmtree(old, ignore_errors=True)
        os.replace(out_dir, old)
    os.replace(tmp, out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return out_dir


def write_marker(folder: Path, meta: dict) -> None:
    write_text(folder / FINETUNED_MARKER, json.dumps(meta, indent=2, ensure_ascii=False) + "\n")


def write_card(folder: Path, meta: dict, history: list[dict]) -> None:
    """A small README.md: what it is, the data, the epochs and the metrics."""
    lines = [f"# {meta.get('name', folder.name)}", "",
             f"A {meta.get('task')} model fine-tuned in Model Playground.", ""]
    if meta.get("base_model"):
        lines.append(f"- Base model: `{meta['base_model']}`")
    if meta.get("data"):
        lines.append(f"- Data: `{meta['data']}` ({meta.get('n_train', '?')} training, "
                     f"{meta.get('n_val', '?')} validation examples)")
    if meta.get("labels"):
        labels = meta["labels"]
        shown = ", ".join(labels[:20]) + (f" ... ({len(labels)} in all)" if len(labels) > 20 else "")
        lines.append(f"- Labels: {shown}")
    lines.append(f"- Epochs: {meta.get('epochs')}, steps: {meta.get('steps')}, batch size {meta.get('batch_size')}, "
                 f"learning rate {meta.get('lr')}")
    if int(meta.get("world_size") or 1) > 1:
        scale = float(meta.get("lr_scale") or 1.0)
        lines.append(f"- Data parallel: {meta['world_size']} processes, {meta.get('per_device_batch_size')} examples "
                     f"each per step, effective batch size {meta.get('effective_batch_size')}, learning rate "
                     + ("not scaled" if scale == 1.0 else f"scaled x{scale:.3g} (linear rule)"))
    metrics = meta.get("metrics", {})
    if metrics:
        lines.append("- Metrics: " + ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                                              for k, v in metrics.items()))
    if history:
        lines += ["", "| epoch | train loss | val loss | val accuracy |", "|---|---|---|---|"]
        for h in history:
            acc = h.get("val_accuracy")
            lines.append(f"| {h['epoch']} | {h['train_loss']:.4f} | {h['val_loss']:.4f} | "
                         f"{'-' if acc is None else f'{acc:.4f}'} |")
    lines.append("")
    write_text(folder / "README.md", "\n".join(lines))
