"""When live words become final: LocalAgreement-2 over a trimmed buffer, with an age backstop.

The live transcriber decodes the audio buffer of the phrase being spoken again and again (each
decode is a *hypothesis*, words with times). A word becomes final, and never changes again, when

- two consecutive hypotheses agree on it and on every word before it (LocalAgreement-2, as in
  whisper_streaming's `HypothesisBuffer`), or
- it ends at least `max_age` seconds before the end of the audio the hypothesis heard and the
  previous hypothesis had it too (at about the same time), or twice `max_age` whatever the previous
  hypothesis said: the model has heard that much speech after it, so a later decode rarely changes it (the idea of AlignAtt, with faster-whisper's word
  alignment standing in for the attention), which bounds how long a word that hypotheses keep
  rewording can stay tentative.

Committed words stay in the buffer until the transcriber trims it; a later hypothesis repeats them,
so `unseen` skips them: by text when the hypothesis starts with them, else by time (a word whose
middle lies before the last committed end) and by removing a repeat of the committed tail.
"""

from __future__ import annotations

from playground.core.transcript import Segment, Word

SENTENCE_END = (".", "?", "!", "\u3002", "\uff1f", "\uff01")


def norm(word: str) -> str:
    """A word as agreement compares it: lower case, letters and digits only."""
    return "".join(ch for ch in word.lower() if ch.isalnum())


def common_prefix(a, b) -> int:
    """How many leading words (str or Word) `a` and `b` share, ignoring case and punctuation."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if norm(getattr(x, "word", x)) != norm(getattr(y, "word", y)):
            break
        n += 1
    return n


def words_of(segments: list[Segment]) -> list[Word]:
    """The hypothesis' words with times; a recogniser without word times gets its segment's span
    shared among the segment's words by length (the commit policy still works, times are rough)."""
    out: list[Word] = []
    for seg in segments:
        if seg.words:
            out.extend(w for w in seg.words if norm(w.word))
            continue
        tokens = seg.text.split()
        total = sum(len(t) + 1 for t in tokens) or 1
        t = seg.start
        for tok in tokens:
            d = (seg.end - seg.start) * (len(tok) + 1) / total
            out.append(Word(round(t, 3), round(t + d, 3), " " + tok, 1.0))
            t += d
    return out


def text_of(words: list[Word]) -> str:
    return " ".join(w.word.strip() for w in words if w.word.strip())


class CommitPolicy:
    """The committed and tentative words of one phrase (reset when a pause ends it)."""

    def __init__(self, max_age: float = 0.9, prompt_chars: int = 200):
        self.max_age = max_age
        self.prompt_chars = prompt_chars
        self.committed: list[Word] = []  # every word made final in this phrase, in order
        self._in_buffer = 0  # how many of the last committed words are still inside the audio buffer
        self._previous: list[Word] = []  # the last hypothesis' words after the committed ones
        self.last_end = 0.0  # end (s) of the last committed word

    @property
    def prompt(self) -> str | None:
        """Committed text trimmed out of the buffer, as Whisper's prompt: the decode goes on from it."""
        before = self.committed[: len(self.committed) - self._in_buffer]
        text = text_of(before)[-self.prompt_chars:]
        return text or None

    def unseen(self, words: list[Word]) -> list[Word]:
        """`words` (a hypothesis of the whole buffer) without the committed words it repeats."""
        inside = self.committed[len(self.committed) - self._in_buffer:] if self._in_buffer else []
        if inside and common_prefix(inside, words) == len(inside):
            return words[len(inside):]
        if not self.committed:
            return words
        new = [w for w in words if (w.start + w.end) / 2 > self.last_end - 0.05]
        tail = self.committed[-5:]
        for n in range(min(len(tail), len(new)), 0, -1):  # "... the mat" committed, "mat sat" heard
            if common_prefix(tail[-n:], new[:n]) == n:
                return new[n:]
        return new

    def update(self, words: list[Word], audio_end: float) -> tuple[list[Word], list[Word]]:
        """A new hypothesis heard up to `audio_end` (s): (words made final now, words still tentative)."""
        new = self.unseen(words)
        n = common_prefix(self._previous, new)
        while n < len(new) and self._old_enough(new[n], audio_end):
            n += 1
        commit, rest = new[:n], new[n:]
        self._previous = rest
        if commit:
            self.committed.extend(commit)
            self._in_buffer += len(commit)
            self.last_end = commit[-1].end
        return commit, rest

    def _old_enough(self, word: Word, audio_end: float) -> bool:
        """The age backstop: `max_age` s old and in the previous hypothesis at about the same time (one
        decode's guess at the end of its audio, often stretched over the words after it, is not
        final on age alone), or twice that old whatever the previous hypothesis said."""
        age = audio_end - word.end
        if age >= 2 * self.max_age:
            return True
        key = norm(word.word)
        return age >= self.max_age and any(norm(p.word) == key and abs(p.start - word.start) < 0.5
                                           for p in self._previous)

    def cut_point(self, buffer_end: float, keep: float = 0.3) -> float | None:
        """Where the buffer may be trimmed (s): just before the last committed word, which stays in the
        buffer (a cut at a word's estimated end may clip the next word's first sound; the kept word
        is skipped by text or time in the next hypotheses). None when fewer than two committed words
        are inside the buffer or the cut would leave less than `keep` s of audio."""
        if self._in_buffer < 2:
            return None
        cut = self.committed[-1].start - 0.05
        return cut if cut <= buffer_end - keep else None

    def trimmed(self) -> None:
        """The buffer now starts at the last committed word: the words before it become the prompt."""
        self._in_buffer = 1
