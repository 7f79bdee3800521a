"""Text tasks (all but generation): embeddings, zero-shot labels, semantic search,
classification, tokens, attention maps, fill-mask and summaries.

Every public task is a job `fn(ctx, ...)` that returns dataclasses. The
offline default is the bundled all-MiniLM-L6-v2 (mean pooling + L2 norm).
Hub ids and local folders (including the user's fine-tuned classifiers) load
through transformers' Auto classes after `models.check_weights_safe`, and a
model is checked against its task (config `architectures`) before its weights
are read. torch/transformers/numpy are imported inside the functions.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playground.core import devices, models, onnx_runtime, tasks
from playground.core.errors import InputError, ModelError
from playground.core.jobs import JobContext

DEFAULT_EMBEDDER = models.DEFAULT_EMBEDDER
DEFAULT_TEMPLATE = "This text is about {}."
# Cosine similarities of sentence embeddings sit in a narrow band; this scale
# (CLIP uses 100 for its image/text similarities) turns them into a softmax
# over the candidate labels that separates the best label clearly.
ZERO_SHOT_SCALE = 25.0
MAX_TEXTS = 10_000
BATCH_SIZE = 32


# -- results -------------------------------------------------------------------


@dataclass(frozen=True)
class LabelScore:
    label: str
    score: float
    similarity: float | None = None  # cosine similarity, for embedding zero-shot

    def to_dict(self) -> dict:
        return {"label": self.label, "score": self.score}


@dataclass
class Scored:
    """One text with every label's score, best first (classify and zero-shot)."""

    text: str
    scores: list[LabelScore]
    truncated: bool = False

    def to_dict(self) -> dict:
        return {"text": self.text, "scores": [s.to_dict() for s in self.scores]}


@dataclass
class ScoresResult:
    items: list[Scored]
    model: str
    method: str  # "embedding-similarity" | "nli" | "classifier"
    max_tokens: int | None = None
    seconds: float = 0.0

    @property
    def truncated(self) -> int:
        return sum(1 for s in self.items if s.truncated)


@dataclass
class EmbedResult:
    texts: list[str]
    vectors: Any  # numpy float32 [n, dim], rows L2-normalised
    truncated: list[bool]
    model: str
    max_tokens: int
    seconds: float = 0.0

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1]) if len(self.texts) else 0

    def to_list(self) -> list[dict]:
        return [{"text": t, "embedding": [float(x) for x in v]} for t, v in zip(self.texts, self.vectors, strict=True)]


@dataclass(frozen=True)
class Hit:
    text: str
    score: float
    index: int  # position in the candidate list
    truncated: bool = False

    def to_dict(self) -> dict:
        return {"text": self.text, "score": self.score}


@dataclass
class SearchResult:
    query: str
    hits: list[Hit]  # best first
    candidates: int
    model: str
    query_truncated: bool = False
    seconds: float = 0.0

    @property
    def truncated(self) -> int:
        return sum(1 for h in self.hits if h.truncated) + int(self.query_truncated)


@dataclass(frozen=True)
class Token:
    token: str  # the tokenizer's own piece ("##ing", "Ġthe")
    id: int
    start: int | None  # character span in the text, when the tokenizer knows it
    end: int | None
    special: bool = False


@dataclass
class TokensResult:
    text: str
    tokens: list[Token]
    model: str
    max_tokens: int | None
    n_chars: int = 0
    n_words: int = 0

    @property
    def n_tokens(self) -> int:
        return len(self.tokens)

    @property
    def over_limit(self) -> bool:
        return self.max_tokens is not None and self.n_tokens > self.max_tokens


@dataclass
class AttentionResult:
    text: str
    tokens: list[str]  # axis labels, one per position
    weights: Any  # numpy float32 [layers, heads, n, n]: row = query token, column = key token
    model: str
    kind: str  # "encoder" | "decoder"
    truncated: bool = False
    max_tokens: int = 0

    @property
    def layers(self) -> int:
        return int(self.weights.shape[0])

    @property
    def heads(self) -> int:
        return int(self.weights.shape[1])

    def matrix(self, layer: int, head: int | None):
        """One [n, n] map; head None averages over the heads of the layer."""
        w = self.weights[layer]
        return w.mean(axis=0) if head is None else w[head]


@dataclass(frozen=True)
class MaskFill:
    token: str
    score: float
    sequence: str


@dataclass
class FillMaskResult:
    text: str
    fills: list[list[MaskFill]]  # one list (best first) per mask in the text
    model: str
    mask_token: str
    truncated: bool = False


@dataclass
class SummaryResult:
    text: str
    summary: str
    model: str
    truncated: bool = False
    input_tokens: int = 0
    seconds: float = 0.0


# -- input care ------------------------------------------------------------------


def clean_texts(texts, what: str = "text") -> list[str]:
    """Strip, refuse empty input with a sentence that asks for text."""
    if isinstance(texts, str):
        texts = [texts]
    out = [str(t).strip() for t in texts]
    if not out or not any(out):
        raise InputError(f"Type or paste some {what} first.")
    if any(not t for t in out):
        raise InputError(f"One of the {what}s is empty: remove it or type something.")
    if len(out) > MAX_TEXTS:
        raise InputError(f"Too many {what}s ({len(out)}); the limit is {MAX_TEXTS} per run.")
    return out


def parse_labels(labels) -> list[str]:
    """Labels as a list or one comma-separated string; duplicates dropped, order kept."""
    if isinstance(labels, str):
        labels = labels.split(",")
    seen: list[str] = []
    for label in labels or []:
        label = str(label).strip()
        if label and label not in seen:
            seen.append(label)
    if len(seen) < 2:
        raise InputError("Give at least two candidate labels, separated by commas.")
    return seen


# -- model files and fit -----------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """Where transformers should load a model from: a folder (+ a GGUF file name)."""

    model_id: str
    folder: Path
    gguf_file: str | None = None
    trust_remote_code: bool = False  # the user allowed the model's own Python code (Settings or --trust-remote-code)

    @property
    def kwargs(self) -> dict:
        """What every `from_pretrained` of this model gets (tokenizer and model alike)."""
        out: dict = {"gguf_file": self.gguf_file} if self.gguf_file else {}
        if self.trust_remote_code:
            out["trust_remote_code"] = True
        return out

    def key(self) -> tuple:
        return (str(self.folder), self.gguf_file or "", self.trust_remote_code)


def model_source(model_id: str | None, ctx: JobContext | None = None, *, default: str = DEFAULT_EMBEDDER,
                 allow_pickle: bool = False, trust_remote_code: bool = False) -> Source:
    """Resolve a catalog id, folder, GGUF file or Hub id (downloading with progress)."""
    model_id = (model_id or "").strip() or default
    ref = models.resolve(model_id)
    if ref.kind == "bundled":  # a GGUF file, or GGUF parts joined into a folder (Gemma)
        plain = _plain_copy_of_gguf(model_id, ctx)
        if plain is not None:
            return Source(model_id, plain, trust_remote_code=trust_remote_code)
    if ref.path is not None and ref.path.is_file():
        if ref.path.suffix.lower() == ".gguf":
            return Source(model_id, ref.path.parent, ref.path.name, trust_remote_code)
        raise ModelError(f"'{ref.path.name}' is a file; pick the model's folder (with config.json) instead.")
    folder = models.local_folder(model_id, ctx)
    if ref.kind != "bundled":
        models.check_weights_safe(folder, allow_pickle=allow_pickle, trust_remote_code=trust_remote_code)
    return Source(model_id, Path(folder), trust_remote_code=trust_remote_code)


def _plain_copy_of_gguf(model_id: str, ctx: JobContext | None) -> Path | None:
    """The generation engine's full-precision copy of a bundled GGUF model (made once, then fast)."""
    try:
        from playground.core import generation
    except ImportError:
        return None
    if model_id not in getattr(generation, "GGUF_BUNDLES", ()) or not hasattr(generation, "bundled_folder"):
        return None
    return Path(generation.bundled_folder(ctx, model_id))


def read_config(src: Source) -> dict:
    if src.gguf_file:
        return {"architectures": ["GGUF causal language model"], "model_type": "gguf", "is_decoder": True}
    path = src.folder / "config.json"
    if not path.is_file():
        raise ModelError(f"'{src.model_id}' has no config.json, so it is not a transformers model folder.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"'{src.model_id}/config.json' cannot be read: {exc}.") from exc
    if not isinstance(data, dict):
        raise ModelError(f"'{src.model_id}/config.json' is not a model configuration.")
    return data


def _name(src: Source) -> str:
    return Path(src.model_id).name if src.model_id.startswith(("/", ".", "~")) else src.model_id


def _archs(config: dict) -> list[str]:
    return [str(a) for a in (config.get("architectures") or [])]


def _labels(config: dict) -> list[str]:
    id2label = config.get("id2label") or {}
    return [str(id2label.get(str(i), id2label.get(i, f"LABEL_{i}"))) for i in range(len(id2label))]


def nli_entailment_index(config: dict) -> int | None:
    for i, label in enumerate(_labels(config)):
        if label.lower().startswith("entail"):
            return i
    return None


def check_fit(src: Source, task: str, config: dict | None = None) -> dict:
    """Refuse a model that cannot do `task`, in one sentence, before loading its weights."""
    config = read_config(src) if config is None else config
    archs = _archs(config)
    desc = ", ".join(archs) or config.get("model_type") or "unknown architecture"
    seq2seq = bool(config.get("is_encoder_decoder"))
    ok = True
    if task == "text-classification":
        ok = any(a.endswith("ForSequenceClassification") for a in archs)
        if not ok and src.model_id == DEFAULT_EMBEDDER:
            raise ModelError("all-MiniLM-L6-v2 is a sentence-embedding model with no classification head: "
                             "use Zero-shot with it, or train a classifier in the Train tab.")
    elif task == "zero-shot-classification":
        if any(a.endswith("ForSequenceClassification") for a in archs):
            ok = nli_entailment_index(config) is not None
        else:
            ok = not seq2seq and not any(a.endswith(("ForCausalLM", "LMHeadModel", "ForConditionalGeneration"))
                                         for a in archs)
    elif task in ("text-embedding", "semantic-search"):
        ok = not seq2seq and not src.gguf_file and not any(
            a.endswith(("ForCausalLM", "LMHeadModel", "ForConditionalGeneration")) for a in archs)
    elif task == "fill-mask":
        ok = any(a.endswith(("ForMaskedLM", "ForPreTraining")) for a in archs)
    elif task == "summarization":
        ok = seq2seq or bool(src.gguf_file) or any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in archs)
    elif task == "attention":
        ok = not seq2seq
        if not ok:
            raise ModelError(f"'{_name(src)}' is an encoder-decoder model ({desc}); the attention view "
                             "takes an encoder (BERT-like) or decoder (GPT-like) model.")
    if not ok:
        raise ModelError(f"'{_name(src)}' does not fit this task: it is {desc}, and this task needs {tasks.get(task).needs}.")
    return config


# -- loading (cached between jobs) -------------------------------------------------------


def _device() -> tuple[str, Any]:
    dev = devices.choose_device()
    return dev, devices.dtype_for(dev)


def _suppress_hf_noise() -> None:
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except Exception:  # pragma: no cover
        pass


def load_tokenizer(src: Source):
    def load():
        from transformers import AutoTokenizer

        _suppress_hf_noise()
        try:
            return AutoTokenizer.from_pretrained(str(src.folder), **src.kwargs)
        except Exception as exc:
            raise ModelError(f"The tokenizer of '{_name(src)}' cannot be loaded: {str(exc).splitlines()[0]}") from exc

    return models.cache.get(("tokenizer",) + src.key(), load, size=lambda _t: 0)


def _load(src: Source, auto: str, ctx: JobContext | None, **extra):
    dev, dtype = _device()
    key = ("text", auto) + src.key() + (dev, str(dtype), tuple(sorted(extra.items())))

    def load():
        import transformers

        _suppress_hf_noise()
        if ctx is not None:
            ctx.progress(None, f"Loading {_name(src)}" + (" (first load of a GGUF file takes a while)"
                                                         if src.gguf_file else ""))
        import pickle

        cls = getattr(transformers, auto)
        try:
            model = cls.from_pretrained(str(src.folder), dtype=dtype, **src.kwargs, **extra)
        except (OSError, ValueError, KeyError, RuntimeError, pickle.UnpicklingError) as exc:  # refused pickles too
            raise ModelError(f"'{_name(src)}' cannot be loaded as {auto.replace('AutoModelFor', '')}: "
                             f"{str(exc).strip().splitlines()[0]}") from exc
        return model.to(dev).eval()

    return models.cache.get(key, load)


def load_sequence_classifier(src: Source, ctx: JobContext | None = None):
    """The (cached) sequence-classification model of `src`: what classify and its explanations run."""
    return _load(src, "AutoModelForSequenceClassification", ctx)


def model_limit(src: Source, tokenizer, config: dict) -> int:
    """How many tokens the model sees at most (sentence-transformers' own limit first)."""
    sbert = src.folder / "sentence_bert_config.json"
    if sbert.is_file():
        try:
            value = int(json.loads(sbert.read_text(encoding="utf-8")).get("max_seq_length") or 0)
            if value > 0:
                return value
        except (OSError, ValueError, TypeError):
            pass
    limits = []
    tm = getattr(tokenizer, "model_max_length", None)
    if isinstance(tm, int) and 0 < tm < 1_000_000:
        limits.append(tm)
    for key in ("max_position_embeddings", "n_positions", "max_seq_len"):
        value = config.get(key)
        if isinstance(value, int) and value > 0:
            # RoBERTa-style position ids start after the padding index.
            limits.append(value - 2 if config.get("model_type") in ("roberta", "xlm-roberta", "camembert") else value)
            break
    return min(limits) if limits else 512


def _pooling_mode(src: Source) -> str:
    cfg = src.folder / "1_Pooling" / "config.json"
    if cfg.is_file():
        try:
            data = json.loads(cfg.read_text(encoding="utf-8"))
            if data.get("pooling_mode_cls_token"):
                return "cls"
        except (OSError, ValueError):
            pass
    return "mean"


@dataclass
class Encoder:
    """A loaded sentence embedder: tokenizer + transformer + pooling."""

    src: Source
    tokenizer: Any
    model: Any
    device: str
    max_tokens: int
    pooling: str = "mean"
    config: dict = field(default_factory=dict)

    def encode(self, texts: list[str], ctx: JobContext | None = None, batch_size: int = BATCH_SIZE,
               progress_text: str = "Embedding"):
        """L2-normalised embeddings [n, dim] (numpy float32) and per-text truncation flags."""
        import numpy as np
        import torch

        n = len(texts)
        # Longest first in batches of similar length: less padding, same results.
        order = sorted(range(n), key=lambda i: -len(texts[i]))
        out = np.zeros((n, 0), dtype=np.float32)
        truncated = [False] * n
        chunks = []
        for start in range(0, n, batch_size):
            if ctx is not None:
                ctx.check_cancelled()
            idx = order[start:start + batch_size]
            batch = self.tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                                   max_length=self.max_tokens, return_tensors="pt")
            encodings = getattr(batch, "encodings", None) or []
            for j, enc in zip(idx, encodings, strict=False):
                truncated[j] = bool(enc.overflowing)
            inputs = {k: v.to(self.device) for k, v in batch.items() if k in ("input_ids", "attention_mask",
                                                                              "token_type_ids")}
            with torch.inference_mode():
                hidden = self.model(**inputs).last_hidden_state
                if self.pooling == "cls":
                    pooled = hidden[:, 0]
                else:
                    mask = inputs["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled.float(), p=2, dim=1)
            chunks.append((idx, pooled.cpu().numpy()))
            if ctx is not None and n > batch_size:
                done = min(start + batch_size, n)
                ctx.progress(done / n, f"{progress_text}: {done} of {n}")
        if chunks:
            out = np.zeros((n, chunks[0][1].shape[1]), dtype=np.float32)
            for idx, vecs in chunks:
                out[idx] = vecs
        return out, truncated


def load_encoder(model_id: str | None = None, ctx: JobContext | None = None, task: str = "text-embedding",
                 trust_remote_code: bool = False) -> Encoder:
    src = model_source(model_id, ctx, trust_remote_code=trust_remote_code)
    config = check_fit(src, task)
    tokenizer = load_tokenizer(src)
    model = _load(src, "AutoModel", ctx)
    dev = str(next(model.parameters()).device)
    return Encoder(src, tokenizer, model, dev, model_limit(src, tokenizer, config), _pooling_mode(src), config)


# -- tasks (jobs) ------------------------------------------------------------------------


def embed(ctx: JobContext, texts, model: str | None = None, batch_size: int = BATCH_SIZE,
          trust_remote_code: bool = False) -> EmbedResult:
    """Sentence embeddings (mean pooling + L2 norm)."""
    texts = clean_texts(texts)
    enc = load_encoder(model, ctx, trust_remote_code=trust_remote_code)
    t0 = time.perf_counter()
    vectors, truncated = enc.encode(texts, ctx, batch_size)
    return EmbedResult(texts, vectors, truncated, enc.src.model_id, enc.max_tokens, time.perf_counter() - t0)


def _softmax(values: list[float], scale: float = 1.0) -> list[float]:
    top = max(values)
    exps = [math.exp((v - top) * scale) for v in values]
    total = sum(exps)
    return [e / total for e in exps]


def zero_shot(ctx: JobContext, texts, labels, model: str | None = None, template: str = DEFAULT_TEMPLATE,
              multi_label: bool = False, trust_remote_code: bool = False) -> ScoresResult:
    """Score candidate labels: embedding similarity offline, the NLI pipeline for NLI models."""
    texts = clean_texts(texts)
    labels = parse_labels(labels)
    template = (template or "").strip() or "{}"
    if "{}" not in template:
        raise InputError("The label template must contain {} where the label goes, e.g. 'This text is about {}.'")
    src = model_source(model, ctx, trust_remote_code=trust_remote_code)
    config = check_fit(src, "zero-shot-classification")
    if any(a.endswith("ForSequenceClassification") for a in _archs(config)):
        return _zero_shot_nli(ctx, src, texts, labels, template, multi_label)
    enc = load_encoder(src.model_id, ctx, task="zero-shot-classification", trust_remote_code=trust_remote_code)
    t0 = time.perf_counter()
    label_vecs, _ = enc.encode([template.format(label) for label in labels], ctx)
    text_vecs, truncated = enc.encode(texts, ctx, progress_text="Scoring")
    sims = text_vecs @ label_vecs.T
    items = []
    for text, row, cut in zip(texts, sims, truncated, strict=True):
        row = [float(x) for x in row]
        if multi_label:  # each label on its own: similarity mapped through a logistic around 0.3
            probs = [1.0 / (1.0 + math.exp(-(s - 0.3) * ZERO_SHOT_SCALE / 2)) for s in row]
        else:
            probs = _softmax(row, ZERO_SHOT_SCALE)
        scores = sorted((LabelScore(lb, p, s) for lb, p, s in zip(labels, probs, row, strict=True)),
                        key=lambda s: -s.score)
        items.append(Scored(text, scores, cut))
    return ScoresResult(items, src.model_id, "embedding-similarity", enc.max_tokens, time.perf_counter() - t0)


def _zero_shot_nli(ctx, src: Source, texts, labels, template, multi_label) -> ScoresResult:
    from transformers import pipeline

    model = _load(src, "AutoModelForSequenceClassification", ctx)
    tokenizer = load_tokenizer(src)
    t0 = time.perf_counter()
    pipe = pipeline("zero-shot-classification", model=model, tokenizer=tokenizer, device=model.device)
    items = []
    for i, text in enumerate(texts):
        ctx.check_cancelled()
        out = pipe(text, candidate_labels=labels, hypothesis_template=template, multi_label=multi_label)
        scores = [LabelScore(str(lb), float(sc)) for lb, sc in zip(out["labels"], out["scores"], strict=True)]
        items.append(Scored(text, sorted(scores, key=lambda s: -s.score)))
        ctx.progress((i + 1) / len(texts), f"Zero-shot: {i + 1} of {len(texts)}")
    return ScoresResult(items, src.model_id, "nli", None, time.perf_counter() - t0)


def similar(ctx: JobContext, query: str, candidates, top_k: int | None = None,
            model: str | None = None, trust_remote_code: bool = False) -> SearchResult:
    """Rank candidate sentences by cosine similarity to the query, best first."""
    query = clean_texts([query], "query")[0]
    if isinstance(candidates, str):
        candidates = candidates.splitlines()
    candidates = [c.strip() for c in candidates if c and c.strip()]
    if not candidates:
        raise InputError("Give some sentences to search, one per line.")
    candidates = clean_texts(candidates, "sentence")
    if top_k is not None and top_k < 1:
        raise InputError("top-k must be at least 1.")
    enc = load_encoder(model, ctx, trust_remote_code=trust_remote_code)
    t0 = time.perf_counter()
    qvec, qcut = enc.encode([query], ctx)
    cvecs, ccut = enc.encode(candidates, ctx, progress_text="Embedding sentences")
    sims = (cvecs @ qvec[0]).tolist()
    order = sorted(range(len(candidates)), key=lambda i: -sims[i])
    if top_k is not None:
        order = order[:top_k]
    hits = [Hit(candidates[i], float(sims[i]), i, ccut[i]) for i in order]
    return SearchResult(query, hits, len(candidates), enc.src.model_id, qcut[0], time.perf_counter() - t0)


def classify_onnx(ctx: JobContext | None, model: str, texts: list[str], batch_size: int = 32):
    """(`Scored` per text, labels, name) from an exported text classifier (`onnx_export`) run by
    onnxruntime with the tokenizer saved in the file."""
    import numpy as np
    from tokenizers import Tokenizer

    path = Path(model).expanduser()
    meta = onnx_runtime.read_metadata(path)
    if meta.get("kind") != "text" or "tokenizer" not in meta:
        raise ModelError(f"'{path.name}' is not an exported text classifier.")
    tok = Tokenizer.from_str(meta["tokenizer"])
    max_length = int(meta.get("max_length") or 128)
    tok.no_padding()
    tok.enable_truncation(max_length)
    sess = onnx_runtime.session(path)
    names = [i.name for i in sess.get_inputs()]
    labels = [str(x) for x in meta.get("labels") or []]
    pad_id = int(meta.get("pad_id") or 0)
    out = []
    for start in range(0, len(texts), batch_size):
        if ctx is not None:
            ctx.check_cancelled()
        encs = tok.encode_batch(list(texts[start:start + batch_size]))
        ids, mask = onnx_runtime.pad_rows([e.ids for e in encs], pad_id)
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in names:
            types, _ = onnx_runtime.pad_rows([e.type_ids for e in encs], 0)
            feed["token_type_ids"] = types
        logits = sess.run(None, {k: v for k, v in feed.items() if k in names})[0].astype(np.float64)
        probs = np.exp(logits - logits.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        for t, row in zip(texts[start:start + batch_size], probs, strict=True):
            scores = [LabelScore(labels[k] if k < len(labels) else f"LABEL_{k}", float(p)) for k, p in enumerate(row)]
            out.append(Scored(t, sorted(scores, key=lambda s: -s.score)))
    return out, labels, str(meta.get("name") or path.stem)


def classify(ctx: JobContext, texts, model: str, allow_pickle: bool = False,
             trust_remote_code: bool = False) -> ScoresResult:
    """Every class with its probability, for any sequence-classification model."""
    import torch

    texts = clean_texts(texts)
    if not (model or "").strip():
        raise InputError("Pick a text-classification model (a Hub id, a folder or one you trained).")
    if model.strip().lower().endswith(".onnx"):  # an exported classifier: onnxruntime and its own tokenizer
        t0 = time.perf_counter()
        items, _labels, _name = classify_onnx(ctx, model.strip(), texts)
        return ScoresResult(items, model.strip(), "classifier", None, time.perf_counter() - t0)
    src = model_source(model, ctx, allow_pickle=allow_pickle, trust_remote_code=trust_remote_code)
    config = check_fit(src, "text-classification")
    tokenizer = load_tokenizer(src)
    net = _load(src, "AutoModelForSequenceClassification", ctx)
    limit = model_limit(src, tokenizer, config)
    id2label = net.config.id2label or {}
    multi = getattr(net.config, "problem_type", None) == "multi_label_classification"
    t0 = time.perf_counter()
    items: list[Scored | None] = [None] * len(texts)
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    for start in range(0, len(texts), BATCH_SIZE):
        ctx.check_cancelled()
        idx = order[start:start + BATCH_SIZE]
        batch = tokenizer([texts[i] for i in idx], padding=True, truncation=True, max_length=limit,
                          return_tensors="pt")
        cuts = [bool(e.overflowing) for e in (getattr(batch, "encodings", None) or [])] or [False] * len(idx)
        inputs = {k: v.to(net.device) for k, v in batch.items()
                  if k in ("input_ids", "attention_mask", "token_type_ids")}
        with torch.inference_mode():
            logits = net(**inputs).logits.float()
        probs = torch.sigmoid(logits) if multi else torch.softmax(logits, dim=-1)
        for j, row, cut in zip(idx, probs.cpu().tolist(), cuts, strict=False):
            scores = [LabelScore(str(id2label.get(k, f"LABEL_{k}")), float(p)) for k, p in enumerate(row)]
            items[j] = Scored(texts[j], sorted(scores, key=lambda s: -s.score), cut)
        if len(texts) > BATCH_SIZE:
            done = min(start + BATCH_SIZE, len(texts))
            ctx.progress(done / len(texts), f"Classifying: {done} of {len(texts)}")
    return ScoresResult([s for s in items if s is not None], src.model_id, "classifier", limit,
                        time.perf_counter() - t0)


def tokenize(ctx: JobContext, text: str, model: str | None = None, trust_remote_code: bool = False) -> TokensResult:
    """The tokenizer's pieces, ids and character spans, with counts and the model's limit."""
    text = clean_texts([text])[0]
    src = model_source(model, ctx, trust_remote_code=trust_remote_code)
    config = read_config(src)
    tokenizer = load_tokenizer(src)
    enc = tokenizer(text, add_special_tokens=True, truncation=False, return_offsets_mapping=getattr(
        tokenizer, "is_fast", False), verbose=False)
    ids = list(enc["input_ids"])
    pieces = tokenizer.convert_ids_to_tokens(ids)
    offsets = enc.get("offset_mapping") or [(None, None)] * len(ids)
    special = set(getattr(tokenizer, "all_special_ids", []) or [])
    tokens = [Token(str(p), int(i), o[0], o[1], int(i) in special) for p, i, o in zip(pieces, ids, offsets,
                                                                                    strict=False)]
    limit = model_limit(src, tokenizer, config) if not src.gguf_file else None
    return TokensResult(text, tokens, src.model_id, limit, len(text), len(text.split()))


def _display_token(tokenizer, token: str, token_id: int) -> str:
    try:
        text = tokenizer.decode([token_id])
    except Exception:
        text = ""
    text = text.replace("\n", "\\n").strip()
    return text or token


def attention(ctx: JobContext, text: str, model: str | None = None, max_tokens: int = 64,
              trust_remote_code: bool = False) -> AttentionResult:
    """Self-attention of every layer and head for the text's tokens (encoder or decoder)."""
    import numpy as np
    import torch

    text = clean_texts([text])[0]
    if max_tokens < 2:
        raise InputError("Show at least two tokens.")
    src = model_source(model, ctx, trust_remote_code=trust_remote_code)
    config = check_fit(src, "attention")
    tokenizer = load_tokenizer(src)
    net = _load(src, "AutoModel", ctx, attn_implementation="eager")
    limit = min(max_tokens, model_limit(src, tokenizer, config) if not src.gguf_file else max_tokens)
    batch = tokenizer(text, truncation=True, max_length=limit, return_tensors="pt")
    encodings = getattr(batch, "encodings", None) or []
    ids = batch["input_ids"][0].tolist()
    cut = bool(encodings and encodings[0].overflowing)
    if not encodings:  # slow tokenizer: compare with the untruncated length
        cut = len(tokenizer(text, truncation=False, verbose=False)["input_ids"]) > len(ids)
    inputs = {k: v.to(net.device) for k, v in batch.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
    ctx.check_cancelled()
    with torch.inference_mode():
        out = net(**inputs, output_attentions=True)
    atts = getattr(out, "attentions", None)
    if not atts or any(a is None for a in atts):
        raise ModelError(f"'{_name(src)}' does not report its attention weights.")
    weights = np.stack([a[0].float().cpu().numpy() for a in atts]).astype(np.float32)
    labels = [_display_token(tokenizer, t, i) for t, i in zip(tokenizer.convert_ids_to_tokens(ids), ids, strict=True)]
    decoder = bool(src.gguf_file) or any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in _archs(config)) \
        or bool(config.get("is_decoder")) or config.get("model_type") in ("gpt2", "llama", "gpt_neo", "gptj",
                                                                          "mistral", "qwen2", "phi", "opt")
    return AttentionResult(text, labels, weights, src.model_id, "decoder" if decoder else "encoder", cut, limit)


def fill_mask(ctx: JobContext, text: str, model: str, top_k: int = 5, trust_remote_code: bool = False) -> FillMaskResult:
    """Candidates for each mask in the text, through the transformers fill-mask pipeline."""
    from transformers import pipeline

    text = clean_texts([text])[0]
    if not (model or "").strip():
        raise InputError("Pick a fill-mask model, e.g. a BERT or RoBERTa Hub id.")
    src = model_source(model, ctx, trust_remote_code=trust_remote_code)
    config = check_fit(src, "fill-mask")
    tokenizer = load_tokenizer(src)
    mask = tokenizer.mask_token
    if not mask:
        raise ModelError(f"'{_name(src)}' has no mask token.")
    for alias in ("[MASK]", "<mask>", "[mask]", "<MASK>", "___"):
        if alias != mask:
            text = text.replace(alias, mask)
    count = text.count(mask)
    if count == 0:
        raise InputError(f"Put {mask} (or [MASK] / <mask>) where a word is missing.")
    net = _load(src, "AutoModelForMaskedLM", ctx)
    limit = model_limit(src, tokenizer, config)
    n_tokens = len(tokenizer(text, truncation=False, verbose=False)["input_ids"])
    if n_tokens > limit:
        raise InputError(f"The text is {n_tokens} tokens, over the model's limit of {limit}: shorten it around "
                         "the mask.")
    pipe = pipeline("fill-mask", model=net, tokenizer=tokenizer, device=net.device)
    ctx.check_cancelled()
    out = pipe(text, top_k=top_k)
    groups = [out] if count == 1 else out
    fills = [[MaskFill(str(o["token_str"]).strip(), float(o["score"]), str(o["sequence"])) for o in g]
             for g in groups]
    return FillMaskResult(text, fills, src.model_id, mask)


def summarize(ctx: JobContext, text: str, model: str, max_new_tokens: int = 80,
              min_new_tokens: int = 5, trust_remote_code: bool = False) -> SummaryResult:
    """A summary with a sequence-to-sequence model (or a chat model, prompted to summarise)."""
    import torch

    text = clean_texts([text])[0]
    if not (model or "").strip():
        raise InputError("Pick a summarisation model, e.g. a BART or T5 Hub id.")
    src = model_source(model, ctx, trust_remote_code=trust_remote_code)
    config = check_fit(src, "summarization")
    tokenizer = load_tokenizer(src)
    seq2seq = bool(config.get("is_encoder_decoder"))
    t0 = time.perf_counter()
    if seq2seq:
        net = _load(src, "AutoModelForSeq2SeqLM", ctx)
        limit = model_limit(src, tokenizer, config)
        prefix = "summarize: " if config.get("model_type") in ("t5", "mt5", "umt5") else ""
        batch = tokenizer(prefix + text, truncation=True, max_length=limit, return_tensors="pt")
    else:
        net = _load(src, "AutoModelForCausalLM", ctx)
        limit = model_limit(src, tokenizer, config) - max_new_tokens if not src.gguf_file else 2048
        prompt_ids = tokenizer(text, truncation=True, max_length=max(32, limit - 64), verbose=False)["input_ids"]
        body = tokenizer.decode(prompt_ids, skip_special_tokens=True)
        ask = f"Summarize the following text in one or two sentences.\n\n{body}"
        if getattr(tokenizer, "chat_template", None):
            prompt = tokenizer.apply_chat_template([{"role": "user", "content": ask}], tokenize=False,
                                                   add_generation_prompt=True)
        else:
            prompt = ask + "\n\nSummary:"
        batch = tokenizer(prompt, return_tensors="pt", add_special_tokens=not getattr(tokenizer, "chat_template", None))
    encodings = getattr(batch, "encodings", None) or []
    cut = bool(encodings and encodings[0].overflowing) if seq2seq else \
        len(tokenizer(text, truncation=False, verbose=False)["input_ids"]) > max(32, limit - 64)
    inputs = {k: v.to(net.device) for k, v in batch.items() if k in ("input_ids", "attention_mask")}
    ctx.progress(None, "Summarising")
    ctx.check_cancelled()
    with torch.inference_mode():
        out = net.generate(**inputs, max_new_tokens=max_new_tokens, min_new_tokens=min_new_tokens,
                           do_sample=False, num_beams=1,
                           pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None
                           else tokenizer.eos_token_id)
    new = out[0] if seq2seq else out[0][inputs["input_ids"].shape[1]:]
    summary = tokenizer.decode(new, skip_special_tokens=True).strip()
    return SummaryResult(text, summary, src.model_id, cut, int(inputs["input_ids"].shape[1]),
                         time.perf_counter() - t0)
