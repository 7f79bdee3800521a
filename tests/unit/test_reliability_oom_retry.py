"""GPU out of memory in any job that has not sent results yet: the job runs again on the CPU
(CUDA simulated). Image batches and training have their own finer fallbacks (other tests)."""

from __future__ import annotations

import pytest
import torch

from playground.core import devices, models
from playground.core.errors import friendly_message
from playground.core.jobs import Job, Progress
from playground.core.runner import run_sync


@pytest.fixture
def fake_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: None)
    monkeypatch.setattr(devices, "_preference", "auto")


def needs_more_than_the_gpu_has(ctx, text):
    device = devices.choose_device()
    if device != "cpu":
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 3.00 GiB")
    return f"{text} on {device}"


def test_the_job_runs_again_on_the_cpu_and_says_so(fake_gpu, monkeypatch):
    monkeypatch.setattr(models, "cache", models.ModelCache())
    models.cache.get(("text", "m", "cuda:0"), lambda: "gpu model", size=lambda _m: 0)
    models.cache.get(("text", "m", "cpu"), lambda: "cpu model", size=lambda _m: 0)
    events = []
    assert run_sync(Job(needs_more_than_the_gpu_has, ("hello",)), events.append) == "hello on cpu"
    assert any(isinstance(e, Progress) and "running again on the CPU" in e.text for e in events)
    # the GPU copies are forgotten (their memory can go back), the CPU ones kept
    assert ("text", "m", "cuda:0") not in models.cache.keys() and ("text", "m", "cpu") in models.cache.keys()
    # only that job: the next one is offered the GPU again
    assert devices.choose_device() == "cuda:0" and devices.forced_device() is None


def test_a_streaming_job_that_already_sent_results_is_not_run_twice(fake_gpu):
    def streams_then_runs_out(ctx):
        yield "token"
        devices.choose_device()
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    events = []
    with pytest.raises(torch.cuda.OutOfMemoryError) as err:
        run_sync(Job(streams_then_runs_out), events.append)
    assert events == ["token"]
    assert "memory" in friendly_message(err.value).lower()


def test_out_of_memory_on_the_cpu_is_reported_not_retried_forever():
    calls = []

    def always(ctx):
        calls.append(devices.choose_device())
        raise RuntimeError("CUDA error: out of memory")

    with devices.forced("cpu"), pytest.raises(RuntimeError):
        run_sync(Job(always))
    assert calls == ["cpu"]


def test_other_errors_are_not_retried(fake_gpu):
    calls = []

    def broken(ctx):
        calls.append(1)
        raise ValueError("bad input")

    with pytest.raises(ValueError):
        run_sync(Job(broken))
    assert calls == [1]


def test_a_real_text_job_falls_back(fake_gpu, monkeypatch):
    """The bundled MiniLM embedder: its GPU forward fails, the CPU run gives the real vectors."""
    from playground.core import text

    real_load = text._load

    def load(src, auto, ctx, **extra):
        model = real_load(src, auto, ctx, **extra) if devices.forced_device() == "cpu" else None
        if model is None:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory while loading")
        return model

    monkeypatch.setattr(text, "_load", load)
    monkeypatch.setattr(text, "_device", lambda: (devices.choose_device(), torch.float32))
    events = []
    result = run_sync(Job(text.embed, (["a cat", "a dog"],)), events.append)
    assert len(result.vectors) == 2 and any("running again on the CPU" in getattr(e, "text", "") for e in events)
