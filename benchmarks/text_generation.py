"""Generation tokens/s: streamed through the app's worker to a UI slot vs `model.generate` called directly.

Both paths use the same loaded model, the same prompt (through the chat
template when the model has one) and greedy decoding, so they produce the same
tokens; the repeats are interleaved (direct, app, app, direct, ...) so a busy
machine slows both alike. Target: app / direct >= 0.95.

    uv run python benchmarks/text_generation.py [--quick] [--model ID_OR_DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

PROMPT = "Write a short story about a lighthouse keeper who finds a message in a bottle."


def direct_run(gen, prompt: str, tokens: int) -> tuple[int, float]:
    """`model.generate` on the same model and input ids, no streamer: (new tokens, seconds)."""
    import torch

    from playground.core import generation

    ids, _ = generation.build_inputs(gen, prompt)
    ids = ids.to(gen.device)
    pad = gen.tokenizer.pad_token_id if gen.tokenizer.pad_token_id is not None else gen.tokenizer.eos_token_id
    t0 = time.perf_counter()
    with torch.inference_mode():
        out = gen.model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=tokens, do_sample=False,
                                 temperature=None, top_p=None, top_k=None, pad_token_id=pad)
    seconds = time.perf_counter() - t0
    return int(out.shape[1] - ids.shape[1]), seconds


def app_run(worker, model_id: str, prompt: str, tokens: int) -> tuple[int, float, int]:
    """The app path: a generate job on the worker thread, token events delivered to a slot on this
    (UI) thread. Timed from submit to the result arriving here: (new tokens, seconds, events seen)."""
    from PySide6.QtCore import QEventLoop

    from playground.core import generation
    from playground.core.jobs import Job

    received: list[str] = []
    loop = QEventLoop()
    box: dict = {}

    def on_token(event) -> None:  # the UI slot
        received.append(event.text)

    t0 = time.perf_counter()
    handle = worker.submit(Job(generation.generate, (prompt, model_id),
                               {"max_new_tokens": tokens, "temperature": 0}, name="generate"))
    handle.event.connect(on_token)
    handle.result.connect(lambda r: box.setdefault("result", r))
    handle.error.connect(lambda msg: box.setdefault("error", msg))
    handle.finished.connect(loop.quit)
    loop.exec()
    seconds = time.perf_counter() - t0
    if "error" in box:
        raise RuntimeError(box["error"])
    result = box["result"]
    assert "".join(received) == result.text, "the UI slot must receive every piece of text"
    return result.new_tokens, seconds, len(received)


def measure(model_id: str | None, tokens: int, repeats: int, prompt: str = PROMPT, log=print) -> dict:
    """Interleaved repeats of both paths; returns medians and the ratio."""
    from PySide6.QtCore import QCoreApplication

    from playground.core import generation
    from playground.worker import Worker

    app = QCoreApplication.instance() or QCoreApplication(sys.argv[:1])  # noqa: F841 - event loop owner
    model_id = model_id or generation.BUNDLED_ID
    gen = generation.load_generator(model_id)  # the worker's jobs find this one in the model cache
    worker = Worker()
    try:
        direct_run(gen, prompt, 4)  # warm up both paths
        app_run(worker, model_id, prompt, 4)
        direct, through_app = [], []
        for i in range(repeats):
            order = ("direct", "app") if i % 2 == 0 else ("app", "direct")
            for which in order:
                if which == "direct":
                    n, s = direct_run(gen, prompt, tokens)
                    direct.append(n / s)
                else:
                    n, s, events = app_run(worker, model_id, prompt, tokens)
                    through_app.append(n / s)
            log(f"  repeat {i + 1}: direct {direct[-1]:.2f} tok/s, app {through_app[-1]:.2f} tok/s "
                f"({n} tokens, {events} UI events)")
    finally:
        worker.shutdown()
    d, a = statistics.median(direct), statistics.median(through_app)
    paired = statistics.median(x / y for x, y in zip(through_app, direct, strict=True))
    return {"model": model_id, "tokens": tokens, "repeats": repeats, "direct_tokens_per_s": d,
            "app_tokens_per_s": a, "ratio": a / d, "paired_ratio": paired, "device": gen.device}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer tokens and repeats")
    parser.add_argument("--model", default=None, help="Hub id or folder (default: the bundled SmolLM2)")
    parser.add_argument("--tokens", type=int, default=None, help="new tokens per run (default 64, quick 24)")
    parser.add_argument("--repeats", type=int, default=None, help="interleaved repeats (default 5, quick 3)")
    args = parser.parse_args(argv)
    tokens = args.tokens or (24 if args.quick else 64)
    repeats = args.repeats or (3 if args.quick else 5)
    print(f"Generation: {tokens} new tokens, {repeats} interleaved repeats")
    res = measure(args.model, tokens, repeats)
    print(f"model {res['model']} on {res['device']}")
    print(f"direct model.generate : {res['direct_tokens_per_s']:.2f} tokens/s (median)")
    print(f"app (worker -> UI)    : {res['app_tokens_per_s']:.2f} tokens/s (median)")
    print(f"ratio app/direct      : {res['ratio']:.3f}  (target >= 0.95) {'OK' if res['ratio'] >= 0.95 else 'BELOW'}")
    print(f"median of the paired (same repeat) ratios: {res['paired_ratio']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
