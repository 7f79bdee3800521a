"""Why, for one example of a confusion-matrix cell: its explanation for the predicted class and for the
true class, side by side (an image's maps, a text's highlighted words, a sound's decisive moments).

Two jobs on the "explain" lane (one per class); each column fills when its job returns.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QDialog, QGridLayout, QLabel, QWidget

from playground.core.jobs import Job
from playground.ui.widgets.deferred import lazy_module
from playground.ui.widgets.image_canvas import ImageCanvas, qimage_from_rgb
from playground.ui.widgets.text_attributions import WordAttributions
from playground.ui.widgets.waveform_why import WaveformWhy

explain_image = lazy_module("playground.core.explain.image")
explain_text = lazy_module("playground.core.explain.text")
explain_sound = lazy_module("playground.core.explain.sound")
PREVIEW = 320  # px: the images' longest side here


class WhyPairDialog(QDialog):
    shown = Signal(int)  # column (0: predicted, 1: true) whose explanation arrived
    failed = Signal(int, str)

    def __init__(self, ctx, model: str, kind: str, example, labels: list[str], parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Why this prediction")
        self.kind, self.model, self.example = kind, model, example
        predicted, true = labels[example.predicted], labels[example.true]
        self.classes = [predicted, true]
        name = Path(example.source).name if kind != "text" else example.source
        head = QLabel(f"{name}: predicted <b>{predicted}</b> ({example.score:.0%}), true <b>{true}</b>")
        head.setWordWrap(True)
        grid = QGridLayout(self)
        grid.addWidget(head, 0, 0, 1, 2)
        self.views, self.notes = [], []
        for column, (what, label) in enumerate((("Predicted", predicted), ("True", true))):
            title = QLabel(f"{what}: why '{label}'" + (" (the same class)" if predicted == true and column else ""))
            view = self._make_view()
            note = QLabel("Working...")
            note.setWordWrap(True)
            grid.addWidget(title, 1, column)
            grid.addWidget(view, 2, column)
            grid.addWidget(note, 3, column)
            self.views.append(view)
            self.notes.append(note)
        self.runner = ctx.runner("explain", self)
        for column, label in enumerate(self.classes):
            self.runner.submit(self._job(label), key=("why", column),
                               on_result=lambda r, c=column: self._show(c, r),
                               on_error=lambda m, c=column: self._fail(c, m))

    def _make_view(self) -> QWidget:
        if self.kind == "image":
            canvas = ImageCanvas()
            canvas.setMinimumSize(PREVIEW // 2, PREVIEW // 2)
            img = QImage(self.example.source)
            if not img.isNull():
                img = img.scaled(PREVIEW, PREVIEW, Qt.AspectRatioMode.KeepAspectRatio,
                                 Qt.TransformationMode.SmoothTransformation)
            canvas.set_image(img if not img.isNull() else None)
            canvas.set_opacity(0.4)  # the image stays readable under the map
            return canvas
        return WordAttributions() if self.kind == "text" else WaveformWhy()

    def _job(self, label: str) -> Job:
        src = self.example.source
        if self.kind == "image":
            img = QImage(src)
            size = None
            if not img.isNull():
                img = img.scaled(PREVIEW, PREVIEW, Qt.AspectRatioMode.KeepAspectRatio)
                size = (img.width(), img.height())
            return Job(explain_image.explain, (src, self.model), {"label": label, "size": size, "overlay": True},
                       name="why this image")
        if self.kind == "text":
            return Job(explain_text.explain_classification, (src, self.model, label), name="why this text")
        return Job(explain_sound.explain, (src, self.model, label), name="why this sound")

    def _show(self, column: int, result) -> None:
        view = self.views[column]
        if self.kind == "image":
            ov = result.overlay
            view.set_overlay(qimage_from_rgb(ov.width, ov.height, ov.rgb, channels=4))
            view.set_overlay_visible(True)
            self.notes[column].setText(f"Red: where it sees '{result.label}' ({result.method}, {result.score:.0%}).")
        elif self.kind == "text":
            view.set_explanation(result)
            self.notes[column].setText(f"'{result.label}' at {result.probability:.0%}.")
        else:
            view.set_explanation(result)
            self.notes[column].setText(f"Red: the moments that made it '{result.label}' ({result.score:.0%}); "
                                       f"most at {result.peak_time:.2f} s.")
        self.shown.emit(column)

    def _fail(self, column: int, message: str) -> None:
        self.notes[column].setText(f"No explanation: {message}")
        self.failed.emit(column, message)
