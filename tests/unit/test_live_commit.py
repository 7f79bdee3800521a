"""The live commit policy on scripted hypotheses: agreement, the age backstop, repeats skipped,
trimming with the final text as prompt, the pause flush, and no time after what was heard."""

from __future__ import annotations

import numpy as np

from playground.core.speech import live
from playground.core.speech.live_commit import CommitPolicy, words_of
from playground.core.transcript import Segment, Word
from tests.unit.test_speech_live_logic import SR, LoudnessVAD, feed, quiet, speech_like


def hyp(*spec) -> list[Word]:
    """("word", start, end), ... -> words."""
    return [Word(a, b, " " + w, 0.9) for w, a, b in spec]


def texts(words) -> list[str]:
    return [w.word.strip() for w in words]


def test_words_two_hypotheses_agree_on_are_final_at_once_and_never_again():
    p = CommitPolicy(max_age=100)
    assert p.update(hyp(("the", 0.0, 0.2), ("cat", 0.2, 0.5)), 0.6) == ([], hyp(("the", 0.0, 0.2), ("cat", 0.2, 0.5)))
    commit, rest = p.update(hyp(("The", 0.0, 0.2), ("cat,", 0.2, 0.5), ("sat", 0.5, 0.8)), 1.0)
    assert texts(commit) == ["The", "cat,"] and texts(rest) == ["sat"]  # case and punctuation ignored
    # the next hypothesis repeats the committed words (still in the buffer): they are skipped by text
    commit, rest = p.update(hyp(("the", 0.0, 0.2), ("cat", 0.2, 0.5), ("sat", 0.5, 0.8), ("on", 0.8, 1.0)), 1.2)
    assert texts(commit) == ["sat"] and texts(rest) == ["on"]
    assert texts(p.committed) == ["The", "cat,", "sat"] and p.last_end == 0.8


def test_a_word_heard_long_enough_ago_is_final_without_agreement():
    """The age backstop: hypotheses that keep rewording the words before do not keep a word
    tentative for ever; a guess heard once is final on age only when twice as old."""
    p = CommitPolicy(max_age=1.0)
    commit, rest = p.update(hyp(("one", 0.0, 0.4), ("two", 0.5, 0.9), ("three", 1.0, 1.5)), 1.8)
    assert commit == [] and texts(rest) == ["one", "two", "three"]  # heard once: not final on age
    # "won" rewords the first word (no agreement), but "won" is 2.0 s old; "two" was heard before at
    # that time and is 1.5 s old; "tree" is neither
    commit, rest = p.update(hyp(("won", 0.0, 0.4), ("two", 0.5, 0.9), ("tree", 1.0, 1.5)), 2.4)
    assert texts(commit) == ["won", "two"] and texts(rest) == ["tree"]


def test_a_hypothesis_that_rewords_committed_words_is_skipped_by_time_and_by_repeat():
    p = CommitPolicy(max_age=100)
    p.update(hyp(("hello", 0.0, 0.4), ("there", 0.4, 0.8)), 1.0)
    p.update(hyp(("hello", 0.0, 0.4), ("there", 0.4, 0.8), ("friend", 0.9, 1.2)), 1.4)
    # reworded head ("Hallo their"): words whose middle lies before the last committed end are skipped
    assert texts(p.unseen(hyp(("Hallo", 0.0, 0.4), ("their", 0.4, 0.8), ("friend", 0.9, 1.2)))) == ["friend"]
    # a repeat of the committed tail right after it (boundary shifted late) is dropped too
    assert texts(p.unseen(hyp(("Hallo", 0.0, 0.3), ("there", 0.78, 0.9), ("friend", 0.9, 1.2)))) == ["friend"]


def test_words_without_times_share_their_segment():
    words = words_of([Segment(1.0, 2.0, "ab cd")])
    assert texts(words) == ["ab", "cd"] and words[0].start == 1.0 and abs(words[1].end - 2.0) < 1e-6


class TimedRecognizer:
    """A reader of a fixed script: word i spans [0.5 + 0.4 i, 0.5 + 0.4 i + 0.3] s of audio and is
    recognised once heard (the last word heard also claims to end 0.5 s later than the audio)."""

    WORDS = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen".split()

    def __init__(self):
        self.calls = []  # (seconds decoded, offset, beam, prompt)

    def transcribe(self, samples, offset=0.0, beam_size=5, vad=False, prompt=None, options=None):
        assert options is not None and options.word_timestamps
        self.calls.append((len(samples) / SR, offset, beam_size, prompt))
        end = offset + len(samples) / SR
        words = []
        for i, w in enumerate(self.WORDS):
            a = 0.5 + 0.4 * i
            if a >= offset - 0.01 and a + 0.3 <= end:
                words.append(Word(a, a + 0.3, " " + w, 0.9))
        if words:
            last = words[-1]
            words[-1] = Word(last.start, last.end + 0.5, last.word, 0.9)  # Whisper overshooting the audio
        return [Segment(words[0].start, words[-1].end, " ".join(x.word.strip() for x in words), tuple(words))] \
            if words else []


def test_long_speech_keeps_a_short_buffer_goes_on_from_its_prompt_and_no_time_lies_ahead():
    rec = TimedRecognizer()
    opts = live.LiveOptions(partial_interval=0.5, trim_after=2.0, commit_max_age=100, line_max=100)
    clock = {"t": 0.0}
    transcriber = live.LiveTranscriber(rec, LoudnessVAD(), opts, clock=lambda: clock["t"])
    events = []
    audio = np.concatenate([quiet(0.5), speech_like(5.6)])
    for i in range(0, len(audio), 1600):  # a real-time clock: heard audio = the clock
        clock["t"] = (i + 1600) / SR
        events += transcriber.feed(audio[i:i + 1600])
    clock["t"] += 1.0
    events += feed(transcriber, quiet(1.0))
    finals = [e for e in events if e.kind == "final"]
    said = [w.word.strip() for f in finals for w in f.words]
    assert said == TimedRecognizer.WORDS[:len(said)] and len(said) >= 12  # every word once, in order
    assert finals[-1].continues is False and all(f.continues for f in finals[:-1])
    assert len(finals) >= 4  # words became final while the speech went on, not only at its end
    # no time lies after the moment its event was emitted (the overshooting word is clamped)
    for e in events:
        assert e.end <= e.emitted_at + 1e-6 and all(w.end <= e.emitted_at + 1e-6 for w in e.words)
    # the buffer was trimmed after final words: decodes stay short, and go on from the final text
    assert max(c[0] for c in rec.calls) < 2.0 + 1.0
    trimmed = [c for c in rec.calls if c[1] > 0.5]
    assert trimmed and all(c[3] and c[3].split()[-1] in TimedRecognizer.WORDS for c in trimmed)
    assert [s.text for s in transcriber.segments] == [" ".join(said)]


def test_a_pause_finalises_the_words_not_yet_final_at_once():
    rec = TimedRecognizer()
    opts = live.LiveOptions(partial_interval=0.5, commit_max_age=100)
    transcriber = live.LiveTranscriber(rec, LoudnessVAD(), opts)
    events = feed(transcriber, np.concatenate([quiet(0.5), speech_like(1.7)]), step=512)
    assert [e.kind for e in events if e.kind == "final"] == ["final"] * len([e for e in events if e.kind == "final"])
    before = [w.word.strip() for e in events if e.kind == "final" for w in e.words]
    pause = feed(transcriber, quiet(0.6), step=512)
    assert [e.kind for e in pause] == ["final"] and pause[0].continues is False
    after = [w.word.strip() for w in pause[0].words]
    assert before + after == ["one", "two", "three", "four"] and after
