"""Generation tokens/s: streamed through the app's worker to a UI slot vs `model.generate` called directly.

Both paths use the same loaded model, the same prompt (through the chat
template when the model has one) and greedy decoding, so they produce the same
tokens; the repeats are interleaved (direct, app, app, direct, ...) so a busy
machine slows both alike. Target: app / direct >= 0.95.

`--repetition` measures instead whether answers loop: over varied prompts and a
few seeds, the share of distinct word 4-grams in each answer, with the old
decoding (plain sampling) and the default one side by side, each prompt and seed
with both. Target: no answer below 0.6 with the defaults.

`--fast` compares the two generation paths side by side in one run: transformers float32 and the
fast path (CTranslate2 int8 on the CPU), the same prompts, greedy, 128 new tokens, interleaved:
tokens/s (target: fast >= 2.5x), the time to the first token for a 50-token prompt once loaded
(target: <= 0.5 s), and the perplexity of each on a held text (target: fast within 3% of float32).

    uv run python benchmarks/text_generation.py [--quick] [--model ID_OR_DIR]
    uv run python benchmarks/text_generation.py --repetition [--quick] [--seeds 3]
    uv run python benchmarks/text_generation.py --fast [--quick] [--model ID_OR_DIR]
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
# Held text for the perplexity comparison (written for this benchmark, so no model saw it in training).
HELD_TEXT = (
    "The ferry to the island leaves twice a day, once at dawn and once in the late afternoon. In winter the "
    "crossing takes almost an hour, because the captain follows the long channel around the sandbanks, and "
    "passengers wait inside the small cabin where a kettle is always warm. Most of them are islanders coming "
    "back from the market with boxes of vegetables, spare parts for boats, and letters for the post office. "
    "Visitors are rare until spring, when birdwatchers arrive with heavy cameras and folding chairs. They walk "
    "the cliff path to the northern point, where thousands of seabirds nest on narrow ledges above the waves. "
    "The islanders are patient with them, although they smile when a visitor asks whether the shop sells "
    "anything other than bread, tea and fishing line. The school has eleven pupils and one teacher, who also "
    "runs the library on Saturday mornings and keeps the weather records that the national service collects "
    "every month.")


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
                                "no_repeat_ngram_size": 0, "backend": "transformers"}, name="generate"))  # plain greedy, as direct_run
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
    # the transformers path (model.generate is what the direct runs call); the worker's jobs find it in the cache
    gen = generation.load_generator(model_id, backend="transformers")
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


def prompt_of_tokens(gen, n: int) -> str:
    """A prompt whose chat-template input is about `n` tokens (the first length at or above n)."""
    from playground.core import generation

    words = HELD_TEXT.split()
    for i in range(1, len(words) + 1):
        text = " ".join(words[:i])
        if generation.build_inputs(gen, text)[0].shape[1] >= n:
            return text
    return HELD_TEXT


def compare_paths(model_id: str | None, tokens: int = 128, prompts=REPETITION_PROMPTS[:6], ttft_repeats: int = 5,
                  log=print) -> dict:
    """transformers float32 vs the fast path: tokens/s (greedy, interleaved), TTFT for a 50-token prompt
    once loaded, perplexity on HELD_TEXT."""
    from playground.core import generation
    from playground.core.jobs import JobContext

    model_id = model_id or generation.BUNDLED_ID
    paths_ = {"slow": generation.load_generator(model_id, backend="transformers"),
              "fast": generation.load_generator(model_id, backend="ctranslate2")}
    greedy = {"temperature": 0, "repetition_penalty": 1.0, "no_repeat_ngram_size": 0}

    def run(name, prompt, n):
        return generation.generate_with(JobContext(), paths_[name], prompt, max_new_tokens=n, **greedy)

    for name in paths_:  # warm up
        run(name, prompts[0], 4)
    rates: dict[str, list[float]] = {"slow": [], "fast": []}
    overall: dict[str, list[float]] = {"slow": [], "fast": []}
    same = 0
    for i, prompt in enumerate(prompts):
        order = ("slow", "fast") if i % 2 == 0 else ("fast", "slow")
        out = {}
        for name in order:
            out[name] = r = run(name, prompt, tokens)
            rates[name].append(r.decode_tokens_per_s)
            overall[name].append(r.overall_tokens_per_s)
        same += out["slow"].text == out["fast"].text
        log(f"  {prompt[:40]:40}  transformers {rates['slow'][-1]:5.1f} tok/s ({out['slow'].new_tokens} tokens)  "
            f"fast {rates['fast'][-1]:5.1f} tok/s ({out['fast'].new_tokens} tokens)")
    ttft_prompt = prompt_of_tokens(paths_["fast"], 50)
    ttft = {name: statistics.median(run(name, ttft_prompt, 8).time_to_first_token for _ in range(ttft_repeats))
            for name in paths_}
    ppl = {name: generation.perplexity(gen, HELD_TEXT) for name, gen in paths_.items()}
    return {"model": model_id, "backends": {k: g.backend for k, g in paths_.items()}, "tokens": tokens,
            "prompts": len(prompts), "same_text": same,
            "tokens_per_s": {k: statistics.median(v) for k, v in rates.items()},
            "overall_tokens_per_s": {k: statistics.median(v) for k, v in overall.items()},
            "ttft_prompt_tokens": int(generation.build_inputs(paths_["fast"], ttft_prompt)[0].shape[1]),
            "ttft": ttft, "perplexity": ppl,
            "held_tokens": len(paths_["fast"].tokenizer(HELD_TEXT)["input_ids"])}


def _print_compare(res: dict) -> None:
    slow, fast = res["backends"]["slow"], res["backends"]["fast"]
    tps, ov = res["tokens_per_s"], res["overall_tokens_per_s"]
    speed = tps["fast"] / tps["slow"]
    print(f"model {res['model']}: {res['prompts']} prompts, greedy, {res['tokens']} new tokens, medians")
    print(f"tokens/s generating    : {slow} {tps['slow']:.1f}, {fast} {tps['fast']:.1f}, "
          f"{speed:.2f}x (target >= 2.5x) {'OK' if speed >= 2.5 else 'BELOW'}")
    print(f"tokens/s with the prompt: {slow} {ov['slow']:.1f}, {fast} {ov['fast']:.1f}, "
          f"{ov['fast'] / ov['slow']:.2f}x")
    print(f"time to first token, {res['ttft_prompt_tokens']}-token prompt, loaded: {slow} {res['ttft']['slow']:.3f} s, "
          f"{fast} {res['ttft']['fast']:.3f} s (target <= 0.5 s) {'OK' if res['ttft']['fast'] <= 0.5 else 'ABOVE'}")
    p_slow, p_fast = res["perplexity"]["slow"], res["perplexity"]["fast"]
    diff = p_fast / p_slow - 1
    print(f"perplexity on a held text ({res['held_tokens']} tokens): {slow} {p_slow:.3f}, {fast} {p_fast:.3f}, "
          f"{diff:+.2%} (target within 3%) {'OK' if abs(diff) <= 0.03 else 'OUTSIDE'}")
    print(f"identical greedy text on {res['same_text']} of {res['prompts']} prompts (int8 rounding may change "
          "a near-tie and the rest of the answer after it)")


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
    parser.add_argument("--fast", action="store_true",
                        help="transformers float32 vs the fast path (CTranslate2): tokens/s, TTFT, perplexity")
    parser.add_argument("--seeds", type=int, default=None,
                        help="seeds per prompt with --repetition (default 3, quick 1)")
    args = parser.parse_args(argv)
    if args.repetition:
        seeds = range(args.seeds or (1 if args.quick else 3))
        _print_repetition(repetition(args.model, seeds=tuple(seeds), tokens=args.tokens or 128))
        return 0
    if args.fast:
        prompts = REPETITION_PROMPTS[:2] if args.quick else REPETITION_PROMPTS[:6]
        _print_compare(compare_paths(args.model, tokens=args.tokens or 128, prompts=prompts))
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
