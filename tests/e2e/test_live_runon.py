"""Live speech that keeps up with a speaker who never pauses (real tiny.en, real time), and the
keep-up guard with a recogniser slowed on purpose."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import live_latency  # noqa: E402
from speech_support import speak  # noqa: E402

from playground.core.speech import live, recognizers, sources  # noqa: E402
from playground.core.jobs import Job  # noqa: E402
from playground.core.runner import run_sync  # noqa: E402

SR = 16000
READING = (
    ("The keeper climbed the stairs every evening to light the lamp before the boats came home", "en-us", 165),
    ("nobody in the village remembered a night without it", "en-us+m3", 150),
    ("in winter the light was the only thing you could see from the water", "en-us", 175),
    ("he kept a small garden behind the tower and walked to the market on Saturdays", "en-us+m3", 160),
)


@pytest.fixture(scope="module")
def runon(tmp_path_factory) -> tuple[Path, str]:
    """Four sentences in two voices, every pause cut out: about 17 s of speech with no gap for the VAD."""
    folder = tmp_path_factory.mktemp("runon")
    parts = []
    for i, (text, voice, wpm) in enumerate(READING):
        x, _ = sf.read(speak(text, folder / f"s{i}.wav", voice=voice, speed=wpm), dtype="float32")
        parts.append(x)
    joined = folder / "joined.wav"
    sf.write(joined, np.concatenate([np.zeros(SR // 2, np.float32), *parts]), SR)
    return live_latency.without_pauses(joined, folder / "runon.wav"), " ".join(t for t, _, _ in READING)


@pytest.mark.slow
def test_every_word_of_speech_without_pauses_becomes_final_while_it_goes_on(runon, isolated_home):
    """Targets on 2 cores: word end to final p90 <= 2.0 s, p99 <= 3.0 s on real speech; bounds here
    leave room for a busy CI machine and for synthetic voices (the benchmark reports the figures)."""
    path, reference = runon
    result = live_latency.measure(path, reference, 1, "espeak-ng run-on")
    quantiles = np.percentile(result["final"], [90, 99])
    assert len(result["final"]) >= 0.65 * result["words"]  # most words final as said (WER counts the rest)
    # The benchmark measures p90 2.5 s and p99 3.2 s on this synthetic run-on speech (the targets are 2.0
    # and 3.0 s on real speech); these bounds leave CI room and still fail if words waited for pauses
    # (before this policy, 5 s and more)
    assert quantiles[0] <= 3.0 and quantiles[1] <= 4.5, live_latency.percentiles(result["final"])
    # On real speech live WER stays within 0.03 of the file's (benchmarks/speech.py --words); on these
    # synthetic voices tiny.en mishears a few words that two hypotheses agree on, which the file
    # transcription gets right from the sentence after them (measured: 0.20-0.24 against 0.06)
    assert result["wer"] <= min(0.3, result["file_wer"] + 0.25), (result["wer"], result["file_wer"])
    # the speech never paused: the words became final while it went on, long before it ended
    assert min(result["final"]) < 2.0 and result["seconds"] > 12


class SlowRecognizer:
    """The real tiny.en made `factor` times slower than real time (a big model on a slow laptop)."""

    def __init__(self, inner, factor: float):
        self.inner, self.factor = inner, factor

    def transcribe(self, samples, *args, **kwargs):
        t0 = time.perf_counter()
        out = self.inner.transcribe(samples, *args, **kwargs)
        time.sleep(max(0.0, self.factor * len(samples) / SR - (time.perf_counter() - t0)))
        return out

    def __getattr__(self, name):
        return getattr(self.inner, name)


@pytest.mark.slow
def test_a_recogniser_that_cannot_keep_up_decodes_cheaper_says_so_and_never_falls_far_behind(
        runon, monkeypatch, isolated_home):
    path, _ = runon
    slow = SlowRecognizer(recognizers.load_recognizer(), factor=2.5)
    monkeypatch.setattr(recognizers, "load_recognizer", lambda *a, **k: slow)
    events = []
    source = sources.FileSource(path, speed=2.0, tail_silence=0.5)  # 17 s of speech in about 9 s
    started = time.monotonic()
    result = run_sync(Job(live.listen, (source,), {"autosave": False}), events.append)
    took = time.monotonic() - started
    status = [e for e in events if isinstance(e, live.LiveStatus)]
    states = [s.keep_up for s in status]
    # cheaper decoding first, then the person is told
    assert "cheaper" in states and "behind" in states and states.index("cheaper") < states.index("behind")
    # the backlog stayed bounded: audio older than the limit was left untranscribed, and said so
    assert max(s.lag_seconds for s in status) <= live.KeepUp().max_backlog + 2.5
    assert result.skipped_seconds > 0 and status[-1].skipped_seconds == result.skipped_seconds
    # it ended at most a bounded backlog after the audio did (10 s of audio at 2.5 s a second, plus
    # the decodes in flight), not the whole session's backlog later
    assert took < 9 + live.KeepUp().max_backlog * 2.5 + 12
    assert any(isinstance(e, live.LiveText) and e.kind == "final" and e.text for e in events)


def test_keep_up_states():
    k = live.KeepUp(cheaper_after=1.5, behind_after=4.0, max_backlog=10.0, keep=2.0, recover_below=0.5,
                         busy=0.85, patience=3)
    # (peak lag, busy share) once a second: a lag or a busy recogniser makes decoding cheaper; three
    # strained seconds more, or a long lag, and the person is told; idle seconds step back
    seconds = [(0.2, 0.3), (1.0, 0.9), (0.3, 0.9), (0.3, 0.95), (2.0, 0.5), (0.2, 0.3), (0.2, 0.3),
               (5.0, 0.2), (0.3, 0.1), (0.3, 0.1)]
    assert [k.observe(lag, share) for lag, share in seconds] == [
        "", "cheaper", "cheaper", "cheaper", "behind", "cheaper", "", "behind", "cheaper", ""]
    assert k.skip(9.0) == 0 and k.skip(13.0) == 11.0 and k.skipped == 11.0 and k.state == "behind"
