"""Record sound classes in the Train tab: hold a button to record one-second clips into a class.

The clips go to `<data folder>/sound-recordings/<set>/<class>/clip-N.wav` (16 kHz mono), one folder
per class, the layout `finetune sound` reads; "background noise" is there from the start. Each
second the button is held is one clip (a last part of at least 0.3 s is padded to a second).
After each recording `recorded(folder)` tells the tab, which checks the folder as its data.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QToolButton, QVBoxLayout,
)

from playground.core import paths
from playground.core.errors import PlaygroundError
from playground.ui.widgets.deferred import lazy_module

input_devices = lazy_module("playground.core.speech.input_devices")
sources = lazy_module("playground.core.speech.sources")
system_audio = lazy_module("playground.core.speech.system_audio")
SR = 16_000
NOISE_CLASS = "background noise"
MIN_LAST_CLIP = 0.3  # seconds: a shorter tail of a recording is dropped


def recordings_dir(name: str = "my-sounds") -> Path:
    from playground.core.training.data import safe_model_name

    return paths.data_dir() / "sound-recordings" / safe_model_name(name)


class SoundRecorder(QGroupBox):
    recorded = Signal(str)  # the recordings folder, after clips were added
    status = Signal(str)

    def __init__(self, source_factory: Callable[[], object] | None = None, folder: Path | None = None, parent=None,
                 lister: Callable[[], object] | None = None, sounddevice=None):
        """`lister() -> system_audio.SourceList` and `sounddevice` replace the real ones (tests)."""
        super().__init__("Record clips", parent)
        self.setObjectName("soundRecorder")
        self._source_factory = source_factory
        self._lister = lister
        self._sd = sounddevice
        self.folder = Path(folder) if folder else recordings_dir()
        self.source = None
        self._pos = 0
        self._pending: list = []
        self._pending_n = 0
        self.clips_written = 0
        self.class_combo = QComboBox()
        self.class_combo.setAccessibleName("Class to record")
        self.new_class = QLineEdit()
        self.new_class.setPlaceholderText("new class, e.g. clap")
        self.new_class.returnPressed.connect(self.add_class_from_field)
        self.add_button = QPushButton("Add class")
        self.add_button.clicked.connect(self.add_class_from_field)
        self.hold_button = QPushButton("\u25cf Hold to record")
        self.hold_button.setObjectName("soundHold")
        self.hold_button.setToolTip("Hold: every second held is one clip of the chosen class")
        self.hold_button.pressed.connect(self.start)
        self.hold_button.released.connect(self.stop)
        self.counts_label = QLabel("")
        self.counts_label.setWordWrap(True)
        # The input to record from: the system's default until the list is asked for (listing
        # PortAudio devices takes a moment, and most people record from the default microphone).
        self.input_combo = QComboBox()
        self.input_combo.setObjectName("soundInput")
        self.input_combo.setAccessibleName("Input to record from")
        self.input_combo.addItem("Default microphone", None)
        self.refresh_button = QToolButton()
        self.refresh_button.setText("\u21bb")
        self.refresh_button.setToolTip("List the microphones and what the computer plays")
        self.refresh_button.clicked.connect(self.refresh_inputs)
        inputs = QHBoxLayout()
        inputs.addWidget(QLabel("Input:"))
        inputs.addWidget(self.input_combo, 1)
        inputs.addWidget(self.refresh_button)
        row = QHBoxLayout()
        row.addWidget(self.class_combo, 1)
        row.addWidget(self.hold_button)
        row2 = QHBoxLayout()
        row2.addWidget(self.new_class, 1)
        row2.addWidget(self.add_button)
        col = QVBoxLayout(self)
        col.addLayout(inputs)
        col.addLayout(row)
        col.addLayout(row2)
        col.addWidget(self.counts_label)
        self._timer = QTimer(self)
        self._timer.setInterval(50)
        self._timer.timeout.connect(self._drain)
        for name in [NOISE_CLASS, *self._existing_classes()]:
            self.add_class(name)
        self._show_counts()

    # -- classes ------------------------------------------------------------------------------
    def _existing_classes(self) -> list[str]:
        try:
            return sorted(d.name for d in self.folder.iterdir() if d.is_dir() and not d.name.startswith("."))
        except OSError:
            return []

    def classes(self) -> list[str]:
        return [self.class_combo.itemText(i) for i in range(self.class_combo.count())]

    def add_class(self, name: str) -> bool:
        from playground.core.training.data import safe_model_name

        name = name.strip()
        if not name:
            return False
        if name != NOISE_CLASS:
            name = safe_model_name(name)
        if name not in self.classes():
            self.class_combo.addItem(name)
        self.class_combo.setCurrentText(name)
        return True

    def add_class_from_field(self) -> None:
        if self.add_class(self.new_class.text()):
            self.new_class.clear()

    def counts(self) -> dict[str, int]:
        return {c: len(list((self.folder / c).glob("*.wav"))) if (self.folder / c).is_dir() else 0
                for c in self.classes()}

    def _show_counts(self) -> None:
        self.counts_label.setText(", ".join(f"{k}: {v}" for k, v in self.counts().items()) + " clips")

    # -- recording ----------------------------------------------------------------------------
    @property
    def recording(self) -> bool:
        return self.source is not None

    def refresh_inputs(self) -> int:
        """Fill the input list (microphones, then what the computer plays); the number of inputs."""
        try:
            found = self._lister() if self._lister is not None else system_audio.list_sources(self._sd)
        except PlaygroundError as exc:
            self.status.emit(f"Cannot list the inputs: {exc}")
            return 0
        chosen = self.input_combo.currentData()
        self.input_combo.clear()
        self.input_combo.addItem("Default microphone", None)
        for d in found.microphones:
            self.input_combo.addItem(d.label, d.index)
        for src in found.system:
            self.input_combo.addItem(src.label, src)
        keep = next((i for i in range(self.input_combo.count()) if self.input_combo.itemData(i) == chosen), 0)
        self.input_combo.setCurrentIndex(keep)
        if found.mic_problem:
            self.status.emit(found.mic_problem)
        return len(found.microphones) + len(found.system)

    def _make_source(self):
        if self._source_factory is not None:
            return self._source_factory()
        sd = self._sd if self._sd is not None else input_devices.load_sounddevice()
        choice = self.input_combo.currentData()
        if isinstance(choice, system_audio.SystemSource):
            return system_audio.SystemAudioSource(choice, sd)
        return sources.MicrophoneSource(sd, device=choice)

    def start(self) -> bool:
        if self.recording:
            return False
        try:
            source = self._make_source()
            source.start()
        except PlaygroundError as exc:
            self.status.emit(f"Cannot record: {exc}")
            return False
        self.source = source
        self._pos = source.buffer.total
        self._pending, self._pending_n = [], 0
        self._timer.start()
        self.hold_button.setText("\u25a0 Recording... (release to stop)")
        return True

    def stop(self) -> None:
        if self.source is None:
            return
        self._timer.stop()
        self.source.stop()
        self._drain(final=True)
        self.source = None
        self.hold_button.setText("\u25cf Hold to record")
        self._show_counts()
        self.recorded.emit(str(self.folder))

    def _drain(self, final: bool = False) -> None:
        import numpy as np

        if self.source is None:
            return
        data, self._pos = self.source.buffer.read(self._pos)
        if len(data):
            self._pending.append(data)
            self._pending_n += len(data)
        if self._pending_n < SR and not final:
            return
        audio = np.concatenate(self._pending) if self._pending else np.zeros(0, np.float32)
        while len(audio) >= SR:
            self._write(audio[:SR])
            audio = audio[SR:]
        if final and len(audio) >= MIN_LAST_CLIP * SR:
            self._write(np.pad(audio, (0, SR - len(audio))))
            audio = audio[:0]
        self._pending, self._pending_n = ([audio], len(audio)) if len(audio) else ([], 0)

    def _write(self, clip) -> None:
        import soundfile as sf

        label = self.class_combo.currentText() or NOISE_CLASS
        folder = self.folder / label
        folder.mkdir(parents=True, exist_ok=True)
        n = len(list(folder.glob("clip-*.wav")))
        while (folder / f"clip-{n}.wav").exists():
            n += 1
        sf.write(folder / f"clip-{n}.wav", clip, SR)
        self.clips_written += 1
        self.status.emit(f"Recorded clip {n + 1} of '{label}'")

    def shutdown(self) -> None:
        if self.source is not None:
            self._timer.stop()
            self.source.stop()
            self.source = None
