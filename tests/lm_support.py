"""A tiny Llama with a word-level tokenizer and a chat template, built offline, and a toy task for
the LoRA fine-tuning tests: a colour and an animal in, the colour that follows it in WORDS out ("red cat" -> "blue").
And `trips`: the task the bundled SmolLM2 is tuned on by the e2e test and benchmarks/finetune_lm.py."""

from __future__ import annotations

import itertools
import json
import random

import pytest

WORDS = ["red", "blue", "green", "gold", "pink", "gray", "cyan", "lime"]
ANIMALS = ["cat", "dog", "owl", "fox", "bee", "elk", "yak", "emu"]
SPECIALS = ["<pad>", "<unk>", "<eos>", "<user>", "<assistant>", "<system>"]
# A toy run's options: 8 epochs on 48 examples learn the mapping in a few seconds on one thread.
TOY = {"max_length": 64, "epochs": 8, "lr": 3e-2, "lora_rank": 8, "batch_size": 8, "val_share": 0.25, "patience": 0,
       "device": "cpu"}
TEMPLATE = ("{% for m in messages %}<{{ m['role'] }}> {{ m['content'] }} <eos> {% endfor %}"
            "{% if add_generation_prompt %}<assistant> {% endif %}")


def make_tiny_llm(folder, chat_template: bool = True, seed: int = 0):
    import torch
    from tokenizers import Tokenizer, decoders, pre_tokenizers
    from tokenizers import models as tmodels
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(SPECIALS + WORDS + ANIMALS)}
    tk = Tokenizer(tmodels.WordLevel(vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tk.decoder = decoders.WordPiece(prefix="##")  # joins words with spaces
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="<unk>", pad_token="<pad>", eos_token="<eos>")
    if chat_template:
        tok.chat_template = TEMPLATE
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=64, initializer_range=0.5,
                      eos_token_id=vocab["<eos>"], pad_token_id=vocab["<pad>"], bos_token_id=vocab["<eos>"])
    model = LlamaForCausalLM(cfg)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def toy_pairs(seed: int = 0):
    follow = dict(zip(WORDS, WORDS[1:] + WORDS[:1], strict=True))
    pairs = [(f"{a} {b}", follow[a]) for a, b in itertools.product(WORDS, ANIMALS)]
    random.Random(seed).shuffle(pairs)
    return pairs


# A task the bundled SmolLM2 does not answer in the expected form: a trip's destination as a three-letter code.
TRIP_NAMES = ["Maria", "Tom", "Aiko", "Lars", "Priya", "Omar", "Lena", "Chen", "Sofia", "Ravi"]
TRIP_CITIES = ["Lisbon", "Oslo", "Madrid", "Tokyo", "Paris", "Berlin", "Cairo", "Lima", "Delhi", "Quito", "Rome",
               "Seoul", "Dublin", "Accra", "Hanoi", "Vienna"]


def trips(n: int, seed: int) -> list[tuple[str, str]]:
    """`n` distinct (prompt, response) pairs: "Destination code: Maria flew from Lisbon to Oslo on Monday." -> "OSL"."""
    rng = random.Random(seed)
    rows: dict[str, str] = {}
    while len(rows) < n:
        who, a, b = rng.choice(TRIP_NAMES), *rng.sample(TRIP_CITIES, 2)
        rows[f"Destination code: {who} flew from {a} to {b} on {rng.choice(['Monday', 'Friday'])}."] = b[:3].upper()
    return list(rows.items())


def write_toy_jsonl(path, pairs=None):
    with open(path, "w", encoding="utf-8") as fh:
        for p, r in pairs or toy_pairs():
            fh.write(json.dumps({"prompt": p, "response": r}) + "\n")
    return path


def train(data, out, sink=None, cancel=None, **options):
    """`train_lm` run as the CLI and the tests run jobs; returns its TrainResult."""
    from playground.core.jobs import Job
    from playground.core.runner import run_sync
    from playground.core.training.lm import train_lm

    return run_sync(Job(train_lm, (str(data), str(out)), options), sink or (lambda e: None), cancel)


def train_toy(root, sink=None, **options):
    """A tiny base, the toy JSONL and a LoRA run on it (TOY options) under `root`: their paths and the result."""
    base = make_tiny_llm(root / "base")
    data = write_toy_jsonl(root / "toy.jsonl")
    result = train(data, root / "out", sink, base=str(base), **(TOY | options))
    return {"base": base, "data": data, "out": root / "out", "result": result}


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny matrices: one thread is faster and steadier on a shared machine (a test module that
    imports this fixture gets it for every test)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
