"""Sound-classes benchmark: live latency from a word's end to its class shown, and feature cost.

    uv run python benchmarks/sound.py [--repeats N] [--model DIR] [--hop S]

1. Trains a sound classifier (Whisper tiny.en encoder features + head, the Train tab's job) on
   espeak-ng "yes" / "no" / "stop" in 6 voices x 2 speeds plus noise (or uses --model).
2. Plays words in voices it never heard, 1.5 s of noise apart, at real-time pace through
   `sound.listen` (the Speech tab's live job, one look every --hop seconds at the last second).
   For each word: seconds from the end of its audio to the first scores whose top class is the
   word (negative: shown before the word ended), and whether it was found at all.
3. Feature cost per one-second clip: Whisper encoder vs log-mel statistics (2 CPU threads).

Needs espeak-ng. Prints one JSON object last.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import sound_support as ss  # noqa: E402

from playground.core import sound  # noqa: E402
from playground.core.speech import sources  # noqa: E402
from playground.core.jobs import Job, JobContext  # noqa: E402
from playground.core.runner import run_sync  # noqa: E402


def train(folder: Path) -> str:
    from playground.core.training.sound import train_sound_classifier

    data = ss.make_word_folder(folder / "train", speeds=(130, 175), seed=0)
    t = time.perf_counter()
    result = run_sync(Job(train_sound_classifier, (data, folder / "model"), {}))
    print(f"trained in {time.perf_counter() - t:.1f} s, val accuracy {result.val_accuracy:.3f}", file=sys.stderr)
    return result.model_dir


def stream(folder: Path, seed: int) -> tuple[Path, list[tuple[str, int, int]]]:
    """A WAV of held-out words 1.5 s of noise apart; (word, start sample, end sample) of each."""
    rng = np.random.default_rng(seed)
    parts, words, pos = [ss.noise(rng, 16000, 0.005)], [], 16000
    for voice in ss.HELD_OUT_VOICES:
        for word in ss.WORDS:
            w = ss.spoken(word, voice, int(rng.integers(130, 190)), folder)
            w = 0.8 * w / np.abs(w).max() + ss.noise(rng, len(w), 0.005)
            words.append((word, pos, pos + len(w)))
            gap = ss.noise(rng, 24000, 0.005)
            parts += [w, gap]
            pos += len(w) + len(gap)
    path = folder / f"stream-{seed}.wav"
    sf.write(path, np.concatenate(parts).astype(np.float32), 16000)
    return path, words


def live_latencies(model: str, path: Path, words, hop: float) -> tuple[list[float], int]:
    source = sources.FileSource(path, tail_silence=0.5)
    events: list[sound.SoundScores] = []
    ctx = JobContext()
    gen_done = threading.Event()

    def run():
        g = sound.listen(ctx, source, model, hop=hop)
        try:
            for e in g:
                events.append(e)
        finally:
            gen_done.set()

    threading.Thread(target=run, daemon=True).start()
    gen_done.wait(600)
    t0 = source.started_at
    out, missed = [], 0
    for i, (word, start, end) in enumerate(words):
        limit = words[i + 1][1] if i + 1 < len(words) else 10**12
        end_wall = t0 + end / 16000
        hits = [e for e in events if e.top == word and start / 16000 <= e.time <= limit / 16000 + 1.0]
        if not hits:
            missed += 1
            continue
        out.append(hits[0].wall - end_wall)
    return out, missed


def feature_cost() -> dict:
    clips = [np.random.default_rng(i).standard_normal(16000).astype(np.float32) * 0.1 for i in range(20)]
    out = {}
    for name in ("whisper", "logmel"):
        f = sound.featurizer(name)
        f(clips[:2])
        t = time.perf_counter()
        f(clips)
        out[name] = (time.perf_counter() - t) / len(clips)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--model", default=None)
    p.add_argument("--hop", type=float, default=0.25)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        model = args.model or train(folder)
        lat, missed, total = [], 0, 0
        for r in range(args.repeats):
            path, words = stream(folder, seed=100 + r)
            got, miss = live_latencies(model, path, words, args.hop)
            lat += got
            missed += miss
            total += len(words)
        cost = feature_cost()
    report = {"words": total, "found": total - missed, "hop_s": args.hop,
              "latency_median_s": round(statistics.median(lat), 3) if lat else None,
              "latency_max_s": round(max(lat), 3) if lat else None,
              "latency_min_s": round(min(lat), 3) if lat else None,
              "feature_ms_per_clip": {k: round(v * 1000, 1) for k, v in cost.items()}}
    print(f"live: {report['found']}/{total} words shown; from word end to class shown: median "
          f"{report['latency_median_s']} s, max {report['latency_max_s']} s (hop {args.hop} s)")
    print(f"features per 1 s clip: whisper {report['feature_ms_per_clip']['whisper']} ms, "
          f"logmel {report['feature_ms_per_clip']['logmel']} ms")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
