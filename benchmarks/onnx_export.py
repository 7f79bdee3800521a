"""ONNX Runtime versus torch for an exported digit classifier on the CPU, side by side in one run.

    uv run python benchmarks/onnx_export.py [--quick] [--model FOLDER] [--size 32] [--repeats 7]

Trains a small digit classifier (sklearn's digits as 32 px PNG class folders, the bundled
EfficientNet-Lite0 backbone) unless `--model` names a fine-tuned image folder, exports it
with `playground export`'s engine (`core.onnx_export.export`, which checks the agreement
on the validation split), then measures images/s on the same preprocessed batches:

1. the model's forward pass: torch (`model(x)` under inference_mode) versus
   onnxruntime (`session.run`), batches of 1 and 64, interleaved repeats, medians;
2. the whole `classify` job on image files (decode, preprocess, forward, top-k) with the
   fine-tuned folder versus the exported `.onnx` file (`load_classifier` -> onnxruntime).

Prints one table and the ratio onnxruntime / torch (above 1: onnxruntime is faster).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def train_digits(root: Path, size: int, quick: bool) -> Path:
    from train_support import write_digits

    from playground.core.jobs import Job
    from playground.core.runner import run_sync
    from playground.core.training.image import train_image_classifier

    data = write_digits(root / "digits", size=size, per_class=30 if quick else 80)
    result = run_sync(Job(train_image_classifier, (data, root / "digits-model"),
                          {"image_size": size, "epochs": 2, "lr": 2e-3, "batch_size": 32}))
    print(f"trained a digit model: val accuracy {result.val_accuracy:.3f}")
    return Path(result.model_dir)


def timed(fn, n_images: int) -> float:
    t0 = time.perf_counter()
    fn()
    return n_images / (time.perf_counter() - t0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller model run and fewer repeats")
    ap.add_argument("--model", default=None, help="a fine-tuned image classifier folder (default: train one)")
    ap.add_argument("--size", type=int, default=32, help="digit image size when training (default 32)")
    ap.add_argument("--repeats", type=int, default=7, help="interleaved repeats per measurement (default 7)")
    ap.add_argument("--threads", type=int, default=None,
                    help="CPU threads for both runtimes (default: torch's and onnxruntime's own defaults)")
    args = ap.parse_args()
    repeats = 3 if args.quick else args.repeats

    import numpy as np
    import torch

    from playground.core import image, models, onnx_export, onnx_runtime

    if args.threads:
        torch.set_num_threads(args.threads)
    from playground.core.jobs import Job
    from playground.core.runner import run_sync

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ.setdefault("PLAYGROUND_HOME", str(root / "home"))
        folder = Path(args.model) if args.model else train_digits(root, args.size, args.quick)
        out = root / "digits.onnx"
        t0 = time.perf_counter()
        export = run_sync(Job(onnx_export.export, (str(folder), out)))
        print(f"export: {time.perf_counter() - t0:.1f} s, {export.size_bytes / 1e6:.1f} MB, same top-1 as torch on "
              f"{export.agreement:.2%} of {export.checked} {export.check_source} examples "
              f"(largest probability difference {export.max_abs_diff:.2e})")

        clf = image.load_classifier(str(folder), device="cpu")
        if args.threads:
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = args.threads
            sess = ort.InferenceSession(str(out), opts, providers=["CPUExecutionProvider"])
        else:
            sess = onnx_runtime.session(out)
        name = sess.get_inputs()[0].name
        h, w = clf.input_size
        print(f"CPU threads: torch {torch.get_num_threads()}, onnxruntime {args.threads or 'default'} "
              f"({os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}: other work on the machine "
              "slows torch's thread pool more than onnxruntime's)")
        rows = []
        for batch in (1, 64):
            x = clf.recipe.normalize(torch.rand(batch, 3, h, w, generator=torch.Generator().manual_seed(0)))
            xn = np.ascontiguousarray(x.numpy())
            iters = max(1, (128 if not args.quick else 32) // batch)

            def run_torch(x=x, iters=iters):
                with torch.inference_mode():
                    for _ in range(iters):
                        clf.model(x)

            def run_ort(xn=xn, iters=iters):
                for _ in range(iters):
                    sess.run(None, {name: xn})

            run_torch()
            run_ort()  # warm-up
            t, o = [], []
            for _ in range(repeats):
                t.append(timed(run_torch, batch * iters))
                o.append(timed(run_ort, batch * iters))
            rows.append((f"forward, batch {batch}", statistics.median(t), statistics.median(o)))

        files = sorted(str(p) for p in (folder.parent / "digits").rglob("*.png"))[:128 if args.quick else 256] \
            if (folder.parent / "digits").is_dir() else []
        if files:
            t, o = [], []
            for _ in range(max(1, repeats // 2)):
                t.append(timed(lambda: run_sync(Job(image.classify, (files,), {"model": str(folder), "device": "cpu",
                                                                               "thumbnails": False, "batch_size": 32})),
                               len(files)))
                o.append(timed(lambda: run_sync(Job(image.classify, (files,), {"model": str(out), "device": "cpu",
                                                                               "thumbnails": False, "batch_size": 32})),
                               len(files)))
            rows.append((f"classify job, {len(files)} files", statistics.median(t), statistics.median(o)))
        models.cache.clear()

    print(f"\n{'measurement':32} {'torch img/s':>12} {'onnxruntime img/s':>18} {'ratio ort/torch':>16}")
    for label, t, o in rows:
        print(f"{label:32} {t:12.1f} {o:18.1f} {o / t:16.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
