"""A one-second clip's waveform with the moments that decided its class shaded behind it (red: hiding
this moment lowers the class, i.e. it made the class; blue: it spoke against it). Renders a
`core.explain.sound.SoundExplanation`."""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget


class WaveformWhy(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.explanation = None
        self.setMinimumHeight(48)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAccessibleName("The clip's waveform, shaded where it decided the class")

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        return QSize(320, 64)

    def clear(self) -> None:
        self.explanation = None
        self.setToolTip("")
        self.update()

    def set_explanation(self, explanation) -> None:
        self.explanation = explanation
        self.setToolTip(f"'{explanation.label}' ({explanation.score:.0%}): decided most at "
                        f"{explanation.peak_time:.2f} s (occlusion over time)")
        self.update()

    def paintEvent(self, _event) -> None:  # noqa: N802 (Qt name)
        import numpy as np

        p = QPainter(self)
        w, h = self.width(), self.height()
        p.fillRect(self.rect(), self.palette().base())
        e = self.explanation
        if e is None:
            return
        imp = np.asarray(e.importance, dtype=np.float32)
        peak = float(np.abs(imp).max()) or 1.0
        step = w / max(1, len(imp))
        for i, v in enumerate(imp):
            strength = min(1.0, abs(float(v)) / peak)
            if strength < 0.05:
                continue
            colour = QColor(207, 34, 46) if v > 0 else QColor(31, 111, 235)
            colour.setAlphaF(0.75 * strength)
            p.fillRect(QRectF(i * step, 0, step + 0.5, h), colour)
        clip = np.asarray(e.clip, dtype=np.float32)
        if len(clip) and w > 0:
            edges = np.linspace(0, len(clip), w + 1).astype(int)
            top = float(np.abs(clip).max()) or 1.0
            p.setPen(QPen(self.palette().text().color(), 1))
            mid = h / 2
            for x in range(w):
                part = clip[edges[x]:max(edges[x] + 1, edges[x + 1])]
                lo, hi = float(part.min()) / top, float(part.max()) / top
                p.drawLine(x, int(mid - hi * (mid - 2)), x, int(mid - lo * (mid - 2)))
        p.end()
