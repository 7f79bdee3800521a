"""The offline models, side by side in one run.

1. The bundled SmolLM2: first load (dequantize the GGUF file and save the
   full-precision copy) vs a cached load (the copy), in a fresh cache folder.
2. Generation tokens/s through the worker to a UI slot vs `model.generate`
   directly, interleaved (see benchmarks/text_generation.py; target >= 0.95).
3. benchmarks/vision_offline.py (objects and faces, engine vs direct), when it exists.

    uv run python benchmarks/offline_models.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def load_times(keep_home: str | None = None) -> dict:
    """First load (GGUF -> copy) and cached load (the copy) of the generator, in a fresh cache folder."""
    import transformers  # noqa: F401 - import cost is not load cost

    from playground.core import generation, models

    home = keep_home or tempfile.mkdtemp(prefix="playground-bench-")
    os.environ["PLAYGROUND_HOME"] = home
    models.cache.clear()
    t0 = time.perf_counter()
    first = generation.load_generator()
    first_s = time.perf_counter() - t0
    assert first.extra.get("first_load"), "expected a first load from the GGUF file"
    models.cache.clear()
    del first
    t0 = time.perf_counter()
    cached = generation.load_generator()
    cached_s = time.perf_counter() - t0
    assert not cached.extra.get("first_load")
    return {"first_s": first_s, "cached_s": cached_s, "home": home}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer tokens and repeats")
    parser.add_argument("--skip-vision", action="store_true", help="do not run benchmarks/vision_offline.py")
    args = parser.parse_args(argv)

    print("1. Bundled SmolLM2-135M-Instruct: first load vs cached load")
    times = load_times()
    print(f"   first load (GGUF dequantize + save copy): {times['first_s']:.1f} s")
    print(f"   cached load (safetensors copy)          : {times['cached_s']:.1f} s")
    print(f"   speed-up                                 : {times['first_s'] / times['cached_s']:.1f}x")

    import text_generation

    tokens, repeats = (24, 3) if args.quick else (64, 5)
    print(f"2. Generation tokens/s, worker -> UI slot vs model.generate ({tokens} tokens, {repeats} repeats)")
    res = text_generation.measure(None, tokens, repeats, log=lambda s: print("  " + s))
    print(f"   direct {res['direct_tokens_per_s']:.2f} tok/s, app {res['app_tokens_per_s']:.2f} tok/s, "
          f"ratio {res['ratio']:.3f} (target >= 0.95) {'OK' if res['ratio'] >= 0.95 else 'BELOW'}; "
          f"median paired ratio {res['paired_ratio']:.3f}")

    vision = HERE / "vision_offline.py"
    if vision.is_file() and not args.skip_vision:
        print("3. Objects and faces (benchmarks/vision_offline.py)", flush=True)
        cmd = [sys.executable, str(vision)] + (["--quick"] if args.quick else [])
        code = subprocess.call(cmd)
        if code:
            print(f"   vision_offline.py exited with {code}")
    else:
        print("3. benchmarks/vision_offline.py not found or skipped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
