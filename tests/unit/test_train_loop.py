"""The shared training loop with a tiny real torch model: cancel + checkpoint + resume, pause,
early stopping, mixed-precision code path, the final atomic save."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import torch

from playground.core.errors import Cancelled, InputError
from playground.core.jobs import Job, JobContext
from playground.core.runner import run_sync
from playground.core.training import checkpoint as ckpt
from playground.core.training import events as ev
from playground.core.training import loop
from playground.core.training.loop import TrainConfig, TrainControl, TrainSpec, fit, lr_at, precision_plan


class BlobSpec(TrainSpec):
    """Two Gaussian blobs, a small MLP: learns in a few steps."""

    task = "image-classification"

    def __init__(self, n=256, batch_size=16, seed=0, noise=1.0):
        g = torch.Generator().manual_seed(seed)
        self.y = torch.randint(0, 2, (n,), generator=g)
        self.x = torch.randn(n, 8, generator=g) * noise + self.y[:, None] * 2.0
        self.train_idx, self.val_idx = list(range(0, n - 64)), list(range(n - 64, n))
        self.batch_size = batch_size
        self.steps_per_epoch = len(self.train_idx) // batch_size
        torch.manual_seed(seed)
        self.model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
        self.seen: list[list[int]] = []

    def signature(self):
        return {"labels": ["a", "b"]}

    def batches(self, epoch, start, device):
        g = torch.Generator().manual_seed(epoch)
        order = torch.tensor(self.train_idx)[torch.randperm(len(self.train_idx), generator=g)].tolist()
        for b in range(start, self.steps_per_epoch):
            idx = order[b * self.batch_size:(b + 1) * self.batch_size]
            self.seen.append(idx)
            yield self.x[idx], self.y[idx]

    def loss(self, batch):
        x, y = batch
        return torch.nn.functional.cross_entropy(self.model(x), y), len(y)

    def evaluate(self, device, autocast):
        with autocast():
            logits = self.model(self.x[self.val_idx])
        y = self.y[self.val_idx]
        return float(torch.nn.functional.cross_entropy(logits.float(), y)), float((logits.argmax(1) == y).float().mean())

    def save(self, folder: Path):
        torch.save(self.model.state_dict(), folder / "weights.pt")

    def marker(self):
        return {"task": self.task, "labels": ["a", "b"]}


def _run(spec, cfg, out, sink=None, cancel=None, **kw):
    return run_sync(Job(fit, (spec, cfg, out), kw), sink or (lambda e: None), cancel)


def test_fit_learns_saves_a_marked_folder_and_removes_its_checkpoints(tmp_path):
    out = tmp_path / "models" / "blobs"
    events = []
    result = _run(BlobSpec(), TrainConfig(epochs=2, lr=0.05, name="Blobs"), out, events.append)
    assert result.val_accuracy > 0.9
    meta = json.loads((out / "playground_model.json").read_text())
    assert meta["name"] == "Blobs" and meta["labels"] == ["a", "b"] and meta["metrics"]["val_accuracy"] > 0.9
    card = (out / "README.md").read_text()
    assert "Epochs: 2" in card and "| 2 |" in card
    assert not ckpt.checkpoint_dir(out).exists()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")], "no temp folder left behind"
    steps = [e for e in events if isinstance(e, ev.StepEvent)]
    assert [e.step for e in steps] == list(range(1, 2 * 12 + 1))
    assert all(e.samples_per_s > 0 and e.time_left_s is not None for e in steps)
    assert steps[-1].time_left_s < steps[0].time_left_s
    assert isinstance(events[-1], ev.DoneEvent) and events[-1].model_dir == str(out)
    assert [type(e) for e in events if isinstance(e, ev.EpochEvent)] == [ev.EpochEvent] * 2


def test_cancel_mid_epoch_leaves_a_loadable_checkpoint_and_resume_continues_from_it(tmp_path):
    out = tmp_path / "m"
    cancel = threading.Event()
    seen = []

    def sink(e):
        seen.append(e)
        if isinstance(e, ev.StepEvent) and e.step == 5:
            cancel.set()

    spec = BlobSpec()
    with pytest.raises(Cancelled):
        _run(spec, TrainConfig(epochs=2, lr=0.05), out, sink, cancel)
    saved = [e for e in seen if isinstance(e, ev.CheckpointSaved)]
    assert saved and saved[-1].reason == "cancel" and saved[-1].step == 5
    state = ckpt.load_state(ckpt.checkpoint_path(out))  # weights_only load
    assert state["step"] == 5
    assert not (out / "playground_model.json").exists()
    first_batches = spec.seen[:5]

    resumed = BlobSpec()
    resumed.model.load_state_dict(state["model"])
    events = []
    result = _run(resumed, TrainConfig(epochs=2, lr=0.05), out, events.append, resume=True)
    start = next(e for e in events if isinstance(e, ev.RunStarted))
    assert start.start_step == 5
    steps = [e.step for e in events if isinstance(e, ev.StepEvent)]
    assert steps[0] == 6 and steps[-1] == 24
    # The resumed epoch continues with the batches the cancelled one had not reached yet.
    assert not set(map(tuple, first_batches)) & set(map(tuple, resumed.seen[:7]))
    assert result.val_accuracy > 0.9 and (out / "playground_model.json").exists()


def test_resume_refuses_a_checkpoint_with_other_labels(tmp_path):
    out = tmp_path / "m"
    cancel = threading.Event()
    with pytest.raises(Cancelled):
        _run(BlobSpec(), TrainConfig(epochs=1), out, lambda e: cancel.set() if isinstance(e, ev.StepEvent) else None,
             cancel)
    other = BlobSpec()
    other.signature = lambda: {"labels": ["x", "y"]}
    with pytest.raises(InputError, match="different labels"):
        _run(other, TrainConfig(epochs=1), out, resume=True)


def test_resume_without_a_checkpoint_is_one_clear_error(tmp_path):
    with pytest.raises(InputError, match="No checkpoint to resume from"):
        _run(BlobSpec(), TrainConfig(epochs=1), tmp_path / "none", resume=True)


def test_pause_blocks_the_loop_until_resumed_and_cancel_still_works_while_paused(tmp_path):
    control = TrainControl()
    control.pause()
    cancel = threading.Event()
    seen = []
    done = threading.Event()

    def target():
        try:
            _run(BlobSpec(), TrainConfig(epochs=500), tmp_path / "m", seen.append, cancel, control=control)
        except Cancelled:
            seen.append("cancelled")
        done.set()

    t = threading.Thread(target=target)
    t.start()
    for _ in range(200):
        if any(isinstance(e, ev.Paused) for e in seen):
            break
        threading.Event().wait(0.02)
    assert any(isinstance(e, ev.Paused) for e in seen)
    assert not any(isinstance(e, ev.StepEvent) for e in seen), "no step runs while paused"
    control.resume()
    for _ in range(200):
        if any(isinstance(e, ev.StepEvent) for e in seen):
            break
        threading.Event().wait(0.02)
    assert any(isinstance(e, ev.Resumed) for e in seen)
    control.pause()
    cancel.set()
    assert done.wait(10)
    t.join()
    assert seen[-1] == "cancelled"


def test_early_stopping_stops_and_keeps_the_best_epoch(tmp_path):
    out = tmp_path / "m"
    spec = BlobSpec(noise=4.0, n=96)
    # A huge learning rate makes validation worse after the first epoch.
    events = []
    result = _run(spec, TrainConfig(epochs=20, lr=3.0, patience=1, warmup=0.0, grad_clip=0), out, events.append)
    stops = [e for e in events if isinstance(e, ev.EarlyStopped)]
    assert stops and result.stopped_early
    assert len(result.history) < 20
    meta = json.loads((out / "playground_model.json").read_text())
    assert meta["best_epoch"] == stops[0].best_epoch
    assert meta["metrics"]["val_loss"] == pytest.approx(min(h["val_loss"] for h in result.history))


def test_mixed_precision_path_autocast_and_grad_scaler(tmp_path, monkeypatch):
    # No GPU here: run the CUDA code path on the CPU with bf16 autocast and an enabled GradScaler.
    monkeypatch.setattr(loop, "precision_plan", lambda device, enabled=True: (torch.bfloat16, True))
    seen_dtypes = []
    spec = BlobSpec()
    orig = spec.loss

    def loss(batch):
        out, n = orig(batch)
        seen_dtypes.append(spec.model(batch[0]).dtype)
        return out, n

    spec.loss = loss
    events = []
    result = _run(spec, TrainConfig(epochs=1, lr=0.05), tmp_path / "m", events.append)
    assert torch.bfloat16 in seen_dtypes
    assert next(e for e in events if isinstance(e, ev.RunStarted)).mixed_precision == "bfloat16"
    assert result.val_accuracy > 0.8


def test_precision_plan_on_cuda_fp16_uses_a_scaler_bf16_does_not(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert precision_plan("cuda:0") == (torch.float16, True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert precision_plan("cuda:0") == (torch.bfloat16, False)
    assert precision_plan("cuda:0", enabled=False) == (None, False)
    assert precision_plan("cpu") == (None, False)


def test_lr_schedule_warms_up_then_decays():
    values = [lr_at(s, 100, 1.0, 0.1) for s in range(100)]
    assert values[0] == pytest.approx(0.1) and values[9] == pytest.approx(1.0)
    assert values[50] < values[10] and values[-1] >= 0.1 - 1e-9
    assert all(a >= b - 1e-12 for a, b in zip(values[9:], values[10:], strict=False))


def test_existing_model_is_not_overwritten_without_permission(tmp_path):
    from playground.core.training.common import resolve_out

    out = tmp_path / "m"
    _run(BlobSpec(), TrainConfig(epochs=1, lr=0.05), out)
    with pytest.raises(InputError, match="already exists"):
        resolve_out(out, None, "x", resume=False, overwrite=False)
    resolve_out(out, None, "x", resume=False, overwrite=True)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not empty"):
        resolve_out(tmp_path / "busy", None, "x", resume=False, overwrite=False)


def test_job_context_cancel_before_first_step_raises_without_checkpoint(tmp_path):
    ctx = JobContext()
    ctx.cancel()
    with pytest.raises(Cancelled):
        fit(ctx, BlobSpec(), TrainConfig(epochs=1), tmp_path / "m")
    assert not ckpt.has_checkpoint(tmp_path / "m")


class OutOfMemoryOnGpuSpec(BlobSpec):
    """Runs on the CPU but acts as if placed on a GPU that runs out of memory at one step."""

    def __init__(self, fail_at_call: int, during_eval: bool = False, **kw):
        super().__init__(**kw)
        self.placed: list[str] = []
        self.calls = 0
        self.fail_at_call = fail_at_call
        self.during_eval = during_eval

    def to(self, device):
        self.placed.append(device)  # the tensors stay on the CPU

    def loss(self, batch):
        self.calls += 1
        if self.placed[-1] != "cpu" and not self.during_eval and self.calls == self.fail_at_call:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 1.00 GiB")
        return super().loss(batch)

    def evaluate(self, device, autocast):
        if self.placed[-1] != "cpu" and self.during_eval:
            raise RuntimeError("CUDA error: out of memory")
        return super().evaluate(device, autocast)


@pytest.mark.parametrize("during_eval", [False, True])
def test_gpu_out_of_memory_moves_the_run_to_the_cpu_and_changes_nothing_else(tmp_path, monkeypatch, during_eval):
    cfg = TrainConfig(epochs=2, lr=0.05, mixed_precision=False)
    reference = BlobSpec()
    expected = _run(reference, cfg, tmp_path / "cpu")

    monkeypatch.setattr(loop.devices, "choose_device", lambda *a, **k: "cuda:0")
    spec = OutOfMemoryOnGpuSpec(fail_at_call=7, during_eval=during_eval)
    events = []
    result = _run(spec, cfg, tmp_path / "gpu", events.append)
    falls = [e for e in events if isinstance(e, ev.DeviceFallback)]
    assert len(falls) == 1 and falls[0].to_device == "cpu" and spec.placed == ["cuda:0", "cpu"]
    assert falls[0].step == (6 if not during_eval else spec.steps_per_epoch)
    assert "continues on the CPU" in falls[0].message
    assert json.loads((tmp_path / "gpu" / "playground_model.json").read_text())["device"] == "cpu"
    # The failed step changed nothing and was retried: the same steps and the same weights.
    assert [e.step for e in events if isinstance(e, ev.StepEvent)][-1] == 2 * spec.steps_per_epoch
    for a, b in zip(spec.model.state_dict().values(), reference.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert result.val_accuracy == expected.val_accuracy and result.val_loss == expected.val_loss
