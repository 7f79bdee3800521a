"""Run ONNX files exported by `onnx_export`: their metadata, an onnxruntime session, and the
registry's listing of the exported files in the models folder.

Apart from the export (which needs torch and onnx to write and check a file): the image and
text engines (`image.load_onnx_classifier`, `text.classify_onnx`), `evaluate` and the pickers
use only this module to run or list a file. The metadata's layout is described in
`onnx_export`. onnx and onnxruntime are imported inside the functions.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from playground.core import models, paths
from playground.core.errors import ModelError

METADATA_KEY = "playground"

# -- metadata ----------------------------------------------------------------------------------

_META_CACHE: dict[tuple[str, float], dict] = {}


def read_metadata(path: str | os.PathLike) -> dict:
    """The "playground" metadata of an exported file (with "labels", "preprocess" ... merged in)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ModelError(f"Model not found: {path}")
    key = (str(path.resolve()), path.stat().st_mtime)
    if key not in _META_CACHE:
        import onnx

        try:
            proto = onnx.load(str(path), load_external_data=False)
        except Exception as exc:
            raise ModelError(f"'{path.name}' is not a readable ONNX file ({type(exc).__name__}).") from exc
        props = {p.key: p.value for p in proto.metadata_props}
        meta: dict = {}
        try:
            meta = json.loads(props.get(METADATA_KEY, "{}"))
            for name in ("labels", "preprocess"):
                if name in props:
                    meta[name] = json.loads(props[name])
        except ValueError:
            meta = {}
        if "tokenizer" in props:
            meta["tokenizer"] = props["tokenizer"]
        meta.setdefault("labels", [])
        meta.setdefault("input_names", [i.name for i in proto.graph.input])
        _META_CACHE.clear() if len(_META_CACHE) > 64 else None
        _META_CACHE[key] = meta
    return _META_CACHE[key]


def forget_metadata() -> None:
    """Drop the metadata read so far (a file was just rewritten in place)."""
    _META_CACHE.clear()


def entries(kind: str = "image") -> list[models.ModelEntry]:
    """Exported image classifiers (`*.onnx`) in the models folder, for the pickers (registry source)."""
    task = f"{kind}-classification"
    try:
        files = sorted(p for p in paths.models_dir().glob("*.onnx") if p.is_file())
    except OSError:
        return []
    out = []
    for f in files:
        try:
            meta = read_metadata(f)
        except ModelError:
            continue
        if meta.get("kind", "image") != kind:
            continue
        out.append(models.ModelEntry(str(f), task, f"{meta.get('name') or f.stem} (ONNX)",
                                     "local", "yours", f"An exported ONNX {kind} classifier (onnxruntime)",
                                     location=str(f), size_bytes=f.stat().st_size, available=True,
                                     extra={"labels": meta.get("labels", []), "format": "onnx"}))
    return out


def text_entries() -> list[models.ModelEntry]:
    """Exported text classifiers in the models folder (the Text tab's Classify picker)."""
    return entries("text")


# -- running an exported file ---------------------------------------------------------------------


def session(path: str | os.PathLike):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ModelError(f"'{Path(path).name}' cannot be loaded by onnxruntime: {str(exc).splitlines()[0]}") from exc


class OrtModule:
    """Callable like a torch module on an NCHW float tensor: logits as a torch tensor."""

    def __init__(self, sess, input_name: str):
        self.session = sess
        self.input_name = input_name

    def __call__(self, batch):
        import numpy as np
        import torch

        x = np.ascontiguousarray(batch.detach().to("cpu").float().numpy())
        return torch.from_numpy(self.session.run(None, {self.input_name: x})[0])

    def eval(self):
        return self


def pad_rows(rows: list[list[int]], pad_id: int):
    import numpy as np

    width = max(1, max(len(r) for r in rows))
    ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for j, r in enumerate(rows):
        ids[j, :len(r)] = r
        mask[j, :len(r)] = 1
    return ids, mask
