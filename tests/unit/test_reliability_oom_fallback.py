"""GPU out-of-memory during classification: smaller batches first, then the CPU (CUDA simulated)."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from PIL import Image

from playground.core import image
from playground.core.jobs import Job, Progress
from playground.core.runner import run_sync


@pytest.fixture(scope="module")
def cpu_classifier():
    return image.load_classifier(None, device="cpu")


@pytest.fixture
def photos(tmp_path):
    out = []
    for i, colour in enumerate([(200, 20, 20), (20, 200, 20), (20, 20, 200), (200, 200, 20)]):
        path = tmp_path / f"p{i}.png"
        Image.new("RGB", (64, 64), colour).save(path)
        out.append(str(path))
    return out


def _oom():
    raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


def test_big_batches_are_split_when_the_gpu_runs_out(monkeypatch, cpu_classifier, photos):
    real = cpu_classifier.predict
    sizes = []

    def predict_small_only(batch, top_k=5):
        sizes.append(len(batch))
        if len(batch) > 1:
            _oom()
        return real(batch, top_k)

    fake = dataclasses.replace(cpu_classifier, device="cuda:0")
    monkeypatch.setattr(fake, "predict", predict_small_only)
    monkeypatch.setattr(image, "load_classifier", lambda *a, **k: fake)
    events = []
    summary = run_sync(Job(image.classify, (photos,), {"batch_size": 4}), events.append)
    assert all(r.predictions and r.error is None for r in summary.results)
    assert sizes == [4, 2, 1, 1, 2, 1, 1]
    assert any(isinstance(e, Progress) and "batches of 2" in e.text for e in events)
    expected = [p[0].label for p in real(torch.stack([cpu_classifier.preprocess(Image.open(x).convert("RGB"))
                                                      for x in photos]), 1)]
    assert [r.predictions[0].label for r in summary.results] == expected


def test_one_image_that_does_not_fit_moves_to_the_cpu(monkeypatch, cpu_classifier, photos):
    gpu = dataclasses.replace(cpu_classifier, device="cuda:0")
    monkeypatch.setattr(gpu, "predict", lambda batch, top_k=5: _oom())
    asked = []

    def loader(model=None, ctx=None, device=None, **kw):
        asked.append(device)
        return cpu_classifier if device == "cpu" else gpu

    monkeypatch.setattr(image, "load_classifier", loader)
    events = []
    summary = run_sync(Job(image.classify, (photos[:2],), {"batch_size": 2}), events.append)
    assert all(r.predictions for r in summary.results)
    assert summary.device == "cpu"
    assert "cpu" in asked
    assert any(isinstance(e, Progress) and "continues on the CPU" in e.text for e in events)


def test_out_of_memory_on_the_cpu_is_still_an_error(monkeypatch, cpu_classifier, photos):
    from playground.core.errors import friendly_message

    monkeypatch.setattr(cpu_classifier, "predict", lambda batch, top_k=5: _oom())
    monkeypatch.setattr(image, "load_classifier", lambda *a, **k: cpu_classifier)
    with pytest.raises(torch.cuda.OutOfMemoryError) as err:
        run_sync(Job(image.classify, (photos[:1],)))
    assert "memory" in friendly_message(err.value).lower()
