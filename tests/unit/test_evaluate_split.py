"""Which validation split evaluation and export rebuild: the share and seed given, else those saved
with the model, else (models saved before the seed was) the share from n_train/n_val and seed 0."""

from __future__ import annotations

import json

from playground.core import evaluate
from playground.core.models import FINETUNED_MARKER


def _model(tmp_path, name, meta):
    folder = tmp_path / name
    folder.mkdir()
    (folder / FINETUNED_MARKER).write_text(json.dumps({"task": "image-classification", **meta}))
    return str(folder)


def test_the_saved_share_and_seed_are_used_unless_given(tmp_path):
    model = _model(tmp_path, "new", {"val_share": 0.3, "seed": 5, "n_train": 70, "n_val": 30})
    assert evaluate.validation_split(model, None, None) == (0.3, 5)
    assert evaluate.validation_split(model, 0.1, 2) == (0.1, 2)
    assert evaluate.validation_split(model, 0.1, None) == (0.1, 5)
    assert evaluate.validation_split(model, None, 2) == (0.3, 2)


def test_an_older_marker_gives_the_share_from_its_counts_and_seed_zero(tmp_path):
    model = _model(tmp_path, "old", {"n_train": 75, "n_val": 25})
    assert evaluate.validation_split(model, None, None) == (0.25, 0)
    assert evaluate.validation_split(str(tmp_path / "missing"), None, None) == (0.2, 0)


def test_the_split_follows_the_seed():
    targets = [i % 3 for i in range(60)]
    a = evaluate.select(targets, "validation", 0.3, 5)
    assert a == evaluate.select(targets, "validation", 0.3, 5) and a != evaluate.select(targets, "validation", 0.3, 0)
