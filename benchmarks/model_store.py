"""Model manager listing: `model_store.list_models` vs the direct calls it wraps.

The direct path is what the list needs from the libraries: `tasks.catalog()`
without Hub suggestions (bundled + fine-tuned, with disk sizes) plus
`huggingface_hub.scan_cache_dir()`. Both run on the same fake Hub cache (N repos)
and models folder (M fine-tuned models), interleaved, several repeats; prints
the medians and the ratio (app / direct; the app also guesses tasks and lists
local folders, so a ratio near 1 means the extra work is negligible).

    uv run python benchmarks/model_store.py [--quick] [--repos N] [--finetuned M]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path


def build_fixture(root: Path, repos: int, finetuned: int) -> Path:
    cache = root / "hub"
    for r in range(repos):
        repo = cache / f"models--org{r}--model{r}"
        commit = f"{r:040x}"
        snap = repo / "snapshots" / commit
        snap.mkdir(parents=True)
        (repo / "refs").mkdir()
        (repo / "refs" / "main").write_text(commit)
        (repo / "blobs").mkdir()
        for i, (name, data) in enumerate((("config.json", json.dumps({"architectures": ["BertForMaskedLM"]})),
                                          ("model.safetensors", "\0" * 20000), ("tokenizer.json", "{}"))):
            blob = repo / "blobs" / f"{r:020x}{i:020x}"
            blob.write_text(data)
            os.symlink(os.path.relpath(blob, snap), snap / name)
    models_dir = root / "home" / "data" / "models"
    for m in range(finetuned):
        folder = models_dir / f"tuned-{m}"
        folder.mkdir(parents=True)
        (folder / "playground_model.json").write_text(json.dumps({"task": "text-classification", "name": f"t{m}"}))
        (folder / "model.safetensors").write_bytes(b"\0" * 10000)
    return cache


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--repos", type=int, default=40)
    parser.add_argument("--finetuned", type=int, default=20)
    args = parser.parse_args(argv)
    repeats = 5 if args.quick else 15

    root = Path(tempfile.mkdtemp(prefix="pg-store-bench-"))
    cache = build_fixture(root, args.repos, args.finetuned)
    os.environ["PLAYGROUND_HOME"] = str(root / "home")

    from huggingface_hub import scan_cache_dir

    from playground.core import model_store, tasks

    def app_path():
        return model_store.list_models(hub_cache=cache)

    def direct_path():
        entries = tasks.catalog(include_hub=False)
        info = scan_cache_dir(cache)
        return len(entries) + len(info.repos)

    assert len([e for e in app_path() if e.source == "hub"]) == args.repos
    app_path(), direct_path()  # warm the file-system caches
    app_t, direct_t = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        direct_path()
        direct_t.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        app_path()
        app_t.append(time.perf_counter() - t0)
    a, d = statistics.median(app_t), statistics.median(direct_t)
    print(f"{args.repos} Hub repos, {args.finetuned} fine-tuned models, 9 bundled; {repeats} interleaved repeats")
    print(f"direct (catalog + scan_cache_dir): median {d * 1000:7.1f} ms")
    print(f"app (model_store.list_models)    : median {a * 1000:7.1f} ms")
    print(f"ratio app/direct                 : {a / d:.2f}")
    return a / d


if __name__ == "__main__":
    main()
