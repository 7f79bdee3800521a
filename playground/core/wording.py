"""Counted nouns for messages: "1 image", "2 images", never "1 images" or "image(s)"."""

from __future__ import annotations


def plural(n: int, word: str, many: str | None = None) -> str:
    """`n` and `word`, in the plural unless n is 1 (`many` for irregular ones: copy/copies)."""
    return f"{n} {word if n == 1 else many or word + 's'}"
