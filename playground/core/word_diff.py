"""Transcripts compared word by word: an alignment, the words that differ, the WER between them,
and each one's WER against a reference transcript lying beside the audio (`clip.txt` or `clip.srt`
next to `clip.wav`).

Words are counted as `speech.word_error_rate` counts them (`speech.normalise_words`: lower case,
punctuation and hyphens dropped), so the WER here equals it; the alignment also keeps where each
word sits in the text shown, so a view can highlight it. No Qt.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from pathlib import Path

from playground.core.errors import InputError

REFERENCE_SUFFIXES = (".txt", ".srt")
# Above this many cells (reference words x hypothesis words) the exact table is neither quick nor small:
# the alignment is anchored on the runs both texts share and is exact between them.
EXACT_CELLS = 2_000_000
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")  # speech.normalise_words' pattern
_SRT_TIMING = re.compile(r"^\s*\d{1,2}:\d{2}:\d{2}[,.]\d{1,3}\s*-->")


@dataclass(frozen=True)
class WordSpan:
    """One counted word: its normalised form and where it sits in the text (character offsets)."""

    word: str
    start: int
    end: int


def word_spans(text: str) -> list[WordSpan]:
    """The words WER counts in `text`, each with its place in it."""
    return [WordSpan(m.group().lower(), m.start(), m.end()) for m in _WORD.finditer(text)]


@dataclass(frozen=True)
class Edit:
    """One step of an alignment: `ref`/`hyp` are word indices (None where the side has no word)."""

    op: str  # "equal", "substitute", "delete" (a reference word missing) or "insert" (an extra word)
    ref: int | None
    hyp: int | None


def align(ref: Sequence[str], hyp: Sequence[str]) -> list[Edit]:
    """A shortest edit script turning `ref` into `hyp` (Levenshtein over words), in order.

    Its count of non-equal steps is the edit distance that WER divides by the reference length.
    Very long pairs (over `EXACT_CELLS`) are aligned between shared anchors, which can count a few
    more edits than the minimum."""
    head = 0
    while head < min(len(ref), len(hyp)) and ref[head] == hyp[head]:
        head += 1
    tail = 0
    while tail < min(len(ref), len(hyp)) - head and ref[-1 - tail] == hyp[-1 - tail]:
        tail += 1
    edits = [Edit("equal", i, i) for i in range(head)]
    edits += _align_middle(ref, hyp, head, len(ref) - tail, head, len(hyp) - tail)
    edits += [Edit("equal", len(ref) - tail + k, len(hyp) - tail + k) for k in range(tail)]
    return edits


def _align_middle(ref, hyp, r0: int, r1: int, h0: int, h1: int) -> list[Edit]:
    if (r1 - r0) * (h1 - h0) <= EXACT_CELLS:
        return _exact(ref, hyp, r0, r1, h0, h1)
    blocks = [b for b in SequenceMatcher(None, ref[r0:r1], hyp[h0:h1], autojunk=False).get_matching_blocks()
              if b.size]
    if not blocks:  # nothing shared: word against word, then the rest missing or extra
        n = min(r1 - r0, h1 - h0)
        return ([Edit("substitute", r0 + k, h0 + k) for k in range(n)]
                + [Edit("delete", i, None) for i in range(r0 + n, r1)]
                + [Edit("insert", None, j) for j in range(h0 + n, h1)])
    edits: list[Edit] = []
    r, h = r0, h0
    for b in blocks:
        edits += _align_middle(ref, hyp, r, r0 + b.a, h, h0 + b.b)
        edits += [Edit("equal", r0 + b.a + k, h0 + b.b + k) for k in range(b.size)]
        r, h = r0 + b.a + b.size, h0 + b.b + b.size
    return edits + _align_middle(ref, hyp, r, r1, h, h1)


def _exact(ref, hyp, r0: int, r1: int, h0: int, h1: int) -> list[Edit]:
    """Wagner-Fischer with the whole table kept for the way back."""
    n, m = r1 - r0, h1 - h0
    table = [list(range(m + 1))]
    for i in range(1, n + 1):
        prev, row, word = table[-1], [i] + [0] * m, ref[r0 + i - 1]
        for j in range(1, m + 1):
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (word != hyp[h0 + j - 1]))
        table.append(row)
    edits: list[Edit] = []
    i, j = n, m
    # Among the shortest scripts, the one that keeps equal words paired ("the mat" / "mat today":
    # drop "the", keep "mat", add "today"; not two substitutions): equal, then missing or extra, then changed.
    while i or j:
        same = bool(i and j) and ref[r0 + i - 1] == hyp[h0 + j - 1]
        if same and table[i][j] == table[i - 1][j - 1]:
            edits.append(Edit("equal", r0 + i - 1, h0 + j - 1))
            i, j = i - 1, j - 1
        elif i and table[i][j] == table[i - 1][j] + 1:
            edits.append(Edit("delete", r0 + i - 1, None))
            i -= 1
        elif j and table[i][j] == table[i][j - 1] + 1:
            edits.append(Edit("insert", None, h0 + j - 1))
            j -= 1
        else:
            edits.append(Edit("substitute", r0 + i - 1, h0 + j - 1))
            i, j = i - 1, j - 1
    edits.reverse()
    return edits


def errors(edits: Sequence[Edit]) -> int:
    return sum(e.op != "equal" for e in edits)


def rate(edits: Sequence[Edit], ref_words: int) -> float:
    """WER from an alignment: its edits over the reference's words (as `speech.word_error_rate`)."""
    if not ref_words:
        return 0.0 if not edits else 1.0
    return errors(edits) / ref_words


# -- a comparison of several transcripts of one recording -------------------------------------


@dataclass
class Compared:
    """One model's transcript within a comparison."""

    text: str
    words: list[WordSpan]
    differs: list[tuple[int, int]] = field(default_factory=list)  # character spans that differ from the first
    wer_vs_first: float | None = None  # the first transcript taken as the reference (None for the first)
    wer_vs_reference: float | None = None  # None when there is no reference transcript


@dataclass
class Comparison:
    transcripts: list[Compared]
    reference: str | None = None  # the reference transcript's words, when one was found
    reference_path: str | None = None


def compare_transcripts(texts: Sequence[str], reference: str | None = None,
                        reference_path: str | None = None) -> Comparison:
    """Each text against the first: the words that differ (highlighted in both: the first's words
    that another dropped or changed, each other's words changed or added) and the WER with the
    first as reference; and each text's WER against `reference` when one is given."""
    items = [Compared(t, word_spans(t)) for t in texts]
    first = items[0] if items else None
    first_marked: set[int] = set()
    for item in items[1:]:
        edits = align([w.word for w in first.words], [w.word for w in item.words])
        item.wer_vs_first = rate(edits, len(first.words))
        marked = {e.hyp for e in edits if e.op in ("substitute", "insert")}
        first_marked |= {e.ref for e in edits if e.op in ("substitute", "delete")}
        item.differs = [(item.words[j].start, item.words[j].end) for j in sorted(marked)]
    if first is not None:
        first.differs = [(first.words[i].start, first.words[i].end) for i in sorted(first_marked)]
    if reference is not None:
        ref_words = [w.word for w in word_spans(reference)]
        for item in items:
            item.wer_vs_reference = rate(align(ref_words, [w.word for w in item.words]), len(ref_words))
    return Comparison(items, reference, reference_path)


def compare_job(ctx, texts: Sequence[str], audio_path: str | None = None) -> Comparison:
    """Job: `compare_transcripts` with the reference found beside `audio_path` (if any), off the UI
    thread (long transcripts take seconds to align)."""
    ctx.progress(None, "Comparing the transcripts word by word...")
    ref_path = reference_beside(audio_path) if audio_path else None
    reference = read_reference(ref_path) if ref_path is not None else None
    if reference is not None and not reference.strip():
        reference, ref_path = None, None
    ctx.check_cancelled()
    return compare_transcripts(texts, reference, str(ref_path) if ref_path else None)


# -- reference transcripts -------------------------------------------------------------------


def reference_beside(audio_path: str | Path) -> Path | None:
    """The reference transcript of a recording: same name with .txt (first) or .srt, beside it."""
    path = Path(audio_path)
    return next((path.with_suffix(s) for s in REFERENCE_SUFFIXES if path.with_suffix(s).is_file()), None)


def read_reference(path: str | Path) -> str:
    """A reference transcript's words: a .txt as is; an .srt without its cue numbers, times and tags."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig", errors="replace")
    except OSError as exc:
        raise InputError(f"{path.name}: cannot be read ({exc.strerror or exc}).") from exc
    if path.suffix.lower() != ".srt":
        return text.strip()
    lines = [line for line in text.splitlines()
             if line.strip() and not line.strip().isdigit() and not _SRT_TIMING.match(line)]
    return re.sub(r"<[^>]+>", "", " ".join(line.strip() for line in lines))
