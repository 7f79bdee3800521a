"""Export a fine-tuned image or text classifier to ONNX and check it.

`export(ctx, model, out)` writes one self-contained `.onnx` file (atomically: a failed
export or check never leaves a file behind) with a dynamic batch dimension and, in its
`metadata_props`, everything needed to use it without this app:

- "playground": JSON {"kind": "image" | "text", "name", "labels", "source_model", "format": 1, ...}
- "labels": the class names as a JSON list (index = output column)
- image models: "preprocess": the training recipe (`core/preprocess.py`: resize the short side,
  centre crop, RGB float/255, (x - mean) / std, NCHW float32, input "pixel_values")
- text models: "tokenizer": the fast tokenizer's `tokenizer.json`, "max_length", and the
  input names ("input_ids", "attention_mask"[, "token_type_ids"], int64, dynamic length)

After writing, the file is loaded with onnxruntime and its top-1 compared with torch on the
model's validation set (the training run's split of its data, or `check_data`): the
agreement is returned (`ExportResult.agreement`) and an export below `MIN_AGREEMENT` fails.

Running an exported file (its metadata, an onnxruntime session, the models folder's listing)
is `onnx_runtime`'s; `image.load_onnx_classifier` and `text.classify_onnx` run one.
No Qt; torch, onnx and onnxruntime are imported inside the functions.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

from playground.core import models, onnx_runtime
from playground.core.errors import InputError, ModelError
from playground.core.jobs import JobContext

FORMATS = ("onnx",)
TASKS = ("image-classification", "text-classification")  # what can be exported
OPSET = 17
MIN_AGREEMENT = 0.99
CHECK_LIMIT = 2000  # validation examples compared at most
METADATA_KEY = onnx_runtime.METADATA_KEY


@dataclass
class ExportResult:
    path: str
    kind: str  # "image" | "text"
    labels: list[str]
    agreement: float | None  # share of checked examples with the same top-1 in onnxruntime and torch
    checked: int  # how many examples were compared
    check_source: str  # "validation" | "data" | "synthetic"
    max_abs_diff: float  # largest probability difference seen
    size_bytes: int
    seconds: float
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["agreement"] = None if self.agreement is None else round(self.agreement, 6)
        d["max_abs_diff"] = round(self.max_abs_diff, 8)
        return d


# -- export ---------------------------------------------------------------------------------------


def _torch_export(module, args: tuple, target: Path, input_names: list[str], dynamic_axes: dict) -> None:
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:  # the TorchScript exporter: about 10x faster than torch.export here, same numbers
            torch.onnx.export(module, args, str(target), input_names=input_names, output_names=["logits"],
                              dynamic_axes=dynamic_axes, opset_version=OPSET, dynamo=False)
            return
        except (TypeError, RuntimeError, AttributeError) as first:
            legacy_error = first
        try:
            torch.onnx.export(module, args, str(target), input_names=input_names, output_names=["logits"],
                              dynamic_axes=dynamic_axes, opset_version=max(OPSET, 18), dynamo=True)
        except Exception as exc:
            raise ModelError(f"This model cannot be exported to ONNX ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else ''}; before: {legacy_error}).") from exc


def _add_metadata(target: Path, props: dict[str, str]) -> None:
    import onnx

    proto = onnx.load(str(target))
    del proto.metadata_props[:]
    for k, v in props.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    proto.producer_name = "model-playground"
    onnx.save(proto, str(target))


def export(ctx: JobContext, model: str, out: str | os.PathLike, format: str = "onnx",
           check_data: str | None = None, val_share: float | None = None, seed: int | None = None,
           min_agreement: float = MIN_AGREEMENT) -> ExportResult:
    """Export `model` (a fine-tuned image or text classifier) to `out` and check it with onnxruntime."""
    from playground.core import evaluate

    if format not in FORMATS:
        raise InputError(f"Unknown export format '{format}' (one of: {', '.join(FORMATS)}).")
    target = Path(out).expanduser()
    if target.suffix.lower() != ".onnx":
        raise InputError(f"{target.name}: the output file must end in .onnx.")
    folder = Path((model or "").strip()).expanduser()
    if not folder.is_dir():
        raise ModelError(f"Model folder not found: {model}" if not folder.exists() else
                         f"'{folder.name}' is a file; export takes a fine-tuned model folder.")
    kind = evaluate.model_kind(str(folder))
    if kind not in ("image", "text"):
        raise ModelError(f"'{folder.name}' is a {kind} classifier; ONNX export takes an image or text classifier.")
    t0 = time.perf_counter()
    from playground.core import atomic

    with atomic.atomic_path(target) as tmp:
        if kind == "image":
            result = _export_image(ctx, folder, tmp, check_data, val_share, seed)
        else:
            result = _export_text(ctx, folder, tmp, check_data, val_share, seed)
        if result.agreement is not None and result.agreement < min_agreement:
            raise ModelError(f"The exported {folder.name} agrees with torch on only {result.agreement:.1%} of "
                             f"{result.checked} examples (at least {min_agreement:.0%} needed); nothing was written.")
        result.size_bytes = tmp.stat().st_size
    result.path = str(target)
    result.seconds = time.perf_counter() - t0
    ctx.progress(1.0, f"Exported {target.name}" + (f": same top-1 as torch on {result.agreement:.1%} of "
                                                    f"{result.checked} examples" if result.agreement is not None else ""))
    return result


def _check_examples(model: str, kind: str, check_data: str | None, val_share: float | None, seed: int | None,
                    meta: dict, text_column=None, label_column=None) -> tuple[list, str]:
    """The inputs to compare on: the run's validation split of its data, else all of `check_data`."""
    from playground.core import evaluate
    from playground.core.training import data as tdata

    source = check_data or meta.get("data")
    split = "all" if check_data else "validation"
    if not source or not Path(source).exists():
        return [], "synthetic"
    try:
        if kind == "image":
            folder = tdata.scan_image_folder(source)
            idx = evaluate.select(folder.targets, split, *evaluate.validation_split(model, val_share, seed))
            return [str(folder.files[i]) for i in idx][:CHECK_LIMIT], "data" if check_data else "validation"
        table = tdata.read_table(source, text_column, label_column)
        idx = evaluate.select(table.targets, split, *evaluate.validation_split(model, val_share, seed))
        return [table.texts[i] for i in idx][:CHECK_LIMIT], "data" if check_data else "validation"
    except InputError:
        return [], "synthetic"


def _export_image(ctx, folder: Path, tmp: Path, check_data, val_share, seed) -> ExportResult:
    import numpy as np
    import torch

    from playground.core import image

    meta = models.read_marker(folder) or {}
    ctx.progress(None, f"Loading {folder.name}")
    clf = image.load_classifier(str(folder), ctx, "cpu")
    if clf.recipe is None or clf.kind != "timm":
        raise ModelError(f"'{folder.name}' is not a fine-tuned image classifier with a saved preprocessing recipe.")
    h, w = clf.input_size
    ctx.progress(None, f"Exporting {folder.name} to ONNX")
    _torch_export(clf.model.float().eval(), (torch.zeros(2, 3, h, w),), tmp, ["pixel_values"],
                  {"pixel_values": {0: "batch", 2: "height", 3: "width"}, "logits": {0: "batch"}})
    info = {"format": 1, "kind": "image", "name": clf.name, "source_model": str(folder), "task": image.TASK,
            "input": "pixel_values: float32 [batch, 3, height, width], RGB, the preprocess recipe applied",
            "output": "logits: float32 [batch, classes]; softmax gives probabilities"}
    _add_metadata(tmp, {METADATA_KEY: json.dumps(info), "labels": json.dumps(list(clf.labels)),
                        "preprocess": json.dumps(clf.recipe.to_dict())})
    onnx_runtime.forget_metadata()

    sources, how = _check_examples(str(folder), "image", check_data, val_share, seed, meta)
    sess = onnx_runtime.session(tmp)
    name = sess.get_inputs()[0].name
    agree = total = 0
    worst = 0.0
    notes = []
    if not sources:
        notes.append("No validation data found (the training folder is gone): checked on random inputs.")
        g = torch.Generator().manual_seed(seed or 0)
        batches = [clf.recipe.normalize(torch.rand(16, 3, h, w, generator=g))]
        how = "synthetic"
    else:
        batches = None
    todo = batches if batches is not None else range(0, len(sources), 32)
    for item in todo:
        ctx.check_cancelled()
        if batches is None:
            part = sources[item:item + 32]
            x = torch.stack([clf.preprocess(image.load_image(p, ctx, draft=clf.recipe.draft)) for p in part])
            ctx.progress(min(1.0, (item + len(part)) / len(sources)), f"Checking with onnxruntime: "
                                                                      f"{item + len(part)} of {len(sources)}")
        else:
            x = item
        with torch.inference_mode():
            p_torch = clf.model(x.float()).float().softmax(-1).numpy()
        logits = sess.run(None, {name: np.ascontiguousarray(x.float().numpy())})[0].astype(np.float64)
        p_ort = np.exp(logits - logits.max(-1, keepdims=True))
        p_ort /= p_ort.sum(-1, keepdims=True)
        agree += int((p_torch.argmax(-1) == p_ort.argmax(-1)).sum())
        total += len(x)
        worst = max(worst, float(np.abs(p_torch - p_ort).max()))
    return ExportResult(str(tmp), "image", list(clf.labels), agree / total if total else None, total, how, worst,
                        0, 0.0, notes)


class _TextLogits:
    """A sequence classifier as (input_ids, attention_mask[, token_type_ids]) -> logits."""

    def __new__(cls, net, with_types: bool):
        import torch

        class Wrapped(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.net = net

            def forward(self, input_ids, attention_mask, token_type_ids=None):
                kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
                if token_type_ids is not None:
                    kwargs["token_type_ids"] = token_type_ids
                return self.net(**kwargs).logits

        return Wrapped().eval()


def _export_text(ctx, folder: Path, tmp: Path, check_data, val_share, seed) -> ExportResult:
    import numpy as np
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from playground.core import text

    meta = models.read_marker(folder) or {}
    models.check_weights_safe(folder)
    ctx.progress(None, f"Loading {folder.name}")
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder))
        net = AutoModelForSequenceClassification.from_pretrained(str(folder), dtype=torch.float32).eval()
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"'{folder.name}' cannot be loaded as a text classifier ({type(exc).__name__}).") from exc
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise ModelError(f"'{folder.name}' has no fast tokenizer (tokenizer.json); it cannot travel in the ONNX file.")
    config = text.read_config(text.Source(str(folder), folder))
    labels = text._labels(config) or [f"LABEL_{i}" for i in range(net.config.num_labels)]
    max_length = int(meta.get("max_length") or min(512, getattr(tokenizer, "model_max_length", 512) or 512))
    with_types = "token_type_ids" in tokenizer.model_input_names
    names = ["input_ids", "attention_mask"] + (["token_type_ids"] if with_types else [])
    # Traced with padding in the batch, so the mask really takes part in the graph.
    sample = tokenizer(["a short one", "a somewhat longer example sentence for the trace"], padding=True,
                       return_tensors="pt")
    args = tuple(sample[n] for n in names)
    axes = {n: {0: "batch", 1: "sequence"} for n in names} | {"logits": {0: "batch"}}
    ctx.progress(None, f"Exporting {folder.name} to ONNX")
    wrapped = _TextLogits(net, with_types)
    _torch_export(wrapped, args, tmp, names, axes)
    wrapped.eval()
    info = {"format": 1, "kind": "text", "name": str(meta.get("name") or folder.name), "source_model": str(folder),
            "task": "text-classification", "max_length": max_length, "pad_id": int(tokenizer.pad_token_id or 0),
            "input_names": names,
            "input": "int64 [batch, sequence] from the 'tokenizer' (tokenizers' tokenizer.json), padded",
            "output": "logits: float32 [batch, classes]; softmax gives probabilities"}
    _add_metadata(tmp, {METADATA_KEY: json.dumps(info), "labels": json.dumps(labels),
                        "tokenizer": backend.to_str()})
    onnx_runtime.forget_metadata()

    texts, how = _check_examples(str(folder), "text", check_data, val_share, seed, meta,
                                 meta.get("text_column") if not check_data else None,
                                 meta.get("label_column") if not check_data else None)
    notes = []
    if not texts:
        notes.append("No validation data found (the training table is gone): checked on sample sentences.")
        texts, how = ["This is great.", "This is terrible.", "An ordinary day.", "I do not know."], "synthetic"
    # onnxruntime through the file's own tokenizer (the path `evaluate` and others use) vs torch.
    scored, _labels, _name = text.classify_onnx(ctx, str(tmp), texts)
    agree, worst = 0, 0.0
    for start in range(0, len(texts), 32):
        ctx.check_cancelled()
        batch = tokenizer(texts[start:start + 32], padding=True, truncation=True, max_length=max_length,
                          return_tensors="pt")
        with torch.inference_mode():
            probs = wrapped(*(batch[n] for n in names)).float().softmax(-1).numpy()
        for row, s in zip(probs, scored[start:start + 32], strict=True):
            ort_probs = {x.label: x.score for x in s.scores}
            agree += int(labels[int(np.argmax(row))] == s.scores[0].label)
            worst = max(worst, max(abs(float(p) - ort_probs.get(labels[k], 0.0)) for k, p in enumerate(row)))
    return ExportResult(str(tmp), "text", labels, agree / len(texts), len(texts), how, worst, 0, 0.0, notes)
