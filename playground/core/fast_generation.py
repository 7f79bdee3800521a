"""The fast generation path: CTranslate2 (installed with faster-whisper) runs Llama, Mistral, Qwen and
Gemma-family causal LMs in int8 on the CPU (float16 / int8_float16 on CUDA), 2-3x faster than
transformers in float32 on a few cores.

A transformers folder is converted once into the cache (`ct2/<name>-<hash>-<quantization>`),
atomically: the converter writes into a temporary folder beside the target, a marker is written
last, and only then is the folder renamed into place, so an interrupted conversion is never used.
transformers stays the path for the models CTranslate2 cannot take (and for attention maps and
training, which never come here).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
import tempfile
import time
from pathlib import Path

from playground.core import paths
from playground.core.errors import ModelError
from playground.core.jobs import JobContext

log = logging.getLogger(__name__)

# The causal-LM families of the issue that CTranslate2's converter takes (config.json model_type).
CT2_MODEL_TYPES = frozenset({"llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3_text"})
MARKER = "playground_ct2.json"
BACKENDS = ("auto", "ctranslate2", "transformers")


def model_type(folder: Path) -> str:
    try:
        return str(json.loads((folder / "config.json").read_text(encoding="utf-8")).get("model_type") or "")
    except (OSError, ValueError):
        return ""


def unsupported_reason(folder: Path) -> str:
    """Why the folder cannot take the fast path ("" when it can)."""
    try:
        import ctranslate2  # noqa: F401
    except ImportError:
        return "the ctranslate2 package is not installed"
    kind = model_type(folder)
    if kind not in CT2_MODEL_TYPES:
        return f"CTranslate2 is not used for '{kind or 'unknown'}' models"
    return ""


def device_and_compute_type(torch_device: str) -> tuple[str, str]:
    """CTranslate2's device and compute type for the torch device the app chose: int8 on the CPU,
    int8 weights with float16 activations on CUDA (there is no MPS backend: the CPU)."""
    if torch_device.startswith("cuda"):
        import ctranslate2

        if ctranslate2.get_cuda_device_count() > 0:
            return "cuda", "int8_float16"
    return "cpu", "int8"


def quantization_for(compute_type: str) -> str:
    """How the converted weights are stored for a compute type: int8_float16 runs from float16 weights,
    the CPU's int8 (and float32) from weights stored so."""
    return "float16" if compute_type == "int8_float16" else compute_type


def _signature(folder: Path) -> dict:
    """What the conversion depends on: the source's path, config and weight files (size, mtime)."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in (".json", ".safetensors", ".bin"))
    return {"source": str(folder.resolve()),
            "files": [[p.name, p.stat().st_size, int(p.stat().st_mtime)] for p in files]}


def converted_path(folder: Path, quantization: str) -> Path:
    digest = hashlib.sha1(json.dumps(_signature(folder), sort_keys=True).encode()).hexdigest()[:12]
    return paths.cache_dir() / "ct2" / f"{folder.name}-{digest}-{quantization}"


def _converted_ok(target: Path) -> bool:
    return (target / MARKER).is_file() and (target / "model.bin").is_file()


def convert(folder: Path, quantization: str, ctx: JobContext | None = None, name: str = "") -> Path:
    """The CTranslate2 copy of a transformers folder, converted on first use (atomically)."""
    ctx = ctx or JobContext()
    target = converted_path(folder, quantization)
    if _converted_ok(target):
        return target
    from ctranslate2.converters import TransformersConverter

    label = name or folder.name
    ctx.progress(0.0, f"Converting {label} for fast generation (CTranslate2 {quantization}, first use only)...")
    t0 = time.perf_counter()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent))
    try:
        TransformersConverter(str(folder)).convert(str(tmp), quantization=quantization, force=True)
        _fill_special_tokens(tmp / "config.json")
        ctx.check_cancelled()
        ctx.progress(0.95, f"Saving the converted {label}...")
        for p in tmp.iterdir():  # on disk before the marker and the rename: a power cut leaves no half model
            with open(p, "rb") as fh:
                os.fsync(fh.fileno())
        (tmp / MARKER).write_text(json.dumps({"source": _signature(folder), "quantization": quantization}),
                                  encoding="utf-8")
        if target.exists():  # a broken copy (no marker): never used, replaced
            shutil.rmtree(target, ignore_errors=True)
        try:
            os.replace(tmp, target)
        except OSError:
            if not _converted_ok(target):  # another process won the race with a good copy?
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    ctx.progress(1.0, f"Converted {label} for fast generation in {time.perf_counter() - t0:.0f} s.")
    return target


def _fill_special_tokens(config_file: Path) -> None:
    """CTranslate2 cannot load a config whose BOS or UNK token is null (tokenizers without one, as
    Qwen's have no BOS): the EOS token stands in (the prompt's tokens are always given in full)."""
    config = json.loads(config_file.read_text(encoding="utf-8"))
    missing = [k for k in ("bos_token", "unk_token") if k in config and config[k] is None]
    if missing and config.get("eos_token"):
        config.update({k: config["eos_token"] for k in missing})
        config_file.write_text(json.dumps(config, indent=2), encoding="utf-8")


# Below this hidden size a token's matrix products are too small to share between threads: the OpenMP
# hand-offs cost more than they save (SmolLM2-135M, hidden 576, on 2 cores: 47 tokens/s on 1 thread, 38 on 2).
SMALL_HIDDEN = 1024


def _cpu_threads(folder: Path) -> int:
    import torch

    try:
        hidden = int(json.loads((folder / "config.json").read_text(encoding="utf-8")).get("hidden_size") or 0)
    except (OSError, ValueError, TypeError):
        hidden = 0
    return 1 if 0 < hidden <= SMALL_HIDDEN else torch.get_num_threads()


def load(folder: Path, torch_device: str, ctx: JobContext | None = None, compute_type: str | None = None,
         name: str = ""):
    """(ctranslate2.Generator, backend label, converted folder) for a transformers folder; converts on first use."""
    import ctranslate2

    device, default_type = device_and_compute_type(torch_device)
    compute_type = compute_type or default_type
    target = convert(folder, quantization_for(compute_type), ctx, name)
    threads = _cpu_threads(folder) if device == "cpu" else 0
    try:
        model = ctranslate2.Generator(str(target), device=device, compute_type=compute_type, intra_threads=threads)
    except (RuntimeError, ValueError) as exc:
        raise ModelError(f"CTranslate2 cannot load the converted model: {exc}") from exc
    return model, f"CTranslate2 {compute_type}", target


def perplexity(model, token_lists: list[list[str]]) -> float:
    """exp(mean negative log-likelihood) of the tokens (each list starts with its context token)."""
    results = model.score_batch(token_lists, max_input_length=0)
    logps = [lp for r in results for lp in r.log_probs]
    return math.exp(-sum(logps) / len(logps))
