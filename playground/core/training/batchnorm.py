"""Batch-norm statistics recomputed from the current weights before each evaluation ("precise BN").

A small folder gives a few optimizer steps per epoch, and batch norm's running averages
(momentum 0.1) then still hold much of the backbone's ImageNet statistics and of weights several
steps old: the eval-mode model scores far below the one that is training. Digits at 32 px
validated at chance for three epochs while the training loss halved, and early stopping kept that
epoch-1 model. Averaging the statistics afresh over a few training batches before each evaluation
fixes it (Wu & Johnson, "Rethinking 'Batch' in BatchNorm", 2021; detectron2's PreciseBN).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable

MAX_BATCHES = 25  # enough examples for stable averages; bounds the cost on a large folder


def norm_layers(model) -> list:
    from torch.nn.modules.batchnorm import _BatchNorm

    return [m for m in model.modules() if isinstance(m, _BatchNorm) and m.track_running_stats]


def recalibrate(model, inputs: Iterable, average: Callable[[list], None] | None = None) -> int:
    """Replace the running mean/var of every batch-norm layer by their average over `inputs`.

    `inputs`: model inputs (the first MAX_BATCHES are used). `average(tensors)`: makes the buffers
    the same on every rank (data-parallel runs). Returns the batches used; with none, nothing changes.
    """
    import torch

    layers = norm_layers(model)
    if not layers:
        return 0
    saved = [(m.momentum, m.running_mean.clone(), m.running_var.clone(), m.num_batches_tracked.clone())
             for m in layers]
    was_training = model.training
    for m in layers:
        m.reset_running_stats()
        m.momentum = None  # None: a cumulative average over the batches below
    model.train()
    used = 0
    try:
        with torch.no_grad():
            for x in itertools.islice(inputs, MAX_BATCHES):
                model(x)
                used += 1
    finally:
        model.train(was_training)
        for m, (momentum, mean, var, tracked) in zip(layers, saved, strict=True):
            m.momentum = momentum
            if not used:  # nothing seen: keep the statistics the model had
                m.running_mean.copy_(mean)
                m.running_var.copy_(var)
                m.num_batches_tracked.copy_(tracked)
    if used and average is not None:
        average([t for m in layers for t in (m.running_mean, m.running_var)])
    return used
