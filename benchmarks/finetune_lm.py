"""LoRA fine-tuning of the bundled SmolLM2 through the engine: training tokens/s on 1 process vs 2
processes, and the time to reach a held-out exact match.

Each run is the real CLI, `playground finetune lm DATA --json` (with `--nproc N` for N processes,
launched through torch.distributed.run), on the same data, the task of the e2e LoRA test
(tests/lm_support.trips: a trip's destination as a three-letter code, which the bundled chat model does
not answer in that form), with the same seed, global batch and epochs, so the same optimizer steps:
N processes split each batch (DDP, gloo) and get cores / N threads each, as the launcher shares the
cores out; one process gets torch's default (a thread per core).

- tokens/s: the engine's samples/s (training steps alone, evaluation excluded; median over the second
  half of the steps, the warm-up left out) times the mean tokens of a training example (prompt and
  answer, padding not counted).
- time to target: the wall seconds at each evaluation (one per epoch), read off the run's epoch events
  as they arrive, counted from the command's start (what a user waits, the model's load included) and
  from the start of training; the first evaluation whose exact match (greedy answers on the held-out
  validation split) reaches --target. "load s": from the command's start to the start of training
  (imports, the base's load, tokenizing, and for N processes their launch).

    uv run python benchmarks/finetune_lm.py [--quick] [--json] [--nproc 2] [--examples N] [--epochs E]
                                            [--target 0.8] [--repeats R] [--base MODEL]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

QUICK = {"examples": 32, "epochs": 2}
FULL = {"examples": 96, "epochs": 4}
TRAIN = {"batch_size": 8, "lr": 1e-3, "max_length": 64, "lora_rank": 16, "val_share": 0.25, "seed": 0}


def finetune(data: Path, out: Path, nproc: int, epochs: int, base: str | None, timeout: float) -> dict:
    """One `playground finetune lm ... --json` run, summarized (`summarize`) from its JSON events, each
    timed as it arrives (seconds since the command started), and the marker of the model it saved."""
    argv = [sys.executable, "-m", "playground", "--device", "cpu", "finetune", "lm", str(data), "--out", str(out),
            "--epochs", str(epochs), "--batch-size", str(TRAIN["batch_size"]), "--lr", str(TRAIN["lr"]),
            "--max-length", str(TRAIN["max_length"]), "--lora-rank", str(TRAIN["lora_rank"]),
            "--val-share", str(TRAIN["val_share"]), "--seed", str(TRAIN["seed"]), "--patience", "0", "--json"]
    if base:
        argv += ["--base", base]
    if nproc > 1:
        argv += ["--nproc", str(nproc)]
    # OMP_NUM_THREADS unset: one process takes torch's default, the launcher gives N processes cores / N each
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"} | {"PYTHONUNBUFFERED": "1"}
    events: list[tuple[float, dict]] = []
    with tempfile.TemporaryFile() as stderr:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr, text=True, cwd=ROOT, env=env,
                                start_new_session=True)
        # past the timeout: SIGTERM to the launcher and its ranks (their own session), which ends the output
        watchdog = threading.Timer(timeout, _stop, (proc.pid,))
        watchdog.start()
        try:
            for line in iter(proc.stdout.readline, ""):
                if line.startswith("{"):
                    events.append((time.perf_counter() - t0, json.loads(line)))
            proc.wait()
        finally:
            watchdog.cancel()
            if proc.poll() is None:
                _stop(proc.pid)
                proc.wait(30)
        wall = time.perf_counter() - t0
        if wall >= timeout:
            raise SystemExit(f"the {nproc}-process run took more than {timeout:.0f} s (stopped)")
        if proc.returncode != 0:
            stderr.seek(0)
            raise SystemExit(f"the {nproc}-process run failed (exit {proc.returncode}):\n"
                             f"{stderr.read().decode('utf-8', 'replace')[-3000:]}")
    marker = json.loads((out / "playground_model.json").read_text(encoding="utf-8"))
    return summarize(events, marker, nproc, wall)


def _stop(pid: int) -> None:
    """SIGTERM to the run this script started: the launcher and its ranks (a session of their own)."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass


def summarize(events: list[tuple[float, dict]], marker: dict, nproc: int, wall: float) -> dict:
    """tokens/s, steps and the epoch history (wall seconds at each evaluation) of one run."""
    start = next(t for t, e in events if e["type"] == "start")
    started = next(e for _, e in events if e["type"] == "start")
    steps = [e for _, e in events if e["type"] == "step"]
    rates = [e["samples_per_s"] for e in steps[len(steps) // 2:]] or [e["samples_per_s"] for e in steps]
    tokens_per_example = marker["train_tokens"] / marker["n_train"]
    samples_per_s = statistics.median(rates)
    history = [{"epoch": e["epoch"], "step": e["step"], "wall_s": round(t, 2), "training_s": round(t - start, 2),
                "val_loss": e["val_loss"], "exact_match": e["val_accuracy"]}
               for t, e in events if e["type"] == "epoch"]
    return {"processes": nproc, "world_size": started["world_size"],
            "threads_per_process": _threads(nproc), "per_process_batch": started["per_rank_batch_size"] or
            started["batch_size"], "batch": started["effective_batch_size"] or started["batch_size"],
            "optimizer_steps": marker["steps"], "n_train": marker["n_train"], "n_val": marker["n_val"],
            "tokens_per_example": round(tokens_per_example, 2), "samples_per_s": round(samples_per_s, 3),
            "tokens_per_s": round(samples_per_s * tokens_per_example, 1), "load_s": round(start, 2),
            "wall_s": round(wall, 2), "history": history}


def _threads(nproc: int) -> int:
    """Threads each process computes with: torch's default alone, the launcher's share of the cores for N."""
    if nproc == 1:
        import torch

        return torch.get_num_threads()
    return max(1, (os.cpu_count() or 1) // nproc)


def time_to(history: list[dict], target: float) -> dict | None:
    """The first evaluation whose exact match reaches `target` (None: never in this run)."""
    return next((h for h in history if h["exact_match"] is not None and h["exact_match"] >= target - 1e-9), None)


def prepare(base: str | None) -> str:
    """The bundled base's full-precision copy made before any timing (its first use converts the GGUF)."""
    from playground.core import generation

    model = base or generation.BUNDLED_ID
    if model in generation.GGUF_BUNDLES:
        generation.bundled_folder(model_id=model)
    return model


def measure(examples: int, epochs: int, nproc: int, repeats: int, target: float, base: str | None,
            timeout: float, log=print) -> dict:
    from lm_support import trips, write_toy_jsonl

    model = prepare(base)
    load_before = os.getloadavg()[0]
    runs: dict[int, list[dict]] = {1: [], nproc: []}
    with tempfile.TemporaryDirectory(prefix="finetune-lm-bench-") as tmp:
        data = write_toy_jsonl(Path(tmp) / "trips.jsonl", trips(examples, seed=1))
        for r in range(repeats):
            for n in ((1, nproc) if r % 2 == 0 else (nproc, 1)):  # interleaved: a busy spell slows both
                log(f"  repeat {r + 1}: {n} process{'es' if n > 1 else ''} ...")
                run = finetune(data, Path(tmp) / f"out-{n}-{r}", n, epochs, base, timeout)
                runs[n].append(run)
                reached = time_to(run["history"], target)
                log(f"    {run['tokens_per_s']:.1f} tokens/s, {run['optimizer_steps']} steps, {run['wall_s']:.0f} s; "
                    + (f"exact match {target:g} at epoch {reached['epoch']}, {reached['wall_s']:.0f} s"
                       if reached else f"exact match {target:g} not reached"))
                _remove_model(Path(tmp) / f"out-{n}-{r}")  # a merged model is ~0.5 GB
    one = statistics.median(r["tokens_per_s"] for r in runs[1])
    many = statistics.median(r["tokens_per_s"] for r in runs[nproc])
    return {"model": model, "examples": examples, "epochs": epochs, "target": target, "repeats": repeats,
            "train": TRAIN, "cpu_cores": os.cpu_count(), "load_average": [load_before, os.getloadavg()[0]],
            "runs": {str(k): v for k, v in runs.items()},
            "tokens_per_s": {"1": one, str(nproc): many}, "ratio": many / one,
            "time_to_target": {str(k): [time_to(r["history"], target) for r in v] for k, v in runs.items()}}


def _remove_model(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


def _label(run: dict) -> str:
    n, t = run["processes"], run["threads_per_process"]
    return f"{n} process{'es' if n > 1 else ''} x {t} thread{'s' if t > 1 else ''}"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"  # no exact match: some validation answer is long


def _best(history: list[dict]) -> float | None:
    return max((h["exact_match"] for h in history if h["exact_match"] is not None), default=None)


def report(res: dict) -> None:
    first = next(iter(res["runs"].values()))[0]
    print(f"\nLoRA on {res['model']}: trips task, {first['n_train']} training / {first['n_val']} held-out examples "
          f"({first['tokens_per_example']:.1f} tokens each), batch {first['batch']}, {res['epochs']} epochs, "
          f"rank {res['train']['lora_rank']}, lr {res['train']['lr']:g}, {res['cpu_cores']} CPU cores "
          f"(load average {res['load_average'][0]:.1f} before, {res['load_average'][1]:.1f} after: other work "
          "on the cores slows a threaded process most)")
    print(f"{'':24} {'tokens/s':>9} {'steps':>6} {'batch/proc':>10} {'load s':>7} {'wall s':>7}   "
          f"exact match >= {res['target']:g}: from start / of training")
    for runs in res["runs"].values():
        for run in runs:
            hit = time_to(run["history"], res["target"])
            when = (f"epoch {hit['epoch']} (step {hit['step']}): {hit['wall_s']:.0f} s / {hit['training_s']:.0f} s"
                    if hit else f"not reached (best {_share(_best(run['history']))})")
            if hit is run["history"][0]:
                when += " (the first evaluation: at most)"  # more, smaller epochs (--epochs, --examples) resolve it
            print(f"{_label(run):24} {run['tokens_per_s']:9.1f} {run['optimizer_steps']:6d} "
                  f"{run['per_process_batch']:10d} {run['load_s']:7.1f} {run['wall_s']:7.1f}   {when}")
    n = [k for k in res["tokens_per_s"] if k != "1"][0]
    print(f"ratio {n} processes / 1 process, training tokens/s (medians): {res['ratio']:.2f}x")
    print("\nevaluations: wall s from the command's start, validation loss, held-out exact match")
    for runs in res["runs"].values():
        for run in runs:
            cells = "  ".join(f"e{h['epoch']} {h['wall_s']:5.0f} s {h['val_loss']:.3f} {_share(h['exact_match'])}"
                              for h in run["history"])
            print(f"{_label(run):24} {cells}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK['examples']} examples, {QUICK['epochs']} epochs (a check that it runs: about a "
                             "minute on 2 quiet cores); default "
                             f"{FULL['examples']} examples, {FULL['epochs']} epochs")
    parser.add_argument("--examples", type=int, default=None, help="examples in the data (a quarter held out)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs (one evaluation after each)")
    parser.add_argument("--nproc", type=int, default=2, help="processes to compare with one (default 2)")
    parser.add_argument("--target", type=float, default=0.8, help="held-out exact match to reach (default 0.8)")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each, interleaved (default 1)")
    parser.add_argument("--base", default=None, help="base model (default: the bundled SmolLM2)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds one run may take (default 1800)")
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object")
    args = parser.parse_args(argv)
    sizes = (QUICK if args.quick else FULL) | {k: v for k, v in (("examples", args.examples),
                                                                  ("epochs", args.epochs)) if v}
    if args.nproc < 2 or sizes["examples"] < 8 or sizes["epochs"] < 1 or args.repeats < 1:
        parser.error("--nproc must be at least 2, --examples at least 8, --epochs and --repeats at least 1")
    log = (lambda *a: print(*a, file=sys.stderr)) if args.json else print
    res = measure(sizes["examples"], sizes["epochs"], args.nproc, args.repeats, args.target, args.base,
                  args.timeout, log=log)
    if args.json:
        print(json.dumps(res, indent=1))
    else:
        report(res)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
