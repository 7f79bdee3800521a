"""Text embeddings: the app's engine through the Qt worker versus transformers called directly.

    uv run python benchmarks/text.py [--quick] [--sentences 256] [--repeats 5] [--skip-generation]

Side by side in one run, interleaved repeats, same model (the bundled
all-MiniLM-L6-v2), same sentences, same thread count:
  * app:    `text.embed` submitted to the `Worker` (a QThread), result delivered
            to the UI thread through the JobHandle's signal;
  * direct: AutoTokenizer + AutoModel + mean pooling + L2 norm, batches of 32
            in the given order (what a user would write);
  * direct-sorted: the same, with the engine's length-sorted batches (so the
            ratio to it is the engine's overhead alone).
Target: app / direct >= 0.95 (sentences per second).

If `benchmarks/text_generation.py` exists (the generation benchmark), it runs
afterwards in the same command so one run reports both.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WORDS = ("the a of model sentence quick brown fox jumps over lazy dog data science music river mountain "
         "coffee train city night weather market phone camera battery garden flower recipe soup bread "
         "football match goal player election senate law doctor health sleep travel airport flight").split()


def make_sentences(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 40))).capitalize() + "." for _ in range(n)]


def direct_embedder(folder: str):
    import torch
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()

    from playground.core import devices

    device = devices.choose_device()  # the same device and dtype the engine picks
    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder, dtype=devices.dtype_for(device)).to(device).eval()

    def embed(texts: list[str], sort: bool = False, batch_size: int = 32):
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i])) if sort else list(range(len(texts)))
        out = [None] * len(texts)
        for s in range(0, len(texts), batch_size):
            idx = order[s:s + batch_size]
            batch = tok([texts[i] for i in idx], padding=True, truncation=True, max_length=256, return_tensors="pt")
            batch = {k: v.to(device) for k, v in batch.items()}
            with torch.inference_mode():
                hidden = model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                vecs = torch.nn.functional.normalize(pooled.float(), dim=1)
            for i, v in zip(idx, vecs.cpu().numpy(), strict=True):
                out[i] = v
        return out

    return embed


def app_embed(worker, texts):
    from PySide6.QtCore import QEventLoop

    from playground.core import text
    from playground.core.jobs import Job

    handle = worker.submit(Job(text.embed, (texts,)))
    loop = QEventLoop()
    box = {}
    handle.result.connect(lambda v: box.__setitem__("value", v))
    handle.error.connect(lambda m: box.__setitem__("error", m))
    handle.finished.connect(loop.quit)
    if not handle.is_finished:
        loop.exec()
    if "error" in box:
        raise RuntimeError(box["error"])
    return box["value"]


def embedding_benchmark(n: int, repeats: int) -> float:
    import numpy as np
    import torch
    from PySide6.QtCore import QCoreApplication

    from playground.core import models
    from playground.worker import Worker

    QCoreApplication.instance() or QCoreApplication([])
    folder = str(models.bundled_path("bundled/all-minilm-l6-v2"))
    texts = make_sentences(n)
    from playground.core import devices

    print(f"Embeddings: all-MiniLM-L6-v2, {n} sentences of 4-40 words, batch 32, {devices.choose_device()}, "
          f"{torch.get_num_threads()} torch threads, {repeats} interleaved repeats")
    worker = Worker()
    try:
        direct = direct_embedder(folder)
        # Warm up both (model load, first-call allocations) and check they agree.
        app_vecs = app_embed(worker, texts[:64]).vectors
        direct_vecs = np.stack(direct(texts[:64]))
        diff = float(np.abs(app_vecs - direct_vecs).max())
        print(f"  max |app - direct| over 64 embeddings: {diff:.2e}")
        times = {"app (worker)": [], "direct": [], "direct-sorted": []}
        for _ in range(repeats):
            for name in times:
                t0 = time.perf_counter()
                if name == "app (worker)":
                    app_embed(worker, texts)
                else:
                    direct(texts, sort=(name == "direct-sorted"))
                times[name].append(time.perf_counter() - t0)
    finally:
        worker.shutdown()
    rate = {k: n / statistics.median(v) for k, v in times.items()}
    for k, v in times.items():
        print(f"  {k:15} {rate[k]:8.1f} sentences/s  (median {statistics.median(v):.3f} s, "
              f"min {min(v):.3f} s)")
    ratio = rate["app (worker)"] / rate["direct"]
    overhead = rate["app (worker)"] / rate["direct-sorted"]
    print(f"  ratio app/direct        = {ratio:.3f}  (target >= 0.95) {'OK' if ratio >= 0.95 else 'BELOW TARGET'}")
    print(f"  ratio app/direct-sorted = {overhead:.3f}  (the engine's overhead alone)")
    return ratio


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer sentences and repeats")
    parser.add_argument("--sentences", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--skip-generation", action="store_true", help="do not run benchmarks/text_generation.py")
    args = parser.parse_args(argv)
    n = args.sentences or (64 if args.quick else 160)
    repeats = args.repeats or (3 if args.quick else 5)
    embedding_benchmark(n, repeats)
    gen = ROOT / "benchmarks" / "text_generation.py"
    if gen.is_file() and not args.skip_generation:
        print(f"\nGeneration ({gen.relative_to(ROOT)}):", flush=True)
        cmd = [sys.executable, str(gen)] + (["--quick"] if args.quick else [])
        return subprocess.call(cmd, cwd=ROOT)
    if not gen.is_file():
        print("\n(benchmarks/text_generation.py is not there yet: no generation numbers.)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
