"""The training loop every fine-tune job shares.

A job builds a `TrainSpec` (the model, its batches, its loss, its evaluation
and how to save it) and hands it to `fit`, which owns the rest: device and
mixed precision, the optimizer and learning-rate schedule, pause/resume
(a threading.Event the loop waits on), cancel (checkpoint first, then stop),
checkpoints, early stopping, samples/s and time left, the final atomic save.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from playground.core import devices
from playground.core.errors import Cancelled
from playground.core.jobs import JobContext
from playground.core.training import batchnorm, distributed
from playground.core.training import checkpoint as ckpt
from playground.core.training.events import (
    CheckpointSaved, DeviceFallback, DoneEvent, EarlyStopped, EpochEvent, LiveCheckpoint, Paused, Resumed, RunStarted,
    StepEvent, TrainResult,
)

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    epochs: int = 3
    batch_size: int = 32
    lr: float = 1e-3
    val_share: float = 0.2
    device: str | None = None  # None: the app's preference ("auto" by default)
    patience: int = 3  # epochs without a better validation loss before stopping; 0: never stop early
    seed: int = 0
    warmup: float = 0.05  # share of the steps with a linear warm-up
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    checkpoint_every: int = 0  # also checkpoint every N steps (0: at the end of each epoch only)
    mixed_precision: bool = True  # autocast (+ GradScaler for fp16) on CUDA
    event_interval: float = 0.0  # emit step events at most this often (s); each epoch's last step always
    name: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


class TrainControl:
    """Pause and resume a running job from another thread (the UI)."""

    def __init__(self) -> None:
        self._go = threading.Event()
        self._go.set()

    def pause(self) -> None:
        self._go.clear()

    def resume(self) -> None:
        self._go.set()

    @property
    def paused(self) -> bool:
        return not self._go.is_set()

    def wait(self, ctx: JobContext, step: int) -> float:
        """Block while paused (still honouring cancel); returns the seconds spent paused."""
        if self._go.is_set():
            return 0.0
        t0 = time.perf_counter()
        ctx.emit(Paused(step))
        while not self._go.wait(0.05):
            ctx.check_cancelled()
        ctx.emit(Resumed(step))
        return time.perf_counter() - t0


class TrainSpec:
    """What a job provides to `fit`. Subclasses fill these in.

    Under a launcher (several ranks) `fit` calls `shard(rank, world_size)` first: `batches`
    then yields this rank's share of each global batch, and `eval_sums` covers this rank's
    share of the validation set (`fit` adds the ranks' sums up)."""

    task: str = ""
    model: Any = None
    steps_per_epoch: int = 1
    batch_size: int = 1  # the global batch (all ranks together)
    rank: int = 0
    world_size: int = 1

    def shard(self, rank: int, world_size: int) -> None:
        """Train on rank `rank` of `world_size` (a spec that cannot is refused)."""
        raise NotImplementedError(f"{type(self).__name__} cannot be trained on several processes")

    @property
    def rank_batch_size(self) -> int:
        return distributed.batch_plan(self.batch_size, self.world_size)[0]

    def rank_batches(self, train_idx: list[int], epoch: int) -> list[list[int]]:
        """This rank's batches of `epoch` (example indices): a DistributedSampler, re-shuffled each epoch.

        One rank: the batches of `randperm` seeded `seed * 100_003 + epoch`, as before sharding existed."""
        order = distributed.rank_order(len(train_idx), epoch, int(getattr(self, "seed", 0)) * 100_003,
                                       self.rank, self.world_size)
        per = self.rank_batch_size
        idx = [train_idx[i] for i in order]
        return [idx[b * per:(b + 1) * per] for b in range(self.steps_per_epoch)]

    def calibration_inputs(self, device: str) -> Iterable:
        """Model inputs from this rank's training share, as evaluation prepares them, for
        `batchnorm.recalibrate` before each evaluation; none: the model's statistics stay as trained."""
        return ()

    def eval_sums(self, device: str, autocast) -> tuple[float, float | None, int]:
        """(summed validation loss, correct predictions or None, examples) over this rank's share."""
        raise NotImplementedError

    def signature(self) -> dict:
        """Facts a checkpoint must match to be resumed (labels, architecture ...)."""
        return {}

    def parameters(self) -> Iterable:
        return [p for p in self.model.parameters() if p.requires_grad]

    def train_mode(self) -> None:
        self.model.train()

    def to(self, device: str) -> None:
        self.model.to(device)

    def batches(self, epoch: int, start: int, device: str) -> Iterator[Any]:
        """The epoch's batches from index `start`; the same order for the same epoch every time."""
        raise NotImplementedError

    def loss(self, batch: Any) -> tuple[Any, int]:
        """(loss tensor, samples in the batch)."""
        raise NotImplementedError

    def evaluate(self, device: str, autocast) -> tuple[float, float | None]:
        """(validation loss, validation accuracy or None)."""
        total, correct, n = self.eval_sums(device, autocast)
        return total / max(1, n), (None if correct is None else correct / max(1, n))

    def save(self, folder: Path) -> None:
        """Write the model files (not the marker) into `folder`."""
        raise NotImplementedError

    def marker(self) -> dict:
        """playground_model.json content (task, labels ...), without metrics."""
        return {"task": self.task}

    def save_live(self, live: Path, step: int) -> bool:
        """Write into `live` what a person can try while the run goes on (LoRA: the adapter at
        `step`); False when this kind of run offers nothing to try before it ends."""
        return False


def precision_plan(device: str, enabled: bool = True):
    """(autocast dtype or None, use GradScaler): bf16 where the GPU has it, fp16 + scaler otherwise."""
    import torch

    if not enabled or not device.startswith("cuda"):
        return None, False
    dtype = devices.dtype_for(device)
    return dtype, dtype == torch.float16


def lr_at(step: int, total: int, base: float, warmup: float) -> float:
    """Linear warm-up, then cosine decay to 10% of the base rate."""
    warm = max(1, int(total * warmup))
    if step < warm:
        return base * (step + 1) / warm
    progress = min(1.0, (step - warm) / max(1, total - warm))
    return base * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


class _Rate:
    """Samples/s and seconds per step over the last steps (pauses and evaluation excluded)."""

    def __init__(self, window: int = 20):
        self.steps: deque[tuple[float, int]] = deque(maxlen=window)

    def add(self, seconds: float, samples: int) -> None:
        self.steps.append((seconds, samples))

    @property
    def samples_per_s(self) -> float:
        t = sum(s for s, _ in self.steps)
        return sum(n for _, n in self.steps) / t if t > 0 else 0.0

    @property
    def step_seconds(self) -> float:
        return sum(s for s, _ in self.steps) / len(self.steps) if self.steps else 0.0


class _OnDevice:
    """An epoch's batches that can restart from a given batch (after a move to another device)."""

    def __init__(self, make, start: int):
        self._make = make
        self._it = iter(make(start))

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._it)

    def restart(self, start: int):
        """Batches again from index `start`, made for the current device; returns the first."""
        self._it = iter(self._make(start))
        return next(self._it)


class _RankContext:
    """The job context as one rank of several sees it: only rank 0 reports, and a cancel
    counts once every rank has agreed on it (`agreed`), so no rank leaves a collective alone."""

    def __init__(self, inner: JobContext, main: bool):
        self._inner = inner
        self._main = main
        self.agreed = False
        self.events_emitted = 0

    def emit(self, event: object) -> None:
        if self._main:
            self._inner.emit(event)

    def progress(self, fraction: float | None, text: str = "") -> None:
        if self._main:
            self._inner.progress(fraction, text)

    def cancel(self) -> None:
        self._inner.cancel()

    @property
    def asked(self) -> bool:
        return self._inner.cancelled

    @property
    def cancelled(self) -> bool:
        return self.agreed

    def check_cancelled(self) -> None:
        if self.agreed:
            raise Cancelled()


def fit(ctx: JobContext, spec: TrainSpec, cfg: TrainConfig, out_dir: Path, *, control: TrainControl | None = None,
        resume: bool = False, data_meta: dict | None = None) -> TrainResult:
    import torch
    import torch.distributed as dist

    owns_group = not (dist.is_available() and dist.is_initialized())
    ranks, device = distributed.setup(cfg.device)
    try:
        return _fit(ctx, spec, cfg, out_dir, control, resume, data_meta, ranks, device, torch)
    finally:
        if ranks.active and owns_group:
            distributed.teardown()


def _fit(ctx, spec, cfg, out_dir, control, resume, data_meta, ranks, device, torch) -> TrainResult:
    control = control or TrainControl()
    out_dir = Path(out_dir)
    t_start = time.perf_counter()
    multi = ranks.active
    per_rank, effective_batch, lr_scale = distributed.batch_plan(spec.batch_size, ranks.world_size)
    base_lr = cfg.lr * lr_scale
    if multi:
        spec.shard(ranks.rank, ranks.world_size)
        ctx = _RankContext(ctx, ranks.main)
        if hasattr(spec, "ctx"):
            spec.ctx = ctx
        if not ranks.main:
            control = TrainControl()  # rank 0 reads the controls; the others follow its decision
    torch.manual_seed(cfg.seed + 1000 * ranks.rank)  # rank 0: the one-process seed; others: their own dropout
    spec.to(device)
    amp_dtype, use_scaler = precision_plan(device, cfg.mixed_precision)
    device_type = device.split(":")[0]
    scaler = torch.amp.GradScaler(device_type, enabled=use_scaler) if use_scaler else None

    def autocast():
        if amp_dtype is None:
            return torch.autocast(device_type, enabled=False)
        return torch.autocast(device_type, dtype=amp_dtype)

    params = list(spec.parameters())
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr)
    spe = spec.steps_per_epoch
    total = cfg.epochs * spe
    history: list[dict] = []
    step = 0
    best = (math.inf, 0)
    bad_epochs = 0
    signature = spec.signature()
    resumed_from = None  # the world size of the run the checkpoint came from

    if resume:
        state = ckpt.load_checkpoint(out_dir, spec.task, signature)
        spec.model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scaler is not None and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        step = int(state["step"])
        old_spe = int(state.get("steps_per_epoch") or spe)
        resumed_from = int(state.get("world_size", 1))
        if old_spe != spe and resumed_from != ranks.world_size and getattr(spec, "train_idx", None) is not None:
            # another world size split the data's epoch into other steps (an uneven batch): the same place in it
            epoch_done, in_epoch = divmod(step, old_spe)
            step = epoch_done * spe + min(spe, round(in_epoch * spe / old_spe))
        history = list(state.get("history", []))
        best = (float(state.get("best_val_loss", math.inf)), int(state.get("best_epoch", 0)))
        bad_epochs = int(state.get("bad_epochs", 0))
        total = max(total, step)
    elif ranks.main:
        ckpt.remove_checkpoints(out_dir)  # a stale best.pt must never end up in this run's model

    raw_model = spec.model
    ddp_model = distributed.wrap(raw_model, device) if multi else None

    def checkpoint(reason: str) -> None:
        if not ranks.main:
            return  # rank 0 alone writes; the weights are the same on every rank
        path = ckpt.save_checkpoint(out_dir, {
            "task": spec.task, "signature": signature, "step": step, "history": history,
            "model": raw_model.state_dict(), "optimizer": optimizer.state_dict(),
            "scaler": scaler.state_dict() if scaler is not None else {},
            "best_val_loss": best[0], "best_epoch": best[1], "bad_epochs": bad_epochs, "config": cfg.to_dict(),
            "world_size": ranks.world_size, "steps_per_epoch": spe,
        })
        ctx.emit(CheckpointSaved(str(path), step, step // spe + (1 if step % spe else 0), reason))
        if reason == "steps":
            share_live(None, None)

    def share_live(val_loss: float | None, val_acc: float | None) -> None:
        """The model as it is now, for the Generate panel's "latest checkpoint" (rank 0 writes it)."""
        live = ckpt.live_dir(out_dir)
        if ranks.main and spec.save_live(live, step):
            ctx.emit(LiveCheckpoint(spec.task, str(live), step, step // spe + (1 if step % spe else 0),
                                    val_loss, val_acc))

    def forward_loss(batch):
        if ddp_model is None:
            return spec.loss(batch)
        spec.model = ddp_model  # the forward through DDP: its backward averages the gradients over the ranks
        try:
            return spec.loss(batch)
        finally:
            spec.model = raw_model

    def train_step(batch) -> tuple[float, int]:
        optimizer.zero_grad(set_to_none=True)
        with autocast():
            loss, n = forward_loss(batch)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
        else:
            loss.backward()
        if cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        return float(loss.detach()), n

    def fall_back_to_cpu() -> None:
        """CUDA out of memory: the same run goes on on the CPU from the step that failed.

        The failed step changed nothing (the optimizer had not stepped), so the weights,
        optimizer state and step count carry over as they are."""
        nonlocal device, device_type, amp_dtype, scaler
        optimizer.zero_grad(set_to_none=True)
        failed = device
        device, device_type, amp_dtype, scaler = "cpu", "cpu", None, None
        spec.to(device)
        for state in optimizer.state.values():
            for key, value in state.items():
                if torch.is_tensor(value):
                    state[key] = value.to(device)
        devices.free_gpu_memory()
        event = DeviceFallback(step, failed, device)
        log.warning(event.message)
        ctx.emit(event)
        ctx.progress(None, event.message)

    def or_on_cpu(run, again):
        """`run()`; if the GPU runs out of memory, move to the CPU and return `again()`."""
        try:
            return run()
        except Exception as exc:
            if device == "cpu" or multi or not devices.is_out_of_memory(exc):
                raise
        # Outside the except block: the error's traceback, which holds GPU tensors, is gone.
        fall_back_to_cpu()
        return again()

    def evaluate():
        with autocast():
            batchnorm.recalibrate(raw_model, spec.calibration_inputs(device),
                                  (lambda ts: distributed.average_tensors(ts, device)) if multi else None)
        with torch.inference_mode():
            if not multi:
                return spec.evaluate(device, autocast)
            total_loss, correct, n = spec.eval_sums(device, autocast)
            total_loss, correct_all, n = distributed.all_reduce(
                [total_loss, 0.0 if correct is None else correct, n], device)  # the whole validation set
            return total_loss / max(1, n), (None if correct is None else correct_all / max(1, n))

    def agree(loss_value: float, n: int) -> tuple[float, int]:
        """One small all-reduce per step: the global loss and samples, and every rank's cancel / pause
        wish, so all ranks take the same decision at the same step."""
        loss_sum, total_n, cancel, pause = distributed.all_reduce(
            [loss_value * n, n, float(ctx.asked or bool(getattr(control, "cancel_requested", False))),
             float(control.paused)], device)
        if cancel:
            ctx.agreed = True
        elif pause:
            wait_paused()
        return loss_sum / max(1, total_n), int(total_n)

    def wait_paused() -> None:
        nonlocal paused_s
        t0 = time.perf_counter()
        ctx.emit(Paused(step))
        while True:
            time.sleep(0.05)
            cancel, pause = distributed.all_reduce(
                [float(ctx.asked or bool(getattr(control, "cancel_requested", False))), float(control.paused)],
                device, op="max")
            if cancel:
                ctx.agreed = True
                break
            if not pause:
                break
        ctx.emit(Resumed(step))
        paused_s += time.perf_counter() - t0

    paused_s = 0.0

    # A resumed run whose last epoch finished training but not evaluation evaluates it first.
    start_epoch, start_batch = divmod(step, spe)
    if step and start_batch == 0 and len(history) < start_epoch:
        start_epoch, start_batch = start_epoch - 1, spe
    ctx.emit(RunStarted(spec.task, str(out_dir), device, cfg.epochs, spe, total, step,
                        str(amp_dtype).replace("torch.", "") if amp_dtype is not None else None,
                        world_size=ranks.world_size, rank=ranks.rank, batch_size=spec.batch_size,
                        per_rank_batch_size=per_rank, effective_batch_size=effective_batch, lr=base_lr,
                        lr_scale=lr_scale, backend=("nccl" if device.startswith("cuda") else "gloo") if multi else None,
                        resumed_world_size=resumed_from))
    rate = _Rate()
    last_emit = 0.0
    eval_seconds = 0.0
    stopped_early = False
    last_checkpoint_step = step
    epoch = start_epoch
    try:
        for epoch in range(start_epoch, cfg.epochs):
            spec.train_mode()
            losses: list[float] = []
            batch_start = start_batch if epoch == start_epoch else 0
            batches = _OnDevice(lambda start, e=epoch: spec.batches(e, start, device), batch_start)
            t_step = time.perf_counter()
            for batch in batches:
                ctx.check_cancelled()
                paused = 0.0 if multi else control.wait(ctx, step)  # several ranks: `agree` after each step
                if paused:
                    ctx.check_cancelled()  # cancelled while paused: no extra step
                t_step += paused
                lr = lr_at(step, total, base_lr, cfg.warmup)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                value, n = or_on_cpu(lambda: train_step(batch),
                                     lambda: train_step(batches.restart(step - epoch * spe)))
                if multi:
                    paused_s = 0.0
                    value, n = agree(value, n)
                    t_step += paused_s
                step += 1
                losses.append(value)
                now = time.perf_counter()
                rate.add(now - t_step, n)
                t_step = now
                left_steps = total - step
                left_evals = cfg.epochs - epoch  # this epoch's evaluation too
                per_eval = eval_seconds / max(1, len(history)) if history else rate.step_seconds * spe * 0.2
                if cfg.event_interval <= 0 or now - last_emit >= cfg.event_interval or step % spe == 0:
                    last_emit = now
                    ctx.emit(StepEvent(step, epoch + 1, value, lr, rate.samples_per_s,
                                       left_steps * rate.step_seconds + left_evals * per_eval, total))
                    ctx.progress(step / total, f"Training: epoch {epoch + 1}/{cfg.epochs}, step {step}/{total}")
                if multi:
                    ctx.check_cancelled()  # the cancel every rank agreed on, after the step it came with
                if cfg.checkpoint_every and step - last_checkpoint_step >= cfg.checkpoint_every and step % spe:
                    checkpoint("steps")
                    last_checkpoint_step = step
                    t_step = time.perf_counter()
            ctx.check_cancelled()
            t_eval = time.perf_counter()
            ctx.progress(step / total, f"Evaluating epoch {epoch + 1}/{cfg.epochs}")
            spec.model.eval()
            val_loss, val_acc = or_on_cpu(evaluate, evaluate)
            if not losses and history:  # the epoch's training ran before a resume
                train_loss = history[-1]["train_loss"] if len(history) == epoch + 1 else float("nan")
            else:
                train_loss = sum(losses) / len(losses) if losses else float("nan")
            record = {"epoch": epoch + 1, "step": step, "train_loss": train_loss, "val_loss": val_loss,
                      "val_accuracy": val_acc, "lr": optimizer.param_groups[0]["lr"]}
            history.append(record)
            ctx.emit(EpochEvent(epoch + 1, step, train_loss, val_loss, val_acc))
            share_live(val_loss, val_acc)
            eval_seconds += time.perf_counter() - t_eval
            if val_loss < best[0] - 1e-6:
                best = (val_loss, epoch + 1)
                bad_epochs = 0
                if ranks.main:
                    ckpt.save_state(ckpt.checkpoint_dir(out_dir) / ckpt.BEST_FILE,
                                    {"model": raw_model.state_dict(), "epoch": epoch + 1})
            else:
                bad_epochs += 1
            checkpoint("epoch")
            last_checkpoint_step = step
            if cfg.patience and bad_epochs >= cfg.patience and epoch + 1 < cfg.epochs:
                ctx.emit(EarlyStopped(epoch + 1, best[1], best[0]))
                stopped_early = True
                break
    except Cancelled:
        if step > last_checkpoint_step:
            checkpoint("cancel")
        if multi:
            distributed.barrier(device)  # no rank leaves before rank 0's checkpoint is whole
        raise

    parallel = {"world_size": ranks.world_size, "per_device_batch_size": per_rank,
                "effective_batch_size": effective_batch, "lr_scale": lr_scale}
    if not ranks.main:  # rank 0 alone writes the model
        best_record = next((h for h in history if h["epoch"] == best[1]), history[-1] if history else {})
        return TrainResult(str(out_dir), spec.task, history, best_record.get("val_accuracy"),
                           best_record.get("val_loss"), stopped_early)

    # The final model: the weights of the best validation epoch.
    best_file = ckpt.checkpoint_dir(out_dir) / ckpt.BEST_FILE
    best_record = history[-1] if history else {}
    if best_file.is_file() and best[1] and best[1] != (history[-1]["epoch"] if history else 0):
        spec.model.load_state_dict(ckpt.load_state(best_file)["model"])
        best_record = next((h for h in history if h["epoch"] == best[1]), best_record)
    ctx.progress(None, f"Saving the model to {out_dir}")
    spec.model.eval()
    tmp = ckpt.staging_dir(out_dir)
    try:
        spec.save(tmp)
        metrics = {k: best_record[k] for k in ("val_loss", "val_accuracy", "train_loss")
                   if best_record.get(k) is not None}
        meta = spec.marker() | {
            "name": cfg.name or out_dir.name, "metrics": metrics, "epochs": len(history), "best_epoch": best[1],
            "steps": step, "batch_size": spec.batch_size, "lr": cfg.lr, "device": device,
            "stopped_early": stopped_early, "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "seconds": round(time.perf_counter() - t_start, 1),  # this session's wall time (a resume: since it)
            "val_share": cfg.val_share, "seed": cfg.seed,  # evaluation and export rebuild this run's split
        } | parallel | (data_meta or {})
        ckpt.write_card(tmp, meta, history)
        ckpt.write_marker(tmp, meta)  # last: a folder without it is never listed
        ckpt.install(tmp, out_dir)
    except BaseException:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
        raise
    ckpt.remove_checkpoints(out_dir)
    val_acc = best_record.get("val_accuracy")
    val_loss = best_record.get("val_loss")
    ctx.progress(1.0, f"Saved {meta['name']}")
    ctx.emit(DoneEvent(str(out_dir), spec.task, meta["name"], val_acc, val_loss, len(history), step,
                       time.perf_counter() - t_start, world_size=ranks.world_size))
    return TrainResult(str(out_dir), spec.task, history, val_acc, val_loss, stopped_early)
