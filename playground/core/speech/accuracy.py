"""How close a transcript is to a reference: word and character error rates (Levenshtein over
normalised words, or over their characters)."""

from __future__ import annotations


def normalise_words(text: str) -> list[str]:
    import re

    text = text.lower().replace("-", " ")
    return re.findall(r"[^\W_]+(?:'[^\W_]+)*", text)  # letters of any language (été, Straße), l'amour


def edit_distance(reference, hypothesis) -> int:
    """Levenshtein distance between two sequences (words or characters)."""
    prev = list(range(len(hypothesis) + 1))
    for i, r in enumerate(reference, 1):
        cur = [i] + [0] * len(hypothesis)
        for j, h in enumerate(hypothesis, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Levenshtein distance over words divided by the reference length."""
    ref, hyp = normalise_words(reference), normalise_words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return edit_distance(ref, hyp) / len(ref)


def normalise_chars(text: str) -> str:
    """The text as character error rate counts it: the normalised words joined by single spaces."""
    return " ".join(normalise_words(text))


def character_error_rate(reference: str, hypothesis: str) -> float:
    """Levenshtein distance over characters (of the normalised words) divided by the reference length."""
    ref, hyp = normalise_chars(reference), normalise_chars(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return edit_distance(ref, hyp) / len(ref)
