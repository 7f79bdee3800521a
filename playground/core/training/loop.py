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
    run = _Run(ctx, spec, cfg, out_dir, control or TrainControl(), ranks, device, torch)
    if resume:
        run.restore_checkpoint()
    elif ranks.main:
        ckpt.remove_checkpoints(run.out_dir)  # a stale best.pt must never end up in this run's model
    run.wrap_for_ranks()
    run.train_epochs(*run.announce())
    if not ranks.main:  # rank 0 alone writes the model
        return run.rank_result()
    return run.save_model(data_meta)


class _Run:
    """One training run: its state (step, history, best epoch, device ...) and the steps `_fit` takes.

    Under several ranks, `ctx` is this rank's `_RankContext` and `ddp_model` the DDP wrapper the
    forward goes through; `raw_model` is the model itself (what is saved and evaluated)."""

    def __init__(self, ctx, spec: TrainSpec, cfg: TrainConfig, out_dir, control: TrainControl, ranks, device: str,
                 torch):
        self.t_start = time.perf_counter()
        self.torch, self.spec, self.cfg, self.out_dir = torch, spec, cfg, Path(out_dir)
        self.ctx, self.control, self.ranks = ctx, control, ranks
        self.multi = ranks.active
        self.per_rank, self.effective_batch, self.lr_scale = distributed.batch_plan(spec.batch_size, ranks.world_size)
        self.base_lr = cfg.lr * self.lr_scale
        if self.multi:
            self._join_ranks()
        torch.manual_seed(cfg.seed + 1000 * ranks.rank)  # rank 0: the one-process seed; others: their own dropout
        self.device = device
        spec.to(device)
        self.amp_dtype, use_scaler = precision_plan(device, cfg.mixed_precision)
        self.device_type = device.split(":")[0]
        self.scaler = torch.amp.GradScaler(self.device_type, enabled=use_scaler) if use_scaler else None
        self.params = list(spec.parameters())
        self.optimizer = self._make_optimizer()
        self.spe = spec.steps_per_epoch
        self.total = cfg.epochs * self.spe
        self.history: list[dict] = []
        self.step = 0
        self.best = (math.inf, 0)  # (validation loss, epoch)
        self.bad_epochs = 0
        self.signature = spec.signature()
        self.resumed_from: int | None = None  # the world size of the run the checkpoint came from
        self.raw_model = spec.model
        self.ddp_model = None
        self.paused_s = 0.0  # seconds paused during the last `agree` (several ranks)
        self.rate = _Rate()
        self.last_emit = 0.0
        self.eval_seconds = 0.0
        self.stopped_early = False
        self.last_checkpoint_step = 0

    # -- setting up -------------------------------------------------------------------------------

    def _join_ranks(self) -> None:
        """Train this rank's shard; only rank 0 reports and reads the controls, the others follow it."""
        self.spec.shard(self.ranks.rank, self.ranks.world_size)
        self.ctx = _RankContext(self.ctx, self.ranks.main)
        if hasattr(self.spec, "ctx"):
            self.spec.ctx = self.ctx
        if not self.ranks.main:
            self.control = TrainControl()  # rank 0 reads the controls; the others follow its decision

    def _make_optimizer(self):
        """AdamW with weight decay on the matrices only (not on biases and norms)."""
        decay = [p for p in self.params if p.ndim >= 2]
        no_decay = [p for p in self.params if p.ndim < 2]
        return self.torch.optim.AdamW([{"params": decay, "weight_decay": self.cfg.weight_decay},
                                       {"params": no_decay, "weight_decay": 0.0}], lr=self.cfg.lr)

    def restore_checkpoint(self) -> None:
        """Go on from the run's checkpoint: weights, optimizer, step, history, best epoch."""
        state = ckpt.load_checkpoint(self.out_dir, self.spec.task, self.signature)
        self.spec.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        spe = self.spe
        step = int(state["step"])
        old_spe = int(state.get("steps_per_epoch") or spe)
        self.resumed_from = int(state.get("world_size", 1))
        if (old_spe != spe and self.resumed_from != self.ranks.world_size
                and getattr(self.spec, "train_idx", None) is not None):
            # another world size split the data's epoch into other steps (an uneven batch): the same place in it
            epoch_done, in_epoch = divmod(step, old_spe)
            step = epoch_done * spe + min(spe, round(in_epoch * spe / old_spe))
        self.step = step
        self.history = list(state.get("history", []))
        self.best = (float(state.get("best_val_loss", math.inf)), int(state.get("best_epoch", 0)))
        self.bad_epochs = int(state.get("bad_epochs", 0))
        self.total = max(self.total, step)

    def wrap_for_ranks(self) -> None:
        self.raw_model = self.spec.model
        self.ddp_model = distributed.wrap(self.raw_model, self.device) if self.multi else None

    def announce(self) -> tuple[int, int]:
        """Emit RunStarted; returns where training starts: (epoch, batch in it).

        A resumed run whose last epoch finished training but not evaluation evaluates it first."""
        start_epoch, start_batch = divmod(self.step, self.spe)
        if self.step and start_batch == 0 and len(self.history) < start_epoch:
            start_epoch, start_batch = start_epoch - 1, self.spe
        cfg, ranks, device = self.cfg, self.ranks, self.device
        self.ctx.emit(RunStarted(
            self.spec.task, str(self.out_dir), device, cfg.epochs, self.spe, self.total, self.step,
            str(self.amp_dtype).replace("torch.", "") if self.amp_dtype is not None else None,
            world_size=ranks.world_size, rank=ranks.rank, batch_size=self.spec.batch_size,
            per_rank_batch_size=self.per_rank, effective_batch_size=self.effective_batch, lr=self.base_lr,
            lr_scale=self.lr_scale, backend=("nccl" if device.startswith("cuda") else "gloo") if self.multi else None,
            resumed_world_size=self.resumed_from))
        self.last_checkpoint_step = self.step
        return start_epoch, start_batch

    # -- one step ---------------------------------------------------------------------------------

    def autocast(self):
        if self.amp_dtype is None:
            return self.torch.autocast(self.device_type, enabled=False)
        return self.torch.autocast(self.device_type, dtype=self.amp_dtype)

    def _forward_loss(self, batch):
        if self.ddp_model is None:
            return self.spec.loss(batch)
        self.spec.model = self.ddp_model  # the forward through DDP: its backward averages the gradients over the ranks
        try:
            return self.spec.loss(batch)
        finally:
            self.spec.model = self.raw_model

    def _train_step(self, batch) -> tuple[float, int]:
        optimizer, scaler = self.optimizer, self.scaler
        optimizer.zero_grad(set_to_none=True)
        with self.autocast():
            loss, n = self._forward_loss(batch)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
        else:
            loss.backward()
        if self.cfg.grad_clip:
            self.torch.nn.utils.clip_grad_norm_(self.params, self.cfg.grad_clip)
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        return float(loss.detach()), n

    def _fall_back_to_cpu(self) -> None:
        """CUDA out of memory: the same run goes on on the CPU from the step that failed.

        The failed step changed nothing (the optimizer had not stepped), so the weights,
        optimizer state and step count carry over as they are."""
        self.optimizer.zero_grad(set_to_none=True)
        failed = self.device
        self.device, self.device_type, self.amp_dtype, self.scaler = "cpu", "cpu", None, None
        self.spec.to(self.device)
        for state in self.optimizer.state.values():
            for key, value in state.items():
                if self.torch.is_tensor(value):
                    state[key] = value.to(self.device)
        devices.free_gpu_memory()
        event = DeviceFallback(self.step, failed, self.device)
        log.warning(event.message)
        self.ctx.emit(event)
        self.ctx.progress(None, event.message)

    def _or_on_cpu(self, run, again):
        """`run()`; if the GPU runs out of memory, move to the CPU and return `again()`."""
        try:
            return run()
        except Exception as exc:
            if self.device == "cpu" or self.multi or not devices.is_out_of_memory(exc):
                raise
        # Outside the except block: the error's traceback, which holds GPU tensors, is gone.
        self._fall_back_to_cpu()
        return again()

    def _set_lr(self) -> float:
        lr = lr_at(self.step, self.total, self.base_lr, self.cfg.warmup)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        return lr

    # -- several ranks: one decision for all ------------------------------------------------------

    def _asked_to_stop(self) -> float:
        return float(self.ctx.asked or bool(getattr(self.control, "cancel_requested", False)))

    def _agree(self, loss_value: float, n: int) -> tuple[float, int]:
        """One small all-reduce per step: the global loss and samples, and every rank's cancel / pause
        wish, so all ranks take the same decision at the same step."""
        loss_sum, total_n, cancel, pause = distributed.all_reduce(
            [loss_value * n, n, self._asked_to_stop(), float(self.control.paused)], self.device)
        if cancel:
            self.ctx.agreed = True
        elif pause:
            self._wait_paused_together()
        return loss_sum / max(1, total_n), int(total_n)

    def _wait_paused_together(self) -> None:
        t0 = time.perf_counter()
        self.ctx.emit(Paused(self.step))
        while True:
            time.sleep(0.05)
            cancel, pause = distributed.all_reduce([self._asked_to_stop(), float(self.control.paused)],
                                                   self.device, op="max")
            if cancel:
                self.ctx.agreed = True
                break
            if not pause:
                break
        self.ctx.emit(Resumed(self.step))
        self.paused_s += time.perf_counter() - t0

    # -- epochs -----------------------------------------------------------------------------------

    def train_epochs(self, start_epoch: int, start_batch: int) -> None:
        """Train and evaluate epoch after epoch until the last, an early stop or a cancel
        (which checkpoints first, then lets every rank leave together)."""
        try:
            for epoch in range(start_epoch, self.cfg.epochs):
                self.spec.train_mode()
                losses = self._train_epoch(epoch, start_batch if epoch == start_epoch else 0)
                self.ctx.check_cancelled()
                if self._end_epoch(epoch, losses):
                    break
        except Cancelled:
            if self.step > self.last_checkpoint_step:
                self.checkpoint("cancel")
            if self.multi:
                distributed.barrier(self.device)  # no rank leaves before rank 0's checkpoint is whole
            raise

    def _train_epoch(self, epoch: int, batch_start: int) -> list[float]:
        """The epoch's training steps from batch `batch_start`; their losses."""
        ctx, cfg = self.ctx, self.cfg
        losses: list[float] = []
        batches = _OnDevice(lambda start, e=epoch: self.spec.batches(e, start, self.device), batch_start)
        t_step = time.perf_counter()
        for batch in batches:
            ctx.check_cancelled()
            paused = 0.0 if self.multi else self.control.wait(ctx, self.step)  # several ranks: `_agree` after each step
            if paused:
                ctx.check_cancelled()  # cancelled while paused: no extra step
            t_step += paused
            lr = self._set_lr()
            value, n = self._or_on_cpu(lambda: self._train_step(batch),
                                       lambda: self._train_step(batches.restart(self.step - epoch * self.spe)))
            if self.multi:
                self.paused_s = 0.0
                value, n = self._agree(value, n)
                t_step += self.paused_s
            self.step += 1
            losses.append(value)
            now = time.perf_counter()
            self.rate.add(now - t_step, n)
            t_step = now
            self._report_step(epoch, value, lr, now)
            if self.multi:
                ctx.check_cancelled()  # the cancel every rank agreed on, after the step it came with
            if cfg.checkpoint_every and self.step - self.last_checkpoint_step >= cfg.checkpoint_every \
                    and self.step % self.spe:
                self.checkpoint("steps")
                self.last_checkpoint_step = self.step
                t_step = time.perf_counter()
        return losses

    def _report_step(self, epoch: int, loss: float, lr: float, now: float) -> None:
        """A StepEvent with samples/s and the time left (at most every `event_interval` seconds, and
        always at an epoch's last step)."""
        cfg, step, spe, rate = self.cfg, self.step, self.spe, self.rate
        left_steps = self.total - step
        left_evals = cfg.epochs - epoch  # this epoch's evaluation too
        per_eval = self.eval_seconds / max(1, len(self.history)) if self.history else rate.step_seconds * spe * 0.2
        if cfg.event_interval <= 0 or now - self.last_emit >= cfg.event_interval or step % spe == 0:
            self.last_emit = now
            self.ctx.emit(StepEvent(step, epoch + 1, loss, lr, rate.samples_per_s,
                                    left_steps * rate.step_seconds + left_evals * per_eval, self.total))
            self.ctx.progress(step / self.total, f"Training: epoch {epoch + 1}/{cfg.epochs}, step {step}/{self.total}")

    def _evaluate(self):
        """(validation loss, accuracy or None) over the whole validation set, BatchNorm recalibrated first."""
        torch, multi, device = self.torch, self.multi, self.device
        with self.autocast():
            batchnorm.recalibrate(self.raw_model, self.spec.calibration_inputs(device),
                                  (lambda ts: distributed.average_tensors(ts, device)) if multi else None)
        with torch.inference_mode():
            if not multi:
                return self.spec.evaluate(device, self.autocast)
            total_loss, correct, n = self.spec.eval_sums(device, self.autocast)
            total_loss, correct_all, n = distributed.all_reduce(
                [total_loss, 0.0 if correct is None else correct, n], device)  # the whole validation set
            return total_loss / max(1, n), (None if correct is None else correct_all / max(1, n))

    def _end_epoch(self, epoch: int, losses: list[float]) -> bool:
        """Evaluate the epoch, record it, keep the best weights, checkpoint; True: stop early."""
        cfg, history = self.cfg, self.history
        t_eval = time.perf_counter()
        self.ctx.progress(self.step / self.total, f"Evaluating epoch {epoch + 1}/{cfg.epochs}")
        self.spec.model.eval()
        val_loss, val_acc = self._or_on_cpu(self._evaluate, self._evaluate)
        if not losses and history:  # the epoch's training ran before a resume
            train_loss = history[-1]["train_loss"] if len(history) == epoch + 1 else float("nan")
        else:
            train_loss = sum(losses) / len(losses) if losses else float("nan")
        history.append({"epoch": epoch + 1, "step": self.step, "train_loss": train_loss, "val_loss": val_loss,
                        "val_accuracy": val_acc, "lr": self.optimizer.param_groups[0]["lr"]})
        self.ctx.emit(EpochEvent(epoch + 1, self.step, train_loss, val_loss, val_acc))
        self.share_live(val_loss, val_acc)
        self.eval_seconds += time.perf_counter() - t_eval
        if val_loss < self.best[0] - 1e-6:
            self.best = (val_loss, epoch + 1)
            self.bad_epochs = 0
            if self.ranks.main:
                ckpt.save_state(ckpt.checkpoint_dir(self.out_dir) / ckpt.BEST_FILE,
                                {"model": self.raw_model.state_dict(), "epoch": epoch + 1})
        else:
            self.bad_epochs += 1
        self.checkpoint("epoch")
        self.last_checkpoint_step = self.step
        if cfg.patience and self.bad_epochs >= cfg.patience and epoch + 1 < cfg.epochs:
            self.ctx.emit(EarlyStopped(epoch + 1, self.best[1], self.best[0]))
            self.stopped_early = True
            return True
        return False

    # -- checkpoints and the saved model ----------------------------------------------------------

    def _epoch_of_step(self) -> int:
        return self.step // self.spe + (1 if self.step % self.spe else 0)

    def checkpoint(self, reason: str) -> None:
        if not self.ranks.main:
            return  # rank 0 alone writes; the weights are the same on every rank
        path = ckpt.save_checkpoint(self.out_dir, {
            "task": self.spec.task, "signature": self.signature, "step": self.step, "history": self.history,
            "model": self.raw_model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler is not None else {},
            "best_val_loss": self.best[0], "best_epoch": self.best[1], "bad_epochs": self.bad_epochs,
            "config": self.cfg.to_dict(), "world_size": self.ranks.world_size, "steps_per_epoch": self.spe,
        })
        self.ctx.emit(CheckpointSaved(str(path), self.step, self._epoch_of_step(), reason))
        if reason == "steps":
            self.share_live(None, None)

    def share_live(self, val_loss: float | None, val_acc: float | None) -> None:
        """The model as it is now, for the Generate panel's "latest checkpoint" (rank 0 writes it)."""
        live = ckpt.live_dir(self.out_dir)
        if self.ranks.main and self.spec.save_live(live, self.step):
            self.ctx.emit(LiveCheckpoint(self.spec.task, str(live), self.step, self._epoch_of_step(),
                                         val_loss, val_acc))

    def _best_record(self) -> dict:
        return next((h for h in self.history if h["epoch"] == self.best[1]), self.history[-1] if self.history else {})

    def rank_result(self) -> TrainResult:
        """What a rank other than 0 returns: the run's outcome, nothing written."""
        best_record = self._best_record()
        return TrainResult(str(self.out_dir), self.spec.task, self.history, best_record.get("val_accuracy"),
                           best_record.get("val_loss"), self.stopped_early)

    def save_model(self, data_meta: dict | None) -> TrainResult:
        """The final model (the weights of the best validation epoch), its card and marker, installed
        atomically into the output folder; the checkpoints are removed."""
        spec, cfg, out_dir, history, best = self.spec, self.cfg, self.out_dir, self.history, self.best
        best_file = ckpt.checkpoint_dir(out_dir) / ckpt.BEST_FILE
        best_record = history[-1] if history else {}
        if best_file.is_file() and best[1] and best[1] != (history[-1]["epoch"] if history else 0):
            spec.model.load_state_dict(ckpt.load_state(best_file)["model"])
            best_record = next((h for h in history if h["epoch"] == best[1]), best_record)
        self.ctx.progress(None, f"Saving the model to {out_dir}")
        spec.model.eval()
        parallel = {"world_size": self.ranks.world_size, "per_device_batch_size": self.per_rank,
                    "effective_batch_size": self.effective_batch, "lr_scale": self.lr_scale}
        tmp = ckpt.staging_dir(out_dir)
        try:
            spec.save(tmp)
            metrics = {k: best_record[k] for k in ("val_loss", "val_accuracy", "train_loss")
                       if best_record.get(k) is not None}
            meta = spec.marker() | {
                "name": cfg.name or out_dir.name, "metrics": metrics, "epochs": len(history), "best_epoch": best[1],
                "steps": self.step, "batch_size": spec.batch_size, "lr": cfg.lr, "device": self.device,
                "stopped_early": self.stopped_early, "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
                # this session's wall time (a resume: since it)
                "seconds": round(time.perf_counter() - self.t_start, 1),
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
        self.ctx.progress(1.0, f"Saved {meta['name']}")
        self.ctx.emit(DoneEvent(str(out_dir), spec.task, meta["name"], val_acc, val_loss, len(history), self.step,
                                time.perf_counter() - self.t_start, world_size=self.ranks.world_size))
        return TrainResult(str(out_dir), spec.task, history, val_acc, val_loss, self.stopped_early)
