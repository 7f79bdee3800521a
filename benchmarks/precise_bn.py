"""Batch-norm statistics recomputed before each evaluation vs the running averages, side by side.

    uv run python benchmarks/precise_bn.py [--seeds 3] [--epochs 4]

Fine-tunes the bundled EfficientNet-Lite0 on four digit classes at 32 px (a small folder: 6
steps per epoch, where the running averages lag most), once per seed with recalibration and once
without (`batchnorm.MAX_BATCHES = 0`), interleaved. Prints the mean validation accuracy per epoch
of each, the epoch early stopping (patience 3) would have kept, and the wall-time ratio.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def one_run(data: Path, out: Path, seed: int, epochs: int, recalibrate: bool) -> tuple[list[float], float]:
    from playground.core.jobs import Job
    from playground.core.runner import run_sync
    from playground.core.training import batchnorm
    from playground.core.training import events as ev
    from playground.core.training.image import train_image_classifier

    batchnorm.MAX_BATCHES = 25 if recalibrate else 0
    events = []
    t0 = time.perf_counter()
    run_sync(Job(train_image_classifier, (data,), {"out": out, "overwrite": True, "image_size": 32,
                                                   "epochs": epochs, "lr": 3e-3, "batch_size": 32,
                                                   "augment": False, "patience": 0, "seed": seed}), events.append)
    return [e.val_accuracy for e in events if isinstance(e, ev.EpochEvent)], time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=4)
    args = ap.parse_args()
    import torch
    from train_support import write_digits

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    tmp = Path(tempfile.mkdtemp(prefix="precise-bn-"))
    try:
        data = write_digits(tmp / "digits", per_class=60)
        for d in list(data.iterdir()):
            if int(d.name) >= 4:
                shutil.rmtree(d)
        results = {True: [], False: []}
        for seed in range(args.seeds):
            for on in (True, False):
                results[on].append(one_run(data, tmp / "m", seed, args.epochs, on))
        print(f"4 digit classes, 32 px, {args.epochs} epochs, {args.seeds} seeds (mean validation accuracy)")
        for on, label in ((True, "recomputed"), (False, "running avg")):
            curves = [r[0] for r in results[on]]
            per_epoch = [statistics.mean(c[i] for c in curves) for i in range(args.epochs)]
            worst = [min(c[i] for c in curves) for i in range(args.epochs)]
            print(f"  {label:12s} mean " + " ".join(f"{a:.2f}" for a in per_epoch)
                  + "   worst " + " ".join(f"{a:.2f}" for a in worst))
        t_on = statistics.mean(r[1] for r in results[True])
        t_off = statistics.mean(r[1] for r in results[False])
        print(f"  wall time, recomputed / running avg: {t_on / t_off:.2f}x ({t_on:.1f} s vs {t_off:.1f} s)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
