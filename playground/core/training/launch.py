"""Starting a fine-tune job on several processes: `torch.distributed.run` (torchrun), never our own spawner.

`launch` runs the launcher in this process: it starts the ranks (each one the same
`playground finetune ...` command, which finds RANK / WORLD_SIZE and trains its share),
watches them, stops them all when one dies and tells which one, in one sentence.
`commands` gives the equivalent torchrun, `accelerate launch` and Slurm lines for a cluster.
`train_in_processes` is the job the Train tab runs: the launcher in a subprocess, its rank 0's
JSON events turned back into the engine's events, pause/resume/cancel through a control file.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, fields
from pathlib import Path

from playground.core.errors import Cancelled, PlaygroundError
from playground.core.training import distributed
from playground.core.training import events as ev

CANCEL_GRACE_S = 3.5  # after a cancel, the ranks' own stop (a checkpoint) may take this long; then they are killed
KILL_WAIT_S = 1.0


class RankFailed(PlaygroundError):
    """One rank of a run died or failed; the run was stopped."""


@dataclass(frozen=True)
class Plan:
    nproc: int = 1  # processes on this machine
    nnodes: int = 1
    node_rank: int = 0
    master_addr: str | None = None
    master_port: int | None = None

    @property
    def world_size(self) -> int:
        return self.nproc * self.nnodes

    @property
    def wanted(self) -> bool:
        return self.nproc > 1 or self.nnodes > 1


def torchrun_options(plan: Plan) -> list[str]:
    opts = ["--nproc-per-node", str(plan.nproc), "--nnodes", str(plan.nnodes)]
    if plan.nnodes > 1 or plan.master_port is not None:
        opts += ["--node-rank", str(plan.node_rank), "--master-addr", plan.master_addr or "127.0.0.1",
                 "--master-port", str(plan.master_port or 29500)]
    return opts


def _quote(argv: list[str]) -> str:
    return " ".join(shlex.quote(a) for a in argv)


def commands(plan: Plan, worker: list[str], gpus: bool) -> dict[str, str]:
    """The same run as a torchrun line, an `accelerate launch` line and a Slurm sbatch script.

    `worker` is the command after `-m playground` (`finetune image DATA ...`)."""
    addr = plan.master_addr or ("MASTER_HOST" if plan.nnodes > 1 else "127.0.0.1")
    port = plan.master_port or 29500
    tr = ["torchrun", "--nnodes", str(plan.nnodes), "--node-rank", str(plan.node_rank), "--nproc-per-node",
          str(plan.nproc), "--master-addr", addr, "--master-port", str(port), "-m", "playground", *worker]
    # --multi_gpu is accelerate's torchrun-style launcher; with no GPU the ranks run on the CPU (gloo)
    # (its --cpu flag would start a single process).
    acc = ["accelerate", "launch", "--multi_gpu", "--num_machines", str(plan.nnodes),
           "--machine_rank", str(plan.node_rank), "--num_processes", str(plan.world_size),
           "--main_process_ip", addr, "--main_process_port", str(port), "-m", "playground", *worker]
    per_node = [f"#SBATCH --gpus-per-node={plan.nproc}"] if gpus else [f"#SBATCH --cpus-per-task={max(2, plan.nproc)}"]
    sbatch = "\n".join([
        "#!/bin/bash",
        "#SBATCH --job-name=playground-finetune",
        f"#SBATCH --nodes={plan.nnodes}",
        "#SBATCH --ntasks-per-node=1",
        *per_node,
        "#SBATCH --output=playground-finetune-%j.log",
        "# One torchrun per node; it starts this node's processes. DATA and the output folder",
        "# must be on a file system every node sees (the checkpoint is written by rank 0).",
        'MASTER_ADDR=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)',
        f"MASTER_PORT={port}",
        ("srun torchrun --nnodes \"$SLURM_NNODES\" --node-rank \"$SLURM_NODEID\" "
         f"--nproc-per-node {plan.nproc} --master-addr \"$MASTER_ADDR\" --master-port \"$MASTER_PORT\" "
         f"-m playground {_quote(worker)}"),
        "",
    ])
    return {"torchrun": _quote(tr), "accelerate": _quote(acc), "sbatch": sbatch}


def launch(plan: Plan, worker: list[str], out_dir: Path | None = None, as_json: bool = False) -> int:
    """Run `python -m playground WORKER...` on `plan.nproc` processes here (torch.distributed.run).

    Returns 0 when every rank finished; raises Cancelled when they stopped because the run was
    cancelled, RankFailed (one sentence naming the rank) when one died or failed."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    # Ctrl+C reaches every rank (same terminal): they agree on it, checkpoint and stop themselves;
    # the launcher must not kill them first. SIGTERM still stops all at once.
    if "OMP_NUM_THREADS" not in os.environ:  # the cores shared out, not oversubscribed
        os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // max(1, plan.nproc)))
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _forward_interrupt)
    errors = Path(tempfile.mkdtemp(prefix="playground-ranks-"))
    os.environ["PLAYGROUND_RANK_ERRORS"] = str(errors)
    # A frozen app (PyInstaller) is its own interpreter: its binary is the command every rank runs.
    entry = ["--no-python", sys.executable] if getattr(sys, "frozen", False) else ["-m", "playground"]
    argv = [*torchrun_options(plan), "--monitor-interval", "0.1", "--signals-to-handle", "SIGTERM,SIGHUP,SIGQUIT",
            *entry, *worker]
    try:
        run(parse_args(argv))
        return 0
    except ChildFailedError as exc:
        rank, failure = exc.get_first_failure()
        if failure.exitcode == distributed.EXIT_CANCELLED:
            raise Cancelled() from None
        raise RankFailed(_failure_sentence(rank, failure, plan, errors, out_dir)) from None
    finally:
        import shutil

        shutil.rmtree(errors, ignore_errors=True)


_interrupts = [0]


def _forward_interrupt(signum, frame) -> None:
    """Ctrl+C: torchrun starts each rank in its own session, so the terminal's SIGINT reaches the
    launcher alone. The first one is handed to the ranks (they agree on it, checkpoint and stop);
    a second one stops them at once (SIGTERM: the launcher's own shutdown)."""
    import psutil

    _interrupts[0] += 1
    if _interrupts[0] > 1:
        os.kill(os.getpid(), signal.SIGTERM)
        return
    for child in psutil.Process().children(recursive=True):
        try:
            child.send_signal(signal.SIGINT)
        except psutil.Error:
            pass


def _failure_sentence(rank: int, failure, plan: Plan, errors: Path, out_dir: Path | None) -> str:
    if failure.exitcode < 0:
        try:
            how = f"was killed by {signal.Signals(-failure.exitcode).name}"
        except ValueError:
            how = f"was killed by signal {-failure.exitcode}"
    else:
        how = f"failed (exit code {failure.exitcode})"
        try:
            message = (errors / f"rank-{rank}.txt").read_text(encoding="utf-8").strip()
            if message:
                how = f"failed: {message.rstrip('.')}"
        except OSError:
            pass
    where = f"; the last whole checkpoint is kept in {_checkpoint_dir(out_dir)} (continue with --resume)" \
        if out_dir is not None and _has_checkpoint(out_dir) else ""
    return (f"Rank {rank} of {plan.world_size} (process {failure.pid}) {how}, so every rank was stopped{where}.")


def _checkpoint_dir(out_dir: Path) -> Path:
    from playground.core.training import checkpoint as ckpt

    return ckpt.checkpoint_dir(out_dir)


def _has_checkpoint(out_dir: Path) -> bool:
    from playground.core.training import checkpoint as ckpt

    return ckpt.has_checkpoint(out_dir)


def record_rank_error(message: str) -> None:
    """A rank's error message, for the launcher's sentence (only under `launch`)."""
    folder = os.environ.get("PLAYGROUND_RANK_ERRORS")
    if not folder:
        return
    rank = distributed.from_env().rank
    try:
        Path(folder, f"rank-{rank}.txt").write_text(message, encoding="utf-8")
    except OSError:
        pass


# -- the Train tab's job: the launcher in a subprocess ----------------------------------------------

EVENT_TYPES = {cls.__dataclass_fields__["type"].default: cls for cls in (
    ev.DataReport, ev.RunStarted, ev.StepEvent, ev.EpochEvent, ev.CheckpointSaved, ev.LiveCheckpoint,
    ev.DeviceFallback, ev.Paused, ev.Resumed, ev.EarlyStopped, ev.DoneEvent)}


def event_from_json(data: dict):
    """The engine event a `--json` line stands for (None for lines that are not one)."""
    cls = EVENT_TYPES.get(data.get("type"))
    if cls is None:
        return None
    names = {f.name for f in fields(cls)} - {"type"}
    values = {k: v for k, v in data.items() if k in names}
    for f in fields(cls):  # JSON has no NaN: null came back
        if f.name in values and values[f.name] is None and f.type in ("float", float):
            values[f.name] = float("nan")
    return cls(**values)


def _option_args(options: dict) -> list[str]:
    out: list[str] = []
    flags = {"head_only": "--head-only"}
    for key, value in options.items():
        if value is None or key in ("control", "event_interval", "name", "resume", "overwrite", "device",
                                    "trust_remote_code"):
            continue
        if key in flags:
            if value:
                out.append(flags[key])
            continue
        if key == "mixed_precision":
            if not value:
                out.append("--no-mixed-precision")
            continue
        if key == "augment":
            if not value:
                out.append("--no-augment")
            continue
        if key == "flip":
            if value:
                out.append("--flip")
            continue
        out += [f"--{key.replace('_', '-')}", str(value)]
    return out


def worker_command(kind: str, data: str, out: str | None, options: dict) -> list[str]:
    """`finetune KIND DATA ... --json` for a job's keyword arguments (the Train tab's options)."""
    argv = ["finetune", kind, str(data), "--json"]
    if out:
        argv += ["--out", str(out)]
    if options.get("name"):
        argv += ["--name", str(options["name"])]
    if options.get("resume"):
        argv.append("--resume")
    if options.get("overwrite"):
        argv.append("--overwrite")
    return argv + _option_args(options)


def train_in_processes(ctx, kind: str, data: str, out: str | None = None, *, processes: int = 2, control=None,
                       python: str | None = None, env: dict | None = None, **options) -> ev.TrainResult:
    """The Train tab's job for several processes: `playground finetune ... --nproc N --json` in a
    subprocess (its own process group), rank 0's events emitted here as they arrive.

    Pause / resume: `control` (the tab's TrainControl) is mirrored into a control file that rank 0
    reads; every rank follows it. Cancel: the file says so, the ranks checkpoint and stop; whatever
    still runs after CANCEL_GRACE_S is killed with its whole process group."""
    from playground.core import devices

    device = options.pop("device", None) or devices.get_preference()
    interval = float(options.pop("event_interval", 0.0) or 0.0)
    last_step_emit = 0.0
    steps_per_epoch = 0
    folder = Path(tempfile.mkdtemp(prefix="playground-run-"))
    control_file = folder / "control"
    distributed.write_control(control_file, "run")
    argv = [python or sys.executable] + ([] if getattr(sys, "frozen", False) and python is None else ["-m", "playground"])
    if device and device != "auto":
        argv += ["--device", device]
    argv += worker_command(kind, data, out, options) + ["--nproc", str(int(processes)),
                                                         "--control-file", str(control_file)]
    run_env = dict(os.environ if env is None else env)
    run_env["PYTHONUNBUFFERED"] = "1"
    stderr_path = folder / "stderr.txt"
    stderr = open(stderr_path, "w+b")  # noqa: SIM115 (read at the end)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr, env=run_env, start_new_session=True)
    history: list[dict] = []
    done: ev.DoneEvent | None = None
    error_line: str | None = None
    cancel_sent = None
    killed = False
    stopped_early = False
    state = "run"
    lines: list[str] = []
    reader = threading.Thread(target=_read_lines, args=(proc.stdout, lines), daemon=True)
    reader.start()
    try:
        while True:
            while lines:
                line = lines.pop(0)
                try:
                    data_ = json.loads(line)
                except ValueError:
                    continue
                if data_.get("type") == "error":
                    error_line = data_.get("message")
                    continue
                event = event_from_json(data_)
                if event is None:
                    continue
                if isinstance(event, ev.RunStarted):
                    steps_per_epoch = event.steps_per_epoch
                elif isinstance(event, ev.StepEvent) and interval > 0:
                    now = time.monotonic()
                    last_of_epoch = steps_per_epoch and event.step % steps_per_epoch == 0
                    if now - last_step_emit < interval and not last_of_epoch and event.step != event.total_steps:
                        continue
                    last_step_emit = now
                if isinstance(event, ev.EpochEvent):
                    history.append({"epoch": event.epoch, "step": event.step, "train_loss": event.train_loss,
                                    "val_loss": event.val_loss, "val_accuracy": event.val_accuracy})
                elif isinstance(event, ev.DoneEvent):
                    done = event
                elif isinstance(event, ev.EarlyStopped):
                    stopped_early = True
                ctx.emit(event)
            if proc.poll() is not None and not reader.is_alive() and not lines:
                break
            if ctx.cancelled and cancel_sent is None:
                distributed.write_control(control_file, "cancel")
                cancel_sent = time.monotonic()
            elif cancel_sent is None and control is not None:
                wanted = "pause" if control.paused else "run"
                if wanted != state:
                    distributed.write_control(control_file, wanted)
                    state = wanted
            if cancel_sent is not None and not killed and time.monotonic() - cancel_sent > CANCEL_GRACE_S:
                _kill_group(proc)
                killed = True
            time.sleep(0.02)
    finally:
        if proc.poll() is None:
            _kill_group(proc)
        stderr.seek(0)
        tail = stderr.read()[-4000:].decode("utf-8", "replace")
        stderr.close()
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
    if cancel_sent is not None or ctx.cancelled:
        raise Cancelled()
    if proc.returncode != 0 or done is None:
        raise RankFailed(error_line or _last_error(tail) or f"The training processes stopped (exit code {proc.returncode}).")
    best = min((h for h in history if h["val_loss"] == h["val_loss"]), key=lambda h: h["val_loss"], default={})
    return ev.TrainResult(done.model_dir, done.task, history,
                          done.val_accuracy if done.task != "text-generation" else best.get("val_accuracy"),
                          done.loss if done.task == "text-generation" else best.get("val_loss"),
                          stopped_early)


def _read_lines(stream, sink: list[str]) -> None:
    for raw in iter(stream.readline, b""):
        sink.append(raw.decode("utf-8", "replace"))
    stream.close()


def _last_error(text: str) -> str | None:
    for line in reversed(text.splitlines()):
        if line.startswith("playground: error: "):
            return line[len("playground: error: "):].strip()
    return None


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGTERM to the launcher's group (the launcher stops its ranks), then SIGKILL to whatever is left:
    the launcher's group and every rank (torchrun starts each rank in a session of its own)."""
    import psutil

    try:
        ranks = psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        ranks = []
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        proc.wait(KILL_WAIT_S)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for p in ranks:
        try:
            p.kill()
        except psutil.Error:
            pass
    try:
        proc.wait(5.0)
    except subprocess.TimeoutExpired:
        pass
