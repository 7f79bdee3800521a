"""Guard against PySide6 builds whose Signal.emit() drops references (6.12.0 on Python 3.11).

Such a build aborts a long-running app ("Fatal Python error: bool_dealloc") after a
few thousand emits, which every job's progress events reach.
"""

from __future__ import annotations

import sys


def test_signal_emit_keeps_reference_counts(qapp):
    from PySide6.QtCore import QObject, Signal

    class Emitter(QObject):
        with_object = Signal(object)
        bare = Signal()

    e = Emitter()
    e.with_object.connect(lambda value: None)
    e.bare.connect(lambda: None)
    before_true, before_none = sys.getrefcount(True), sys.getrefcount(None)
    for _ in range(200):
        e.with_object.emit(1.5)
        e.bare.emit()
    # Other threads may touch True/None meanwhile; a leak would be -400 (or worse).
    assert abs(sys.getrefcount(True) - before_true) < 50
    assert abs(sys.getrefcount(None) - before_none) < 50
