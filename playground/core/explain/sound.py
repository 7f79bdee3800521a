"""Which moments of a clip made a sound classifier choose a class: occlusion over time (captum).

A window of the one-second clip is replaced by the clip's own background (its quietest stretch), slid
along it, and the drop of the class's log-probability is that moment's importance (features come from
Whisper's encoder or log-mels, neither with gradients here, so a gradient-free method). Not digital
silence: log-mel features read silence as a strong event of its own, and every window then "matters".
Deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from playground.core import sound
from playground.core.errors import InputError
from playground.core.jobs import JobContext

METHOD = "occlusion"
BINS_PER_SECOND = 100  # the importance curve's resolution (10 ms)


@dataclass
class SoundExplanation:
    source: str
    label: str
    score: float  # the class's probability for the clip
    clip: Any  # numpy float32, the one second the classifier heard
    importance: Any  # numpy float32 per 10 ms: log-probability drop when hidden (positive: it made the class)
    method: str = METHOD

    @property
    def peak_time(self) -> float:
        """Seconds into the clip of the moment that mattered most."""
        return (int(np.argmax(self.importance)) + 0.5) / BINS_PER_SECOND


def label_index(labels: list[str], label: str | None, probs) -> int:
    if label is None:
        return int(np.argmax(probs))
    if label in labels:
        return labels.index(label)
    raise InputError(f"'{label}' is not one of the classes ({', '.join(labels)}).")


def background(clip, width: int):
    """The clip's quietest `width` samples, repeated to the clip's length (what a hidden moment becomes)."""
    n = len(clip)
    starts = range(0, max(1, n - width + 1), max(1, width // 2))
    quiet = min(starts, key=lambda i: float(np.mean(clip[i:i + width] ** 2)))
    piece = clip[quiet:quiet + width]
    return np.resize(piece, n).astype(np.float32)


def explain_clip(clf: sound.SoundClassifier, clip, label: str | None = None, window: float = 0.1,
                 stride: float = 0.05, source: str = "") -> SoundExplanation:
    import torch
    from captum.attr import Occlusion

    clip = sound.fit_clip(clip)
    probs = clf.scores([clip])[0]
    target = label_index(clf.labels, label, probs)

    def forward(batch):
        p = clf.scores([row for row in batch.numpy()])
        return torch.from_numpy(np.log(np.clip(p, 1e-9, 1.0)))

    w, s = max(1, int(window * sound.SR)), max(1, int(stride * sound.SR))
    x = torch.from_numpy(clip)[None]
    baseline = torch.from_numpy(background(clip, w))[None]
    attr = Occlusion(forward).attribute(x, sliding_window_shapes=(w,), strides=(s,), baselines=baseline,
                                        target=target, perturbations_per_eval=8)[0].numpy()
    bins = attr[: len(attr) // (sound.SR // BINS_PER_SECOND) * (sound.SR // BINS_PER_SECOND)]
    curve = bins.reshape(-1, sound.SR // BINS_PER_SECOND).mean(1).astype(np.float32)
    return SoundExplanation(source, clf.labels[target], float(probs[target]), clip, curve)


def explain(ctx: JobContext, source: str, model: str, label: str | None = None) -> SoundExplanation:
    """Why `model` gives the clip at `source` (its loudest second) class `label` (default: its top class)."""
    clf = sound.load_classifier(model, ctx)
    ctx.check_cancelled()
    return explain_clip(clf, sound.load_clip(source), label, source=str(source))


def explain_samples(ctx: JobContext, samples, model: str, label: str | None = None) -> SoundExplanation:
    """The same for samples already in memory (the live panel's last second)."""
    return explain_clip(sound.load_classifier(model, ctx), np.asarray(samples, np.float32), label)
