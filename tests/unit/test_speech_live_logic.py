"""The transcriber transcriber's logic with a scripted recogniser and VAD: utterances, LocalAgreement-2, Stop."""

from __future__ import annotations

import numpy as np

from playground.core.speech import live, recognizers
from playground.core.transcript import Segment, Word

SR = 16000


class LoudnessVAD:
    """Speech = loud frames (a stand-in for Silero, same call shape)."""

    def __init__(self):
        self.resets = 0

    def reset_states(self):
        self.resets += 1

    def __call__(self, frame, sr):
        return np.float32(1.0 if float(np.abs(frame.numpy()).mean()) > 0.05 else 0.0)


class ScriptedRecognizer:
    """Partial calls (beam 1) return the scripted hypotheses in turn; finals (beam 5) return `final`."""

    def __init__(self, hypotheses, final):
        self.hypotheses = list(hypotheses)
        self.final = final
        self.calls = []

    def transcribe(self, samples, offset=0.0, beam_size=5, vad=False, prompt=None, options=None):
        self.calls.append((len(samples) / SR, offset, beam_size))
        if beam_size == 1:
            text = self.hypotheses.pop(0) if self.hypotheses else self.final
        else:
            text = self.final
        return [Segment(offset + 0.1, offset + len(samples) / SR - 0.1, text)] if text else []


def speech_like(seconds):
    return (0.3 * np.sin(np.arange(int(seconds * SR)) * 0.3)).astype(np.float32)


def quiet(seconds):
    return np.zeros(int(seconds * SR), np.float32)


def feed(transcriber, samples, step=1600):
    events = []
    for i in range(0, len(samples), step):
        events += transcriber.feed(samples[i:i + step])
    return events


def test_agreed_words_become_final_at_once_and_the_pause_finalises_the_rest():
    """LocalAgreement-2: words two consecutive hypotheses agree on become a final at once (the line
    goes on); the partial holds only the words not final yet; the pause's final (beam 5) adds the
    rest and ends the line, which is one segment."""
    rec = ScriptedRecognizer(["the cat", "the cat sat!", "the cat sat on", "the cat sat on the mat"],
                             "The cat sat on the mat.")
    opts = live.LiveOptions(partial_interval=0.5, commit_max_age=100)  # agreement only
    transcriber = live.LiveTranscriber(rec, LoudnessVAD(), opts)
    events = feed(transcriber, np.concatenate([quiet(1.0), speech_like(2.5), quiet(1.0)]))
    partials = [e for e in events if e.kind == "partial"]
    finals = [e for e in events if e.kind == "final"]
    assert [p.text for p in partials][:4] == ["the cat", "sat!", "on", "the mat"]
    assert [(f.text, f.continues) for f in finals] == [("the cat", True), ("sat", True), ("on", True),
                                                      ("the mat.", False)]
    assert len({e.utterance for e in events}) == 1 and finals[-1] is events[-1]
    # each final carries its words with times; they follow one another and the line starts near 1.0 s
    words = [w for f in finals for w in f.words]
    assert [w.word.strip() for w in words] == ["the", "cat", "sat", "on", "the", "mat."]
    assert all(a.start <= b.start for a, b in zip(words, words[1:], strict=False))
    assert 0.6 <= finals[0].start <= 1.0
    assert rec.calls[-1][2] == 5 and all(c[2] == 1 for c in rec.calls[:-1])
    # The final decode gets the utterance without most of its trailing silence.
    assert rec.calls[-1][0] < 2.5 + 0.3 + 0.3
    assert [s.text for s in transcriber.segments] == ["the cat sat on the mat."]
    assert transcriber.segments[0].words == tuple(words)


def test_stop_mid_utterance_flushes_a_final():
    rec = ScriptedRecognizer([], "half a sentence")
    transcriber = live.LiveTranscriber(rec, LoudnessVAD(), live.LiveOptions(partial_interval=10))
    assert feed(transcriber, speech_like(1.5)) == []  # still speaking, no partial yet (long interval)
    events = transcriber.flush()
    assert [e.kind for e in events] == ["final"] and events[0].text == "half a sentence"
    assert transcriber.flush() == []


def test_blips_are_ignored_and_empty_finals_clear_partials():
    rec = ScriptedRecognizer(["uh"], "")
    transcriber = live.LiveTranscriber(rec, LoudnessVAD(), live.LiveOptions(partial_interval=0.3))
    assert feed(transcriber, np.concatenate([speech_like(0.1), quiet(1.0)])) == []  # shorter than min_speech
    assert rec.calls == []
    events = feed(transcriber, np.concatenate([speech_like(0.6), quiet(1.0)]))
    # A partial was shown, then Whisper found no words: an empty final tells the UI to drop the line.
    assert [e.kind for e in events] == ["partial", "final"] and events[-1].text == ""
    assert transcriber.segments == []


def test_long_speech_is_cut_at_max_utterance():
    rec = ScriptedRecognizer([], "words")
    opts = live.LiveOptions(partial_interval=100, max_utterance=5.0)
    transcriber = live.LiveTranscriber(rec, LoudnessVAD(), opts)
    events = feed(transcriber, speech_like(12.0)) + transcriber.flush()
    finals = [e for e in events if e.kind == "final"]
    assert len(finals) == 3  # 5 s + 5 s + the rest at Stop
    assert all(c[0] <= 5.0 + 0.35 for c in rec.calls)


def test_listen_job_with_a_file_source(tmp_path, monkeypatch):
    """The job wiring: source -> ring buffer -> transcriber -> events, autosave, result."""
    import soundfile as sf

    from playground.core.jobs import Job
    from playground.core.speech import sources
    from playground.core.runner import run_sync

    path = tmp_path / "s.wav"
    sf.write(path, np.concatenate([quiet(0.5), speech_like(1.5), quiet(0.2)]), SR)
    rec = ScriptedRecognizer(["hello", "hello there"], "Hello there.")
    monkeypatch.setattr(recognizers, "load_recognizer", lambda model=None, ctx=None, trust_remote_code=False: rec)
    monkeypatch.setattr(recognizers, "load_vad", LoudnessVAD)
    source = sources.FileSource(path, speed=0, tail_silence=1.0)
    events = []
    result = run_sync(Job(live.listen, (source,)), events.append)
    texts = [e for e in events if isinstance(e, live.LiveText)]
    assert texts[-1].kind == "final" and texts[-1].text == "Hello there."
    assert result.segments[0].text == "Hello there." and result.error is None
    assert result.duration == 0.5 + 1.5 + 0.2 + 1.0
    assert open(result.autosave).read() == "Hello there.\n"
    assert texts[-1].to_dict().keys() == {"type", "text", "start", "end", "emitted_at", "utterance", "continues",
                                          "words"}
    assert result.recording is None  # no record_to: no audio kept


def test_listen_keeps_the_audio_it_heard_when_asked(tmp_path, monkeypatch):
    import soundfile as sf

    from playground.core.jobs import Job
    from playground.core.speech import sources
    from playground.core.runner import run_sync

    path = tmp_path / "s.wav"
    heard = np.concatenate([quiet(0.5), speech_like(1.5), quiet(0.2)])
    sf.write(path, heard, SR)
    monkeypatch.setattr(recognizers, "load_recognizer",
                        lambda model=None, ctx=None, trust_remote_code=False: ScriptedRecognizer([], "Hi."))
    monkeypatch.setattr(recognizers, "load_vad", LoudnessVAD)
    target = tmp_path / "kept" / "transcriber.flac"
    result = run_sync(Job(live.listen, (sources.FileSource(path, speed=0, tail_silence=1.0),),
                          {"autosave": False, "record_to": str(target)}))
    assert result.recording == str(target) and not list(target.parent.glob(".*"))
    kept, rate = sf.read(target, dtype="float32")
    assert rate == SR and len(kept) == int(result.duration * SR)  # the tail silence too: times line up
    assert np.abs(kept[:len(heard)] - heard).max() < 1e-3  # 16-bit FLAC of what was heard


def test_the_recorder_keeps_nothing_for_nothing_and_gives_up_quietly_on_a_write_error(tmp_path):
    from playground.core.speech.recorder import AudioRecorder

    empty = AudioRecorder(tmp_path / "empty.flac")
    assert empty.close() is None and not list(tmp_path.iterdir())
    broken = AudioRecorder(tmp_path / "broken.flac")
    broken.write(speech_like(0.1))
    broken._file.close()  # noqa: SLF001 - what a vanished disk looks like to the next write
    broken.write(speech_like(0.1))
    assert broken.error and "could not be kept" in broken.error
    assert broken.close() is None and not list(tmp_path.iterdir())


def test_the_final_decode_starts_at_the_pause_and_is_reused_when_the_pause_ends_the_phrase():
    """The beam-5 decode runs once the speaker paused for `final_tail`, not after the whole
    `min_silence`; a pause that turns out not to be the end throws its decode away."""
    rec = ScriptedRecognizer([], "one two three")
    opts = live.LiveOptions(partial_interval=100, min_silence=0.5, final_tail=0.1)
    transcriber = live.LiveTranscriber(rec, LoudnessVAD(), opts)
    # speech, a 0.3 s pause (shorter than min_silence: the same utterance), speech, then the end
    audio = np.concatenate([quiet(0.5), speech_like(1.0), quiet(0.3), speech_like(1.0)])
    assert feed(transcriber, audio, step=512) == []
    assert [c[2] for c in rec.calls] == [5]  # speculated during the pause...
    paused_len = rec.calls[0][0]
    events = feed(transcriber, quiet(0.2), step=512)
    assert events == [] and len(rec.calls) == 2  # ...the second pause speculates again, on longer audio
    assert rec.calls[1][0] > paused_len + 1.0
    events = feed(transcriber, quiet(0.5), step=512)
    # the final is that second decode, reused: no third decode when the silence ends the phrase
    assert [e.kind for e in events] == ["final"] and events[0].text == "one two three" and len(rec.calls) == 2
    # it decoded the utterance with 0.1 s of its trailing silence (frames are 32 ms)
    assert abs(rec.calls[1][0] - (0.3 + 1.0 + 0.3 + 1.0 + 0.1)) < 0.1


def test_partials_are_spaced_by_what_a_decode_costs(monkeypatch):
    """On a slow machine partial decodes may take at most `partial_budget` of real time, so a
    final never waits long behind one."""
    import time
    import types

    class SlowClock:  # each decode "takes" 0.05 s, however busy the test machine is
        now = 0.0

        def perf_counter(self):
            return self.now

    clock = SlowClock()

    class SlowRecognizer(ScriptedRecognizer):
        def transcribe(self, samples, offset=0.0, beam_size=5, vad=False, prompt=None, options=None):
            clock.now += 0.05
            return super().transcribe(samples, offset, beam_size)

    monkeypatch.setattr(live, "time", types.SimpleNamespace(perf_counter=clock.perf_counter,
                                                                  monotonic=time.monotonic))

    def partial_ends(rec, **options):
        transcriber = live.LiveTranscriber(rec, LoudnessVAD(), live.LiveOptions(partial_interval=0.5, **options))
        feed(transcriber, speech_like(6.0))
        return [offset + seconds for seconds, offset, beam in rec.calls if beam == 1]

    fast = partial_ends(ScriptedRecognizer(["a"] * 20, "a"))
    slow = partial_ends(SlowRecognizer(["a"] * 20, "a"), partial_budget=0.04)  # 0.05 s decodes: every 1.25 s
    assert len(fast) >= 10 and len(slow) == 5
    assert all(b - a >= 1.25 for a, b in zip(slow, slow[1:], strict=False))


def test_a_run_on_phrase_is_cut_at_its_next_short_pause():
    """Past `soft_max_utterance`, a pause shorter than `min_silence` (a comma, a breath) ends the
    utterance there: its final does not wait for the speaker to stop for good."""
    rec = ScriptedRecognizer([], "words")
    opts = live.LiveOptions(partial_interval=100, min_silence=0.5, soft_max_utterance=5.0,
                                 soft_min_silence=0.2, final_tail=0.1)
    transcriber = live.LiveTranscriber(rec, LoudnessVAD(), opts)
    # 3 s of speech, a short pause (too early to cut), 3 s more, a short pause (cut here), 2 s more
    assert feed(transcriber, np.concatenate([quiet(0.5), speech_like(3.0), quiet(0.25), speech_like(3.0)]), step=512) == []
    events = feed(transcriber, quiet(0.25), step=512)
    assert [e.kind for e in events] == ["final"] and events[0].text == "words"
    # the utterance up to the pause (pre-roll + 3 + 0.25 + 3 s + 0.1 s of tail), decoded once, at the pause
    assert [c[2] for c in rec.calls].count(5) == 2  # the first pause speculated, in vain
    assert abs(rec.calls[-1][0] - (0.3 + 3.0 + 0.25 + 3.0 + 0.1)) < 0.1
    events = feed(transcriber, np.concatenate([speech_like(2.0), quiet(1.0)]), step=512)
    assert [e.kind for e in events] == ["final"]  # the rest, a new utterance, ended by the silence
    assert events[0].start > 6.5 and transcriber.utterance == 2


def test_a_short_phrase_is_not_cut_at_a_short_pause():
    rec = ScriptedRecognizer([], "one phrase")
    opts = live.LiveOptions(partial_interval=100, min_silence=0.5, soft_max_utterance=5.0,
                                 soft_min_silence=0.2)
    transcriber = live.LiveTranscriber(rec, LoudnessVAD(), opts)
    audio = np.concatenate([quiet(0.5), speech_like(2.0), quiet(0.3), speech_like(2.0), quiet(0.3),
                            speech_like(0.5), quiet(1.0)])
    events = feed(transcriber, audio, step=512)
    # 4.8 s of speech with two short pauses: one utterance, ended by `min_silence` only
    assert [e.kind for e in events] == ["final"] and transcriber.utterance == 1
    assert abs(rec.calls[-1][0] - (0.3 + 2.0 + 0.3 + 2.0 + 0.3 + 0.5 + 0.1)) < 0.1
