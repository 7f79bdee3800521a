"""Before and after: a fine-tuned language model and its base, scored on the same examples.

`evaluate_lm(ctx, model, data)` takes a finished LoRA run (`playground finetune lm`, the Train
tab's "Language model (LoRA)" job: a folder whose marker says `kind: "lm-lora"`) and a data file
in any format training reads (JSONL, CSV/TSV, .txt). It scores the base named in the marker and
the tuned model on the same examples with the very functions training's validation uses
(`training.lm.response_losses`, `greedy_answers`, `exact_match`): per model the mean loss over the
response tokens (the prompt masked) and the greedy exact-match rate, and per example the prompt,
the expected response and both greedy answers. Greedy answers stop at the longest expected
response of their batch + 2 tokens, as in training; batches are the run's batch size, as its
validation batches were. Exact match is scored on any prompt/response data, also where training
left it out (a validation response over 32 tokens).

`split="validation"` rebuilds the run's validation split exactly: the marker's validation share,
seed, maximum length and chat decision, the split function training used. A plain .txt file
(continued pre-training) gives loss and perplexity only: no prompts, so no exact match.

Any other causal LM (a local folder, a bundled id) is evaluated alone: its own numbers under the
role "tuned" (the model under evaluation), no base, unless `base` names one to compare it with
(it must share the model's vocabulary). No Qt; torch is imported inside the job.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from playground.core import generation, models
from playground.core.errors import InputError, ModelError
from playground.core.jobs import JobContext
from playground.core.wording import plural

TASK = "text-generation"
LORA_KIND = "lm-lora"
DEFAULT_MAX_LENGTH = 256  # training's default
DEFAULT_BATCH_SIZE = 8  # training's default (its validation batches)


@dataclass(frozen=True)
class ModelScore:
    model: str
    role: str  # "base" | "tuned"
    loss: float  # mean over examples of the mean response-token loss
    exact_match: float | None  # share of greedy answers equal to the response; None for plain text

    @property
    def perplexity(self) -> float:
        return math.exp(min(self.loss, 700.0))

    def to_dict(self) -> dict:
        return {"model": self.model, "role": self.role, "loss": round(self.loss, 6),
                "perplexity": round(self.perplexity, 6),
                "exact_match": None if self.exact_match is None else round(self.exact_match, 6)}


@dataclass(frozen=True)
class Row:
    """One prompt: what was expected, and each model's greedy answer (None: that model was not run)."""

    prompt: str
    expected: str
    base: str | None
    tuned: str | None
    base_match: bool | None
    tuned_match: bool | None

    @property
    def changed(self) -> bool:
        return self.base_match is not None and self.tuned_match is not None and self.base_match != self.tuned_match

    def to_dict(self) -> dict:
        return {"prompt": self.prompt, "expected": self.expected, "base": self.base, "tuned": self.tuned,
                "base_match": self.base_match, "tuned_match": self.tuned_match}


@dataclass
class LMEvaluation:
    model: str
    base_model: str | None
    data: str
    split: str
    examples: int
    data_format: str  # "pairs" | "text"
    scores: list[ModelScore] = field(default_factory=list)  # the base first, when there is one
    rows: list[Row] = field(default_factory=list)  # one per prompt (none for plain text)
    seconds: float = 0.0
    task: str = TASK

    def score(self, role: str) -> ModelScore | None:
        return next((s for s in self.scores if s.role == role), None)

    @property
    def changed(self) -> int:
        """Examples the tuning changed: right before and wrong after, or the other way round."""
        return sum(r.changed for r in self.rows)

    @property
    def fixed(self) -> int:
        return sum(r.changed and bool(r.tuned_match) for r in self.rows)

    def to_dict(self) -> dict:
        """The `playground evaluate --json` shape for language models."""
        return {"task": self.task, "model": self.model, "base_model": self.base_model, "data": self.data,
                "split": self.split, "examples": self.examples, "data_format": self.data_format,
                "models": [s.to_dict() for s in self.scores], "rows": [r.to_dict() for r in self.rows],
                "changed": self.changed}


# -- which model ------------------------------------------------------------------------------


def is_language_model(model: str) -> bool:
    """Whether `evaluate` should score `model` as a language model: a LoRA run or any text-generation
    model (its marker, or a causal-LM config), or a bundled language model's id."""
    from playground.core import tasks

    text = (model or "").strip()
    if text in generation.GGUF_BUNDLES:
        return True
    path = Path(text).expanduser()
    if not path.is_dir():
        return False
    meta = models.read_marker(path) or {}
    return meta.get("task", tasks.guess_kind(path)) == TASK


def run_marker(model: str) -> dict:
    """The marker of a LoRA run folder; {} for any other model. A char-level GPT is refused: it has
    no base to compare with and is no transformers causal LM."""
    path = Path((model or "").strip()).expanduser()
    meta = (models.read_marker(path) if path.is_dir() else None) or {}
    if meta.get("kind") == "charlm":
        raise ModelError(f"'{path.name}' is a character-level GPT trained from scratch; before-and-after "
                         "evaluation takes a LoRA run or a causal language model.")
    return meta if meta.get("kind") == LORA_KIND else {}


# -- the job ----------------------------------------------------------------------------------


def evaluate_lm(ctx: JobContext, model: str, data: str, *, split: str = "all", base: str | None = None,
                val_share: float | None = None, seed: int | None = None, max_length: int | None = None,
                batch_size: int | None = None, device: str | None = None,
                trust_remote_code: bool = False) -> LMEvaluation:
    """Score the run's base ("base") and the run ("tuned") on the same examples of `data`."""
    from playground.core import devices
    from playground.core.training import lm

    t0 = time.perf_counter()
    if split not in ("all", "validation"):
        raise InputError(f"Unknown split '{split}' (all or validation).")
    model = (model or "").strip()
    if not model:
        raise ModelError("No model given.")
    meta = run_marker(model)
    if split == "validation" and not meta:
        raise InputError(f"'{Path(model).name}' is not a LoRA run: only a run has a validation split "
                         "(use --split all).")
    base = (base or meta.get("base_model") or "").strip() or None
    lm_data = lm.read_lm_data(data)
    device = devices.choose_device(device)
    batch = int(batch_size or meta.get("batch_size") or DEFAULT_BATCH_SIZE)

    plan = ([("base", base)] if base else []) + [("tuned", model)]
    folders = {role: generation.model_folder(name, ctx, trust_remote_code) for role, name in plan}  # fails early
    tokenizer, _ = lm.load_causal_lm(model, folders["tuned"], trust_remote_code, with_model=False)
    if base:  # both models read the same token ids
        _same_vocabulary(lm.load_causal_lm(base, folders["base"], trust_remote_code, with_model=False)[0],
                         tokenizer, base, model)
    chat = _chat(lm_data, meta, meta.get("base_model") or model, tokenizer)
    length = _max_length(folders["tuned"], max_length or meta.get("max_length"), trust_remote_code)
    ids, starts = _encode(lm_data, tokenizer, chat, length)
    chosen = _choose(ids, meta, lm_data, split, val_share, seed)
    pad_id = lm.pad_id_of(tokenizer)
    scored = lm_data.fmt == "pairs"

    results: dict[str, tuple[list[float], list[str] | None]] = {}
    for k, (role, name) in enumerate(plan):  # one model in memory at a time
        ctx.check_cancelled()
        ctx.progress(k / len(plan), f"Loading the {role} model {Path(name).name or name}")
        _, net = lm.load_causal_lm(name, folders[role], trust_remote_code)
        results[role] = _score(ctx, net, tokenizer, ids, starts, pad_id, chosen, lm_data, scored, batch, device,
                               f"{role} model", k, len(plan))
        del net

    scores = [ModelScore(name, role, sum(results[role][0]) / len(chosen),
                         _share(results[role][1], chosen, lm_data) if scored else None) for role, name in plan]
    rows = _rows(lm_data, chosen, results) if scored else []
    result = LMEvaluation(model, base, str(lm_data.path), split, len(chosen), lm_data.fmt, scores, rows)
    result.seconds = time.perf_counter() - t0
    ctx.progress(1.0, _summary(result))
    return result


def _chat(lm_data, meta: dict, chat_model: str, tokenizer) -> bool:
    """Training's decision: prompt/response pairs go through the chat template when the base has one
    (the run's marker says what it decided for data of that format)."""
    if lm_data.fmt != "pairs":
        return False
    if meta.get("data_format") == "pairs" and "chat_template" in meta:
        return bool(meta["chat_template"])
    return generation.uses_chat(chat_model, tokenizer)


def _max_length(folder: Path, wanted, trust_remote_code: bool) -> int:
    """The run's maximum length (or the default), capped by the model's positions as training caps it."""
    from transformers import AutoConfig

    length = int(wanted or DEFAULT_MAX_LENGTH)
    try:
        config = AutoConfig.from_pretrained(str(folder), trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as exc:
        raise ModelError(f"'{folder.name}' has no readable model configuration ({type(exc).__name__}).") from exc
    positions = getattr(config, "max_position_embeddings", None)
    if isinstance(positions, int) and 8 <= positions < length:
        length = positions
    return length


def _encode(lm_data, tokenizer, chat: bool, length: int) -> tuple[list[list[int]], list[int]]:
    from playground.core.training import lm

    if lm_data.fmt == "pairs":
        ids, starts, _truncated = lm.encode_pairs(tokenizer, lm_data, chat, length)
        return ids, starts
    ids = lm.encode_text(tokenizer, lm_data.text, length)
    if not ids:
        raise InputError(f"{lm_data.path.name}: is too short to score (fewer than two tokens).")
    return ids, [0] * len(ids)


def _choose(ids: list, meta: dict, lm_data, split: str, val_share, seed) -> list[int]:
    """Every example, or the run's validation split of them (training's split function, share and seed)."""
    from playground.core.training import data as tdata

    if split == "all":
        return list(range(len(ids)))
    trained_on = (meta.get("n_train") or 0) + (meta.get("n_val") or 0)
    if trained_on and trained_on != len(ids):
        raise InputError(f"{lm_data.path.name}: gives {plural(len(ids), 'example')}, the run was trained on "
                         f"{trained_on}: not the run's data, so its validation split cannot be rebuilt.")
    share = float(val_share if val_share is not None else meta.get("val_share", 0.1))
    seed = int(seed if seed is not None else meta.get("seed") or 0)
    return tdata.split_indices([0] * len(ids), share, seed)[1]


def _score(ctx, model, tokenizer, ids, starts, pad_id, chosen, lm_data, scored: bool, batch: int, device: str,
           what: str, k: int, n_models: int) -> tuple[list[float], list[str] | None]:
    """Per example of `chosen`: its mean response loss, and (pairs) its greedy answer; batch by batch."""
    import torch

    from playground.core.training import lm

    model.to(device).eval()
    losses, answers = [], ([] if scored else None)
    with torch.inference_mode():
        for b in range(0, len(chosen), batch):
            ctx.check_cancelled()
            part = chosen[b:b + batch]
            losses += lm.response_losses(model, ids, starts, pad_id, part, device)
            if scored:
                answers += [a.strip() for a in lm.greedy_answers(model, tokenizer, ids, starts, pad_id, part, device)]
            done = min(b + batch, len(chosen))
            ctx.progress((k + done / len(chosen)) / n_models,
                         f"Scoring the {what}: {done} of {plural(len(chosen), 'example')}")
    return losses, answers


def _same_vocabulary(base_tokenizer, tokenizer, base: str, model: str) -> None:
    """Both models read the same token ids: the base must share the tuned model's vocabulary."""
    if base_tokenizer.get_vocab() != tokenizer.get_vocab():
        raise ModelError(f"'{base}' has another vocabulary than '{Path(model).name or model}': "
                         "it is not that model's base.")


def _share(answers: list[str], chosen: list[int], lm_data) -> float:
    from playground.core.training import lm

    return sum(lm.exact_match(a, lm_data.responses[i]) for a, i in zip(answers, chosen, strict=True)) / len(chosen)


def _rows(lm_data, chosen: list[int], results: dict) -> list[Row]:
    from playground.core.training import lm

    def answer(role: str, j: int) -> str | None:
        return results[role][1][j] if role in results else None

    rows = []
    for j, i in enumerate(chosen):
        expected = lm_data.responses[i]
        base, tuned = answer("base", j), answer("tuned", j)
        rows.append(Row("\n".join(m["content"] for m in lm_data.conversations[i]), expected, base, tuned,
                        None if base is None else lm.exact_match(base, expected),
                        None if tuned is None else lm.exact_match(tuned, expected)))
    return rows


def _summary(result: LMEvaluation) -> str:
    parts = []
    for s in result.scores:
        em = "" if s.exact_match is None else f"exact match {s.exact_match:.1%}, "
        parts.append(f"{s.role}: {em}loss {s.loss:.3f}")
    return f"{'; '.join(parts)} on {plural(result.examples, 'example')}"
