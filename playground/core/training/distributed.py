"""Data-parallel training: one process per device, started by `torchrun` (or `accelerate launch`).

A job started under a launcher finds the usual environment (`RANK`, `LOCAL_RANK`,
`WORLD_SIZE`, `MASTER_ADDR`, `MASTER_PORT`); `setup` joins the process group
(NCCL on GPUs, gloo on the CPU), picks this rank's device (`cuda:LOCAL_RANK` or the
CPU) and `fit` wraps the model in torch's `DistributedDataParallel`. Nothing here
spawns processes or sums tensors by hand: the launcher is `torch.distributed.run`,
the gradient all-reduce is DDP's, and the few small collectives (validation sums,
the cancel/pause decision) are `torch.distributed.all_reduce`.

The global batch stays the batch size the user asked for: each of the N ranks takes
ceil(batch / N) examples of it (a `DistributedSampler` over the training examples, its
shuffle re-seeded every epoch with `set_epoch`), so a step means the same thing at every
world size: the learning-rate schedule, the step count and a checkpoint's position carry
over from 2 processes to 1 and back. When N does not divide the batch size the effective
batch is ceil(batch / N) * N and the learning rate is scaled linearly by effective / asked;
both are reported in the start event and the model card.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from playground.core import devices
from playground.core.errors import DeviceError
from playground.core.wording import plural

EXIT_CANCELLED = 130  # a rank that stopped because the run was cancelled (not a failure)


@dataclass(frozen=True)
class Ranks:
    """This process's place in the run (rank 0 of 1 outside a launcher)."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    local_world_size: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1


def from_env(environ=None) -> Ranks:
    env = os.environ if environ is None else environ
    try:
        world = int(env.get("WORLD_SIZE", "1") or 1)
        rank = int(env.get("RANK", "0") or 0)
        local = int(env.get("LOCAL_RANK", str(rank)) or 0)
        local_world = int(env.get("LOCAL_WORLD_SIZE", str(world)) or world)
    except ValueError:
        return Ranks()
    return Ranks(rank, local, world, local_world)


def batch_plan(batch_size: int, world_size: int) -> tuple[int, int, float]:
    """(per-rank batch, effective global batch, learning-rate scale) for `world_size` ranks."""
    per_rank = max(1, math.ceil(batch_size / max(1, world_size)))
    effective = per_rank * max(1, world_size)
    return per_rank, effective, effective / batch_size


def rank_order(n: int, epoch: int, seed: int, rank: int = 0, world_size: int = 1) -> list[int]:
    """This rank's positions in 0..n-1 for `epoch`: a DistributedSampler shuffled by `set_epoch`.

    With one rank it is `randperm(n)` seeded `seed + epoch`; with N ranks rank r gets every
    N-th position of that same permutation (padded to a multiple of N)."""
    from torch.utils.data import DistributedSampler

    sampler = DistributedSampler(range(n), num_replicas=world_size, rank=rank, shuffle=True, seed=seed,
                                 drop_last=False)
    sampler.set_epoch(epoch)
    return list(sampler)


def rank_steps(n: int, batch_size: int, world_size: int) -> int:
    """Steps per epoch over `n` examples with a global batch of `batch_size` on `world_size` ranks."""
    per_rank, _, _ = batch_plan(batch_size, world_size)
    return max(1, math.ceil(math.ceil(n / max(1, world_size)) / per_rank))


def shard(items: list, rank: int, world_size: int) -> list:
    """Every `world_size`-th item from `rank`: this rank's share of the validation set (no padding)."""
    return list(items[rank::world_size])


def rank_device(preference: str | None, ranks: Ranks) -> str:
    """`cuda:LOCAL_RANK` when the preferred device is a CUDA GPU, else the CPU (gloo)."""
    chosen = devices.choose_device(preference)
    if not chosen.startswith("cuda"):
        return "cpu"  # MPS has no collective backend: its ranks run on the CPU
    import torch

    count = torch.cuda.device_count()
    if ranks.local_rank >= count:
        raise DeviceError(f"Rank {ranks.rank} is local process {ranks.local_rank + 1} on this machine, which has "
                          f"only {plural(count, 'GPU')}: start at most {plural(count, 'process', 'processes')} per machine, or train on the CPU.")
    return f"cuda:{ranks.local_rank}"


def setup(preference: str | None = None) -> tuple[Ranks, str]:
    """(ranks, device); joins the process group first when started by a launcher."""
    ranks = from_env()
    if not ranks.active:
        return ranks, devices.choose_device(preference)
    import datetime

    import torch
    import torch.distributed as dist

    device = rank_device(preference, ranks)
    if device.startswith("cuda"):
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        timeout = datetime.timedelta(seconds=float(os.environ.get("PLAYGROUND_DIST_TIMEOUT", "600")))
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo", timeout=timeout)
    return ranks, device


def collective_device(device: str) -> str:
    return device if device.startswith("cuda") else "cpu"


def all_reduce(values: list[float], device: str, op: str = "sum") -> list[float]:
    """The element-wise sum (or max) of `values` over every rank."""
    import torch
    import torch.distributed as dist

    t = torch.tensor(values, dtype=torch.float64, device=collective_device(device))
    dist.all_reduce(t, op=dist.ReduceOp.MAX if op == "max" else dist.ReduceOp.SUM)
    return t.tolist()


def average_tensors(tensors: list, device: str) -> None:
    """Each tensor (in place) replaced by its mean over the ranks."""
    import torch
    import torch.distributed as dist

    if not tensors:
        return
    flat = torch.cat([t.detach().reshape(-1).to(collective_device(device), torch.float64) for t in tensors])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= dist.get_world_size()
    offset = 0
    for t in tensors:
        n = t.numel()
        t.copy_(flat[offset:offset + n].view_as(t).to(t.device, t.dtype))
        offset += n


def barrier(device: str) -> None:
    import torch.distributed as dist

    if dist.is_initialized():
        all_reduce([0.0], device)  # a barrier that works the same on gloo and NCCL


def teardown() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def wrap(model, device: str):
    """The model in DistributedDataParallel (its gradients are averaged over the ranks in backward)."""
    from torch.nn.parallel import DistributedDataParallel

    if device.startswith("cuda"):
        return DistributedDataParallel(model, device_ids=[int(device.split(":")[1])])
    return DistributedDataParallel(model)


class FileControl:
    """Pause / resume / cancel from a small control file (a run in another process: the Train tab).

    The file holds one word, `run`, `pause` or `cancel`; it is read at most every 0.1 s.
    Rank 0 reads it; the loop then makes every rank follow the same decision."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._state = "run"
        self._mtime = None
        self._checked = 0.0

    def _read(self) -> str:
        import time

        now = time.monotonic()
        if now - self._checked >= 0.1:
            self._checked = now
            try:
                mtime = self.path.stat().st_mtime_ns
                if mtime != self._mtime:
                    self._mtime = mtime
                    self._state = self.path.read_text(encoding="utf-8").strip().lower() or "run"
            except OSError:
                pass
        return self._state

    @property
    def paused(self) -> bool:
        return self._read() == "pause"

    @property
    def cancel_requested(self) -> bool:
        return self._read() == "cancel"

    def pause(self) -> None:
        write_control(self.path, "pause")

    def resume(self) -> None:
        write_control(self.path, "run")

    def wait(self, ctx, step: int) -> float:
        """One process, no launcher: the same contract as TrainControl.wait."""
        import time

        from playground.core.training.events import Paused, Resumed

        if self.cancel_requested:
            ctx.cancel()
        if not self.paused:
            return 0.0
        t0 = time.perf_counter()
        ctx.emit(Paused(step))
        while self.paused and not self.cancel_requested:
            ctx.check_cancelled()
            time.sleep(0.05)
        if self.cancel_requested:
            ctx.cancel()
        ctx.emit(Resumed(step))
        return time.perf_counter() - t0


def write_control(path: str | Path, word: str) -> None:
    from playground.core.atomic import write_text

    write_text(Path(path), word + "\n")


def local_slots(preference: str | None = None) -> int:
    """How many processes make sense on this machine: its NVIDIA GPUs, else its CPU cores.

    Found without importing torch (the Train tab asks at start-up): the driver's GPU list,
    narrowed by CUDA_VISIBLE_DEVICES."""
    pref = (preference or devices.get_preference() or "auto").lower()
    cores = os.cpu_count() or 1
    if pref in ("cpu", "mps"):
        return cores
    gpus = 0
    try:
        gpus = len(os.listdir("/proc/driver/nvidia/gpus"))
    except OSError:
        gpus = 0
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if gpus and visible is not None:
        gpus = min(gpus, len([v for v in visible.split(",") if v.strip() and v.strip() != "-1"]))
    return gpus or cores
