"""Per-word live latency: for every reference word, the time from its end in the audio to its first
appearance as final (and as partial text), with WER beside the file transcription's.

Shared by `benchmarks/speech.py --words [--recording FILE --stm FILE.stm | --reference FILE.txt]`
(which reports) and tests/e2e/test_live_runon.py (which asserts).

Without a recording: a paragraph read by espeak-ng with every pause cut out (synthetic; real speakers
run phrases together, and that is where live latency suffers). With `--recording`, the recording
is played live at real-time pace and, with `--no-pauses`, again with its pauses cut out by sox.

Where each reference word ends: the recording is transcribed as a file with word times (the same
bundled tiny.en, beam 5) and the reference aligned to those words; a reference word the file
transcription missed takes the time between its aligned neighbours. The old phrase-end figure
(the end of a phrase followed by a pause of 0.3 s or more, to the moment its last word was final)
is printed beside it, from the same runs.
"""

from __future__ import annotations

import statistics
import subprocess
from pathlib import Path

SR = 16000


def percentiles(values: list[float]) -> str:
    if not values:
        return "no values"
    q = statistics.quantiles(values, n=100, method="inclusive") if len(values) > 1 else [values[0]] * 99
    return f"p50 {statistics.median(values):.2f} s, p90 {q[89]:.2f} s, p99 {q[98]:.2f} s, max {max(values):.2f} s"


def reference_word_ends(path: Path, reference: str, phrases: list[tuple[float, float, str]] | None = None
                        ) -> tuple[list[str], list[float], list[int]]:
    """Each reference word (normalised), where it ends in the audio (s), and the indices of the words
    that end a phrase followed by a pause of 0.3 s or more.

    With `phrases` (an STM's (start, end, words)), every word's end is kept inside its phrase, a word
    the file transcription missed is placed by its position in the phrase, and a phrase's last word
    ends at the phrase's end; without them, phrase ends are guessed from gaps between word ends."""
    from playground.core import word_diff
    from playground.core.speech import accuracy

    t = transcribe(path, word_timestamps=True)
    heard = [(w, word.end) for seg in t.segments for word in seg.words for w in accuracy.normalise_words(word.word)]
    if phrases:
        ref, span = [], []
        for start, end, text in phrases:
            words = accuracy.normalise_words(text)
            ref += words
            span += [(start, end, k, len(words)) for k in range(len(words))]
    else:
        ref = accuracy.normalise_words(reference)
        span = [None] * len(ref)
    ends: list[float | None] = [None] * len(ref)
    for e in word_diff.align(ref, [w for w, _ in heard]):
        if e.op in ("equal", "replace") and e.ref is not None and e.hyp is not None:
            ends[e.ref] = heard[e.hyp][1]
    for i, sp in enumerate(span):
        if sp is None:
            continue
        start, end, k, n = sp
        if k == n - 1:
            ends[i] = end
        elif ends[i] is None or not start - 0.2 <= ends[i] <= end + 0.2:
            ends[i] = start + (end - start) * (k + 1) / n
        else:
            ends[i] = min(max(ends[i], start), end)
    known = [i for i, x in enumerate(ends) if x is not None]
    for i, x in enumerate(ends):  # a word the file missed: between its aligned neighbours
        if x is None:
            before = max((k for k in known if k < i), default=None)
            after = min((k for k in known if k > i), default=None)
            lo = ends[before] if before is not None else 0.0
            hi = ends[after] if after is not None else lo
            ends[i] = lo + (hi - lo) * 0.5
    if phrases:
        last, pauses = -1, []
        for j, (start, end, text) in enumerate(phrases):
            last += len(accuracy.normalise_words(text))
            nxt = phrases[j + 1][0] if j + 1 < len(phrases) else float("inf")
            if nxt - end >= 0.3:
                pauses.append(last)
    else:
        pauses = phrase_ends([float(x) for x in ends])
    return ref, [float(x) for x in ends], pauses


def transcribe(path: Path, word_timestamps: bool = False):
    """The file transcription (the bundled tiny.en, the app's options): a Transcript."""
    from playground.core.jobs import Job
    from playground.core.speech import file_transcription, languages
    from playground.core.runner import run_sync

    options = languages.SpeechOptions(word_timestamps=word_timestamps)
    return run_sync(Job(file_transcription.transcribe_file, (path,), {"options": options}), lambda e: None)


def live_run(path: Path, options=None) -> list:
    """Every LiveText of a live session on `path`, played at real-time pace."""
    from playground.core.speech import live, sources
    from playground.core.jobs import Job
    from playground.core.runner import run_sync

    events = []
    source = sources.FileSource(path, speed=1.0, tail_silence=1.5)
    run_sync(Job(live.listen, (source,), {"autosave": False, "options": options}),
             lambda e: events.append(e) if isinstance(e, live.LiveText | live.LiveStatus) else None)
    return events


def first_seen(ref: list[str], ends: list[float], events: list) -> tuple[list[float | None], list[float | None], str]:
    """When each reference word first showed as final, and as any text (partial or final); the final text.

    The text shown at each event is aligned with the reference words said by then (a word cannot be
    shown before it is said; aligning with the whole reference would let an early "in New Jersey"
    stand for a later one)."""
    from playground.core import word_diff
    from playground.core.speech import accuracy, live

    final_at: list[float | None] = [None] * len(ref)
    shown_at: list[float | None] = [None] * len(ref)
    finals: list[str] = []
    partial: dict[int, list[str]] = {}

    def mark(words: list[str], into: list, t: float) -> None:
        said = sum(1 for e in ends if e <= t + 0.5)  # a little slack: reference times are estimates
        for e in word_diff.align(ref[:said], words):
            if e.op == "equal" and into[e.ref] is None:
                into[e.ref] = t

    for ev in events:
        if not isinstance(ev, live.LiveText):
            continue
        if ev.kind == "final":
            finals += accuracy.normalise_words(ev.text)
            partial.pop(ev.utterance, None)
            mark(finals, final_at, ev.emitted_at)
        else:
            partial[ev.utterance] = accuracy.normalise_words(ev.text)
        mark(finals + [w for u in sorted(partial) for w in partial[u]], shown_at, ev.emitted_at)
    return final_at, shown_at, " ".join(finals)


def phrase_ends(ref_ends: list[float], gap: float = 0.3, starts: list[float] | None = None) -> list[int]:
    """Indices of reference words that end a phrase: the next word starts `gap` s or more later
    (estimated from the next word's end when starts are unknown: a word lasts about 0.3 s)."""
    out = []
    for i in range(len(ref_ends) - 1):
        nxt_start = starts[i + 1] if starts else ref_ends[i + 1] - 0.35
        if nxt_start - ref_ends[i] >= gap:
            out.append(i)
    out.append(len(ref_ends) - 1)
    return out


def measure(path: Path, reference: str, repeats: int, label: str,
            phrases: list[tuple[float, float, str]] | None = None) -> dict:
    from playground.core.speech import accuracy, live

    ref, ends, pauses = reference_word_ends(path, reference, phrases)
    file_t = transcribe(path)
    file_wer = accuracy.word_error_rate(reference, " ".join(s.text for s in file_t.segments))
    final_lat, shown_lat, phrase_lat, wers, rtfs, missing = [], [], [], [], [], 0
    for _ in range(repeats):
        events = live_run(path)
        final_at, shown_at, text = first_seen(ref, ends, events)
        wers.append(accuracy.word_error_rate(reference, text))
        status = [e for e in events if isinstance(e, live.LiveStatus)]
        if status and status[-1].realtime_factor:
            rtfs.append(status[-1].realtime_factor)
        for i, end in enumerate(ends):
            if final_at[i] is None:
                missing += 1
            else:
                final_lat.append(final_at[i] - end)
            if shown_at[i] is not None:
                shown_lat.append(shown_at[i] - end)
        phrase_lat += [final_at[i] - ends[i] for i in pauses if final_at[i] is not None]
    return {"label": label, "seconds": ends[-1], "words": len(ref), "final": final_lat, "shown": shown_lat,
            "phrase": phrase_lat, "pauses": len(pauses), "wer": statistics.mean(wers), "file_wer": file_wer,
            "rtf": statistics.mean(rtfs) if rtfs else None, "missing": missing, "repeats": repeats}


def report(r: dict) -> None:
    print(f"\n2d. Per-word live latency: {r['label']} ({r['seconds']:.0f} s, {r['words']} reference words, "
          f"{r['repeats']} run(s))")
    print(f"   word end -> final:   {percentiles(r['final'])}  (targets p90 <= 2.0 s, p99 <= 3.0 s); "
          f"{r['missing']} word(s) never final as said (WER counts them)")
    print(f"   word end -> partial: {percentiles(r['shown'])}")
    print(f"   phrase end (pause after) -> final: {percentiles(r['phrase'])} over {r['pauses']} phrase ends "
          f"(target p90 <= 1.0 s)")
    print(f"   WER live {r['wer']:.3f} vs file {r['file_wer']:.3f} (target: live <= file + 0.03); "
          f"real-time factor {r['rtf'] or 0:.2f}")


def without_pauses(path: Path, out: Path) -> Path:
    """The recording with every pause longer than 0.1 s cut out (sox), so its phrases run together."""
    subprocess.run(["sox", str(path), "-r", str(SR), "-c", "1", str(out), "silence", "-l", "1", "0.1", "1%",
                    "-1", "0.1", "1%"], check=True, capture_output=True)
    return out
