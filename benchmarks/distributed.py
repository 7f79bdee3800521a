"""Data-parallel training: samples/s on 1 vs 2 processes (and 1 GPU vs all GPUs), and the all-reduce cost.

Runs the real CLI (`playground finetune ... --nproc N --json`, launched through
torch.distributed.run) for a character-level GPT and an image classifier on digits,
and reads the samples/s of rank 0's step events (the whole run's samples: every rank's
share). Then, on 2 gloo processes, times the all-reduce of a gradient-sized buffer
(what DDP does each step) and of the 4 numbers the loop agrees on each step
(loss, samples, cancel, pause). On 2 CPU cores the honest answer may be "no gain":
two processes get one core each, one process gets both as threads.

    uv run python benchmarks/distributed.py [--quick] [--nproc 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

CORPUS = ("It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of "
          "foolishness, it was the epoch of belief, it was the epoch of incredulity.\n") * 80
GPT = ["--block-size", "64", "--layers", "2", "--heads", "4", "--embed", "128", "--batch-size", "32"]


def run_cli(args: list[str], env: dict | None = None, unset: tuple = ()) -> tuple[list[dict], float]:
    run_env = {k: v for k, v in os.environ.items() if k not in unset} | (env or {})
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "playground", *args, "--json"], check=False, capture_output=True,
                          text=True, env=run_env, cwd=ROOT, timeout=1800)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"failed: {' '.join(args)}\n{proc.stderr[-3000:]}")
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")], wall


def rate(events: list[dict]) -> float:
    """The median of the step events' samples/s over the second half of the run (warm-up left out)."""
    steps = [e["samples_per_s"] for e in events if e["type"] == "step"]
    tail = steps[len(steps) // 2:] or steps
    return statistics.median(tail)


def allreduce_worker(numel: int, repeats: int) -> None:
    """Run under torch.distributed.run: time all_reduce of a gradient buffer and of 4 numbers."""
    import torch
    import torch.distributed as dist

    dist.init_process_group("gloo")
    grad = torch.zeros(numel)
    small = torch.zeros(4, dtype=torch.float64)
    for t in (grad, small):
        for _ in range(3):
            dist.all_reduce(t)
    out = {}
    for name, t in (("gradients", grad), ("agree", small)):
        dist.barrier()
        t0 = time.perf_counter()
        for _ in range(repeats):
            dist.all_reduce(t)
        out[name] = (time.perf_counter() - t0) / repeats * 1000
    if dist.get_rank() == 0:
        print(json.dumps(out))
    dist.destroy_process_group()


def gpt_parameters() -> int:
    from transformers import GPT2Config, GPT2LMHeadModel

    vocab = len(set(CORPUS)) + 3
    model = GPT2LMHeadModel(GPT2Config(vocab_size=vocab, n_positions=1024, n_embd=128, n_layer=2, n_head=4,
                                                bos_token_id=0, eos_token_id=0))
    return sum(p.numel() for p in model.parameters())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps")
    parser.add_argument("--nproc", type=int, default=2, help="processes to compare with one (default 2)")
    parser.add_argument("--allreduce-worker", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=50, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.allreduce_worker:
        allreduce_worker(args.allreduce_worker, args.repeats)
        return 0

    import torch
    from train_support import write_digits

    n = args.nproc
    steps = 60 if args.quick else 200
    epochs = 2 if args.quick else 3
    print(f"machine: {os.cpu_count()} CPU cores, torch {torch.__version__}, "
          f"{torch.cuda.device_count() if torch.cuda.is_available() else 0} GPU(s)")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        corpus = tmp / "corpus.txt"
        corpus.write_text(CORPUS)
        digits = write_digits(tmp / "digits", per_class=None if not args.quick else 40)
        jobs = {
            "char-GPT (2 layers, 128 wide, batch 32)":
                lambda out: ["finetune", "charlm", str(corpus), "--out", str(out), "--steps", str(steps),
                             "--eval-every", str(steps), *GPT],
            "image classifier (EfficientNet-Lite0, 32 px digits, batch 32)":
                lambda out: ["finetune", "image", str(digits), "--out", str(out), "--image-size", "32",
                             "--epochs", str(epochs), "--batch-size", "32", "--patience", "0"],
        }
        print("\nCPU, gloo (samples/s: the whole run, every process's share; median of the second half of the steps)")
        print("one process as torch sets it up (a thread per core), one process with one thread, "
              f"and {n} processes (the launcher gives each cores / {n} threads)")
        print(f"{'job':62} {'1 proc':>8} {'1 proc 1 thr':>13} {f'{n} procs':>9} {'ratio':>7}  wall 1 / 1x1 / {n}")
        for i, (name, make) in enumerate(jobs.items()):
            one, wall1 = run_cli(["--device", "cpu", *make(tmp / f"one-{i}")], unset=("OMP_NUM_THREADS",))
            single, wall_s = run_cli(["--device", "cpu", *make(tmp / f"single-{i}")], env={"OMP_NUM_THREADS": "1"})
            many, walln = run_cli(["--device", "cpu", *make(tmp / f"many-{i}"), "--nproc", str(n)],
                                  unset=("OMP_NUM_THREADS",))
            assert all(e["world_size"] == n for e in many)
            r1, rs, rn = rate(one), rate(single), rate(many)
            print(f"{name:62} {r1:8.1f} {rs:13.1f} {rn:9.1f} {rn / max(r1, rs):7.2f}x  "
                  f"{wall1:.0f} s / {wall_s:.0f} s / {walln:.0f} s")
        print(f"(ratio: {n} processes over the better of the two single-process runs)")

        numel = gpt_parameters()
        from playground.core.training.launch import Plan, torchrun_options

        plan = Plan(nproc=2, master_addr="127.0.0.1", master_port=_free_port())  # the CLI's own launch options
        proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", *torchrun_options(plan),
                               str(Path(__file__).resolve()), "--allreduce-worker", str(numel)],
                              check=False, capture_output=True, text=True, cwd=ROOT,
                              env=dict(os.environ, OMP_NUM_THREADS="1"))
        line = next((x for x in proc.stdout.splitlines() if x.startswith("{")), None)
        if line:
            ms = json.loads(line)
            print(f"\nall-reduce on 2 gloo processes: the char-GPT's gradients ({numel / 1e6:.2f} M floats, "
                  f"{numel * 4 / 1e6:.1f} MB) {ms['gradients']:.2f} ms per step; the loop's per-step agreement "
                  f"(4 numbers) {ms['agree']:.3f} ms per step")
        else:
            print("all-reduce timing failed:", proc.stderr[-1500:])

        if torch.cuda.is_available():
            gpus = torch.cuda.device_count()
            print(f"\nGPU: 1 GPU vs all {gpus} (NCCL)")
            for name, make in jobs.items():
                one, _ = run_cli(["--device", "cuda", *make(tmp / f"g1-{name[:4]}")])
                line = f"{name:62} {rate(one):12.1f}"
                if gpus > 1:
                    many, _ = run_cli(["--device", "cuda", *make(tmp / f"gn-{name[:4]}"), "--nproc", str(gpus)])
                    line += f" {rate(many):13.1f} {rate(many) / rate(one):7.2f}x"
                print(line)
        else:
            print("\nGPU: none here (run this on a machine with GPUs for 1 GPU vs all of them)")
    return 0


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    sys.exit(main())
