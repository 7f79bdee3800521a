"""Generation tokens/s: streamed through the app's worker to a UI slot vs `model.generate` called directly.

Both paths use the same loaded model, the same prompt (through the chat
template when the model has one) and greedy decoding, so they produce the same
tokens; the repeats are interleaved (direct, app, app, direct, ...) so a busy
machine slows both alike. Target: app / direct >= 0.95.

`--repetition` measures instead whether answers loop: over varied prompts and a
few seeds, the share of distinct word 4-grams in each answer, with the old
decoding (plain sampling) and the default one side by side, each prompt and seed
with both. Target: no answer below 0.6 with the defaults.

    uv run python benchmarks/text_generation.py [--quick] [--model ID_OR_DIR]
    uv run python benchmarks/text_generation.py --repetition [--quick] [--seeds 3]
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
# Varied asks: poems (where the small model loops most), explanations, lists, letters, stories.
REPETITION_PROMPTS = (
    "Write a haiku about a cat sitting in the sun",
    "Write a short poem about the sea.",
    "Write a four-line poem about autumn leaves.",
    "Explain photosynthesis to a ten-year-old.",
    "Give me five tips for sleeping better.",
    "Write a short email asking my manager for a day off on Friday.",
    "What is the difference between a list and a tuple in Python?",
    "Tell me a short story about a robot who learns to paint.",
    "Describe your ideal weekend in a few sentences.",
    "Why is the sky blue?",
)
LOOP_THRESHOLD = 0.6  # below this share of distinct 4-grams an answer reads as looping


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
                               {"max_new_tokens": tokens, "temperature": 0, "repetition_penalty": 1.0,
                                "no_repeat_ngram_size": 0}, name="generate"))  # plain greedy, as direct_run
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


def repetition(model_id: str | None, prompts=REPETITION_PROMPTS, seeds=(0, 1, 2), tokens: int = 128,
               log=print) -> dict:
    """Distinct 4-gram shares of every (prompt, seed) answer, with the old and the default decoding."""
    from playground.core import generation
    from playground.core.jobs import JobContext

    gen = generation.load_generator(model_id or generation.BUNDLED_ID)
    settings = {"old": generation.PLAIN_DECODING, "new": generation.decoding_for(gen)}
    shares: dict[str, list[float]] = {name: [] for name in settings}
    for prompt in prompts:
        for seed in seeds:
            row = []
            for name, d in settings.items():
                r = generation.generate_with(JobContext(), gen, prompt, max_new_tokens=tokens, seed=seed,
                                             temperature=d.temperature, top_p=d.top_p,
                                             repetition_penalty=d.repetition_penalty,
                                             no_repeat_ngram_size=d.no_repeat_ngram_size)
                shares[name].append(generation.distinct_ngram_share(r.text))
                row.append(f"{name} {shares[name][-1]:.2f}")
            log(f"  seed {seed}  {'  '.join(row)}  {prompt[:50]}")
    return {"model": gen.model_id, "device": gen.device, "answers": len(shares["old"]), "settings": settings,
            "shares": shares}


def _print_repetition(res: dict) -> None:
    print(f"model {res['model']} on {res['device']}, {res['answers']} answers per setting")
    for name, values in res["shares"].items():
        d = res["settings"][name]
        loops = sum(v < LOOP_THRESHOLD for v in values)
        block = f"no repeated {d.no_repeat_ngram_size}-gram" if d.no_repeat_ngram_size else "no n-gram block"
        print(f"{name:3} (temperature {d.temperature}, top-p {d.top_p}, repetition penalty {d.repetition_penalty}, "
              f"{block}): distinct 4-gram share mean {statistics.mean(values):.3f}, "
              f"min {min(values):.3f}, answers below {LOOP_THRESHOLD}: {loops}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer tokens and repeats")
    parser.add_argument("--model", default=None, help="Hub id or folder (default: the bundled SmolLM2)")
    parser.add_argument("--tokens", type=int, default=None, help="new tokens per run (default 64, quick 24)")
    parser.add_argument("--repeats", type=int, default=None, help="interleaved repeats (default 5, quick 3)")
    parser.add_argument("--repetition", action="store_true",
                        help="measure looping (distinct 4-gram share), old vs default decoding")
    parser.add_argument("--seeds", type=int, default=None,
                        help="seeds per prompt with --repetition (default 3, quick 1)")
    args = parser.parse_args(argv)
    if args.repetition:
        seeds = range(args.seeds or (1 if args.quick else 3))
        _print_repetition(repetition(args.model, seeds=tuple(seeds), tokens=args.tokens or 128))
        return 0
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
