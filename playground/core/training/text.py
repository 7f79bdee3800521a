"""Fine-tune a text classifier from a CSV/TSV table: an encoder (bundled MiniLM by default) + a head.

The saved folder is a standard Hugging Face `save_pretrained` of an
`AutoModelForSequenceClassification` (safetensors, id2label/label2id) plus its
tokenizer, so `AutoModelForSequenceClassification.from_pretrained(folder)` loads it.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from playground.core import models
from playground.core.errors import InputError, ModelError
from playground.core.jobs import JobContext
from playground.core.training import data as tdata
from playground.core.training import defaults, distributed
from playground.core.training.common import make_config, resolve_out
from playground.core.training.events import DataReport, TrainResult
from playground.core.training.loop import TrainControl, TrainSpec, fit

BUNDLED_ENCODER = defaults.TEXT_ENCODER


@contextlib.contextmanager
def quiet_transformers():
    """Hide the expected 'newly initialized classifier weights' notice, the weights' load and save bars
    on the CLI's stderr, and deprecation notices one library gives about another (peft's use of
    transformers' `is_gradient_checkpointing`): nothing a person can act on."""
    import warnings

    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


def encoder_folder(model: str, ctx: JobContext | None, trust_remote_code: bool = False) -> Path:
    model = (model or BUNDLED_ENCODER).strip()
    folder = models.bundled_path(model) if model.startswith("bundled/") else models.local_folder(model, ctx)
    models.check_weights_safe(folder, trust_remote_code=trust_remote_code)
    return folder


class TextSpec(TrainSpec):
    task = "text-classification"

    def __init__(self, ctx: JobContext, data: tdata.TableData, model_ref: str, max_length: int, batch_size: int,
                 val_share: float, head_only: bool, seed: int, trust_remote_code: bool = False):
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.ctx = ctx
        self.data = data
        self.model_ref = model_ref or BUNDLED_ENCODER
        self.batch_size = int(batch_size)
        self.max_length = int(max_length)
        if not 8 <= self.max_length <= 4096:
            raise InputError(f"The maximum text length must be between 8 and 4096 tokens (got {max_length}).")
        self.head_only = head_only
        self.seed = seed
        self.train_idx, self.val_idx = tdata.split_indices(data.targets, val_share, seed)
        self.steps_per_epoch = max(1, -(-len(self.train_idx) // self.batch_size))

        ctx.progress(None, f"Loading {self.model_ref}")
        folder = encoder_folder(self.model_ref, ctx, trust_remote_code)
        labels = list(data.labels)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(folder), trust_remote_code=trust_remote_code)
            with quiet_transformers():
                self.model = AutoModelForSequenceClassification.from_pretrained(
                    str(folder), trust_remote_code=trust_remote_code, num_labels=len(labels), id2label=dict(enumerate(labels)),
                    label2id={name: i for i, name in enumerate(labels)}, ignore_mismatched_sizes=True)
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"'{self.model_ref}' cannot be loaded as a text encoder with a classification head "
                             f"({type(exc).__name__}).") from exc
        self.model.config.problem_type = "single_label_classification"
        if head_only:
            base = getattr(self.model, self.model.base_model_prefix, None)
            for p in (base.parameters() if base is not None else []):
                p.requires_grad = False
        ctx.progress(None, "Tokenizing")
        enc = self.tokenizer(list(data.texts), truncation=True, max_length=self.max_length)
        self.ids = enc["input_ids"]
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        self.targets = torch.tensor(data.targets, dtype=torch.long)

    def shard(self, rank: int, world_size: int) -> None:
        self.rank, self.world_size = rank, world_size
        self.steps_per_epoch = distributed.rank_steps(len(self.train_idx), self.batch_size, world_size)

    def signature(self) -> dict:
        return {"labels": list(self.data.labels), "model": self.model_ref, "head_only": self.head_only,
                "batch_size": self.batch_size, "max_length": self.max_length}

    def train_mode(self) -> None:
        self.model.train()

    def _collate(self, idx: list[int], device: str):
        import torch

        rows = [self.ids[i] for i in idx]
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for j, r in enumerate(rows):
            ids[j, :len(r)] = torch.tensor(r, dtype=torch.long)
            mask[j, :len(r)] = 1
        return ids.to(device), mask.to(device), self.targets[idx].to(device)

    def batches(self, epoch: int, start: int, device: str):
        batches = self.rank_batches(self.train_idx, epoch)
        for b in range(start, self.steps_per_epoch):
            yield self._collate(batches[b], device)

    def loss(self, batch):
        import torch.nn.functional as F

        ids, mask, y = batch
        logits = self.model(input_ids=ids, attention_mask=mask).logits
        return F.cross_entropy(logits.float(), y), int(y.shape[0])

    def eval_sums(self, device: str, autocast):
        import torch.nn.functional as F

        total, correct, n = 0.0, 0, 0
        bs = self.batch_size * 2
        val_idx = distributed.shard(self.val_idx, self.rank, self.world_size)
        for b in range(0, len(val_idx), bs):
            self.ctx.check_cancelled()
            ids, mask, y = self._collate(val_idx[b:b + bs], device)
            with autocast():
                logits = self.model(input_ids=ids, attention_mask=mask).logits
            total += float(F.cross_entropy(logits.float(), y, reduction="sum"))
            correct += int((logits.argmax(-1) == y).sum())
            n += int(y.shape[0])
        return total, correct, n

    def save(self, folder: Path) -> None:
        with quiet_transformers():
            self.model.save_pretrained(str(folder), safe_serialization=True)
            self.tokenizer.save_pretrained(str(folder))

    def marker(self) -> dict:
        return {"task": self.task, "base_model": self.model_ref, "labels": list(self.data.labels),
                "text_column": self.data.text_column, "label_column": self.data.label_column,
                "max_length": self.max_length, "head_only": self.head_only}


def train_text_classifier(ctx: JobContext, table: str | Path, out: str | Path | None = None, *,
                          name: str | None = None, text_column: str | None = None, label_column: str | None = None,
                          model: str = BUNDLED_ENCODER, max_length: int = defaults.TEXT_MAX_LENGTH,
                          head_only: bool = False, resume: bool = False, overwrite: bool = False,
                          control: TrainControl | None = None, trust_remote_code: bool = False,
                          **train_options) -> TrainResult:
    """The job: read and check the table, fine-tune the encoder + head, save a Hugging Face folder."""
    data = tdata.read_table(table, text_column, label_column)
    cfg = make_config(name or "", **defaults.config_options("text", train_options))
    out_dir = resolve_out(out, name, f"{data.path.stem}-classifier", resume, overwrite)
    tdata.check_val_share(cfg.val_share)
    spec = TextSpec(ctx, data, model, max_length, cfg.batch_size, cfg.val_share, head_only, cfg.seed,
                    trust_remote_code)
    ctx.emit(DataReport("text", str(data.path), len(spec.train_idx), len(spec.val_idx), list(data.labels),
                        data.counts, data.skipped, list(data.warnings)))
    return fit(ctx, spec, cfg, out_dir, control=control, resume=resume,
               data_meta={"data": str(data.path), "n_train": len(spec.train_idx), "n_val": len(spec.val_idx)})
