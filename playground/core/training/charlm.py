"""A character-level GPT trained from scratch on one text file.

The folder it saves is a Hugging Face `GPT2LMHeadModel` (safetensors) plus a
character-level `PreTrainedTokenizerFast`, so `AutoModelForCausalLM` and
`AutoTokenizer.from_pretrained(folder)` load it and `generate()` works.
"""

from __future__ import annotations

import math
from pathlib import Path

from playground.core.errors import InputError
from playground.core.jobs import JobContext
from playground.core.training import data as tdata
from playground.core.training import defaults, distributed
from playground.core.training.common import make_config, resolve_out
from playground.core.training.events import DataReport, TrainResult
from playground.core.training.loop import TrainControl, TrainSpec, fit

SPECIALS = ("<pad>", "<unk>", "<eos>")


def build_tokenizer(chars: list[str]):
    """A PreTrainedTokenizerFast with one token per character (no normalisation, no added tokens)."""
    from tokenizers import Regex, Tokenizer, decoders, pre_tokenizers
    from tokenizers import models as tok_models
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(SPECIALS)}
    for ch in chars:
        vocab.setdefault(ch, len(vocab))
    tok = Tokenizer(tok_models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tok.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>", eos_token="<eos>",
                                   bos_token="<eos>", clean_up_tokenization_spaces=False), vocab


class CharLMSpec(TrainSpec):
    task = "text-generation"

    def __init__(self, ctx: JobContext, text: str, source: str, steps: int, batch_size: int, block_size: int,
                 layers: int, heads: int, embed: int, val_share: float, seed: int, eval_every: int | None):
        import torch
        from transformers import GPT2Config, GPT2LMHeadModel

        self.ctx = ctx
        self.source = source
        self.batch_size = int(batch_size)
        self.block = int(block_size)
        if not 8 <= self.block <= 1024:
            raise InputError(f"The context length must be between 8 and 1024 characters (got {block_size}).")
        if embed % heads:
            raise InputError(f"The embedding size ({embed}) must be a multiple of the number of heads ({heads}).")
        chars = sorted(set(text))
        if len(chars) > 5000:
            raise InputError(f"{Path(source).name}: has {len(chars)} different characters; a character model "
                             "needs a text with fewer than 5000.")
        self.tokenizer, self.vocab = build_tokenizer(chars)
        ids = torch.tensor([self.vocab[c] for c in text], dtype=torch.long)
        n_val = max(self.block + 2, int(len(ids) * val_share))
        if len(ids) - n_val < self.block + 2:
            raise InputError(f"{Path(source).name}: has only {len(text)} characters; with a context of {self.block} "
                             f"it needs at least {2 * (self.block + 2)} (or use a shorter context).")
        self.train_ids, self.val_ids = ids[:-n_val], ids[-n_val:]
        self.seed = seed
        steps = max(1, int(steps))
        self.eval_every = int(eval_every or max(10, min(250, math.ceil(steps / 10))))
        self.eval_every = min(self.eval_every, steps)
        self.epochs = math.ceil(steps / self.eval_every)
        self.steps_per_epoch = self.eval_every
        self.arch = {"n_layer": int(layers), "n_head": int(heads), "n_embd": int(embed), "block_size": self.block}
        config = GPT2Config(vocab_size=len(self.vocab), n_positions=max(1024, self.block), n_embd=embed,
                            n_layer=layers, n_head=heads, resid_pdrop=0.05, embd_pdrop=0.05, attn_pdrop=0.05,
                            bos_token_id=self.vocab["<eos>"], eos_token_id=self.vocab["<eos>"],
                            pad_token_id=self.vocab["<pad>"])
        torch.manual_seed(seed)
        self.model = GPT2LMHeadModel(config)
        # A fixed set of validation windows, the same at every evaluation.
        g = torch.Generator().manual_seed(seed + 7)
        span = len(self.val_ids) - self.block - 1
        n_windows = min(64, max(1, span))
        self.val_starts = torch.randint(0, max(1, span), (n_windows,), generator=g).tolist()

    def shard(self, rank: int, world_size: int) -> None:
        self.rank, self.world_size = rank, world_size  # the step count does not depend on it

    def signature(self) -> dict:
        return {"vocab": "".join(k for k in self.vocab if k not in SPECIALS)} | self.arch | {"batch_size": self.batch_size}

    def _windows(self, ids, starts, device: str):
        import torch

        w = torch.stack([ids[s:s + self.block + 1] for s in starts])
        return w[:, :-1].to(device), w[:, 1:].to(device)

    def batches(self, epoch: int, start: int, device: str):
        import torch

        span = len(self.train_ids) - self.block - 1
        for b in range(start, self.steps_per_epoch):
            step = epoch * self.steps_per_epoch + b
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + step)
            per = self.rank_batch_size  # the step's global windows, the same on every rank; each takes its share
            starts = torch.randint(0, max(1, span), (per * self.world_size,), generator=g).tolist()
            yield self._windows(self.train_ids, starts[self.rank * per:(self.rank + 1) * per], device)

    def loss(self, batch):
        import torch.nn.functional as F

        x, y = batch
        logits = self.model(input_ids=x).logits
        return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1)), int(x.shape[0])

    def eval_sums(self, device: str, autocast):
        import torch.nn.functional as F

        total, correct, n = 0.0, 0, 0
        val_starts = distributed.shard(self.val_starts, self.rank, self.world_size)
        for b in range(0, len(val_starts), self.batch_size):
            self.ctx.check_cancelled()
            x, y = self._windows(self.val_ids, val_starts[b:b + self.batch_size], device)
            with autocast():
                logits = self.model(input_ids=x).logits.float()
            total += float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum"))
            correct += int((logits.argmax(-1) == y).sum())
            n += y.numel()
        return total, correct, n

    def save(self, folder: Path) -> None:
        from transformers import GenerationConfig

        from playground.core.training.text import quiet_transformers

        with quiet_transformers():
            self.model.save_pretrained(str(folder), safe_serialization=True)
            self.tokenizer.save_pretrained(str(folder))
        eos = self.vocab["<eos>"]
        GenerationConfig(do_sample=True, temperature=0.8, top_k=40, max_new_tokens=200, bos_token_id=eos,
                         eos_token_id=eos, pad_token_id=self.vocab["<pad>"]).save_pretrained(str(folder))

    def marker(self) -> dict:
        return {"task": self.task, "kind": "charlm", "base_model": "scratch (GPT-2 architecture)",
                "vocab_size": len(self.vocab), "context": self.block, **self.arch}


def train_charlm(ctx: JobContext, text_file: str | Path, out: str | Path | None = None, *, name: str | None = None,
                 steps: int = defaults.DEFAULTS["charlm"].length, block_size: int = 128, layers: int = 4,
                 heads: int = 4, embed: int = 128, eval_every: int | None = None, resume: bool = False,
                 overwrite: bool = False, control: TrainControl | None = None, **train_options) -> TrainResult:
    """The job: a small GPT over the file's characters; eval rounds play the part of epochs."""
    path = Path(text_file).expanduser()
    text = tdata.read_text_file(path)
    cfg = make_config(name or "", **defaults.config_options("charlm", train_options))
    tdata.check_val_share(cfg.val_share)
    out_dir = resolve_out(out, name, f"{path.stem}-charlm", resume, overwrite)
    spec = CharLMSpec(ctx, text, str(path), steps, cfg.batch_size, block_size, layers, heads, embed, cfg.val_share,
                      cfg.seed, eval_every)
    cfg.epochs = spec.epochs
    ctx.emit(DataReport("charlm", str(path), len(spec.train_ids), len(spec.val_ids),
                        [], {}, 0, []))
    return fit(ctx, spec, cfg, out_dir, control=control, resume=resume,
               data_meta={"data": str(path), "n_train": len(spec.train_ids), "n_val": len(spec.val_ids),
                          "characters": len(text)})
