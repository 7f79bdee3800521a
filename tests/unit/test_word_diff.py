"""Word-level comparison of transcripts (core/word_diff.py): alignment, highlights, WER, references."""

from __future__ import annotations

import random

import pytest

from playground.core import word_diff
from playground.core.errors import Cancelled
from playground.core.jobs import JobContext
from playground.core.speech.accuracy import normalise_words, word_error_rate


def test_word_spans_count_what_wer_counts_and_point_into_the_text():
    text = "Hello, world! It's a well-known test — of Straße."
    spans = word_diff.word_spans(text)
    assert [s.word for s in spans] == normalise_words(text)
    assert [text[s.start:s.end] for s in spans] == ["Hello", "world", "It's", "a", "well", "known", "test", "of",
                                                     "Straße"]


def test_alignment_marks_substitutions_insertions_and_deletions():
    edits = word_diff.align("the cat sat on the mat".split(), "the cat sit on mat today".split())
    ops = [(e.op, e.ref, e.hyp) for e in edits]
    assert ("substitute", 2, 2) in ops
    assert ("delete", 4, None) in ops
    assert ("insert", None, 5) in ops
    assert word_diff.errors(edits) == 3
    # Every word of both sides appears once, in order.
    assert [e.ref for e in edits if e.ref is not None] == list(range(6))
    assert [e.hyp for e in edits if e.hyp is not None] == list(range(6))


@pytest.mark.parametrize("seed", range(40))
def test_alignment_rate_equals_word_error_rate(seed):
    rng = random.Random(seed)
    vocab = "a b c d e f g".split()
    ref = " ".join(rng.choice(vocab) for _ in range(rng.randint(0, 25)))
    hyp = " ".join(rng.choice(vocab) for _ in range(rng.randint(0, 25)))
    r, h = normalise_words(ref), normalise_words(hyp)
    assert word_diff.rate(word_diff.align(r, h), len(r)) == pytest.approx(word_error_rate(ref, hyp))


def test_long_transcripts_are_aligned_between_anchors(monkeypatch):
    monkeypatch.setattr(word_diff, "EXACT_CELLS", 100)  # force the anchored path on a small example
    rng = random.Random(1)
    ref = [f"w{rng.randint(0, 400)}" for _ in range(300)]
    hyp = list(ref)
    for k in (20, 150, 151, 290):
        hyp[k] = "changed"
    del hyp[100]
    edits = word_diff.align(ref, hyp)
    assert word_diff.errors(edits) == 5  # the minimum: 4 substitutions and the dropped word
    assert [e.ref for e in edits if e.ref is not None] == list(range(300))
    assert [e.hyp for e in edits if e.hyp is not None] == list(range(299))


def test_comparison_highlights_the_differing_words_in_both_transcripts():
    first = "Please call me tomorrow morning before the meeting."
    second = "Please call him tomorrow morning, before meeting starts."
    c = word_diff.compare_transcripts([first, second])
    a, b = c.transcripts
    assert [first[s:e] for s, e in a.differs] == ["me", "the"]  # changed, and dropped by the second
    assert [second[s:e] for s, e in b.differs] == ["him", "starts"]  # changed, and added
    assert a.wer_vs_first is None and b.wer_vs_first == pytest.approx(word_error_rate(first, second))
    assert a.wer_vs_reference is None and c.reference is None


def test_identical_transcripts_differ_nowhere():
    c = word_diff.compare_transcripts(["Hello world.", "hello, WORLD"])
    assert all(not t.differs for t in c.transcripts)
    assert c.transcripts[1].wer_vs_first == 0.0


def test_three_transcripts_each_against_the_first_and_the_reference():
    ref = "open the window and let some fresh air in"
    texts = ["open the window and let some fresh air in", "open a window and let fresh air in",
             "open the window and let some fresh hair in"]
    c = word_diff.compare_transcripts(texts, reference=ref)
    assert [t.wer_vs_reference for t in c.transcripts] == pytest.approx([word_error_rate(ref, t) for t in texts])
    assert c.transcripts[0].wer_vs_reference == 0.0 and c.transcripts[1].wer_vs_reference > 0
    first_marked = [texts[0][s:e] for s, e in c.transcripts[0].differs]
    assert first_marked == ["the", "some", "air"]  # the union over both other transcripts


def test_reference_beside_the_audio_txt_before_srt(tmp_path):
    wav = tmp_path / "clip.wav"
    wav.write_bytes(b"")
    assert word_diff.reference_beside(wav) is None
    (tmp_path / "clip.srt").write_text("1\n00:00:00,000 --> 00:00:02,500\n<i>Hello</i> world\n\n"
                                       "2\n00:00:02,500 --> 00:00:04,000\nsecond cue\n")
    assert word_diff.reference_beside(wav) == tmp_path / "clip.srt"
    assert word_diff.read_reference(tmp_path / "clip.srt") == "Hello world second cue"
    (tmp_path / "clip.txt").write_text("\ufeffThe words.\n")
    assert word_diff.reference_beside(wav) == tmp_path / "clip.txt"
    assert word_diff.read_reference(tmp_path / "clip.txt") == "The words."


def test_compare_job_uses_the_reference_beside_the_audio(tmp_path):
    wav = tmp_path / "clip.wav"
    (tmp_path / "clip.txt").write_text("hello world")
    c = word_diff.compare_job(JobContext(), ["hello world", "hello word"], str(wav))
    assert c.reference_path == str(tmp_path / "clip.txt")
    assert [t.wer_vs_reference for t in c.transcripts] == [0.0, 0.5]
    (tmp_path / "clip.txt").write_text("  \n")  # an empty reference is no reference
    assert word_diff.compare_job(JobContext(), ["a", "b"], str(wav)).reference is None


def test_compare_job_stops_when_cancelled(tmp_path):
    ctx = JobContext()
    ctx.cancel()
    with pytest.raises(Cancelled):
        word_diff.compare_job(ctx, ["a", "b"], str(tmp_path / "clip.wav"))
