"""Events a training job emits: the GUI plots them, the CLI prints them as JSON lines.

All are plain dataclasses with a `type` string used in the JSON form.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class TrainEvent:
    def to_dict(self) -> dict:
        return {"type": self.type} | asdict(self)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class DataReport(TrainEvent):
    """What the data checks found, before training starts."""

    kind: str  # "image" | "text" | "charlm" | "sound" | "lm"
    source: str
    n_train: int
    n_val: int
    labels: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    skipped: int = 0  # non-image / unreadable files or empty rows left out
    warnings: list[str] = field(default_factory=list)
    type: str = "data"


@dataclass(frozen=True)
class RunStarted(TrainEvent):
    task: str
    out_dir: str
    device: str
    epochs: int
    steps_per_epoch: int
    total_steps: int
    start_step: int  # > 0 when resumed from a checkpoint
    mixed_precision: str | None = None  # "float16" / "bfloat16" on a GPU
    world_size: int = 1  # processes training together (data parallel)
    rank: int = 0  # the process that reports (always rank 0)
    batch_size: int = 0  # the batch size asked for (all processes together)
    per_rank_batch_size: int = 0  # examples each process takes of every batch
    effective_batch_size: int = 0  # per_rank_batch_size * world_size
    lr: float | None = None  # the peak learning rate used (the one asked, times lr_scale)
    lr_scale: float = 1.0  # effective / asked batch size (1.0 when the processes split the batch evenly)
    backend: str | None = None  # "gloo" (CPU) or "nccl" (GPUs) with several processes
    resumed_world_size: int | None = None  # the processes of the run the checkpoint came from
    type: str = "start"


@dataclass(frozen=True)
class StepEvent(TrainEvent):
    step: int  # global step, 1-based
    epoch: int  # 1-based
    loss: float
    lr: float
    samples_per_s: float
    time_left_s: float | None = None
    total_steps: int = 0
    type: str = "step"


@dataclass(frozen=True)
class EpochEvent(TrainEvent):
    epoch: int
    step: int
    train_loss: float
    val_loss: float
    val_accuracy: float | None = None
    type: str = "epoch"


@dataclass(frozen=True)
class CheckpointSaved(TrainEvent):
    path: str
    step: int
    epoch: int
    reason: str = "epoch"  # "epoch" | "steps" | "cancel"
    type: str = "checkpoint"


@dataclass(frozen=True)
class LiveCheckpoint(TrainEvent):
    """The run's model as it is at `step` can be tried now: `path` is the live folder that the
    Generate panel lists as the running job's "latest checkpoint" (its newest step is loaded)."""

    task: str
    path: str
    step: int
    epoch: int
    val_loss: float | None = None
    val_accuracy: float | None = None
    type: str = "live_checkpoint"


@dataclass(frozen=True)
class DeviceFallback(TrainEvent):
    """The GPU ran out of memory: training goes on from the same step on another device."""

    step: int
    from_device: str
    to_device: str
    type: str = "device_fallback"

    @property
    def message(self) -> str:
        return (f"Out of GPU memory at step {self.step}: training continues on the "
                f"{self.to_device.upper()} (slower, same results).")


@dataclass(frozen=True)
class Paused(TrainEvent):
    step: int
    type: str = "paused"


@dataclass(frozen=True)
class Resumed(TrainEvent):
    step: int
    type: str = "resumed"


@dataclass(frozen=True)
class EarlyStopped(TrainEvent):
    epoch: int
    best_epoch: int
    best_val_loss: float
    type: str = "early_stop"


@dataclass(frozen=True)
class DoneEvent(TrainEvent):
    """The final model is saved; the model pickers can refresh."""

    model_dir: str
    task: str
    name: str
    val_accuracy: float | None = None
    loss: float | None = None  # charlm: the final validation loss
    epochs: int = 0
    steps: int = 0
    seconds: float = 0.0
    world_size: int = 1
    type: str = "done"

    def to_dict(self) -> dict:
        data = super().to_dict()
        if self.task == "text-generation":
            data.pop("val_accuracy", None)
        else:
            data.pop("loss", None)
        return data


@dataclass(frozen=True)
class TrainResult:
    """The job's return value."""

    model_dir: str
    task: str
    history: list[dict]
    val_accuracy: float | None
    val_loss: float | None
    stopped_early: bool = False
