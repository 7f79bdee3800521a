"""batchnorm.recalibrate: running statistics become the average over the given batches, and
nothing changes when there are none (or no batch-norm layers)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from playground.core.training import batchnorm


def _batches():
    g = torch.Generator().manual_seed(0)
    return [torch.randn(8, 3, 4, 4, generator=g) * (i + 1) + 5.0 * i for i in range(4)]


def test_running_stats_are_the_average_of_the_batches_and_the_model_state_is_restored():
    model = torch.nn.Sequential(torch.nn.BatchNorm2d(3, momentum=0.1), torch.nn.Flatten())
    model.eval()
    batches = _batches()
    assert batchnorm.recalibrate(model, iter(batches)) == 4
    bn = model[0]
    means = torch.stack([b.mean(dim=(0, 2, 3)) for b in batches])
    variances = torch.stack([b.var(dim=(0, 2, 3), unbiased=True) for b in batches])
    assert torch.allclose(bn.running_mean, means.mean(0), atol=1e-5)
    assert torch.allclose(bn.running_var, variances.mean(0), atol=1e-4)
    assert bn.momentum == 0.1 and not model.training  # put back as they were


def test_at_most_max_batches_are_read(monkeypatch):
    monkeypatch.setattr(batchnorm, "MAX_BATCHES", 2)
    model = torch.nn.BatchNorm2d(3)
    seen = []

    def inputs():
        for b in _batches():
            seen.append(b)
            yield b

    assert batchnorm.recalibrate(model, inputs()) == 2 and len(seen) == 2


def test_no_batches_leave_the_statistics_alone_and_models_without_batch_norm_are_skipped():
    model = torch.nn.BatchNorm2d(3)
    model.running_mean.fill_(2.0)
    model.running_var.fill_(3.0)
    assert batchnorm.recalibrate(model, iter([])) == 0
    assert torch.all(model.running_mean == 2.0) and torch.all(model.running_var == 3.0)
    linear = torch.nn.Linear(3, 2)
    called = []
    assert batchnorm.recalibrate(linear, iter(_batches()), average=called.append) == 0 and not called


def test_the_average_hook_gets_every_buffer():
    model = torch.nn.Sequential(torch.nn.BatchNorm2d(3), torch.nn.BatchNorm2d(3))
    got = []
    batchnorm.recalibrate(model, iter(_batches()), average=got.extend)
    assert len(got) == 4 and got[0] is model[0].running_mean and got[3] is model[1].running_var
