"""An input level meter: RMS bar, peak tick with hold, green/amber/red zones, in dB full scale."""

from __future__ import annotations

import time

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

FLOOR_DB = -60.0


class AudioLevelMeter(QWidget):
    """Call `set_level(rms_db, peak_db)` often (e.g. 30 times a second); it repaints itself."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("audioLevelMeter")
        self.setAccessibleName("Input level")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumWidth(120)
        self.rms_db = FLOOR_DB
        self.peak_db = FLOOR_DB
        self._hold_db = FLOOR_DB
        self._hold_at = 0.0
        self.updates = 0  # how many levels it was given (tests, diagnostics)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        return QSize(240, 16)

    def set_level(self, rms_db: float, peak_db: float | None = None) -> None:
        self.rms_db = max(FLOOR_DB, min(0.0, float(rms_db)))
        self.peak_db = max(FLOOR_DB, min(0.0, float(peak_db if peak_db is not None else rms_db)))
        now = time.monotonic()
        if self.peak_db >= self._hold_db or now - self._hold_at > 1.5:
            self._hold_db, self._hold_at = self.peak_db, now
        self.updates += 1
        self.setToolTip(f"Level {self.rms_db:.0f} dBFS, peak {self.peak_db:.0f} dBFS")
        self.update()

    def reset(self) -> None:
        self.rms_db = self.peak_db = self._hold_db = FLOOR_DB
        self.update()

    @staticmethod
    def _fraction(db: float) -> float:
        return (db - FLOOR_DB) / -FLOOR_DB

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt name)
        p = QPainter(self)
        r = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        p.fillRect(r, self.palette().base())
        w = r.width()
        level = self._fraction(self.rms_db) * w
        # Zones: green up to -18 dB, amber to -6 dB, red above.
        for lo, hi, color in ((FLOOR_DB, -18.0, "#3fae49"), (-18.0, -6.0, "#e0a526"), (-6.0, 0.0, "#d9412b")):
            x0, x1 = self._fraction(lo) * w, self._fraction(hi) * w
            if level > x0:
                p.fillRect(QRectF(r.left() + x0, r.top(), min(level, x1) - x0, r.height()), QColor(color))
        if self._hold_db > FLOOR_DB:
            x = r.left() + self._fraction(self._hold_db) * w
            p.setPen(QPen(self.palette().text().color(), 2))
            p.drawLine(int(x), int(r.top()), int(x), int(r.bottom()))
        p.setPen(QPen(self.palette().mid().color(), 1))
        p.drawRect(r)
        p.end()
