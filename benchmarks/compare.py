"""The overhead of comparing: `playground compare` on two models against the two evaluations
done alone, back to back, in one run.

    uv run python benchmarks/compare.py [--models A B] [--data DATA] [--clips N] [--repeats N]

Default: Whisper tiny.en against Whisper base (both bundled) on N espeak-ng sentences with .txt
references (needs espeak-ng and sox); the models alone run `file_transcription.transcribe_files`, the job of
`playground transcribe`. With --models and --data, any two models `compare` takes; classifiers
alone run `evaluate.evaluate`, the job of `playground evaluate`.

Both sides start every model from a cold model cache (compare empties it before each model; the
baseline does the same), so both include the loads. A warm-up round of each (not counted) imports
the libraries; then the rounds alternate (alone, compare, alone, compare ...) so a busy machine
weighs on both. Prints the median seconds of each and their ratio (target at most 1.1), the ratio
of the fastest rounds (steadier on a busy machine), and one JSON object last.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from playground.core import compare, evaluate, models  # noqa: E402
from playground.core.speech import file_transcription  # noqa: E402
from playground.core.jobs import Job  # noqa: E402
from playground.core.runner import run_sync  # noqa: E402

SENTENCES = (
    "Please call me tomorrow morning before the meeting starts.",
    "Open the window and let some fresh air into the room.",
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "We will need three more chairs for the guests this evening.",
    "She bought apples, bread and a small bottle of olive oil.",
    "The train to the city leaves at half past seven every day.",
    "Remember to switch off the lights when you leave the office.",
    "His brother plays the guitar in a band on Friday nights.",
)


def make_clips(folder: Path, n: int) -> Path:
    from speech_support import speak

    for i in range(n):
        text = SENTENCES[i % len(SENTENCES)]
        speak(text, folder / f"clip{i:02d}.wav", speed=150 + 10 * (i % 3))
        (folder / f"clip{i:02d}.txt").write_text(text + "\n")
    return folder


def alone(model_ids: list[str], data: str) -> float:
    """Each model's own evaluation (or transcription), one after the other, each from a cold cache."""
    task = compare.common_task(model_ids)
    t0 = time.perf_counter()
    for model in model_ids:
        models.cache.clear()
        if task == compare.SPEECH:
            files = [str(p) for p, _ in compare.reference_pairs(data)]
            run = run_sync(Job(file_transcription.transcribe_files, (files,), {"model": model}))
            assert not run.failed, run.failed
        else:
            run_sync(Job(evaluate.evaluate, (model, data)))
    return time.perf_counter() - t0


def together(model_ids: list[str], data: str) -> float:
    t0 = time.perf_counter()
    result = run_sync(Job(compare.compare, (model_ids, data)))
    assert all(r.ok for r in result.rows), [r.error for r in result.rows]
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs=2, default=["bundled/whisper-tiny.en", "bundled/whisper-base"])
    parser.add_argument("--data", default=None, help="labelled data (default: espeak-ng clips made here)")
    parser.add_argument("--clips", type=int, default=6, help="spoken clips to make (default 6)")
    parser.add_argument("--repeats", type=int, default=3, help="counted rounds of each (default 3)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data or str(make_clips(Path(tmp), args.clips))
        alone(args.models, data)  # warm-up: imports, a bundled model's first join
        together(args.models, data)
        a, c = [], []
        for _ in range(args.repeats):
            a.append(alone(args.models, data))
            c.append(together(args.models, data))
    ratio = statistics.median(c) / statistics.median(a)
    best = min(c) / min(a)  # the least disturbed round of each: steadier on a shared machine
    print(f"{' vs '.join(args.models)} on {args.data or f'{args.clips} spoken clips'}: "
          f"alone back to back {statistics.median(a):.2f} s, compare {statistics.median(c):.2f} s "
          f"(median of {args.repeats}); ratio {ratio:.3f}, of the fastest rounds {best:.3f} (target <= 1.1)")
    print(json.dumps({"models": args.models, "alone_s": a, "compare_s": c, "ratio": round(ratio, 4),
                      "ratio_fastest": round(best, 4)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
