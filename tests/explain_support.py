"""A digit classifier the explanation tests train in seconds, saved as a fine-tuned image folder (the Train
tab's format: timm backbone, model.safetensors, playground_model.json with its preprocess recipe), and
digits pasted at known places into larger blank canvases (the pointing test)."""

from __future__ import annotations

import json

SIZE = 64  # a digit's side at the model's scale (its last feature map is then 2 x 2)
BACKBONE = "test_efficientnet"  # timm's 0.1 M-parameter EfficientNet: trains in seconds on 2 cores


def digit_images(size=SIZE):
    """(PIL RGB digits at `size`, labels) for sklearn's 1797 digits, white on black."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = [Image.fromarray((img / 16.0 * 255).astype(np.uint8), "L").resize((size, size), Image.Resampling.BILINEAR)
              .convert("RGB") for img in digits.images]
    return images, [int(t) for t in digits.target]


def split(n, held_back=0.2, seed=0):
    """(train indices, held-back indices)."""
    import random

    idx = list(range(n))
    random.Random(seed).shuffle(idx)
    cut = int(n * held_back)
    return sorted(idx[cut:]), sorted(idx[:cut])


def train_digit_classifier(folder, epochs=6, seed=0):
    """Train on 80 % of the digits (the rest held back for the tests); (folder, held-back indices)."""
    import timm
    import torch
    from safetensors.torch import save_file

    from playground.core.preprocess import Preprocess

    images, labels = digit_images()
    train, held = split(len(images))
    recipe = Preprocess(SIZE, (SIZE, SIZE), "bilinear", (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    x = torch.stack([recipe.tensor(images[i]) for i in train])
    y = torch.tensor([labels[i] for i in train])
    torch.manual_seed(seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: one thread is faster and steadier on a shared machine
    net = timm.create_model(BACKBONE, pretrained=False, num_classes=10)
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3)
    net.train()
    for _ in range(epochs):
        order = torch.randperm(len(x))
        for start in range(0, len(x), 64):
            b = order[start:start + 64]
            loss = torch.nn.functional.cross_entropy(net(x[b]), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    torch.set_num_threads(threads)
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(folder / "model.safetensors"))
    (folder / "playground_model.json").write_text(json.dumps({
        "task": "image-classification", "name": "digits", "backbone": BACKBONE, "num_classes": 10,
        "labels": [str(i) for i in range(10)], "image_size": SIZE, "mean": [0.5] * 3, "std": [0.5] * 3,
        "preprocess": recipe.to_dict()}))
    return folder, held


def paste(digit, slot: int, vertical: bool = False):
    """The digit in slot 0, 1 or 2 of a 3-digit-long blank canvas; (canvas, box (left, top, right, bottom))."""
    from PIL import Image

    s = digit.width
    size = (s, 3 * s) if vertical else (3 * s, s)
    at = (0, slot * s) if vertical else (slot * s, 0)
    canvas = Image.new("RGB", size, (0, 0, 0))
    canvas.paste(digit, at)
    return canvas, (at[0], at[1], at[0] + s, at[1] + s)


def mass_in_box(heat, box) -> float:
    """The share of the map's total inside `box`."""
    left, top, right, bottom = box
    total = float(heat.sum())
    return float(heat[top:bottom, left:right].sum()) / total if total > 0 else 0.0


# -- a sentiment classifier -----------------------------------------------------------------------------


def reviews(per_class=60, seed=3):
    """(text, label) review sentences from train_support's generator: the sentiment lives in one word."""
    import csv
    import io
    import tempfile
    from pathlib import Path

    from train_support import write_sentiment_csv

    with tempfile.TemporaryDirectory() as tmp:
        path = write_sentiment_csv(Path(tmp) / "reviews.csv", per_class=per_class, seed=seed)
        rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    return [(r["review"], r["sentiment"]) for r in rows]


def sentiment_classifier(folder):
    """The tests' sentiment classifier, trained on 80 % of `reviews()`; (folder, held-back rows)."""
    rows = reviews(per_class=60)
    cut = int(len(rows) * 0.8)
    return train_sentiment_classifier(folder, rows[:cut]), rows[cut:]


def train_sentiment_classifier(folder, rows, epochs=30, seed=0):
    """A one-layer BERT with a word-level vocabulary, trained from scratch on `rows`; saved as a
    fine-tuned text-classification folder (config, safetensors, tokenizer, playground_model.json)."""
    import re

    import torch
    from tokenizers import Tokenizer, models as tmodels, pre_tokenizers, processors
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    words = sorted({w for t, _ in rows for w in re.findall(r"\w+|[^\w\s]", t.lower())})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words
    tok = Tokenizer(tmodels.WordLevel({w: i for i, w in enumerate(vocab)}, unk_token="[UNK]"))
    tok.normalizer = __import__("tokenizers").normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2),
                                                                                                 ("[SEP]", 3)])
    fast = BertTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                             sep_token="[SEP]", mask_token="[MASK]", model_max_length=32)
    labels = sorted({y for _, y in rows})
    torch.manual_seed(seed)
    model = BertForSequenceClassification(BertConfig(
        vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
        max_position_embeddings=32, num_labels=len(labels), id2label=dict(enumerate(labels)),
        label2id={y: i for i, y in enumerate(labels)}))
    batch = fast([t for t, _ in rows], padding=True, return_tensors="pt")
    y = torch.tensor([labels.index(lab) for _, lab in rows])
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    model.train()
    for _ in range(epochs):
        out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=y)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
    torch.set_num_threads(threads)
    model.eval()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    fast.save_pretrained(folder)
    (folder / "playground_model.json").write_text(json.dumps({"task": "text-classification", "name": folder.name}))
    return str(folder)


# -- a sound classifier: a beep somewhere in a second of noise -----------------------------------------


def beep_clip(at: float | None, seed: int, sr: int = 16000):
    """One second of quiet noise, with a 1 kHz beep of 0.15 s starting at `at` seconds (None: no beep)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    clip = (rng.standard_normal(sr) * 0.01).astype(np.float32)
    if at is not None:
        start, n = int(at * sr), int(0.15 * sr)
        clip[start:start + n] += 0.5 * np.sin(2 * np.pi * 1000 * np.arange(n) / sr).astype(np.float32)
    return clip


def train_beep_classifier(folder, seed=0):
    """A sound-classes folder (log-mel features, the app's head) telling 'beep' from 'background noise'."""
    import numpy as np
    import torch
    from safetensors.torch import save_file

    from playground.core import sound
    from playground.core.training.data import NOISE_CLASS

    rng = np.random.default_rng(seed)
    clips = [beep_clip(float(rng.uniform(0.05, 0.8)), i) for i in range(40)] + [beep_clip(None, 100 + i)
                                                                              for i in range(40)]
    y = torch.tensor([0] * 40 + [1] * 40)
    features = sound.featurizer("logmel")
    x = features(clips)
    mean, std = x.mean(0), x.std(0) + 1e-6
    xt = torch.from_numpy((x - mean) / std).float()
    torch.manual_seed(seed)
    head = sound.build_head(x.shape[1], 2, 32)
    opt = torch.optim.AdamW(head.parameters(), lr=1e-2)
    head.train()
    for _ in range(100):
        loss = torch.nn.functional.cross_entropy(head(xt), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in head.state_dict().items()}, str(folder / sound.HEAD_FILE))
    (folder / "playground_model.json").write_text(json.dumps({
        "task": sound.TASK, "name": "beeps", "labels": ["beep", NOISE_CLASS], "features": "logmel",
        "feature_mean": mean.tolist(), "feature_std": std.tolist(), "feature_dim": int(x.shape[1]), "hidden": 32}))
    return str(folder)
