"""Speech tab: live microphone transcription and audio files to timed transcripts.

The tab owns the audio source (microphone or file played live) and draws its
level, waveform and mel spectrogram from the source's ring buffer on a 30 Hz
timer; the recogniser runs as a core job on the worker (`streaming.listen`,
`speech.transcribe_file`) and its events fill the transcript view.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView, QComboBox, QFileDialog, QHBoxLayout, QHeaderView, QLabel, QPushButton, QSizePolicy,
    QSplitter, QToolButton, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget,
)

from playground.core import transcript
from playground.core.errors import PlaygroundError
from playground.core.jobs import Job
from playground.core.transcript import Segment
from playground.ui.widgets.audio_meter import AudioLevelMeter
from playground.ui.widgets.deferred import Deferred, after_first_paint, lazy_module
from playground.ui.widgets.model_picker import ModelPicker

log = logging.getLogger(__name__)
# numpy-backed engine modules, imported on first use: the tab paints before numpy loads.
audio = lazy_module("playground.core.audio")
speech = lazy_module("playground.core.speech")
streaming = lazy_module("playground.core.streaming")

TASK = "speech-recognition"
FILE_SOURCE = "file"  # device-combo data for "play a file as if it were a microphone"
SAVE_FILTERS = "Text (*.txt);;SubRip subtitles (*.srt);;WebVTT subtitles (*.vtt);;JSON (*.json)"


class SpeechTab(QWidget):
    """`source_factory(device_data) -> AudioSource` may be injected (tests, demos).

    `devices_after_paint`: list the audio devices (PortAudio takes about 0.1 s to start) and load
    soundfile just after the tab's first paint, or on the first recording if that comes sooner.
    """

    # Playback runs on a short-lived thread (decoding a slice of a long file takes a moment):
    # its outcome comes back to the UI thread through these.
    _playback_failed = Signal(str)
    _playback_done = Signal(int)  # the playback's number: a stopped one must not reset a newer one

    def __init__(self, ctx, source_factory: Callable[[object], streaming.AudioSource] | None = None,
                 sounddevice_importer: Callable[[str], object] | None = None, devices_after_paint: bool = False):
        super().__init__()
        self.ctx = ctx
        self.setObjectName("speechTab")
        self.setAcceptDrops(True)
        self._source_factory = source_factory
        self._live_worker = None  # JobRunner on the "live" lane, created on the first recording
        self._jobs = None  # JobRunner on the Speech tab's lane (file transcription)
        self._sd_importer = sounddevice_importer
        self._sd = None
        self.source: streaming.AudioSource | None = None
        self.live_handle = None
        self.file_handle = None
        self._spec_pos = 0
        self._partial_items: dict[int, QTreeWidgetItem] = {}
        self._segments: list[Segment] = []  # final segments, in order of arrival
        self._file_name = ""
        self._file_path = ""
        self._live_buffer: streaming.RingBuffer | None = None
        self.playing = False
        self._playback_id = 0
        self._playback_failed.connect(self._on_playback_failed)
        self._playback_done.connect(self._on_playback_done)
        self._build()
        self._devices_listed = False
        if devices_after_paint:
            self.mic_problem = ""
            after_first_paint(self, self._list_devices_once)
        else:
            self._list_devices_once()
        self._timer = QTimer(self)
        self._timer.setInterval(40)
        self._tick = 0
        self._timer.timeout.connect(self._draw_audio)

    # -- construction -------------------------------------------------------------
    def _build(self) -> None:
        root = QVBoxLayout(self)

        top = QHBoxLayout()
        top.addWidget(QLabel("Input:"))
        self.device_combo = QComboBox()
        self.device_combo.setObjectName("speechDevice")
        self.device_combo.setAccessibleName("Input device")
        self.device_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.device_combo.setMinimumWidth(220)
        top.addWidget(self.device_combo, 1)
        self.refresh_button = QToolButton()
        self.refresh_button.setText("\u21bb")
        self.refresh_button.setToolTip("Look for input devices again")
        self.refresh_button.clicked.connect(self.refresh_devices)
        top.addWidget(self.refresh_button)
        self.record_button = QPushButton("\u25cf Record")
        self.record_button.setObjectName("speechRecord")
        self.record_button.setToolTip("Start or stop live transcription (Ctrl+R)")
        self.record_button.clicked.connect(self.toggle_record)
        top.addWidget(self.record_button)
        self.open_button = QPushButton("Open audio file...")
        self.open_button.setToolTip("Transcribe a WAV, FLAC, MP3 or OGG file (or drop one on this tab)")
        self.open_button.clicked.connect(self._open_dialog)
        top.addWidget(self.open_button)
        top.addSpacing(12)
        self.picker = ModelPicker(self.ctx, TASK, placeholder="a faster-whisper or transformers Hub id, or a folder")
        self.picker.setObjectName("speechModel")
        self.model_combo = self.picker.combo
        top.addWidget(self.picker, 1)
        root.addLayout(top)

        meter_row = QHBoxLayout()
        meter_row.addWidget(QLabel("Level:"))
        self.meter = AudioLevelMeter()
        meter_row.addWidget(self.meter, 1)
        self.rtf_label = QLabel("")
        self.rtf_label.setObjectName("speechRtf")
        meter_row.addWidget(self.rtf_label)
        root.addLayout(meter_row)

        self.message = QLabel("")
        self.message.setObjectName("speechMessage")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        root.addWidget(self.message)

        split = QSplitter(Qt.Orientation.Vertical)
        # The waveform and the spectrogram (pyqtgraph, numpy, librosa) are made just after the tab's
        # first paint, or when first needed; the stand-ins lay out like them.
        self._waveform_slot = Deferred(_make_waveform, QSize(600, 480), QSize(68, 68))
        self._waveform_slot.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._spectrogram_slot = Deferred(_make_spectrogram, QSize(600, 480), QSize(68, 68))
        for slot in (self._waveform_slot, self._spectrogram_slot):
            slot.setMinimumHeight(90)
            split.addWidget(slot)

        box = QWidget()
        col = QVBoxLayout(box)
        col.setContentsMargins(0, 0, 0, 0)
        self.view = QTreeWidget()
        self.view.setObjectName("speechTranscript")
        self.view.setAccessibleName("Transcript")
        self.view.setHeaderLabels(["Time", "Text"])
        self.view.setRootIsDecorated(False)
        self.view.setUniformRowHeights(False)
        self.view.setWordWrap(True)
        self.view.setAlternatingRowColors(True)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.header().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.view.header().setStretchLastSection(True)
        self.view.itemSelectionChanged.connect(self._on_selection)
        self.view.itemDoubleClicked.connect(lambda item, _col: self.play_segment(item))
        col.addWidget(self.view, 1)
        buttons = QHBoxLayout()
        self.play_button = QPushButton("Play")
        self.play_button.setObjectName("speechPlay")
        self.play_button.setToolTip("Play the selected segment (or double-click it); press again to stop")
        self.play_button.clicked.connect(self._on_play_clicked)
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the selected segments (or all of them) as text")
        self.copy_button.clicked.connect(self.copy_text)
        self.clear_button = QPushButton("Clear")
        self.clear_button.clicked.connect(self.clear)
        self.save_button = QPushButton("Save as...")
        self.save_button.setToolTip("Save as TXT, SRT or VTT")
        self.save_button.clicked.connect(self._save_dialog)
        self.autosave_label = QLabel("")
        self.autosave_label.setObjectName("speechAutosave")
        self.autosave_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        for b in (self.play_button, self.copy_button, self.clear_button, self.save_button):
            buttons.addWidget(b)
        buttons.addWidget(self.autosave_label, 1)
        col.addLayout(buttons)
        split.addWidget(box)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        split.setStretchFactor(2, 3)
        root.addWidget(split, 1)
        self._update_buttons()

    def model_id(self) -> str:
        return self.picker.model_id() or speech.DEFAULT_MODEL

    @property
    def waveform(self):
        """The scrolling waveform (`audio_views.WaveformView`)."""
        return self._waveform_slot.widget()

    @property
    def spectrogram(self):
        """The rolling mel spectrogram (`audio_views.MelSpectrogramView`)."""
        return self._spectrogram_slot.widget()

    # -- devices --------------------------------------------------------------------
    def _list_devices_once(self) -> None:
        if not self._devices_listed:
            self._devices_listed = True
            self.refresh_devices()
            import soundfile  # noqa: F401 - loaded early, so the first Record or Open does not stall

    def refresh_devices(self) -> None:
        self.device_combo.clear()
        self.mic_problem = ""
        if self._source_factory is None:
            try:
                for d in streaming.list_input_devices(self._sounddevice()):
                    self.device_combo.addItem(d.label, d.index)
                    if d.is_default:
                        self.device_combo.setCurrentIndex(self.device_combo.count() - 1)
            except PlaygroundError as exc:
                self.mic_problem = str(exc)
                self.show_message(f"{exc} You can still transcribe audio files.", error=True)
        else:
            self.device_combo.addItem("Injected source", "injected")
        self.device_combo.addItem("A file played live (choose when recording)...", FILE_SOURCE)
        self._update_buttons()

    def _sounddevice(self):
        """The `sounddevice` module, loaded once for the microphone and playback (DeviceError if missing)."""
        if self._sd is None:
            self._sd = (streaming.load_sounddevice(self._sd_importer) if self._sd_importer
                        else streaming.load_sounddevice())
        return self._sd

    # -- recording -------------------------------------------------------------------
    @property
    def recording(self) -> bool:
        return self.live_handle is not None

    def toggle_record(self) -> None:
        if self.recording:
            self.stop_recording()
        else:
            self.start_recording()

    def _make_source(self, data) -> streaming.AudioSource | None:
        if self._source_factory is not None and data != FILE_SOURCE:
            return self._source_factory(data)
        if data == FILE_SOURCE:
            path, _ = QFileDialog.getOpenFileName(self, "Play a file as if it were a microphone", "",
                                                  "Audio (*.wav *.flac *.mp3 *.ogg *.opus *.m4a);;All files (*)")
            return streaming.FileSource(path) if path else None
        if self._sd is None:
            raise PlaygroundError(self.mic_problem or "The microphone is unavailable.")
        return streaming.MicrophoneSource(self._sd, device=data)

    def start_recording(self, source: streaming.AudioSource | None = None) -> None:
        if self.recording or self.file_handle is not None:
            return
        self._list_devices_once()
        try:
            source = source or self._make_source(self.device_combo.currentData())
            if source is None:
                return
            source.start()
        except PlaygroundError as exc:
            self.show_message(str(exc), error=True)
            return
        self.source = source
        self._live_buffer = source.buffer  # segments of this session play from it
        self._spec_pos = source.buffer.total
        self.spectrogram.clear()
        self.meter.reset()
        model = self.model_id()
        self.picker.remember()
        self.live_handle = self._live_runner().submit(
            Job(streaming.listen, (source,), {"model": model}, name="live transcription"))
        self.live_handle.event.connect(self._on_live_event)
        self.live_handle.result.connect(self._on_live_result)
        self.live_handle.error.connect(self._on_live_error)
        self.live_handle.finished.connect(self._on_live_finished)
        self._timer.start()
        self.show_message(f"Recording from {source.name}; loading {model}...")
        self._update_buttons()

    def stop_recording(self) -> None:
        """Stop capturing; what is already buffered is still transcribed and made final."""
        if self.source is not None:
            self.source.stop()
        if self.recording:
            self.show_message("Stopped: finishing the text of what was recorded...")
        self._update_buttons()

    def _live_runner(self):
        """Live sessions have their own lane: a recording can last an hour and must neither
        wait behind nor block the jobs of the other tabs."""
        if self._live_worker is None:
            self._live_worker = self.ctx.runner("live", self)
        return self._live_worker

    def _run(self, job: Job):
        if self._jobs is None:
            self._jobs = self.ctx.runner("speech", self)
        return self._jobs.submit(job)

    def _draw_audio(self) -> None:
        src = self.source
        if src is None:
            return
        buf = src.buffer
        recent = buf.latest(audio.SAMPLE_RATE // 20)
        self.meter.set_level(audio.rms_dbfs(recent), audio.peak_dbfs(recent))
        # The meter moves 25 times a second; the two plots take turns on other ticks (about 8 redraws
        # a second each), so no tick does much work on the UI thread.
        self._tick += 1
        phase = self._tick % 3
        if phase == 1:
            self.waveform.set_samples(buf.latest(int(self.waveform.seconds * audio.SAMPLE_RATE)))
        elif phase == 2:
            new, self._spec_pos = buf.read(self._spec_pos)
            if len(new):
                self.spectrogram.append(new)
        if buf.closed and self._spec_pos >= buf.total and not self.recording:
            self._timer.stop()
            self.meter.reset()

    def _on_live_event(self, event) -> None:
        if isinstance(event, streaming.LiveText):
            if event.kind == "partial":
                self._show_partial(event)
            else:
                self._show_final(event)
        elif isinstance(event, streaming.LiveStatus):
            self._show_status(event)

    def _show_partial(self, event: streaming.LiveText) -> None:
        item = self._partial_items.get(event.utterance)
        if item is None:
            item = QTreeWidgetItem(["", ""])
            font = QFont(self.view.font())
            font.setItalic(True)
            item.setFont(1, font)
            item.setForeground(1, QBrush(QColor("#7a7a7a")))
            item.setData(0, Qt.ItemDataRole.UserRole, None)
            self.view.addTopLevelItem(item)
            self._partial_items[event.utterance] = item
        item.setText(0, transcript.short_time(event.start))
        item.setText(1, event.text + " \u2026")
        item.setToolTip(1, "Partial: may still change")
        self.view.scrollToItem(item)

    def _show_final(self, event: streaming.LiveText) -> None:
        item = self._partial_items.pop(event.utterance, None)
        if not event.text:
            if item is not None:
                self.view.takeTopLevelItem(self.view.indexOfTopLevelItem(item))
            return
        seg = Segment(event.start, event.end, event.text)
        if item is None:
            item = QTreeWidgetItem()
            self.view.addTopLevelItem(item)
        self._set_final_item(item, seg, ("live", self._live_buffer))
        self.view.scrollToItem(item)

    def _set_final_item(self, item: QTreeWidgetItem, seg: Segment, origin: tuple | None = None) -> None:
        """`origin`: where the segment's audio can be played from: ("file", path) or ("live", ring buffer)."""
        item.setData(1, Qt.ItemDataRole.UserRole, origin)
        item.setText(0, f"{transcript.short_time(seg.start)} \u2013 {transcript.short_time(seg.end)}")
        item.setText(1, seg.text)
        item.setFont(1, QFont(self.view.font()))
        item.setForeground(1, self.palette().text())
        item.setToolTip(1, "")
        item.setData(0, Qt.ItemDataRole.UserRole, seg)
        self._segments.append(seg)
        self._update_buttons()

    def _show_status(self, status: streaming.LiveStatus) -> None:
        if status.realtime_factor is None:
            self.rtf_label.setText(f"{status.audio_seconds:.0f} s heard")
            if self.message.text().startswith("Recording from"):
                self.show_message(f"Recording from {self.source.name if self.source else 'input'}: speak now.")
            return
        text = f"{status.audio_seconds:.0f} s heard, real-time factor {status.realtime_factor:.2f}"
        if status.realtime_factor > 1.0:
            text += (" (slower than real time: close busy programs)" if self.model_id() == speech.DEFAULT_MODEL
                     else " (slower than real time: choose a smaller model)")
        if status.lag_seconds > 2:
            text += f", {status.lag_seconds:.0f} s behind"
        self.rtf_label.setText(text)

    def _on_live_result(self, result: streaming.LiveResult) -> None:
        if result.autosave:
            self.autosave_label.setText(f"Autosaved to {result.autosave}")
            self.autosave_label.setToolTip(result.autosave)
        if result.error:
            self.show_message(result.error, error=True)
        elif not result.segments:
            self.show_message("No speech found in the recording.")
        else:
            self.show_message(f"Done: {len(result.segments)} segment(s) from {result.duration:.1f} s of audio.")

    def _on_live_error(self, message: str) -> None:
        self.show_message(message, error=True)

    def _on_live_finished(self) -> None:
        if self.source is not None:
            self.source.stop()
        for utt, item in list(self._partial_items.items()):  # a job that died mid-utterance
            self.view.takeTopLevelItem(self.view.indexOfTopLevelItem(item))
            del self._partial_items[utt]
        self.live_handle = None
        self._update_buttons()

    # -- files -------------------------------------------------------------------------
    def _open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Transcribe an audio file", "",
                                              "Audio (*.wav *.flac *.mp3 *.ogg *.opus *.m4a *.aac *.webm);;All files (*)")
        if path:
            self.open_paths([path])

    def open_paths(self, paths: list[str]) -> None:
        audio_paths = [p for p in paths if audio.is_audio_path(p)] or list(paths)
        if not audio_paths:
            return
        if self.recording or self.file_handle is not None:
            self.show_message("Busy: stop the recording or wait for the file being transcribed.", error=True)
            return
        path = audio_paths[0]
        if len(audio_paths) > 1:
            self.ctx.show_status(f"Transcribing {Path(path).name}; drop the other files one at a time.")
        self._file_name = Path(path).name
        self._file_path = str(path)
        model = self.model_id()
        self.file_handle = self._run(Job(speech.transcribe_file, (path,), {"model": model},
                                         name=f"transcribe {self._file_name}"))
        self.file_handle.event.connect(self._on_file_event)
        self.file_handle.result.connect(self._on_file_result)
        self.file_handle.error.connect(lambda msg: self.show_message(msg, error=True))
        self.file_handle.cancelled.connect(
            lambda: self.show_message(f"Cancelled {self._file_name}; the segments so far are kept."))
        self.file_handle.finished.connect(self._on_file_finished)
        self.show_message(f"Transcribing {self._file_name}...")
        self._update_buttons()

    def _on_file_event(self, event) -> None:
        if isinstance(event, speech.FileSegment):
            item = QTreeWidgetItem()
            self.view.addTopLevelItem(item)
            self._set_final_item(item, event.segment, ("file", self._file_path))
            self.view.scrollToItem(item)

    def _on_file_result(self, result: transcript.Transcript) -> None:
        rtf = f", real-time factor {result.realtime_factor:.2f}" if result.realtime_factor is not None else ""
        self.show_message(f"Transcribed {self._file_name}: {len(result.segments)} segment(s), "
                          f"{result.duration:.1f} s of audio{rtf}.")

    def _on_file_finished(self) -> None:
        self.file_handle = None
        self._update_buttons()

    # -- playback ---------------------------------------------------------------------------
    def _on_play_clicked(self) -> None:
        if self.playing:
            self.stop_playback()
            return
        items = self.view.selectedItems() or ([self.view.currentItem()] if self.view.currentItem() else [])
        if items:
            self.play_segment(items[0])

    def play_segment(self, item: QTreeWidgetItem) -> None:
        """Play one final segment's audio through the default output device."""
        seg = item.data(0, Qt.ItemDataRole.UserRole)
        origin = item.data(1, Qt.ItemDataRole.UserRole)
        if not isinstance(seg, Segment) or not origin:
            return
        sd = self._output_device()
        if sd is None:
            return
        kind, where = origin
        if kind == "live":
            first = int(seg.start * streaming.SR)
            if where is None or first < where.total - where.capacity:
                self.show_message("That part of the recording is no longer in memory "
                                  "(the last two minutes of a recording can be played).", error=True)
                return
        self.stop_playback()
        self._playback_id += 1
        self.playing = True
        self._update_buttons()
        self.ctx.show_status(f"Playing {transcript.short_time(seg.start)} - {transcript.short_time(seg.end)}")
        threading.Thread(target=self._play, args=(sd, kind, where, seg, self._playback_id), name="segment playback",
                         daemon=True).start()

    def _play(self, sd, kind: str, where, seg: Segment, playback_id: int) -> None:
        try:
            if kind == "live":
                first = int(seg.start * streaming.SR)
                samples, _ = where.read(first, int((seg.end - seg.start) * streaming.SR))
            else:
                samples = audio.load_range(where, seg.start, seg.end)
            if samples.size == 0:
                raise PlaygroundError("The segment has no audio to play.")
            sd.play(samples, streaming.SR, blocking=True)
        except PlaygroundError as exc:
            self._playback_failed.emit(str(exc))
        except Exception as exc:  # noqa: BLE001 - PortAudio errors: one sentence in the tab
            self._playback_failed.emit(f"Cannot play the segment: {str(exc).strip() or type(exc).__name__}.")
        finally:
            self._playback_done.emit(playback_id)

    def _output_device(self):
        try:
            return self._sounddevice()
        except PlaygroundError as exc:
            self.show_message(f"Cannot play audio: {exc}", error=True)
            return None

    def stop_playback(self) -> None:
        if self.playing and self._sd is not None:
            try:
                self._sd.stop()  # ends the blocking play() on the playback thread
            except Exception:  # noqa: BLE001 - nothing is playing any more
                pass

    def _on_playback_failed(self, message: str) -> None:
        self.show_message(message, error=True)

    def _on_playback_done(self, playback_id: int) -> None:
        if playback_id == self._playback_id:
            self.playing = False
            self._update_buttons()

    # -- transcript actions ---------------------------------------------------------------
    def segments(self) -> list[Segment]:
        return list(self._segments)

    def _selected_segments(self) -> list[Segment]:
        chosen = [it.data(0, Qt.ItemDataRole.UserRole) for it in self.view.selectedItems()]
        chosen = [s for s in chosen if isinstance(s, Segment)]
        return sorted(chosen, key=lambda s: s.start) if chosen else self.segments()

    def _on_selection(self) -> None:
        segs = [it.data(0, Qt.ItemDataRole.UserRole) for it in self.view.selectedItems()]
        segs = [s for s in segs if isinstance(s, Segment)]
        if len(segs) == 1:
            s = segs[0]
            self.ctx.show_status(f"Segment {transcript.short_time(s.start)} - {transcript.short_time(s.end)}: "
                                 f"{s.end - s.start:.1f} s")

    def transcript_text(self) -> str:
        return transcript.to_txt(self.segments())

    def copy_text(self) -> None:
        QGuiApplication.clipboard().setText(transcript.to_txt(self._selected_segments()))
        self.ctx.show_status("Transcript copied.")

    def clear(self) -> None:
        self.view.clear()
        self._segments.clear()
        self._partial_items.clear()
        self.autosave_label.setText("")
        self._update_buttons()

    def _save_dialog(self) -> None:
        path, chosen = QFileDialog.getSaveFileName(self, "Save transcript", "transcript.txt", SAVE_FILTERS)
        if path:
            fmt = Path(path).suffix.lstrip(".").lower()
            if fmt not in transcript.FORMATS:
                fmt = chosen.split("(*.")[1].rstrip(")") if "(*." in chosen else "txt"
                path = f"{path}.{fmt}"
            self.save(path, fmt)

    def save(self, path: str, fmt: str | None = None) -> None:
        try:
            transcript.save(self.segments(), path, fmt)
        except (OSError, PlaygroundError) as exc:
            self.show_message(f"Could not save {Path(path).name}: {exc}", error=True)
            return
        self.ctx.show_status(f"Saved {path}")

    # -- state ----------------------------------------------------------------------------
    def show_message(self, text: str, error: bool = False) -> None:
        self.message.setText(text)
        self.message.setStyleSheet("color: #c0392b;" if error else "")
        self.message.setProperty("isError", error)

    def _update_buttons(self) -> None:
        busy_file = self.file_handle is not None
        self.record_button.setText("\u25a0 Stop" if self.recording else "\u25cf Record")
        stopping = self.recording and self.source is not None and self.source.finished
        self.record_button.setEnabled(not busy_file and not stopping and self.device_combo.count() > 0)
        self.open_button.setEnabled(not self.recording and not busy_file)
        self.device_combo.setEnabled(not self.recording)
        self.model_combo.setEnabled(not self.recording and not busy_file)
        has_text = bool(self._segments)
        self.play_button.setText("\u25a0 Stop" if self.playing else "\u25b6 Play")
        self.play_button.setEnabled(has_text or self.playing)
        self.copy_button.setEnabled(has_text)
        self.save_button.setEnabled(has_text)

    # -- drag and drop, shutdown ----------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:  # noqa: N802 (Qt name)
        mime = event.mimeData()
        if mime is not None and mime.hasUrls() and any(audio.is_audio_path(u.toLocalFile()) for u in mime.urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:  # noqa: N802 (Qt name)
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_paths(paths)

    def shutdown(self) -> None:
        self._timer.stop()
        self.stop_playback()
        if self.source is not None:
            self.source.stop()
        if self._live_worker is not None:  # stop capturing, then join the live lane (finals are kept)
            self._live_worker.cancel()
            self.ctx.lanes.worker("live").shutdown(timeout=5.0)


def _make_waveform() -> QWidget:
    from playground.ui.widgets.audio_views import WaveformView  # imports pyqtgraph and numpy

    return WaveformView()


def _make_spectrogram() -> QWidget:
    from playground.ui.widgets.audio_views import MelSpectrogramView

    return MelSpectrogramView()


def build(ctx) -> QWidget:
    return SpeechTab(ctx, devices_after_paint=True)
