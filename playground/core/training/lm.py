"""Fine-tune a causal language model on your own examples with LoRA (peft).

Data: JSONL with `prompt` and `response` (or `messages` in the chat format), a
CSV/TSV table with prompt and response columns, or a plain .txt file
(continued pre-training on its text, in chunks of `max_length` tokens).
The loss covers the response tokens only; a base with a chat template is
trained through that template, exactly as generation builds its prompt.

A run leaves `OUT/adapter` (the LoRA weights alone) and, in OUT itself, the
merged model (safetensors + tokenizer + the app's marker) that
`AutoModelForCausalLM.from_pretrained(OUT)` and `playground text generate` load.
Checkpoints hold the adapter only (a few MB, not the base's weights).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from playground.core import generation, lora, models
from playground.core.errors import InputError, ModelError
from playground.core.jobs import JobContext
from playground.core.training import data as tdata
from playground.core.training import defaults, distributed
from playground.core.training.common import make_config, resolve_out
from playground.core.training.events import DataReport, TrainResult
from playground.core.training.loop import TrainControl, TrainSpec, fit
from playground.core.training.text import quiet_transformers
from playground.core.wording import plural

DEFAULT_BASE = defaults.LM_BASE
ADAPTER_DIR = "adapter"
TUNED_KIND = generation.TUNED_KIND  # the marker's kind of a finished run (the merged model)
LIVE_KIND = "lm-lora-live"  # the marker's kind of a live checkpoint (the adapter at one step)
EXACT_MATCH_MAX_TOKENS = 32  # responses up to this long are scored by exact match at each evaluation
JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson")
TABLE_SUFFIXES = (".csv", ".tsv", ".tab")
PROMPT_COLUMNS = ("prompt", "instruction", "input", "question")
RESPONSE_COLUMNS = ("response", "completion", "output", "answer")


@dataclass
class LMData:
    """Examples read from a file: (conversation before the answer, answer) pairs, or plain text."""

    path: Path
    fmt: str  # "pairs" | "text"
    conversations: list[list[dict]] = field(default_factory=list)  # the messages before each response
    responses: list[str] = field(default_factory=list)
    text: str = ""
    warnings: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.responses)


# -- reading the data ----------------------------------------------------------------------


def read_lm_data(path: str | Path) -> LMData:
    """The examples of a JSONL, CSV/TSV or .txt file; a one-line InputError for anything unusable."""
    path = Path(path).expanduser()
    suffix = path.suffix.lower()
    if suffix in TABLE_SUFFIXES:
        return _read_pairs_table(path)
    raw = tdata.read_text_file(path, min_chars=1)  # not found, folder, binary, not UTF-8, empty
    if suffix in JSONL_SUFFIXES:
        return _read_jsonl(path, raw)
    return LMData(path, "text", text=raw)


def _read_jsonl(path: Path, raw: str) -> LMData:
    data = LMData(path, "pairs")
    for n, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise InputError(f"{path.name}: line {n} is not valid JSON ({exc.msg}).") from exc
        if not isinstance(row, dict):
            raise InputError(f"{path.name}: line {n} is not a JSON object.")
        if "messages" in row:
            convo, response = _split_messages(row["messages"], path.name, n)
        elif "prompt" in row and "response" in row:
            convo = [{"role": "user", "content": _text(row["prompt"], path.name, n, "prompt")}]
            response = _text(row["response"], path.name, n, "response")
        else:
            raise InputError(f"{path.name}: line {n} has neither 'prompt' and 'response' nor 'messages' "
                             f"(its keys: {', '.join(map(str, row)) or 'none'}).")
        if not response.strip():
            raise InputError(f"{path.name}: line {n} has an empty response.")
        data.conversations.append(convo)
        data.responses.append(response)
    if not data.responses:
        raise InputError(f"{path.name}: has no examples.")
    return data


def _text(value, name: str, n: int, key: str) -> str:
    if not isinstance(value, str):
        raise InputError(f"{name}: line {n}: '{key}' must be a string.")
    return value


def _split_messages(messages, name: str, n: int) -> tuple[list[dict], str]:
    """The conversation before the last assistant message, and that message (the response)."""
    if not isinstance(messages, list) or not messages or not all(
            isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
            for m in messages):
        raise InputError(f"{name}: line {n}: 'messages' must be a list of {{\"role\", \"content\"}} objects.")
    if messages[-1]["role"] != "assistant":
        raise InputError(f"{name}: line {n}: the last message must be the assistant's (the response to learn).")
    if len(messages) < 2:
        raise InputError(f"{name}: line {n}: 'messages' needs a prompt before the assistant's response.")
    return [dict(role=m["role"], content=m["content"]) for m in messages[:-1]], messages[-1]["content"]


def _read_pairs_table(path: Path) -> LMData:
    header, rows = tdata.read_rows(path)
    lower = [c.lower() for c in header]
    pi = next((lower.index(c) for c in PROMPT_COLUMNS if c in lower), None)
    ri = next((lower.index(c) for c in RESPONSE_COLUMNS if c in lower), None)
    if pi is None or ri is None:
        raise InputError(f"{path.name}: needs a 'prompt' and a 'response' column; its columns are: "
                         f"{', '.join(header)}.")
    data = LMData(path, "pairs")
    for n, row in enumerate(rows, 2):
        prompt = row[pi] if pi < len(row) else ""
        response = row[ri] if ri < len(row) else ""
        if not response.strip():
            raise InputError(f"{path.name}: row {n} has an empty response.")
        data.conversations.append([{"role": "user", "content": prompt}])
        data.responses.append(response)
    return data


# -- tokenizing ------------------------------------------------------------------------------


def encode_pairs(tokenizer, data: LMData, chat: bool, max_length: int) -> tuple[list[list[int]], list[int], int]:
    """(token ids, prompt length, truncated count) for each example; the loss starts at the prompt length.
    The prompt is built by generation's own `prompt_ids`, so generation asks the tuned model as it learnt."""
    ids, starts, truncated = [], [], 0
    for convo, response in zip(data.conversations, data.responses, strict=True):
        p = generation.prompt_ids(tokenizer, convo, chat)
        r = generation.response_ids(tokenizer, convo, response, chat, p)
        if len(p) + len(r) > max_length:
            truncated += 1
            p = p[-max(1, max_length // 2):] if len(p) >= max_length // 2 else p  # keep the prompt's end
            r = r[:max(1, max_length - len(p))]
        ids.append(p + r)
        starts.append(len(p))
    return ids, starts, truncated


def encode_text(tokenizer, text: str, max_length: int) -> list[list[int]]:
    """A long text as chunks of `max_length` tokens (the last one may be shorter)."""
    ids = list(tokenizer(text)["input_ids"])
    chunks = [ids[i:i + max_length] for i in range(0, len(ids), max_length)]
    return [c for c in chunks if len(c) >= 2]


# -- scoring (training's validation and `evaluate_lm` share these) -----------------------------


def collate_rows(ids: list[list[int]], starts: list[int], idx: list[int], pad_id: int, device: str):
    """(input ids, attention mask, labels) of examples `idx`: right-padded; labels -100 on the prompt and the padding."""
    import torch

    rows = [ids[i] for i in idx]
    width = max(len(r) for r in rows)
    batch = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), -100, dtype=torch.long)
    for j, (i, r) in enumerate(zip(idx, rows, strict=True)):
        batch[j, :len(r)] = torch.tensor(r, dtype=torch.long)
        mask[j, :len(r)] = 1
        labels[j, starts[i]:len(r)] = batch[j, starts[i]:len(r)]
    return batch.to(device), mask.to(device), labels.to(device)


def token_losses(model, ids, mask, labels):
    """Per-example (summed loss, counted tokens) over the label tokens, next-token shifted."""
    import torch.nn.functional as F

    logits = model(input_ids=ids, attention_mask=mask).logits.float()
    logits, target = logits[:, :-1], labels[:, 1:]
    losses = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=-100,
                             reduction="none").view(target.shape)
    counted = (target != -100).sum(-1)
    return losses.sum(-1), counted


def response_losses(model, ids: list[list[int]], starts: list[int], pad_id: int, idx: list[int],
                    device: str) -> list[float]:
    """Each example's mean loss over its response tokens (the prompt masked): validation loss is their mean."""
    summed, counted = token_losses(model, *collate_rows(ids, starts, idx, pad_id, device))
    return (summed / counted.clamp(min=1)).tolist()


def greedy_answers(model, tokenizer, ids: list[list[int]], starts: list[int], pad_id: int, idx: list[int],
                   device: str) -> list[str]:
    """Greedy continuations of the prompts of `idx`, up to the longest response's length + 2 tokens."""
    import torch

    prompts = [ids[i][:starts[i]] for i in idx]
    width = max(len(p) for p in prompts)
    batch = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for j, p in enumerate(prompts):  # left-padded: every prompt ends where generation starts
        batch[j, width - len(p):] = torch.tensor(p, dtype=torch.long)
        mask[j, width - len(p):] = 1
    longest = max(len(ids[i]) - starts[i] for i in idx)
    out = model.generate(input_ids=batch.to(device), attention_mask=mask.to(device), max_new_tokens=longest + 2,
                         do_sample=False, pad_token_id=pad_id)
    return tokenizer.batch_decode(out[:, width:], skip_special_tokens=True)


def exact_match(answer: str, expected: str) -> bool:
    """Exact match, whitespace-trimmed."""
    return answer.strip() == expected.strip()


def pad_id_of(tokenizer) -> int:
    """The padding token: the tokenizer's, else its end-of-sequence token, else 0."""
    if tokenizer.pad_token_id is not None:
        return tokenizer.pad_token_id
    return tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 0


# -- the base --------------------------------------------------------------------------------


def load_causal_lm(name: str, folder: Path, trust_remote_code: bool = False, with_model: bool = True):
    """(tokenizer, float32 model) of a causal LM folder (the model None without `with_model`);
    a one-line ModelError when it is not one."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = None
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder), trust_remote_code=trust_remote_code)
        with quiet_transformers():
            if with_model:
                model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32,
                                                             trust_remote_code=trust_remote_code)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"'{name}' cannot be loaded as a causal language model "
                         f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}).") from exc
    return tokenizer, model


def _adapter_module(peft_model):
    """The LoRA model as `fit` sees it: its state dict holds the trainable (adapter) tensors only,
    so checkpoints and best.pt stay small and never copy the base."""
    import torch

    class AdapterOnly(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, *args, **kwargs):
            return self.inner(*args, **kwargs)

        def state_dict(self, *args, **kwargs):
            return {k: v.detach() for k, v in self.inner.named_parameters() if v.requires_grad}

        def load_state_dict(self, state, strict: bool = True, assign: bool = False):
            params = dict(self.inner.named_parameters())
            missing = [k for k, v in params.items() if v.requires_grad and k not in state]
            unknown = [k for k in state if k not in params]
            if strict and (missing or unknown):
                raise RuntimeError(f"adapter state does not match: missing {missing[:3]}, unexpected {unknown[:3]}")
            with torch.no_grad():
                for k, v in state.items():
                    if k in params:
                        params[k].copy_(v)
            return torch.nn.modules.module._IncompatibleKeys(missing, unknown)

    return AdapterOnly(peft_model)


class LMSpec(TrainSpec):
    task = "text-generation"

    def __init__(self, ctx: JobContext, data: LMData, base: str, lora_rank: int, max_length: int,
                 batch_size: int, val_share: float, seed: int, trust_remote_code: bool = False):
        import torch

        self.ctx = ctx
        self.data = data
        self.base = (base or DEFAULT_BASE).strip()
        self.lora_rank = int(lora_rank)
        self.max_length = int(max_length)
        self.batch_size = int(batch_size)
        self.seed = seed
        if not 8 <= self.max_length <= 8192:
            raise InputError(f"The maximum length must be between 8 and 8192 tokens (got {max_length}).")
        if not 1 <= self.lora_rank <= 512:
            raise InputError(f"The LoRA rank must be between 1 and 512 (got {lora_rank}).")
        try:
            import peft
        except ImportError as exc:
            raise ModelError("Fine-tuning a language model needs the 'peft' package (pip install peft).") from exc

        ctx.progress(None, f"Loading {self.base}")
        self.folder = generation.model_folder(self.base, ctx, trust_remote_code)
        self.tokenizer, model = load_causal_lm(self.base, self.folder, trust_remote_code)
        self.notes: list[str] = []
        positions = getattr(model.config, "max_position_embeddings", None)
        if isinstance(positions, int) and 8 <= positions < self.max_length:
            self.notes.append(f"The maximum length {self.max_length} is more than the base model's "
                              f"{positions} positions; using {positions}.")
            self.max_length = positions
        self.chat = data.fmt == "pairs" and generation.uses_chat(self.base, self.tokenizer)
        self.pad_id = pad_id_of(self.tokenizer)

        ctx.progress(None, "Tokenizing")
        self.truncated = 0
        if data.fmt == "pairs":
            self.ids, self.starts, self.truncated = encode_pairs(self.tokenizer, data, self.chat, self.max_length)
        else:
            self.ids = encode_text(self.tokenizer, data.text, self.max_length)
            self.starts = [0] * len(self.ids)
            if len(self.ids) < 2:
                raise InputError(f"{data.path.name}: is too short: it needs at least two chunks of text "
                                 f"(a training and a validation one); use a shorter --max-length or more text.")
        if len(self.ids) < 2:
            raise InputError(f"{data.path.name}: has {len(self.ids)} example; at least 2 are needed "
                             "(training and validation).")
        self.train_idx, self.val_idx = tdata.split_indices([0] * len(self.ids), val_share, seed)
        self.steps_per_epoch = max(1, -(-len(self.train_idx) // self.batch_size))
        # Exact match (greedy) where every validation answer is short.
        self.exact_match = data.fmt == "pairs" and all(
            len(self.ids[i]) - self.starts[i] <= EXACT_MATCH_MAX_TOKENS for i in self.val_idx)

        torch.manual_seed(seed)
        config = peft.LoraConfig(r=self.lora_rank, lora_alpha=2 * self.lora_rank, lora_dropout=0.05,
                                 target_modules="all-linear", task_type="CAUSAL_LM")
        with quiet_transformers():
            self.peft_model = peft.get_peft_model(model, config)
        self.model = _adapter_module(self.peft_model)

    # -- what fit needs --

    def shard(self, rank: int, world_size: int) -> None:
        self.rank, self.world_size = rank, world_size
        self.steps_per_epoch = distributed.rank_steps(len(self.train_idx), self.batch_size, world_size)

    def signature(self) -> dict:
        return {"base": self.base, "lora_rank": self.lora_rank, "max_length": self.max_length,
                "batch_size": self.batch_size, "chat": self.chat, "format": self.data.fmt}

    def parameters(self):
        return [p for p in self.peft_model.parameters() if p.requires_grad]

    @property
    def train_tokens(self) -> int:
        return sum(len(self.ids[i]) for i in self.train_idx)

    def collate(self, idx: list[int], device: str):
        """(input ids, attention mask, labels): right-padded; labels -100 on the prompt and the padding."""
        return collate_rows(self.ids, self.starts, idx, self.pad_id, device)

    def batches(self, epoch: int, start: int, device: str):
        batches = self.rank_batches(self.train_idx, epoch)
        for b in range(start, self.steps_per_epoch):
            yield self.collate(batches[b], device)

    def loss(self, batch):
        ids, mask, labels = batch
        summed, counted = token_losses(self.model, ids, mask, labels)
        return summed.sum() / counted.sum().clamp(min=1), int(ids.shape[0])

    def eval_sums(self, device: str, autocast):
        """(summed per-example mean loss, exact matches or None, examples) over this rank's share."""
        total, correct, n = 0.0, 0, 0
        val_idx = distributed.shard(self.val_idx, self.rank, self.world_size)
        for b in range(0, len(val_idx), self.batch_size):
            self.ctx.check_cancelled()
            part = val_idx[b:b + self.batch_size]
            with autocast():
                total += sum(response_losses(self.model, self.ids, self.starts, self.pad_id, part, device))
                if self.exact_match:
                    correct += sum(self.greedy_matches(part, device))
            n += len(part)
        return total, (correct if self.exact_match else None), n

    def greedy_matches(self, idx: list[int], device: str) -> list[bool]:
        """Whether greedy decoding from each prompt gives its response exactly (whitespace-trimmed)."""
        answers = greedy_answers(self.peft_model, self.tokenizer, self.ids, self.starts, self.pad_id, idx, device)
        return [exact_match(a, self.data.responses[i]) for a, i in zip(answers, idx, strict=True)]

    def save(self, folder: Path) -> None:
        """The adapter alone in folder/adapter, and the merged model + tokenizer in folder."""
        folder = Path(folder)
        with quiet_transformers():
            self.peft_model.save_pretrained(str(folder / ADAPTER_DIR), safe_serialization=True)
            merged = self.peft_model.merge_and_unload()
            merged.save_pretrained(str(folder), safe_serialization=True)
            if not generation.uses_chat(self.base, self.tokenizer):  # a base model: generation continues plain text
                self.tokenizer.chat_template = None
            self.tokenizer.save_pretrained(str(folder))
        self.model = _adapter_module(merged)  # the peft wrapper is gone after the merge
        self.peft_model = merged

    def save_live(self, live: Path, step: int) -> bool:
        """The adapter as it is now (a few MB), for the Generate panel while the run goes on."""
        with quiet_transformers():
            lora.save_live(self.peft_model, live, step, {"task": self.task, "kind": LIVE_KIND, "base_model": self.base,
                                                         "lora_rank": self.lora_rank, "chat_template": self.chat})
        return True

    def marker(self) -> dict:
        return {"task": self.task, "kind": TUNED_KIND, "base_model": self.base, "lora_rank": self.lora_rank,
                "max_length": self.max_length, "chat_template": self.chat, "data_format": self.data.fmt,
                "adapter": ADAPTER_DIR, "exact_match": self.exact_match}


def train_lm(ctx: JobContext, data: str | Path, out: str | Path | None = None, *, base: str = DEFAULT_BASE,
             name: str | None = None, lora_rank: int = defaults.LORA_RANK, max_length: int = defaults.LM_MAX_LENGTH,
             resume: bool = False, overwrite: bool = False, control: TrainControl | None = None,
             trust_remote_code: bool = False, **train_options) -> TrainResult:
    """The job: read the examples, tune LoRA adapters on the base, save the adapter and the merged model.

    Validation accuracy is the exact-match rate (greedy) when every validation response is short."""
    lm_data = read_lm_data(data)
    cfg = make_config(name or "", **defaults.config_options("lm", train_options))
    tdata.check_val_share(cfg.val_share)
    out_dir = resolve_out(out, name, f"{lm_data.path.stem}-lm", resume, overwrite)
    spec = LMSpec(ctx, lm_data, base, lora_rank, max_length, cfg.batch_size, cfg.val_share, cfg.seed,
                  trust_remote_code)
    warnings = list(lm_data.warnings) + spec.notes
    if spec.truncated:
        warnings.append(f"{plural(spec.truncated, 'example')} longer than {spec.max_length} tokens "
                        f"truncated to {spec.max_length} (raise --max-length to keep them whole).")
    ctx.emit(DataReport("lm", str(lm_data.path), len(spec.train_idx), len(spec.val_idx), [], {}, 0, warnings))
    return fit(ctx, spec, cfg, out_dir, control=control, resume=resume,
               data_meta={"data": str(lm_data.path), "n_train": len(spec.train_idx), "n_val": len(spec.val_idx),
                          "train_tokens": spec.train_tokens, "truncated": spec.truncated})
