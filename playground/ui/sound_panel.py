"""Sound classes, live: the Speech tab's panel of class bars for a sound classifier trained in the Train tab.

`SoundController` (no widgets) runs `sound.listen` on its own "sound" lane over the Speech
tab's input: the transcription's source when a recording is running (both read the same ring
buffer), or a source of its own from the chosen input device. `SoundPanel` shows a model picker,
Listen/Stop and one bar per class, redrawn from each `SoundScores` event.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QGridLayout, QGroupBox, QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout

from playground.core.errors import PlaygroundError
from playground.core.jobs import Job
from playground.ui.widgets.deferred import lazy_module
from playground.ui.widgets.model_picker import ModelPicker
from playground.ui.widgets.waveform_why import WaveformWhy

sound = lazy_module("playground.core.sound")
explain_sound = lazy_module("playground.core.explain.sound")
TASK = "audio-classification"
LANE = "sound"


class SoundController(QObject):
    listening_changed = Signal(bool)
    scores = Signal(object)  # sound.SoundScores
    status = Signal(str, bool)  # message, is it an error

    def __init__(self, ctx, speech_controller, parent: QObject | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self.speech = speech_controller
        self._runner = None
        self.handle = None
        self.source = None
        self.last = None  # the last SoundScores
        self.updates = 0

    @property
    def listening(self) -> bool:
        return self.handle is not None

    def start(self, model: str, device=None, source=None) -> bool:
        """Listen with `model`: to `source`, the running transcription's source, or `device`'s."""
        if self.listening:
            return False
        if not model:
            self.status.emit("Choose a sound classifier (train one in the Train tab: Sound classes).", True)
            return False
        shared = False
        try:
            if source is None and self.speech.recording and self.speech.source is not None:
                source, shared = self.speech.source, True
            elif source is None:
                self.speech.list_devices_once()
                source = self.speech.make_source(device)
                if source is None:
                    self.status.emit("Choose a microphone to listen to.", True)
                    return False
        except PlaygroundError as exc:
            self.status.emit(str(exc), True)
            return False
        self.source = source
        if self._runner is None:
            self._runner = self.ctx.runner(LANE, self)
        self.handle = self._runner.submit(
            Job(sound.listen, (source, model), {"start_source": not shared}, name="live sound classes"),
            on_event=self._on_event, on_error=lambda message: self.status.emit(message, True),
            on_finished=self._on_finished)
        self.status.emit(f"Listening to {source.name}...", False)
        self.listening_changed.emit(True)
        return True

    def stop(self) -> None:
        if self.handle is not None:
            self.handle.cancel()

    def _on_event(self, event) -> None:
        if isinstance(event, sound.SoundScores):
            self.last = event
            self.updates += 1
            self.scores.emit(event)

    def _on_finished(self) -> None:
        self.handle = None
        self.source = None
        self.listening_changed.emit(False)

    def shutdown(self) -> None:
        self.stop()


class SoundPanel(QGroupBox):
    """Model picker, Listen/Stop and the class bars (the Speech tab adds it under its transcript)."""

    def __init__(self, ctx, speech_controller, device_data=lambda: None, parent=None):
        super().__init__("Sound classes (live)", parent)
        self.setObjectName("soundPanel")
        self.controller = SoundController(ctx, speech_controller, self)
        self._device_data = device_data
        self.picker = ModelPicker(ctx, TASK, placeholder="a sound classifier folder (Train tab: Sound classes)")
        self.listen_button = QPushButton("Listen")
        self.listen_button.setObjectName("soundListen")
        self.listen_button.setToolTip("Classify the microphone live, one second at a time")
        self.listen_button.clicked.connect(self.toggle)
        self.top_label = QLabel("")
        self.top_label.setObjectName("soundTop")
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.bars: dict[str, QProgressBar] = {}
        self._grid = QGridLayout()
        self.why_button = QPushButton("Why?")
        self.why_button.setObjectName("soundWhy")
        self.why_button.setToolTip("Which moments of the last second decided its class (occlusion over time)")
        self.why_button.setEnabled(False)
        self.why_button.clicked.connect(self.explain_last)
        self.waveform = WaveformWhy()
        self.waveform.setVisible(False)
        self._ctx = ctx
        self._why_runner = None
        row = QHBoxLayout()
        row.addWidget(self.picker, 1)
        row.addWidget(self.listen_button)
        row.addWidget(self.why_button)
        row.addWidget(self.top_label)
        col = QVBoxLayout(self)
        col.addLayout(row)
        col.addLayout(self._grid)
        col.addWidget(self.waveform)
        col.addWidget(self.message)
        c = self.controller
        c.scores.connect(self.show_scores)
        c.listening_changed.connect(lambda on: self.listen_button.setText("Stop" if on else "Listen"))
        c.status.connect(self._show_message)

    def toggle(self) -> None:
        if self.controller.listening:
            self.controller.stop()
        else:
            self.start()

    def start(self, source=None) -> bool:
        return self.controller.start(self.picker.model_id(), self._device_data(), source)

    def _show_message(self, text: str, error: bool) -> None:
        self.message.setText(text)
        self.message.setStyleSheet("color: #c0392b;" if error else "")

    def show_scores(self, event) -> None:
        if list(self.bars) != list(event.labels):
            while self._grid.count():
                item = self._grid.takeAt(0)
                if item.widget() is not None:
                    item.widget().deleteLater()
            self.bars = {}
            for i, label in enumerate(event.labels):
                name = QLabel(label)
                bar = QProgressBar()
                bar.setRange(0, 1000)
                bar.setTextVisible(True)
                bar.setFormat("%p%")
                bar.setAccessibleName(f"Score of {label}")
                self._grid.addWidget(name, i, 0, Qt.AlignmentFlag.AlignRight)
                self._grid.addWidget(bar, i, 1)
                self.bars[label] = bar
        for label, score in zip(event.labels, event.scores, strict=True):
            self.bars[label].setValue(int(round(score * 1000)))
        self.top_label.setText(f"<b>{event.top}</b>")
        self.why_button.setEnabled(event.clip is not None)

    def explain_last(self) -> None:
        """Shade the last second heard where it decided its class (a job on the sound-why lane)."""
        last = self.controller.last
        if last is None or last.clip is None:
            return
        if self._why_runner is None:
            self._why_runner = self._ctx.runner("sound-why", self)
        model = self.picker.model_id()
        self._show_message(f"Finding the moments behind '{last.top}'...", False)
        self._why_runner.submit(Job(explain_sound.explain_samples, (last.clip, model, last.top), name="why this sound"),
                                on_result=self._show_why, on_error=lambda m: self._show_message(m, True), key="why")

    def _show_why(self, explanation) -> None:
        self.waveform.set_explanation(explanation)
        self.waveform.setVisible(True)
        self._show_message(f"Red: the moments that made it '{explanation.label}' (most at "
                           f"{explanation.peak_time:.2f} s of the last second).", False)

    def shutdown(self) -> None:
        self.controller.shutdown()
