"""Small labelled training sets the tests write (sentiment CSVs, digit folders, a char-GPT corpus)
and the Train tab controller's set-up that its GUI tests share."""

from __future__ import annotations

import contextlib
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


# -- the Train tab's controller (tests/gui/test_train_controller*.py) ----------------------------

CORPUS = "the cat sat on the mat. the dog sat on the log. a bird sang in the tree.\n" * 40
TINY = {"block_size": 16, "layers": 1, "heads": 2, "embed": 32, "eval_every": 20}  # a char-GPT of seconds


def write_corpus(path):
    path.write_text(CORPUS)
    return path


def tiny_charlm(path, **changes):
    """The options of a tiny char-GPT run on `path` (batch 8, `TINY`), `changes` on top."""
    from playground.ui.train_controller import TrainOptions

    return TrainOptions("charlm", str(path), **({"batch_size": 8, "extra": dict(TINY)} | changes))


@contextlib.contextmanager
def train_controller(qtbot, worker, settings):
    """A TrainController on the test worker; shut down, its run ended, on leaving."""
    from playground.ui.context import AppContext
    from playground.ui.train_controller import TrainController

    c = TrainController(AppContext(worker, settings, None))
    yield c
    c.shutdown()
    qtbot.waitUntil(lambda: not c.running, timeout=60_000)


def load_data(qtbot, ctrl, path):
    """Give the controller `path` as its data and wait until the checks passed; the path."""
    with qtbot.waitSignal(ctrl.preview_ready, timeout=60_000):
        assert ctrl.set_data(str(path))
    assert ctrl.can_start
    return path
