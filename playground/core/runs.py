"""The runs you trained, side by side: each saved model's marker as one row of settings and results.

Every model the Train tab or `playground finetune` saved carries its run in its marker (data,
hyper-parameters, device, duration, final metrics). `list_runs` reads them from the models
folder; `differing` names the settings two runs do not share, which is what a person looks for
when one run did better than another.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from playground.core import models, paths

# (key, heading): the settings, in the order a person reads them
SETTINGS = (
    ("kind", "Job"), ("base", "Base"), ("data", "Data"), ("n_train", "Train examples"), ("epochs", "Epochs"),
    ("steps", "Steps"), ("batch_size", "Batch"), ("lr", "Learning rate"), ("lora_rank", "LoRA rank"),
    ("val_share", "Val share"), ("seed", "Seed"), ("device", "Device"), ("world_size", "Processes"),
)
RESULTS = (("val_accuracy", "Val accuracy / exact match"), ("val_loss", "Val loss"), ("seconds", "Duration (s)"))
KIND_NAMES = {"charlm": "char-level GPT", "lm-lora": "language model (LoRA)", "sound": "sound classifier",
              "image-classification": "image classifier", "text-classification": "text classifier"}


@dataclass
class Run:
    name: str
    folder: str
    task: str
    created: str
    values: dict = field(default_factory=dict)  # SETTINGS and RESULTS keys -> value (None: not recorded)

    def to_dict(self) -> dict:
        return {"name": self.name, "folder": self.folder, "task": self.task, "created": self.created} | self.values


def _value(meta: dict, key: str):
    metrics = meta.get("metrics") or {}
    if key in ("val_accuracy", "val_loss"):
        return metrics.get(key)
    if key == "kind":
        kind = str(meta.get("kind") or meta.get("task") or "")  # image and text classifiers name no kind
        return KIND_NAMES.get(kind, kind)
    if key == "base":
        return meta.get("base_model") or meta.get("base")
    if key == "data":
        data = meta.get("data")
        return Path(data).name if isinstance(data, str) and data else None
    return meta.get(key)


def run_from_marker(folder: Path, meta: dict) -> Run:
    values = {key: _value(meta, key) for key, _ in SETTINGS + RESULTS}
    return Run(str(meta.get("name") or folder.name), str(folder), str(meta.get("task", "")),
               str(meta.get("created", "")), values)


def list_runs(root: Path | None = None) -> list[Run]:
    """Every saved run in the models folder, newest first."""
    root = root or paths.models_dir()
    runs = []
    try:
        folders = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    except OSError:
        return []
    for folder in folders:
        meta = models.read_marker(folder)
        if meta is not None and meta.get("task"):
            runs.append(run_from_marker(folder, meta))
    return sorted(runs, key=lambda r: r.created, reverse=True)


def differing(a: Run, b: Run) -> list[str]:
    """The setting keys whose values differ between two runs."""
    return [key for key, _ in SETTINGS if a.values.get(key) != b.values.get(key)]
