"""Small labelled training sets the tests write: sentiment CSVs and digit folders."""

from __future__ import annotations

import random

POSITIVE = ["wonderful", "great", "excellent", "delightful", "fantastic", "lovely", "superb", "brilliant"]
NEGATIVE = ["terrible", "awful", "horrible", "dreadful", "boring", "disappointing", "bad", "poor"]
SUBJECTS = ["The film", "The meal", "This book", "The concert", "Our hotel", "The service", "This phone",
            "The game", "The show", "The trip"]


def write_sentiment_csv(path, per_class=24, seed=3):
    rng = random.Random(seed)
    rows = []
    for label, words in (("positive", POSITIVE), ("negative", NEGATIVE)):
        for _ in range(per_class):
            s, w = rng.choice(SUBJECTS), rng.choice(words)
            tail = rng.choice(["", " and I would say so again", ", honestly", " from start to end"])
            rows.append((f"{s} was {w}{tail}.", label))
    rng.shuffle(rows)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("review,sentiment\n")
        for text, label in rows:
            fh.write(f'"{text}",{label}\n')
    return path


def write_digits(root, size=32, per_class=None):
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    seen = {}
    for i, (img, target) in enumerate(zip(digits.images, digits.target, strict=True)):
        if per_class and seen.get(target, 0) >= per_class:
            continue
        seen[target] = seen.get(target, 0) + 1
        folder = root / str(target)
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray((img / 16.0 * 255).astype(np.uint8), "L").resize(
            (size, size), Image.Resampling.BILINEAR).save(folder / f"{i}.png")
    return root
