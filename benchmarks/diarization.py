"""Diarization error rate of the speaker labels (`core/speech/speakers.py`).

    uv run python benchmarks/diarization.py --wav sample.wav --rttm sample.rttm [--speakers N] [--collar S]
    uv run python benchmarks/diarization.py            # two espeak-ng voices taking turns (synthetic)

DER = (missed speech + false alarm + speaker confusion) / reference speech, on a 10 ms grid, with
the best one-to-one mapping of found speakers to reference speakers (Hungarian), as in NIST md-eval
and pyannote.metrics. Overlapped reference speech counts once per reference speaker, so a system
that gives one speaker per moment misses the second voice there. `--collar` ignores that many
seconds either side of each reference boundary (0 by default; 0.25 is the usual forgiving value).

A real two-speaker recording with reference turns: pyannote.audio's `tutorials/assets/sample.wav`
and `sample.rttm` (in its GitHub repository). Without `--wav`, two espeak-ng voices alternate (the
tests' recording), so that run needs espeak-ng and sox and is synthetic: say so when quoting it.
Target: DER at most 20%.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
STEP = 0.01


def read_rttm(path: Path, uri: str | None = None) -> list[tuple[float, float, str]]:
    """(start, end, speaker) of each SPEAKER line (of file `uri` only, when given: an RTTM can hold
    several recordings)."""
    out = []
    for line in path.read_text().splitlines():
        f = line.split()
        if len(f) >= 8 and f[0] == "SPEAKER" and (uri is None or f[1] == uri):
            start, dur = float(f[3]), float(f[4])
            out.append((start, start + dur, f[7]))
    return out


def _grid(turns, names: list[str], n: int) -> np.ndarray:
    g = np.zeros((len(names), n), bool)
    for start, end, who in turns:
        g[names.index(who), int(round(start / STEP)):int(round(end / STEP))] = True
    return g


def der(reference, hypothesis, collar: float = 0.0) -> dict:
    """Missed, false alarm, confusion and DER (fractions of reference speech)."""
    from scipy.optimize import linear_sum_assignment

    end = max([e for _, e, _ in reference] + [e for _, e, _ in hypothesis] + [0.0])
    n = int(round(end / STEP)) + 1
    ref_names = sorted({w for _, _, w in reference})
    hyp_names = sorted({w for _, _, w in hypothesis})
    ref = _grid(reference, ref_names, n)
    hyp = _grid(hypothesis, hyp_names, n)
    scored = np.ones(n, bool)
    if collar > 0:
        for start, e, _ in reference:
            for t in (start, e):
                scored[max(0, int(round((t - collar) / STEP))):int(round((t + collar) / STEP))] = False
    ref, hyp = ref[:, scored], hyp[:, scored]
    n_ref, n_hyp = ref.sum(0), hyp.sum(0)
    # Best mapping: maximise the time each reference speaker shares with its hypothesis speaker.
    overlap = ref.astype(int) @ hyp.T.astype(int) if len(hyp_names) else np.zeros((len(ref_names), 0))
    rows, cols = linear_sum_assignment(-overlap) if overlap.size else ([], [])
    mapped = np.zeros(ref.shape[1], int)
    for r, c in zip(rows, cols):
        mapped += ref[r] & hyp[c]
    total = n_ref.sum()
    missed = np.maximum(n_ref - n_hyp, 0).sum()
    false_alarm = np.maximum(n_hyp - n_ref, 0).sum()
    confusion = (np.minimum(n_ref, n_hyp) - mapped).sum()
    return {"reference_s": total * STEP, "missed": missed / total, "false_alarm": false_alarm / total,
            "confusion": confusion / total, "der": (missed + false_alarm + confusion) / total,
            "speakers_ref": len(ref_names), "speakers_found": len(hyp_names)}


def synthetic(folder: Path):
    sys.path.insert(0, str(ROOT / "tests"))
    from speech_support import two_voices

    wav, turns = two_voices(folder)
    return wav, [(s, e, f"voice{v}") for s, e, v in turns]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--wav", type=Path, help="a recording (default: two espeak-ng voices, synthetic)")
    p.add_argument("--rttm", type=Path, help="its reference speaker turns (RTTM)")
    p.add_argument("--speakers", type=int, default=None, help="give the number of speakers (default: found)")
    p.add_argument("--collar", type=float, default=0.0, help="seconds ignored around reference boundaries")
    args = p.parse_args(argv)
    if (args.wav is None) != (args.rttm is None):
        p.error("--wav and --rttm go together")

    from playground.core import audio
    from playground.core.speech import speakers

    with tempfile.TemporaryDirectory() as tmp:
        if args.wav:
            reference = read_rttm(args.rttm, args.wav.stem) or read_rttm(args.rttm)
            wav, what = args.wav, args.wav.name
        else:
            wav, reference = synthetic(Path(tmp))
            what = "two espeak-ng voices alternating (synthetic)"
        samples = audio.load(wav)
        t0 = time.perf_counter()
        turns = speakers.diarize(samples, args.speakers)
        elapsed = time.perf_counter() - t0
    hypothesis = [(t.start, t.end, t.speaker) for t in turns]
    print(f"{what}: {len(samples) / audio.SAMPLE_RATE:.1f} s of audio, diarized in {elapsed:.1f} s "
          f"(speakers {'given: ' + str(args.speakers) if args.speakers else 'found automatically'})")
    for collar in sorted({0.0, args.collar}):
        m = der(reference, hypothesis, collar)
        print(f"collar {collar:.2f} s: DER {m['der']:.1%} (missed {m['missed']:.1%}, false alarm "
              f"{m['false_alarm']:.1%}, confusion {m['confusion']:.1%}) over {m['reference_s']:.1f} s of "
              f"reference speech; speakers {m['speakers_found']} found, {m['speakers_ref']} in the reference")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
