"""Speech benchmark: the app's engine against bare faster-whisper, live latency, UI stalls.

    uv run python benchmarks/speech.py [--quick] [--repeats N]

1. File transcription real-time factor through `file_transcription.transcribe_file`
   versus bare `faster_whisper.WhisperModel.transcribe` on the same file with
   the same decoding options, interleaved repeats; ratio = bare time / engine
   time (target >= 0.95).
1b. The bundled multilingual Whisper base against tiny.en on the same audio
   (real-time factor of each through the engine, language auto-detected for
   base), and base through the engine versus bare faster-whisper base with the
   same options (target >= 0.95), interleaved in one run.
2. Live latency: a file fed at real-time pace through `live.listen` (once
   per repeat); for each phrase, seconds from the end of the phrase's audio to
   its final text (target < 1.5 s with tiny.en on 2 CPU cores).
2b. Live latency on a read paragraph with natural pauses (commas short,
   sentence ends longer, a long first sentence; espeak-ng at varied speed and
   pitch plus noise, so synthetic): p50, p90 and max from each sentence end to
   its final text (target p90 <= 1.0 s), and from the pause each final was
   cut at (a phrase that runs on is cut at a short pause).
   `--reading-only` runs just this; `--soft-max-utterance 0` turns the cut off.
2c. `--recording FILE.wav --stm FILE.stm`: the same measurement on a real recording, with the
   phrase times from its NIST STM transcript (`file channel speaker start end words...`, as
   speech test suites ship them, e.g. pyannote.audio's `sample/`). A phrase end counts when at
   least 0.3 s passes before the next phrase starts (speakers who run on give no end to wait
   for); WER of the finals against the STM words is printed too. Runs alone, like
   `--reading-only`.
2d. `--words`: per-word latency, for every reference word the time from its end in the audio to its
   first appearance as final and as partial text, p50/p90/p99 (targets with tiny.en on 2 cores: p90
   <= 2.0 s, p99 <= 3.0 s), the old phrase-end figure beside it, and live WER beside the file
   transcription's. On `--recording` (with `--stm` or `--reference`), as recorded and with its pauses
   cut out by sox; without one, on the espeak-ng reading with its pauses cut out.
3. The longest gap between ticks of a 10 ms QTimer in the main window while
   the Speech tab transcribes live (target < 50 ms).

Test speech is made with espeak-ng + sox, so the benchmark needs both.
With a CUDA GPU, also a transformers Whisper model in fp16 if one is cached
(`--hf-model`, default openai/whisper-tiny.en; nothing is downloaded offline).
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

PHRASES = (
    "Hello world, this is a test of the speech recognition system.",
    "Please call me tomorrow morning before the meeting starts.",
    "Open the window and let some fresh air into the room.",
)
SR = 16000

# A read paragraph: sentences with commas (short pauses) and sentence ends (longer ones); each
# sentence read at its own speed and pitch, as a person reading aloud would vary. The first is long.
READING = (
    ("The old lighthouse stood at the end of the harbour, where the road turned to sand, and every "
     "evening the keeper climbed the stairs to light the lamp before the fishing boats came home.", 165, 45),
    ("Nobody in the village remembered a night without it.", 150, 55),
    ("In winter, when the storms came in from the west, the light was the only thing you could see "
     "from the water, and the sailors said it had saved more lives than any doctor.", 175, 40),
    ("The keeper never talked about it.", 145, 60),
    ("He kept a small garden behind the tower, grew potatoes and onions, and walked to the market "
     "on Saturdays to buy bread, coffee and the newspaper.", 160, 50),
    ("One spring, a letter arrived from the city, telling him the lamp would be replaced by a machine.", 170, 48),
    ("He read it twice, folded it carefully, and put it in the drawer with the others.", 155, 52),
)
GAPS = (0.9, 0.7, 1.2, 0.8, 1.0, 0.75, 1.1)  # seconds of silence after each sentence


def make_speech(folder: Path, gap: float) -> tuple[Path, list[float]]:
    """The phrases with `gap` s of silence between them; returns the file and each phrase's end time."""
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            sys.exit(f"benchmarks/speech.py needs {tool} (Debian packages espeak-ng, sox)")
    parts, ends, t = [], [], 0.0
    for i, text in enumerate(PHRASES):
        raw, wav = folder / f"raw{i}.wav", folder / f"p{i}.wav"
        subprocess.run(["espeak-ng", "-w", str(raw), text], check=True, capture_output=True)
        subprocess.run(["sox", str(raw), "-r", str(SR), "-c", "1", str(wav)], check=True, capture_output=True)
        x, _ = sf.read(wav, dtype="float32")
        loud = np.flatnonzero(np.abs(x) > 0.01)
        ends.append(t + (loud[-1] + 1) / SR)
        parts += [x, np.zeros(int(gap * SR), np.float32)]
        t += len(x) / SR + gap
    out = folder / "phrases.wav"
    sf.write(out, np.concatenate(parts), SR)
    return out, ends


def make_reading(folder: Path, noise: float = 0.003) -> tuple[Path, list[float], list[float]]:
    """READING as one file with natural pauses and a little background noise.

    Returns the file, each sentence's end (the reader then pauses for GAPS) and the end of the speech
    before every pause of at least 0.15 s inside a sentence (commas, breaths)."""
    parts, sentence_ends, inner, t = [], [], [], 0.0
    rng = np.random.default_rng(0)
    for i, (text, speed, pitch) in enumerate(READING):
        raw, wav = folder / f"read_raw{i}.wav", folder / f"read{i}.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", str(speed), "-p", str(pitch), "-w", str(raw), text],
                       check=True, capture_output=True)
        subprocess.run(["sox", str(raw), "-r", str(SR), "-c", "1", str(wav)], check=True, capture_output=True)
        x, _ = sf.read(wav, dtype="float32")
        loud = np.flatnonzero(np.abs(x) > 0.01)
        x = x[: loud[-1] + 1]
        # pauses inside the sentence: 10 ms frames without a loud sample, 0.15 s or longer
        frames = np.abs(x[: len(x) // 160 * 160]).reshape(-1, 160).max(axis=1) > 0.01
        run = 0
        for j, voiced in enumerate(frames):
            if not voiced:
                run += 1
            else:
                if run >= 15 and j - run > 0:
                    inner.append(t + (j - run) * 0.01)
                run = 0
        sentence_ends.append(t + len(x) / SR)
        gap = np.zeros(int(GAPS[i % len(GAPS)] * SR), np.float32)
        parts += [x, gap]
        t += (len(x) + len(gap)) / SR
    signal = np.concatenate([np.zeros(int(0.5 * SR), np.float32)] + parts)
    signal = signal + (noise * rng.standard_normal(len(signal))).astype(np.float32)
    shift = 0.5
    out = folder / "reading.wav"
    sf.write(out, signal, SR)
    return out, [e + shift for e in sentence_ends], [e + shift for e in inner]


def transcribe_sync(path, model=None):
    """The engine's file job (`file_transcription.transcribe_file`) run to the end on this thread."""
    from playground.core.speech import file_transcription
    from playground.core.jobs import Job
    from playground.core.runner import run_sync

    return run_sync(Job(file_transcription.transcribe_file, (path,), {"model": model}))


def percentiles(values: list[float]) -> str:
    if not values:
        return "none"
    p50, p90 = np.percentile(values, [50, 90])
    return f"p50 {p50:.2f} s, p90 {p90:.2f} s, max {max(values):.2f} s ({len(values)})"


def bench_reading(path: Path, sentence_ends: list[float], inner: list[float], options=None) -> dict:
    """Live on the reading: for each sentence end, and for each final (at the pause it was cut at),
    seconds from the end of the speech to the final text."""
    run = bench_live(path, sentence_ends, options, keep_finals=True)
    pauses = sorted(sentence_ends + inner)
    per_final = []
    for f in run["final_events"]:
        # the speech end this final was cut at: the pause nearest the final's end, heard before it came
        heard = [p for p in pauses if p <= f.emitted_at]
        if heard:
            per_final.append(f.emitted_at - min(heard, key=lambda p: abs(p - f.end)))
    run["per_final"] = per_final
    return run


def bench_file(path: Path, repeats: int) -> dict:
    from faster_whisper import WhisperModel

    from playground.core import audio, models
    from playground.core.speech import accuracy, languages, recognizers

    duration = audio.probe(path).duration
    rec = recognizers.load_recognizer()  # the engine's cached model
    bare = WhisperModel(str(models.bundled_path(languages.DEFAULT_MODEL)), device="cpu", compute_type="int8")

    def engine() -> str:
        return transcribe_sync(path).text

    def bare_same() -> str:  # the options the engine uses
        segs, _ = bare.transcribe(str(path), language="en", beam_size=5, vad_filter=True,
                                  condition_on_previous_text=False)
        return " ".join(s.text.strip() for s in segs)

    def bare_default() -> str:  # faster-whisper's defaults (no VAD)
        segs, _ = bare.transcribe(str(path), language="en")
        return " ".join(s.text.strip() for s in segs)

    runs = {"engine": engine, "bare_same_options": bare_same, "bare_defaults": bare_default}
    for fn in runs.values():  # warm-up
        fn()
    times: dict[str, list[float]] = {k: [] for k in runs}
    texts = {}
    for _ in range(repeats):
        for name, fn in runs.items():  # interleaved
            t0 = time.perf_counter()
            texts[name] = fn()
            times[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    ref = " ".join(PHRASES)
    return {
        "duration": duration, "rec": rec.model_id,
        "rtf": {k: v / duration for k, v in med.items()},
        "wer": {k: accuracy.word_error_rate(ref, t) for k, t in texts.items()},
        "ratio_same": med["bare_same_options"] / med["engine"],
        "ratio_defaults": med["bare_defaults"] / med["engine"],
    }


def bench_base(path: Path, repeats: int) -> dict:
    """tiny.en vs base through the engine, and base: engine vs bare faster-whisper, interleaved."""
    from faster_whisper import WhisperModel

    from playground.core import audio, models
    from playground.core.speech import accuracy, languages, recognizers

    duration = audio.probe(path).duration
    t0 = time.perf_counter()
    folder = models.bundled_path(languages.MULTILINGUAL_MODEL)  # joins the two parts the first time
    join_s = time.perf_counter() - t0
    recognizers.load_recognizer(languages.MULTILINGUAL_MODEL)
    bare = WhisperModel(str(folder), device="cpu", compute_type="int8")
    info = {}

    def tiny() -> str:
        return transcribe_sync(path).text

    def base() -> str:
        t = transcribe_sync(path, languages.MULTILINGUAL_MODEL)
        info["language"], info["probability"] = t.language, t.language_probability
        return t.text

    def bare_base() -> str:  # the options the engine uses (auto-detect: language=None)
        segs, _ = bare.transcribe(str(path), beam_size=5, vad_filter=True, condition_on_previous_text=False)
        return " ".join(s.text.strip() for s in segs)

    runs = {"tiny.en engine": tiny, "base engine": base, "base bare": bare_base}
    for fn in runs.values():  # warm-up
        fn()
    times: dict[str, list[float]] = {k: [] for k in runs}
    texts = {}
    names = list(runs)
    for r in range(repeats):
        # The order turns each repeat: no run always follows the same one (a model's worker threads
        # still spinning after its decode slow whatever comes next on 2 cores).
        for name in names[r % len(names):] + names[:r % len(names)]:
            fn = runs[name]
            t1 = time.perf_counter()
            texts[name] = fn()
            times[name].append(time.perf_counter() - t1)
    med = {k: statistics.median(v) for k, v in times.items()}
    ref = " ".join(PHRASES)
    return {"duration": duration, "join_s": join_s, "rtf": {k: v / duration for k, v in med.items()},
            "wer": {k: accuracy.word_error_rate(ref, t) for k, t in texts.items()},
            "base_over_tiny": med["base engine"] / med["tiny.en engine"],
            "ratio_base": med["base bare"] / med["base engine"], **info}


def bench_live(path: Path, ends: list[float], options=None, keep_finals: bool = False) -> dict:
    from playground.core.speech import live
    from playground.core.jobs import Job
    from playground.core.runner import run_sync
    from playground.core.speech import recognizers, sources

    rec = recognizers.load_recognizer()
    decode_times: list[float] = []
    original = rec.transcribe

    def timed(samples, *a, **k):  # how long each final decode (beam 5) takes
        t0 = time.perf_counter()
        out = original(samples, *a, **k)
        if k.get("beam_size", 5) > 1:
            decode_times.append(time.perf_counter() - t0)
        return out

    rec.transcribe = timed
    source = sources.FileSource(path, speed=1.0, tail_silence=1.0)
    finals = []
    status = []

    def sink(e):
        if isinstance(e, live.LiveText) and e.kind == "final" and e.text:
            finals.append(e)
        elif isinstance(e, live.LiveStatus):
            status.append(e)

    try:
        run_sync(Job(live.listen, (source,), {"autosave": False, "options": options}), sink)
    finally:
        del rec.transcribe
    latencies = []
    for end in ends:
        # the first final holding the phrase's last word (finals now come while a line goes on)
        after = [f for f in finals if f.start <= end and f.end >= end - 0.35]
        if after:
            latencies.append(after[0].emitted_at - end)
    rtf = status[-1].realtime_factor if status else None
    out = {"latencies": latencies, "finals": len(finals), "phrases": len(ends), "rtf": rtf,
           "decode": decode_times, "missed": len(ends) - len(latencies)}
    if keep_finals:
        out["final_events"] = finals
    return out


def bench_ui(path: Path) -> dict:
    from PySide6.QtCore import QElapsedTimer, QTimer

    from playground.app import MainWindow, create_app
    from playground.core.speech import sources
    from playground.settings import Settings

    app = create_app([])
    tmp = tempfile.mkdtemp()
    window = MainWindow(Settings.in_file(Path(tmp) / "s.ini"))
    window.show()
    window.tabs.setCurrentIndex(2)
    tab = window.page(2)
    phases: dict[str, list[float]] = {"idle": [], "live": []}
    phase = {"name": "idle"}
    clock = QElapsedTimer()
    ticker = QTimer()
    ticker.setInterval(10)

    since = QElapsedTimer()
    since.start()
    worst = {"gap": 0.0, "at": 0.0}

    def tick():
        if clock.isValid():
            gap = clock.nsecsElapsed() / 1e6
            phases[phase["name"]].append(gap)
            if phase["name"] == "live" and gap > worst["gap"]:
                worst.update(gap=gap, at=since.elapsed() / 1000 - 6.0)
        clock.restart()

    ticker.timeout.connect(tick)

    def start():
        # The same window idle for 5 s first: the baseline of what this machine's load alone causes.
        phase["name"] = "live"
        tab.start_recording(sources.FileSource(path, speed=1.0, tail_silence=1.0))
        tab.live_handle.finished.connect(app.quit)

    QTimer.singleShot(1000, ticker.start)
    QTimer.singleShot(6000, start)
    QTimer.singleShot(120_000, app.quit)
    app.exec()
    ticker.stop()
    segments = len(tab.segments())
    window.close()
    out = {"segments": segments, "worst_at": worst["at"]}
    for name, gaps in phases.items():
        gaps = gaps[3:] or [0.0]
        out[name] = {"max": max(gaps), "p99": float(np.percentile(gaps, 99)), "ticks": len(gaps)}
    return out


def bench_hf_gpu(path: Path, model_id: str) -> dict | None:
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    from playground.core import audio, models
    from playground.core.speech import recognizers

    if models.hub_cached_folder(model_id) is None:
        return {"skipped": f"{model_id} is not downloaded (offline)"}
    rec = recognizers.load_recognizer(model_id)
    x = audio.load(path)
    rec.transcribe(x)
    t0 = time.perf_counter()
    segs = rec.transcribe(x)
    dt = time.perf_counter() - t0
    return {"model": model_id, "rtf": dt / (len(x) / SR), "dtype": str(rec.pipe.model.dtype),
            "text": " ".join(s.text for s in segs)}


def live_options(soft_max: float | None, min_silence: float | None = None):
    """LiveOptions for an A/B run: `soft_max` 0 turns the soft cut off; `min_silence` the pause that
    ends a phrase (default 0.5 s)."""
    from playground.core.speech import live as streaming

    if soft_max is None and min_silence is None:
        return None
    defaults = live.LiveOptions()
    soft = defaults.soft_max_utterance if soft_max is None else (defaults.max_utterance if soft_max <= 0 else soft_max)
    return streaming.LiveOptions(soft_max_utterance=soft,
                                 min_silence=defaults.min_silence if min_silence is None else min_silence)


def reading_section(folder: Path, repeats: int, soft_max: float | None, min_silence: float | None = None) -> None:
    from playground.core.speech import live as streaming

    options = live_options(soft_max, min_silence)
    path, sentence_ends, inner = make_reading(folder)
    runs = [bench_reading(path, sentence_ends, inner, options) for _ in range(repeats)]
    lat = [x for r in runs for x in r["latencies"]]
    per_final = [x for r in runs for x in r["per_final"]]
    opts = options or live.LiveOptions()
    print(f"\n2b. Live latency on a read paragraph with natural pauses ({len(READING)} sentences, "
          f"{sentence_ends[-1]:.0f} s, {len(inner)} pauses inside sentences; espeak-ng at varied speed and pitch "
          f"plus noise: synthetic, not a human recording), {repeats} run(s); soft cut after "
          f"{opts.soft_max_utterance:g} s at a {opts.soft_min_silence:g} s pause; phrase end after {opts.min_silence:g} s")
    print(f"   sentence end -> final text:    {percentiles(lat)}  (target p90 <= 1.0 s); "
          f"{sum(r['missed'] for r in runs)} sentence end(s) without a final")
    print(f"   every final, from the pause it ends at: {percentiles(per_final)}; "
          f"{sum(r['finals'] for r in runs)} finals")
    rtf = runs[-1]["rtf"]
    if rtf is not None:
        print(f"   recogniser real-time factor while live: {rtf:.2f}")


def read_stm(path: Path) -> list[tuple[float, float, str]]:
    """(start, end, words) of each phrase in a NIST STM file, in time order."""
    rows = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) < 5 or line.startswith(";;"):
            continue
        rows.append((float(parts[3]), float(parts[4]), " ".join(parts[5:])))
    return sorted(rows)


def recording_section(path: Path, stm: Path, repeats: int, soft_max: float | None, verbose: bool = False) -> None:
    """2c: phrase ends on a real recording with an STM transcript."""
    from playground.core.speech import accuracy

    rows = read_stm(stm)
    ends, inner = [], []
    for i, (_, end, _) in enumerate(rows):
        nxt = rows[i + 1][0] if i + 1 < len(rows) else math.inf
        (ends if nxt - end >= 0.3 else inner).append(end)
    runs = [bench_reading(path, ends, inner, live_options(soft_max)) for _ in range(repeats)]
    print(f"\n2c. Live latency on a recording: {path.name}, {rows[-1][1]:.0f} s, {len(rows)} phrases "
          f"({len(ends)} followed by a pause of 0.3 s or more), {repeats} run(s)")
    reference = " ".join(r[2] for r in rows)
    lat = [x for r in runs for x in r["latencies"]]
    every = []  # each phrase end, paused after or not -> the first final that holds it
    for r in runs:
        for end in sorted(ends + inner):
            holding = [f for f in r["final_events"] if f.start <= end and f.end >= end - 0.35 and f.emitted_at >= end]
            if holding:
                every.append(holding[0].emitted_at - end)
    wers = [accuracy.word_error_rate(reference, " ".join(f.text for f in r["final_events"])) for r in runs]
    print(f"   phrase end (pause after) -> final: {percentiles(lat)}  (target p90 <= 1.0 s); "
          f"{sum(r['missed'] for r in runs)} without a final")
    print(f"   every phrase end -> the final holding it: {percentiles(every)}")
    print(f"   {sum(r['finals'] for r in runs)} finals; WER {statistics.mean(wers):.2f}; "
          f"real-time factor {runs[-1]['rtf'] or 0:.2f}")
    if verbose:
        for f in runs[-1]["final_events"]:
            print(f"       [{f.start:6.2f} - {f.end:6.2f}] at {f.emitted_at:6.2f}: {f.text}")


def words_section(args, repeats: int) -> int:
    """2d: per-word latency on the recording (as recorded, and with its pauses cut out) or on the
    synthetic reading without pauses (the measurement is tests/live_latency.py, which the e2e test uses)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    import live_latency

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"speech benchmark 2d: {cores} CPU cores, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        if args.recording:
            if args.stm:
                reference = " ".join(r[2] for r in read_stm(args.stm))
            elif args.reference:
                reference = args.reference.read_text(encoding="utf-8")
            else:
                print("--words with --recording needs --stm or --reference", file=sys.stderr)
                return 2
            wav = Path(tmp) / "recording.wav"
            subprocess.run(["sox", str(args.recording), "-r", str(SR), "-c", "1", str(wav)], check=True,
                           capture_output=True)
            phrases = read_stm(args.stm) if args.stm else None  # the phrase times place the words
            live_latency.report(live_latency.measure(wav, reference, repeats, f"{args.recording.name}, as recorded",
                                                 phrases))
            runon = live_latency.without_pauses(wav, Path(tmp) / "runon.wav")
            live_latency.report(live_latency.measure(runon, reference, repeats,
                                                 f"{args.recording.name}, pauses cut out (sox)"))
        else:
            path, _, _ = make_reading(Path(tmp))
            runon = live_latency.without_pauses(path, Path(tmp) / "runon.wav")
            reference = " ".join(text for text, _, _ in READING)
            live_latency.report(live_latency.measure(runon, reference, repeats,
                                                 "espeak-ng reading, pauses cut out (synthetic)"))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one repeat, skip the UI measurement")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--hf-model", default="openai/whisper-tiny.en")
    ap.add_argument("--reading-only", action="store_true", help="only the live latency on the read paragraph")
    ap.add_argument("--soft-max-utterance", type=float, default=None,
                    help="LiveOptions.soft_max_utterance for the reading (0: no soft cut, as before it existed)")
    ap.add_argument("--recording", type=Path, help="a real recording (WAV/FLAC) for 2c; needs --stm")
    ap.add_argument("--words", action="store_true",
                    help="2d only: per-word latency (benchmarks/live_latency.py) on a synthetic reading without "
                         "pauses, or on --recording (with --stm or --reference), as recorded and without pauses")
    ap.add_argument("--reference", type=Path, help="2d: the recording's words (plain text) when there is no STM")
    ap.add_argument("--min-silence", type=float, default=None,
                    help="2b: LiveOptions.min_silence, the pause that ends a phrase (default 0.5 s)")
    ap.add_argument("--verbose", action="store_true", help="2c: print each final with its times")
    ap.add_argument("--stm", type=Path, help="the recording's NIST STM transcript (phrase times and words)")
    args = ap.parse_args()
    repeats = args.repeats or (1 if args.quick else 3)
    if args.words:
        return words_section(args, repeats)
    if args.recording:
        if not args.stm:
            ap.error("--recording needs --stm (the phrase times)")
        recording_section(args.recording, args.stm, repeats, args.soft_max_utterance, args.verbose)
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"speech benchmark: {cores} CPU cores, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        path, ends = make_speech(Path(tmp), gap=1.5)
        if args.reading_only:
            reading_section(Path(tmp), repeats, args.soft_max_utterance, args.min_silence)
            return 0
        f = bench_file(path, repeats)
        print(f"\n1. File transcription ({f['duration']:.1f} s of speech, {repeats} interleaved repeats, median)")
        for k, v in f["rtf"].items():
            print(f"   {k:18} real-time factor {v:.3f}   WER {f['wer'][k]:.2f}")
        print(f"   ratio bare/engine, same options: {f['ratio_same']:.2f}  (target >= 0.95)")
        print(f"   ratio bare defaults/engine:      {f['ratio_defaults']:.2f}")

        b = bench_base(path, repeats)
        print(f"\n1b. Whisper base (multilingual) vs tiny.en, same {b['duration']:.1f} s of audio, median of {repeats}"
              f" (first use joined base's parts in {b['join_s']:.2f} s)")
        for k, v in b["rtf"].items():
            print(f"   {k:18} real-time factor {v:.3f}   WER {b['wer'][k]:.2f}")
        print(f"   base detected '{b.get('language')}' ({b.get('probability') or 0:.2f}); "
              f"base takes {b['base_over_tiny']:.2f}x tiny.en's time")
        print(f"   ratio bare/engine for base, same options: {b['ratio_base']:.2f}  (target >= 0.95)")

        runs = [bench_live(path, ends) for _ in range(repeats)]
        live = runs[-1]
        lat = [x for r in runs for x in r["latencies"]]
        live["finals"] = sum(r["finals"] for r in runs)
        live["phrases"] = sum(r["phrases"] for r in runs)
        live["decode"] = [x for r in runs for x in r["decode"]]
        print(f"\n2. Live latency, end of phrase -> final text ({live['finals']} finals for {live['phrases']} phrases)")
        if lat:
            print(f"   per phrase: {', '.join(f'{x:.2f}' for x in lat)} s; mean {statistics.mean(lat):.2f} s, "
                  f"median {statistics.median(lat):.2f} s, max {max(lat):.2f} s  (target < 1.5 s)")
        if live["decode"]:
            print(f"   final decodes took {', '.join(f'{x:.2f}' for x in live['decode'])} s "
                  f"(they start after 0.1 s of silence, speculatively; the rest of the latency is the VAD's "
                  f"lag and any partial decode still running when the phrase ended)")
        if live["rtf"] is not None:
            print(f"   recogniser real-time factor while live: {live['rtf']:.2f}")

        reading_section(Path(tmp), repeats, args.soft_max_utterance, args.min_silence)

        if not args.quick:
            ui = bench_ui(path)
            print(f"\n3. UI responsiveness: gaps between ticks of a 10 ms QTimer ({ui['segments']} segments)")
            for name, g in (("idle window (baseline)", ui["idle"]), ("live transcription", ui["live"])):
                print(f"   {name:24} longest {g['max']:6.1f} ms, 99th percentile {g['p99']:6.1f} ms "
                      f"({g['ticks']} ticks)")
            print(f"   longest gap while live: {ui['live']['max']:.1f} ms at {ui['worst_at']:.1f} s (target < 50 ms); "
                  f"ratio to the idle baseline {ui['live']['max'] / max(ui['idle']['max'], 1e-3):.2f}")
        gpu = bench_hf_gpu(path, args.hf_model)
        if gpu:
            print(f"\n4. GPU, transformers: {gpu}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
