"""A text with its words highlighted by how much each pushed a label (green: for it, red: against it),
and a trust badge from the attributions' convergence delta. Renders a `core.explain.text.TextExplanation`.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

FOR = (46, 160, 67)  # green
AGAINST = (207, 34, 46)  # red


def _mix(rgb: tuple[int, int, int], strength: float) -> str:
    """`rgb` blended over white by `strength` in [0, 1] (rich text has no alpha)."""
    r, g, b = (round(255 + (c - 255) * strength) for c in rgb)
    return f"#{r:02x}{g:02x}{b:02x}"


def highlight_html(text: str, tokens) -> str:
    """`text` as rich text, each token's characters shaded by its score relative to the largest."""
    peak = max((abs(t.score) for t in tokens), default=0.0) or 1.0
    out, at = [], 0
    for t in sorted(tokens, key=lambda t: t.start):
        if t.start < at or t.end <= t.start:
            continue  # a piece inside one already shaded (or an empty span)
        out.append(html.escape(text[at:t.start]))
        strength = min(1.0, abs(t.score) / peak) * 0.85
        colour = _mix(FOR if t.score >= 0 else AGAINST, strength)
        out.append(f'<span style="background-color:{colour}">{html.escape(text[t.start:t.end])}</span>')
        at = t.end
    out.append(html.escape(text[at:]))
    return "".join(out).replace("\n", "<br>")


def trust_text(explanation) -> str:
    return f"trust: {explanation.trust} (delta {abs(explanation.delta):.3g})"


class WordAttributions(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 4, 0, 0)
        self.title = QLabel("")
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.title.setWordWrap(True)
        self.words = QLabel("")
        self.words.setTextFormat(Qt.TextFormat.RichText)
        self.words.setWordWrap(True)
        self.words.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.words.setAccessibleName("Words that decided")
        self.badge = QLabel("")
        self.badge.setTextFormat(Qt.TextFormat.PlainText)
        self.badge.setWordWrap(True)
        self.badge.setToolTip("The word scores should add up to the label's score difference from a text with no "
                              "words; delta is how far they miss. Low trust: read them loosely.")
        for w in (self.title, self.words, self.badge):
            lay.addWidget(w)
        self.explanation = None

    def clear(self) -> None:
        self.explanation = None
        for w in (self.title, self.words, self.badge):
            w.setText("")

    def set_message(self, message: str) -> None:
        self.clear()
        self.title.setText(message)

    def set_explanation(self, explanation) -> None:
        self.explanation = explanation
        top = explanation.top(1)
        lead = f": most of all '{top[0].token}'" if top and top[0].score > 0 else ""
        self.title.setText(f"Why '{explanation.label}' (green: words for it, red: against it){lead}")
        self.words.setText(highlight_html(explanation.text, explanation.tokens))
        self.badge.setText(trust_text(explanation))
        colour = "#1a7f37" if explanation.trust == "good" else "#a15c00"
        self.badge.setStyleSheet(f"color: {colour}")
