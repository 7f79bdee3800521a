"""Evaluate an image or text classifier on labelled data: accuracy, per-class scores, confusion.

`evaluate(ctx, model, data)` takes a folder of class sub-folders (image classifiers) or a
labelled CSV/TSV (text classifiers), predicts every example with the same engine code the
Image tab / `classify-image` and `text classify` use, and returns an `Evaluation`:
accuracy, per-class precision / recall / F1 / support, the confusion matrix (rows = true
labels, columns = predicted, in the order of `labels`) and every example with its true and
predicted label and confidence, so a UI can show the examples behind any matrix cell.

`split="validation"` evaluates only a training run's validation examples: the same
stratified split training made (`training.data.split_indices`) from the data, the run's
validation share (given, or read back from the model's marker) and seed.

No Qt; torch and transformers are imported by the engines, inside the job.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from playground.core import models, onnx_runtime
from playground.core.errors import InputError, ModelError
from playground.core.jobs import JobContext
from playground.core.wording import plural

BATCH_SIZE = 32


@dataclass(frozen=True)
class ClassStats:
    precision: float
    recall: float
    f1: float
    support: int

    def to_dict(self) -> dict:
        return {"precision": round(self.precision, 6), "recall": round(self.recall, 6), "f1": round(self.f1, 6),
                "support": self.support}


@dataclass(frozen=True)
class Example:
    """One evaluated example: its source (a path or a text), true and predicted class, confidence."""

    source: str
    true: int  # index into Evaluation.labels
    predicted: int
    score: float  # the model's probability of the predicted class


@dataclass
class Evaluation:
    model: str
    kind: str  # "image" | "text" | "sound"
    data: str
    labels: list[str]
    examples: list[Example]
    confusion: list[list[int]] = field(default_factory=list)
    per_class: dict[str, ClassStats] = field(default_factory=dict)
    accuracy: float = 0.0
    split: str = "all"
    seconds: float = 0.0

    def __post_init__(self) -> None:
        if not self.confusion:
            self.confusion = confusion_matrix(self.examples, len(self.labels))
        if not self.per_class:
            self.per_class = per_class_stats(self.confusion, self.labels)
        n = len(self.examples)
        self.accuracy = sum(self.confusion[i][i] for i in range(len(self.labels))) / n if n else 0.0

    @property
    def total(self) -> int:
        return len(self.examples)

    @property
    def macro_f1(self) -> float:
        """Mean of the per-class F1 over the classes in the data or the predictions (scikit-learn's
        macro average: a model class that neither occurs nor is predicted does not count)."""
        n = len(self.labels)
        seen = [i for i in range(n) if sum(self.confusion[i]) or any(self.confusion[r][i] for r in range(n))]
        return sum(self.per_class[self.labels[i]].f1 for i in seen) / len(seen) if seen else 0.0

    @property
    def source_key(self) -> str:
        return "text" if self.kind == "text" else "path"

    @property
    def misclassified(self) -> list[Example]:
        """Wrong predictions, the most confident mistakes first."""
        return sorted((e for e in self.examples if e.true != e.predicted), key=lambda e: -e.score)

    def cell(self, true: int, predicted: int) -> list[Example]:
        """The examples behind one matrix cell, the most confident first."""
        return sorted((e for e in self.examples if e.true == true and e.predicted == predicted),
                      key=lambda e: -e.score)

    def example_dict(self, e: Example) -> dict:
        return {self.source_key: e.source, "true": self.labels[e.true], "predicted": self.labels[e.predicted],
                "score": round(float(e.score), 6)}

    def to_dict(self) -> dict:
        """The `playground evaluate --json` shape."""
        return {"accuracy": round(self.accuracy, 6),
                "per_class": {label: self.per_class[label].to_dict() for label in self.labels},
                "labels": list(self.labels), "confusion": [list(row) for row in self.confusion],
                "misclassified": [self.example_dict(e) for e in self.misclassified]}


def confusion_matrix(examples: list[Example], n: int) -> list[list[int]]:
    matrix = [[0] * n for _ in range(n)]
    for e in examples:
        matrix[e.true][e.predicted] += 1
    return matrix


def per_class_stats(confusion: list[list[int]], labels: list[str]) -> dict[str, ClassStats]:
    """Precision, recall and F1 per class (0 where undefined, as scikit-learn's zero_division=0)."""
    out = {}
    n = len(labels)
    for i, label in enumerate(labels):
        tp = confusion[i][i]
        support = sum(confusion[i])
        predicted = sum(confusion[r][i] for r in range(n))
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[label] = ClassStats(precision, recall, f1, support)
    return out


# -- which model, which data ----------------------------------------------------------------


def model_kind(model: str) -> str:
    """"image" or "text": what kind of classifier `model` is (its marker, its config, an .onnx file)."""
    text = (model or "").strip()
    if not text:
        raise ModelError("No model given.")
    path = Path(text).expanduser()
    if path.suffix.lower() == ".onnx":
        return onnx_runtime.read_metadata(path).get("kind", "image")
    if path.is_dir():
        meta = models.read_marker(path) or {}
        task = meta.get("task")
        if task == "text-classification":
            return "text"
        if task == "image-classification":
            return "image"
        if task == "audio-classification":
            return "sound"  # sound classes
        if task:
            raise ModelError(f"'{path.name}' is a {task} model; evaluation takes an image or text classifier.")
        from playground.core import tasks

        guessed = tasks.guess_kind(path)
        if guessed in ("text-classification", "image-classification"):
            return guessed.split("-")[0]
        raise ModelError(f"'{path.name}' holds no image or text classifier.")
    if not path.exists() and (text.startswith((".", "/", "~")) or "/" in text.strip("/").replace("/", "", 1)):
        raise ModelError(f"Model not found: {text}")
    return "image"  # bundled/..., torchvision/...: image classifiers


def check_data(kind: str, data: str) -> Path:
    """The data's path when it is the shape `kind`'s evaluation reads; one sentence otherwise."""
    path = Path(data).expanduser()
    if not path.exists():
        raise InputError(f"{path.name or data}: not found.")
    if kind == "image" and not path.is_dir():
        raise InputError(f"{path.name}: an image classifier is evaluated on a folder of class sub-folders.")
    if kind == "sound" and not path.is_dir():
        raise InputError(f"{path.name}: a sound classifier is evaluated on a folder of class sub-folders of audio.")
    if kind == "text" and path.is_dir():
        raise InputError(f"{path.name}: a text classifier is evaluated on a labelled CSV/TSV table.")
    return path


def _run_marker(model: str) -> dict:
    """The training marker of `model` (of the model an ONNX export was made from); {} when none."""
    path = Path(model).expanduser()
    if path.suffix.lower() == ".onnx" and path.is_file():  # an export: the model it was made from
        path = Path(str(onnx_runtime.read_metadata(path).get("source_model") or path))
    return (models.read_marker(path) if path.is_dir() else None) or {}


def validation_split(model: str, val_share: float | None, seed: int | None) -> tuple[float, int]:
    """The run's validation (share, seed): those given, else the ones saved in the model's marker.
    A marker from before they were saved gives the share from its n_train / n_val and seed 0;
    no marker at all, 0.2 and 0. The marker is read once, and only when something is missing."""
    meta = _run_marker(model) if val_share is None or seed is None else {}
    if val_share is None:
        try:
            if meta.get("val_share") is not None:
                val_share = float(meta["val_share"])
            else:
                n_val, n_train = int(meta["n_val"]), int(meta["n_train"])
                val_share = n_val / (n_val + n_train)
        except (KeyError, TypeError, ValueError, ZeroDivisionError):
            val_share = 0.2
    if seed is None:
        try:
            seed = int(meta.get("seed") or 0)
        except (TypeError, ValueError):
            seed = 0
    return float(val_share), int(seed)


def select(targets: list[int], split: str, val_share: float, seed: int) -> list[int]:
    if split == "all":
        return list(range(len(targets)))
    if split != "validation":
        raise InputError(f"Unknown split '{split}' (all or validation).")
    from playground.core.training import data as tdata

    return tdata.split_indices(targets, val_share, seed)[1]


def _label_order(model_labels: list[str], data_labels: list[str]) -> list[str]:
    """The model's classes in its order, then any data class the model does not know."""
    return list(model_labels) + [x for x in data_labels if x not in model_labels]


# -- the job ---------------------------------------------------------------------------------


def evaluate(ctx: JobContext, model: str, data: str, *, split: str = "all", val_share: float | None = None,
             seed: int | None = None, text_column: str | None = None, label_column: str | None = None,
             batch_size: int = BATCH_SIZE, device: str | None = None, trust_remote_code: bool = False) -> Evaluation:
    """Predict every labelled example of `data` with `model` and score the predictions."""
    kind = model_kind(model)
    path = check_data(kind, data)
    t0 = time.perf_counter()
    if kind == "image":
        result = _evaluate_images(ctx, model, path, split, val_share, seed, batch_size, device, trust_remote_code)
    elif kind == "sound":
        result = _evaluate_sounds(ctx, model, path, split, *validation_split(model, val_share, seed))
    else:
        result = _evaluate_texts(ctx, model, path, split, val_share, seed, text_column, label_column,
                                 trust_remote_code)
    result.seconds = time.perf_counter() - t0
    ctx.progress(1.0, f"Accuracy {result.accuracy:.3f} on {plural(result.total, 'example')}")
    return result


def _evaluate_images(ctx, model, path, split, val_share, seed, batch_size, device, trust_remote_code) -> Evaluation:
    import torch

    from playground.core import image
    from playground.core.training import data as tdata

    folder = tdata.scan_image_folder(path)
    chosen = select(folder.targets, split, *validation_split(model, val_share, seed))
    clf = image.load_classifier(model, ctx, device, trust_remote_code=trust_remote_code)
    labels = _label_order(list(clf.labels), list(folder.labels))
    index = {label: i for i, label in enumerate(labels)}
    draft = clf.recipe.draft if clf.recipe is not None else (2 * max(clf.input_size),) * 2
    examples: list[Example] = []
    total = len(chosen)
    for start in range(0, total, max(1, int(batch_size))):
        ctx.check_cancelled()
        part = chosen[start:start + batch_size]
        tensors, kept = [], []
        for i in part:
            try:
                img = image.load_image(str(folder.files[i]), ctx, draft=draft)
            except InputError:
                continue  # an unreadable file is no example (training skipped it too)
            tensors.append(clf.preprocess(img if clf.recipe is not None else image.limit_aspect(img)))
            kept.append(i)
        if not kept:
            continue
        preds, clf = image.predict_with_fallback(ctx, clf, torch.stack(tensors), 1)
        for i, row in zip(kept, preds, strict=True):
            top = row[0]
            true = index[folder.labels[folder.targets[i]]]
            predicted = index.get(clf.label(top.index), top.index if top.index < len(labels) else 0)
            examples.append(Example(str(folder.files[i]), true, predicted, float(top.score)))
        done = min(start + batch_size, total)
        ctx.progress(done / total, f"Evaluating: {done} of {plural(total, 'image')}")
    if not examples:
        raise InputError(f"{path.name}: no readable image to evaluate.")
    return Evaluation(clf.name, "image", str(path), labels, examples, split=split)


def _evaluate_texts(ctx, model, path, split, val_share, seed, text_column, label_column,
                    trust_remote_code) -> Evaluation:
    from playground.core import text
    from playground.core.training import data as tdata

    meta = models.read_marker(Path(model).expanduser()) if Path(model).expanduser().is_dir() else None
    meta = meta or {}
    table = tdata.read_table(path, text_column or _column(path, meta.get("text_column")),
                             label_column or _column(path, meta.get("label_column")))
    chosen = select(table.targets, split, *validation_split(model, val_share, seed))
    if Path(model).expanduser().suffix.lower() == ".onnx":
        scored, model_labels, name = text.classify_onnx(ctx, model, [table.texts[i] for i in chosen])
    else:
        src = text.model_source(model, ctx, trust_remote_code=trust_remote_code)
        model_labels = text._labels(text.check_fit(src, "text-classification"))
        result = text.classify(ctx, [table.texts[i] for i in chosen], model, trust_remote_code=trust_remote_code)
        scored, name = result.items, Path(result.model).name or result.model
    labels = _label_order(model_labels, list(table.labels))
    index = {label: i for i, label in enumerate(labels)}
    examples = []
    for i, item in zip(chosen, scored, strict=True):
        best = item.scores[0]
        examples.append(Example(table.texts[i], index[table.labels[table.targets[i]]],
                                index.setdefault(best.label, len(index)), float(best.score)))
    labels = list(index)
    return Evaluation(str(meta.get("name") or name), "text", str(path), labels, examples, split=split)


def _evaluate_sounds(ctx: JobContext, model: str, path: Path, split: str, val_share: float,
                     seed: int) -> Evaluation:
    """Sound classes: every clip of a class-folder set (or the run's validation split), predicted as
    `classify-sound` does."""
    import numpy as np

    from playground.core import sound
    from playground.core.training import data as tdata

    data = tdata.scan_sound_folder(path)
    chosen = select(data.targets, split, val_share, seed)
    clf = sound.load_classifier(model, ctx)
    labels = _label_order(list(clf.labels), list(data.labels))
    index = {label: i for i, label in enumerate(labels)}
    examples = []
    for n, i in enumerate(chosen):
        ctx.check_cancelled()
        try:
            probs = clf.scores([sound.load_clip(data.files[i])])[0]
        except InputError:
            continue  # an unreadable clip is no example (training skipped it too)
        top = int(np.argmax(probs))
        examples.append(Example(str(data.files[i]), index[data.labels[data.targets[i]]], index[clf.labels[top]],
                                float(probs[top])))
        if n % 10 == 0:
            ctx.progress(n / max(1, len(chosen)), f"Evaluating: {n} of {plural(len(chosen), 'clip')}")
    if not examples:
        raise InputError(f"{path.name}: no readable audio clip to evaluate.")
    return Evaluation(str(clf.meta.get("name") or clf.folder.name), "sound", str(path), labels, examples,
                      split=split)


def _column(path: Path, name) -> str | None:
    """The training run's column name, when this table has it (else the table's own guess)."""
    if not name:
        return None
    from playground.core.training import data as tdata

    try:
        return name if name in tdata.table_columns(path)[0] else None
    except InputError:
        return None
