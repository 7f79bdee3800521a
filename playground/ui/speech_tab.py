"""Speech tab (the view): live microphone transcription and audio files to timed transcripts.

`SpeechController` (playground/ui/speech_controller.py) holds the logic: devices,
the live and file jobs, segments, playback and export. This view renders its
signals, and draws the source's level, waveform and mel spectrogram from its
ring buffer on a timer.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path

from PySide6.QtCore import QEvent, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView, QCheckBox, QComboBox, QFileDialog, QHBoxLayout, QHeaderView, QLabel, QListWidget, QListWidgetItem,
    QMenu, QPushButton, QSizePolicy, QSplitter, QToolButton, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget,
)

from playground.core import transcript
from playground.core.speech.languages import DEFAULT_MODEL, LANGUAGES, options_problem
from playground.core.speech.session import BUSY_MESSAGE, FILE_SOURCE, NO_MICROPHONE, word_index
from playground.core.transcript import Segment
from playground.core.transcript_store import list_labels
from playground.ui.sound_panel import SoundPanel
from playground.ui.speech_compare import SpeechComparison
from playground.ui.speech_controller import SpeechController
from playground.ui.widgets.audio_meter import AudioLevelMeter
from playground.ui.widgets.compare_models import CompareModels
from playground.ui.widgets.deferred import Deferred, after_first_paint, lazy_module
from playground.ui.widgets.model_picker import ModelPicker
from playground.ui.widgets.status_bar import ElidedLabel

log = logging.getLogger(__name__)
# numpy-backed engine modules, imported on first use: the tab paints before numpy loads.
audio = lazy_module("playground.core.audio")
input_devices = lazy_module("playground.core.speech.input_devices")
sources = lazy_module("playground.core.speech.sources")

TASK = "speech-recognition"
SAVE_FILTERS = "Text (*.txt);;SubRip subtitles (*.srt);;WebVTT subtitles (*.vtt);;JSON (*.json)"
SEGMENT_INDEX = Qt.ItemDataRole.UserRole  # column 1: the segment's index in the controller's list
TRANSCRIPT_ID = Qt.ItemDataRole.UserRole  # the transcripts list: each row's transcript id
FILE_AUDIO_SECONDS = 1800.0  # a file's waveform and spectrogram show at most its first half hour
RECORD_TIP = "Start or stop live transcription (Ctrl+R)"
AUDIO_HEIGHT = 90  # the waveform's and the spectrogram's least height
COMPARING_AUDIO_HEIGHT = 68  # ... while a comparison's columns are shown
COMPARE_HINT = ("Compare: a file goes through each model in turn; a live session, through its recording "
                "once it ends.")
PLAY_TIP = "Play the selected segment (or double-click it); press again to stop"


class SpeechTab(QWidget):
    """The Speech tab's widgets over a `SpeechController` (`self.controller`), which holds the logic.

    `source_factory(device_data) -> AudioSource` and `sounddevice_importer` go to the controller
    (tests, demos). `devices_after_paint`: list the audio devices (PortAudio takes about 0.1 s to start)
    and load soundfile just after the tab's first paint, or on the first recording if that comes sooner.
    """

    _file_audio = Signal(str, object)  # path, its samples (loaded on a short-lived thread)

    def __init__(self, ctx, source_factory: Callable[[object], sources.AudioSource] | None = None,
                 sounddevice_importer: Callable[[str], object] | None = None, devices_after_paint: bool = False,
                 system_lister: Callable[[], list] | None = None):
        super().__init__()
        self.ctx = ctx
        self.setObjectName("speechTab")
        self.setAcceptDrops(True)
        self.controller = SpeechController(ctx, source_factory, sounddevice_importer, parent=self,
                                           system_lister=system_lister)
        self.file_audio_path = ""  # the file drawn in the waveform and spectrogram ("" when none)
        self._file_audio_wanted = ""
        self._spec_pos = 0
        self._partial_items: dict[int, QTreeWidgetItem] = {}  # utterance -> its italic line
        self._build()
        self._timer = QTimer(self)
        self._timer.setInterval(40)
        self._tick = 0
        self._timer.timeout.connect(self._draw_audio)
        c = self.controller
        c.devices_changed.connect(self._show_devices)
        c.status.connect(self.show_message)
        c.recording_changed.connect(self._on_recording_changed)
        c.state_changed.connect(self._update_buttons)
        c.state_changed.connect(self._show_speakers)
        c.partial_text.connect(self._show_partial)
        c.partial_dropped.connect(self._drop_partial)
        c.segment_added.connect(self._show_segment)
        c.realtime_changed.connect(self.rtf_label.setText)
        c.autosaved.connect(self._show_autosave)
        c.cleared.connect(self._on_cleared)
        c.language_changed.connect(self.language_label.setText)
        c.model_rtf_changed.connect(self._show_rtf)
        c.playback_position.connect(self._show_playing)
        c.system_audio_problem.connect(self._show_system_problem)
        c.transcripts_changed.connect(self._show_transcripts)
        c.current_changed.connect(self._on_current_changed)
        c.file_busy_changed.connect(lambda busy: self._draw_file(c._file_path) if busy else None)
        c.recording_changed.connect(self._compare_recording)
        self.comparison.busy_changed.connect(lambda _busy: self._update_buttons())
        self.comparison.measured.connect(c.measured)
        self.comparison.message.connect(self.show_message)
        self.comparison.finished.connect(lambda _result: c._save_rtf())
        self._file_audio.connect(self._on_file_audio)
        self._show_transcripts(c.transcripts())
        self._show_rtf(c.rtf_summary(self.model_id()))
        self.picker.changed.connect(lambda model: self._show_rtf(c.rtf_summary(self.model_id())))
        c.playback_changed.connect(lambda playing: None if playing else self._show_words(self._words_index))
        if devices_after_paint:
            after_first_paint(self, self._list_devices_once)
        else:
            self._list_devices_once()

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
        self.record_button.setToolTip(RECORD_TIP)
        self.record_button.clicked.connect(self.toggle_record)
        top.addWidget(self.record_button)
        self.open_button = QPushButton("Open audio file...")
        self.open_button.setToolTip("Transcribe a WAV, FLAC, MP3 or OGG file (or drop one on this tab)")
        self.open_button.clicked.connect(self._open_dialog)
        top.addWidget(self.open_button)
        root.addLayout(top)
        # The model on a row of its own, with its measured speed: beside the input, the tab (and so
        # the window) could not be narrower than 900 px.
        model_row = QHBoxLayout()
        self.picker = ModelPicker(self.ctx, TASK, placeholder="a faster-whisper or transformers Hub id, or a folder")
        self.picker.setObjectName("speechModel")
        self.model_combo = self.picker.combo
        model_row.addWidget(self.picker, 1)
        # Compare: more models with the same picker; a file (or a session's recording) goes through each.
        self.compare = CompareModels(self.ctx, self.picker)
        model_row.addWidget(self.compare.switch)
        root.addLayout(model_row)
        root.addWidget(self.compare)
        self.compare.switch.setToolTip(COMPARE_HINT)
        self.compare.toggled.connect(self._on_compare_toggled)
        # Why what the computer plays is not in the input list (no PulseAudio, no loopback), when it is not.
        self.system_label = QLabel("")
        self.system_label.setObjectName("speechSystemAudio")
        self.system_label.setWordWrap(True)
        self.system_label.setStyleSheet("color: #7a7a7a;")
        self.system_label.setVisible(False)
        root.addWidget(self.system_label)

        # Language and task, for files and live sessions; what was detected; each model's measured speed.
        options = QHBoxLayout()
        options.addWidget(QLabel("Language:"))
        self.language_combo = QComboBox()
        self.language_combo.setObjectName("speechLanguage")
        self.language_combo.setAccessibleName("Spoken language")
        for code, name in LANGUAGES:
            self.language_combo.addItem(name if code is None else f"{name} ({code})", code)
        self.language_combo.setToolTip("Auto-detect, or the language spoken (multilingual models; "
                                       "Whisper tiny.en knows English only)")
        self.language_combo.currentIndexChanged.connect(
            lambda _i: self.controller.set_language(self.language_combo.currentData()))
        options.addWidget(self.language_combo)
        options.addWidget(QLabel("Task:"))
        self.task_combo = QComboBox()
        self.task_combo.setObjectName("speechTask")
        self.task_combo.setAccessibleName("Task")
        self.task_combo.addItem("Transcribe", "transcribe")
        self.task_combo.addItem("Translate to English", "translate")
        self.task_combo.currentIndexChanged.connect(
            lambda _i: self.controller.set_task(self.task_combo.currentData()))
        options.addWidget(self.task_combo)
        self.speakers_check = QCheckBox("Who spoke")
        self.speakers_check.setObjectName("speechSpeakers")
        self.speakers_check.setToolTip("Label each segment with its speaker (Speaker 1, 2, ...) in the next file "
                                       "or recording; rename a speaker in the Speakers list")
        self.speakers_check.toggled.connect(self.controller.set_speakers)
        self.language_label = QLabel("")
        self.language_label.setObjectName("speechDetectedLanguage")
        options.addWidget(self.language_label)
        options.addStretch(1)
        self.model_rtf_label = QLabel("")
        self.model_rtf_label.setObjectName("speechModelRtf")
        self.model_rtf_label.setToolTip("Seconds of work per second of audio, measured on this machine for each "
                                        "model used; above 1 the smaller model keeps up")
        # Wrapped, on a line of its own under the model pickers: on one line a measured speed with its
        # advice (over 500 px) set the window's minimum width; beside the picker and the Compare switch
        # it wrapped to seven lines in a narrow window.
        self.model_rtf_label.setWordWrap(True)
        self.model_rtf_label.setVisible(False)
        root.insertWidget(root.indexOf(self.compare) + 1, self.model_rtf_label)
        root.addLayout(options)

        meter_row = QHBoxLayout()
        meter_row.addWidget(QLabel("Level:"))
        self.meter = AudioLevelMeter()
        meter_row.addWidget(self.meter, 1)
        self.rtf_label = QLabel("")
        self.rtf_label.setObjectName("speechRtf")
        self.rtf_label.setWordWrap(True)  # the live status with its advice: as long as the model's speed
        meter_row.addWidget(self.rtf_label, 1)
        root.addLayout(meter_row)

        self.message = QLabel("")
        self.message.setObjectName("speechMessage")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        message_row = QHBoxLayout()
        message_row.addWidget(self.message, 1)
        # A comparison's columns take the transcript's place (below); its Cancel sits by the message line.
        self.comparison = SpeechComparison(self.ctx, lambda m: self.compare.display_name(m))
        self.comparison.setVisible(False)
        message_row.addWidget(self.comparison.cancel_button)
        root.addLayout(message_row)

        split = QSplitter(Qt.Orientation.Vertical)
        # The waveform and the spectrogram (pyqtgraph, numpy, librosa) are made just after the tab's
        # first paint, or when first needed; the stand-ins lay out like them.
        self._waveform_slot = Deferred(_make_waveform, QSize(600, 480), QSize(68, 68))
        self._waveform_slot.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._spectrogram_slot = Deferred(partial(_make_spectrogram, self._waveform_slot), QSize(600, 480),
                                          QSize(68, 68))
        for slot in (self._waveform_slot, self._spectrogram_slot):
            slot.setMinimumHeight(AUDIO_HEIGHT)
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
        # One transcript per recording or file (kept on disk), each with its own timeline.
        lists = QSplitter(Qt.Orientation.Horizontal)
        left = QWidget()
        left_col = QVBoxLayout(left)
        left_col.setContentsMargins(0, 0, 0, 0)
        left_col.addWidget(QLabel("Transcripts:"))
        self.transcript_list = QListWidget()
        self.transcript_list.setObjectName("speechTranscripts")
        self.transcript_list.setAccessibleName("Transcripts")
        self.transcript_list.setToolTip("One transcript per recording or file, kept between sessions; "
                                        "right-click to copy, export or delete one")
        self.transcript_list.currentItemChanged.connect(self._on_transcript_chosen)
        self.transcript_list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.transcript_list.customContextMenuRequested.connect(self._transcript_menu)
        left_col.addWidget(self.transcript_list, 1)
        self.delete_button = QPushButton("Delete")
        self.delete_button.setObjectName("speechDeleteTranscript")
        self.delete_button.setToolTip("Delete the selected transcript (its file in the data folder too)")
        self.delete_button.clicked.connect(self.delete_current)
        left_col.addWidget(self.delete_button)
        # The speakers of the transcript shown: double-click (or F2) a name to rename it everywhere.
        self.speakers_title = QLabel("Speakers:")
        # Under the transcripts, above their speakers: the language row has no room left at the minimum width.
        left_col.addWidget(self.speakers_check)
        left_col.addWidget(self.speakers_title)
        self.speaker_list = QListWidget()
        self.speaker_list.setObjectName("speechSpeakerNames")
        self.speaker_list.setAccessibleName("Speakers")
        self.speaker_list.setToolTip("Double-click a speaker to rename them in the transcript and its exports")
        self.speaker_list.setMaximumHeight(100)
        self.speaker_list.itemChanged.connect(self._on_speaker_renamed)
        left_col.addWidget(self.speaker_list)
        self.speakers_title.setVisible(False)
        self.speaker_list.setVisible(False)
        lists.addWidget(left)
        lists.addWidget(self.view)
        lists.setStretchFactor(0, 1)
        lists.setStretchFactor(1, 3)
        col.addWidget(lists, 1)
        self.transcript_box = box
        split.addWidget(self.comparison)
        # The selected (or playing) segment word by word: the word being played is highlighted,
        # clicking a word plays from it.
        self.words_label = QLabel("")
        self.words_label.setObjectName("speechWords")
        self.words_label.setWordWrap(True)
        self.words_label.setTextFormat(Qt.TextFormat.RichText)
        self.words_label.setToolTip("Click a word to play from it")
        self.words_label.linkActivated.connect(self._on_word_clicked)
        self._words_index = -1  # the segment shown word by word
        self._words_playing = -1  # its word being played
        col.addWidget(self.words_label)
        buttons = QHBoxLayout()
        self.play_button = QPushButton("Play")
        self.play_button.setObjectName("speechPlay")
        self.play_button.setToolTip(PLAY_TIP)
        self.play_button.clicked.connect(self._on_play_clicked)
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the selected segments (or all of them) as text")
        self.copy_button.clicked.connect(self.copy_text)
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("Empty the view (the transcripts stay in the list; Delete removes one)")
        self.clear_button.clicked.connect(self.clear)
        self.save_button = QPushButton("Save as...")
        self.save_button.setToolTip("Save as TXT, SRT or VTT")
        self.save_button.clicked.connect(self._save_dialog)
        self.cues_combo = QComboBox()
        self.cues_combo.setObjectName("speechCues")
        self.cues_combo.setAccessibleName("Subtitle cues")
        self.cues_combo.setToolTip("SRT/VTT subtitles: one cue per segment, per line of words or per word "
                                   "(lines and words need word times: files and live sessions have them)")
        for per, label in (("segment", "Cue per segment"), ("line", "Cue per line"), ("word", "Cue per word")):
            self.cues_combo.addItem(label, per)
        # A long path is elided in the middle (its file name stays), whole in the tooltip.
        self.autosave_label = ElidedLabel("", mode=Qt.TextElideMode.ElideMiddle)
        self.autosave_label.setObjectName("speechAutosave")
        self.autosave_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        for b in (self.play_button, self.copy_button, self.clear_button, self.save_button, self.cues_combo):
            buttons.addWidget(b)
        buttons.addWidget(self.autosave_label, 1)
        col.addLayout(buttons)
        split.addWidget(box)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        split.setStretchFactor(2, 3)
        split.setStretchFactor(3, 3)
        # Live sound classes (a classifier from the Train tab), over the same input.
        self.sound_panel = SoundPanel(self.ctx, self.controller, lambda: self.device_combo.currentData())
        split.addWidget(self.sound_panel)
        root.addWidget(split, 1)
        self.device_combo.currentIndexChanged.connect(lambda _index: self._update_buttons())
        self._update_buttons()

    def model_id(self) -> str:
        return self.picker.model_id() or DEFAULT_MODEL

    def event(self, e) -> bool:  # noqa: D102
        if e.type() in (QEvent.Type.LayoutRequest, QEvent.Type.Resize):
            self._keep_wrapped_lines()
        return super().event(e)

    def _keep_wrapped_lines(self) -> None:
        """The wrapped lines above the audio views claim their height: the window's least size counts a
        wrapped label as one line, so in a narrow window the views below (a comparison's columns) were
        squeezed under their own least height and overlapped."""
        for label in (self.system_label, self.model_rtf_label, self.rtf_label, self.message):
            need = label.heightForWidth(label.width()) if label.isVisible() and label.text() else 0
            if need > 0 and need != label.minimumHeight():
                label.setMinimumHeight(need)

    def _show_rtf(self, text: str) -> None:
        self.model_rtf_label.setText(text)
        self.model_rtf_label.setVisible(bool(text))

    @property
    def waveform(self):
        """The scrolling waveform (`audio_views.WaveformView`)."""
        return self._waveform_slot.widget()

    @property
    def spectrogram(self):
        """The rolling mel spectrogram (`audio_views.MelSpectrogramView`)."""
        return self._spectrogram_slot.widget()

    # -- the controller's state, under the names the app, tests and benchmarks use -------------
    @property
    def recording(self) -> bool:
        return self.controller.recording

    @property
    def live_handle(self):
        return self.controller.live_handle

    @property
    def file_handle(self):
        return self.controller.file_handle

    @property
    def source(self) -> sources.AudioSource | None:
        return self.controller.source

    @property
    def playing(self) -> bool:
        return self.controller.playing

    @property
    def mic_problem(self) -> str:
        return self.controller.mic_problem

    @property
    def _devices_listed(self) -> bool:
        return self.controller.devices_listed

    @property
    def _sd(self):
        """The `sounddevice` module in use (a test may hand in a fake)."""
        return self.controller._sd

    @_sd.setter
    def _sd(self, module) -> None:
        self.controller._sd = module
        self.controller.output_problem = input_devices.output_problem(module)
        self._update_buttons()

    # -- devices --------------------------------------------------------------------
    def _list_devices_once(self) -> None:
        self.controller.list_devices_once()

    def refresh_devices(self) -> None:
        self.controller.refresh_devices()

    def _show_system_problem(self, problem: str) -> None:
        self.system_label.setText(problem)
        self.system_label.setVisible(bool(problem))

    def _show_devices(self, choices: list, problem: str) -> None:
        self.device_combo.clear()
        for choice in choices:
            self.device_combo.addItem(choice.label, choice.data)
            if choice.why:
                self.device_combo.setItemData(self.device_combo.count() - 1, choice.why, Qt.ItemDataRole.ToolTipRole)
            if choice.is_default:
                self.device_combo.setCurrentIndex(self.device_combo.count() - 1)
        self._update_buttons()

    # -- recording -------------------------------------------------------------------
    def toggle_record(self) -> None:
        if self.recording:
            self.stop_recording()
        else:
            self.start_recording()

    def start_recording(self, source: sources.AudioSource | None = None) -> None:
        c = self.controller
        if c.busy:
            return
        c.list_devices_once()
        device, path = None, None
        if source is None:
            device = self.device_combo.currentData()
            if device == FILE_SOURCE:
                path, _ = QFileDialog.getOpenFileName(self, "Play a file as if it were a microphone", "",
                                                      "Audio (*.wav *.flac *.mp3 *.ogg *.opus *.m4a);;All files (*)")
                if not path:
                    return
        if c.start_recording(source, device, self.model_id(), path):
            self.picker.remember()

    def stop_recording(self) -> None:
        """Stop capturing; what is already buffered is still transcribed and made final."""
        self.controller.stop_recording()

    def _on_recording_changed(self, recording: bool) -> None:
        if recording:
            self._show_comparison(False)  # the session's text shows as it comes
            self.file_audio_path = self._file_audio_wanted = ""
        if recording and self.source is not None:
            self._spec_pos = self.source.buffer.total
            self.spectrogram.clear()
            self.meter.reset()
            self._timer.start()

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

    def _show_partial(self, utterance: int, start: float, text: str) -> None:
        item = self._partial_items.get(utterance)
        if item is None:
            item = QTreeWidgetItem(["", ""])
            font = QFont(self.view.font())
            font.setItalic(True)
            item.setFont(1, font)
            item.setForeground(1, QBrush(QColor("#7a7a7a")))
            item.setData(0, Qt.ItemDataRole.UserRole, None)
            self.view.addTopLevelItem(item)
            self._partial_items[utterance] = item
        item.setText(0, transcript.short_time(start))
        item.setText(1, text + " \u2026")
        item.setToolTip(1, "Partial: may still change")
        self.view.scrollToItem(item)

    def _drop_partial(self, utterance: int) -> None:
        item = self._partial_items.pop(utterance, None)
        if item is not None:
            self.view.takeTopLevelItem(self.view.indexOfTopLevelItem(item))

    def _show_segment(self, index: int, seg: Segment, utterance: int) -> None:
        """A final segment: it replaces its utterance's partial line, or comes as a new line."""
        partial = self._partial_items.pop(utterance, None) if utterance >= 0 else None
        item = self._segment_row(index)  # a live line's next final words extend its row
        if item is not None and partial is not None:
            self.view.takeTopLevelItem(self.view.indexOfTopLevelItem(partial))
        item = item or partial
        if item is None:
            item = QTreeWidgetItem()
            self.view.addTopLevelItem(item)
        item.setData(1, SEGMENT_INDEX, index)
        item.setText(0, f"{transcript.short_time(seg.start)} \u2013 {transcript.short_time(seg.end)}")
        item.setText(1, f"{seg.speaker}: {seg.text}" if seg.speaker else seg.text)
        item.setFont(1, QFont(self.view.font()))
        item.setForeground(1, self.palette().text())
        item.setToolTip(1, "")
        item.setData(0, Qt.ItemDataRole.UserRole, seg)
        self.view.scrollToItem(item)

    def _segment_row(self, index: int) -> QTreeWidgetItem | None:
        """The row showing final segment `index` (rows are in order: the last rows are looked at)."""
        for row in range(self.view.topLevelItemCount() - 1, -1, -1):
            item = self.view.topLevelItem(row)
            found = item.data(1, SEGMENT_INDEX)
            if found == index:
                return item
            if found is not None and found < index:
                return None
        return None

    def _show_autosave(self, path: str) -> None:
        self.autosave_label.setText(f"Autosaved to {path}")  # whole in its tooltip when elided

    # -- files -------------------------------------------------------------------------
    def _open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Transcribe an audio file", "",
                                              "Audio (*.wav *.flac *.mp3 *.ogg *.opus *.m4a *.aac *.webm);;All files (*)")
        if path:
            self.open_paths([path])

    def open_paths(self, paths: list[str]) -> None:
        if self.compare.active:
            audio_paths = [p for p in paths if audio.is_audio_path(p)] or list(paths)
            if audio_paths:
                self.compare_file(audio_paths[0])
            return
        self._show_comparison(False)
        self.controller.open_paths(paths, self.model_id())

    def transcribe_file(self, path: str):
        """Transcribe one audio file with the chosen model; its JobHandle (None when busy)."""
        if self.compare.active:
            self.compare_file(path)
            return None
        self._show_comparison(False)
        return self.controller.transcribe_file(path, self.model_id())

    # -- compare --------------------------------------------------------------------------------
    def compared_models(self) -> list[str]:
        return [m or DEFAULT_MODEL for m in self.compare.model_ids()]

    def compare_file(self, path: str) -> bool:
        """Transcribe `path` with every compared model, one after another, side by side."""
        c = self.controller
        if c.busy or self.comparison.busy:
            self.show_message(BUSY_MESSAGE, error=True)
            return False
        models = self.compared_models()
        problem = next((p for p in (options_problem(m, c.language, c.task) for m in models) if p), "")
        if problem:
            self.show_message(problem, error=True)
            return False
        self.show_message(f"Comparing {len(models)} models on {Path(path).name}, one after another...")
        self.picker.remember()
        started = self.comparison.start(path, models, c.speech_options(words=False))
        self._show_comparison(started)
        return started

    def _on_compare_toggled(self, on: bool) -> None:
        if on:
            self.show_message(COMPARE_HINT)
        else:
            self._show_comparison(False)

    def _show_comparison(self, on: bool) -> None:
        """The comparison's columns in the transcript's place, or the transcript back. The audio views
        give up a little height meanwhile, so the tab is no taller than before."""
        self.comparison.setVisible(on)
        self.transcript_box.setVisible(not on)
        for slot in (self._waveform_slot, self._spectrogram_slot):
            slot.setMinimumHeight(COMPARING_AUDIO_HEIGHT if on else AUDIO_HEIGHT)

    def _compare_recording(self, recording: bool) -> None:
        """A live session ended while comparing: each model transcribes its recording."""
        path = self.controller.last_recording
        if not recording and path and self.compare.active:
            self.compare_file(path)

    def cancel(self) -> None:
        """Esc: cancel every run of a comparison (the window cancels the speech lane's jobs too)."""
        self.comparison.cancel()

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
        index = item.data(1, SEGMENT_INDEX)
        if isinstance(index, int):
            self.controller.play_segment(index)

    def stop_playback(self) -> None:
        self.controller.stop_playback()

    # -- transcript actions ---------------------------------------------------------------
    def segments(self) -> list[Segment]:
        return self.controller.segments()

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
            items = self.view.selectedItems()
            index = items[0].data(1, SEGMENT_INDEX) if items else None
            if isinstance(index, int):
                self._show_words(index)

    # -- words ------------------------------------------------------------------------------
    def _show_words(self, index: int, playing: int = -1) -> None:
        """Segment `index` word by word as links; word `playing` highlighted."""
        seg = self.controller.segment(index)
        self._words_index, self._words_playing = index, playing
        if seg is None or not seg.words:
            self.words_label.setText("")
            return
        import html

        parts = []
        for i, w in enumerate(seg.words):
            style = "text-decoration: none;" + (" background-color: #f7dc6f; color: black;" if i == playing else "")
            parts.append(f'<a href="word:{index}:{i}" style="{style}">{html.escape(w.word.strip())}</a>')
        self.words_label.setText(" ".join(parts))

    def _show_playing(self, index: int, position: float) -> None:
        seg = self.controller.segment(index)
        if seg is None or not seg.words:
            return
        playing = word_index(seg, position)
        if (index, playing) != (self._words_index, self._words_playing):
            self._show_words(index, playing)

    def _on_word_clicked(self, link: str) -> None:
        _, index, word = link.split(":")
        self.controller.play_word(int(index), int(word))

    def playing_word(self) -> int:
        """The word highlighted as being played (-1: none)."""
        return self._words_playing

    def transcript_text(self) -> str:
        return self.controller.transcript_text()

    def copy_text(self) -> None:
        QGuiApplication.clipboard().setText(self.controller.transcript_text(self._selected_segments()))
        self.ctx.show_status("Transcript copied.")

    def clear(self) -> None:
        self.controller.clear()

    def _show_speakers(self) -> None:
        names = self.controller.speaker_names()
        if names == self.speaker_names():
            return
        self.speaker_list.blockSignals(True)
        try:
            self.speaker_list.clear()
            for name in names:
                row = QListWidgetItem(name)
                row.setData(Qt.ItemDataRole.UserRole, name)
                row.setFlags(row.flags() | Qt.ItemFlag.ItemIsEditable)
                self.speaker_list.addItem(row)
        finally:
            self.speaker_list.blockSignals(False)
        self.speakers_title.setVisible(bool(names))
        self.speaker_list.setVisible(bool(names))

    def speaker_names(self) -> list[str]:
        return [self.speaker_list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.speaker_list.count())]

    def rename_speaker(self, old: str, new: str) -> bool:
        return self.controller.rename_speaker(old, new)

    def _on_speaker_renamed(self, row: QListWidgetItem) -> None:
        old = row.data(Qt.ItemDataRole.UserRole)
        if not self.rename_speaker(old, row.text()):
            self.speaker_list.blockSignals(True)
            row.setText(old)  # refused (an empty name): the old one stays
            self.speaker_list.blockSignals(False)

    def _on_cleared(self) -> None:
        self.view.clear()
        self._partial_items.clear()
        self._show_words(-1)
        self.autosave_label.setText("")

    def _save_dialog(self) -> None:
        path, chosen = QFileDialog.getSaveFileName(self, "Save transcript", "transcript.txt", SAVE_FILTERS)
        if path:
            fmt = Path(path).suffix.lstrip(".").lower()
            if fmt not in transcript.FORMATS:
                fmt = chosen.split("(*.")[1].rstrip(")") if "(*." in chosen else "txt"
                path = f"{path}.{fmt}"
            self.save(path, fmt)

    def save(self, path: str, fmt: str | None = None) -> bool:
        return self.controller.save(path, fmt, per=self.cues_combo.currentData() or "segment")

    # -- the transcripts list ---------------------------------------------------------------
    def _show_transcripts(self, items: list) -> None:
        current = self.controller.current
        self.transcript_list.blockSignals(True)
        try:
            self.transcript_list.clear()
            labels = list_labels(items)  # same-named ones told apart by folder or time
            for t, label in reversed(list(zip(items, labels, strict=True))):  # newest first
                row = QListWidgetItem(label)
                row.setData(TRANSCRIPT_ID, t.id)
                row.setToolTip(t.source or t.name)
                self.transcript_list.addItem(row)
                if current is not None and t.id == current.id:
                    self.transcript_list.setCurrentItem(row)
        finally:
            self.transcript_list.blockSignals(False)
        self._update_buttons()

    def transcript_names(self) -> list[str]:
        """The list's rows, top (newest) first."""
        return [self.transcript_list.item(i).text() for i in range(self.transcript_list.count())]

    def select_transcript(self, name_or_id: str) -> bool:
        for i in range(self.transcript_list.count()):
            row = self.transcript_list.item(i)
            if name_or_id in (row.text(), row.data(TRANSCRIPT_ID)):
                self.transcript_list.setCurrentItem(row)
                return self.controller.current is not None and self.controller.current.id == row.data(TRANSCRIPT_ID)
        return False

    def _on_transcript_chosen(self, row, _previous=None) -> None:
        if row is not None:
            self.controller.select(row.data(TRANSCRIPT_ID))

    def _on_current_changed(self, transcript_id: str) -> None:
        self.transcript_list.blockSignals(True)
        try:
            for i in range(self.transcript_list.count()):
                row = self.transcript_list.item(i)
                if row.data(TRANSCRIPT_ID) == transcript_id:
                    self.transcript_list.setCurrentItem(row)
                    break
            else:
                self.transcript_list.setCurrentItem(None)
        finally:
            self.transcript_list.blockSignals(False)
        if not self.recording:
            self._draw_file(self.controller.audio_file())
        self._update_buttons()

    def _transcript_menu(self, pos) -> None:
        row = self.transcript_list.itemAt(pos)
        if row is None:
            return
        tid = row.data(TRANSCRIPT_ID)
        menu = QMenu(self)
        menu.addAction("Copy", lambda: self._copy_transcript(tid))
        menu.addAction("Export...", lambda: self._export_dialog(tid))
        menu.addAction("Delete", lambda: self.controller.delete(tid))
        menu.exec(self.transcript_list.viewport().mapToGlobal(pos))

    def _copy_transcript(self, transcript_id: str) -> None:
        QGuiApplication.clipboard().setText(self.controller.text_of(transcript_id))
        self.ctx.show_status("Transcript copied.")

    def _export_dialog(self, transcript_id: str) -> None:
        item = self.controller.find(transcript_id)
        if item is None:
            return
        stem = Path(item.name).stem if item.kind == "file" else "".join(
            ch if ch.isalnum() else "-" for ch in item.name).strip("-")
        path, chosen = QFileDialog.getSaveFileName(self, "Export transcript", f"{stem}.txt", SAVE_FILTERS)
        if path:
            fmt = Path(path).suffix.lstrip(".").lower()
            if fmt not in transcript.FORMATS:
                fmt = chosen.split("(*.")[1].rstrip(")") if "(*." in chosen else "txt"
                path = f"{path}.{fmt}"
            self.controller.export(transcript_id, path, fmt, per=self.cues_combo.currentData() or "segment")

    def delete_current(self) -> bool:
        current = self.controller.current
        return current is not None and self.controller.delete(current.id)

    # -- a file's waveform and spectrogram ------------------------------------------------------
    def _draw_file(self, path: str) -> None:
        """Draw the whole file into the waveform and spectrogram (decoded on a short-lived thread)."""
        if not path or path == self.file_audio_path or path == self._file_audio_wanted:
            return
        self._file_audio_wanted = path

        def load() -> None:
            try:
                samples = audio.load(path, max_seconds=FILE_AUDIO_SECONDS)
            except Exception as exc:  # noqa: BLE001 - a file that cannot be drawn is still transcribed
                log.debug("drawing %s failed: %s", path, exc)
                samples = None
            try:
                self._file_audio.emit(path, samples)
            except RuntimeError:  # the tab was closed meanwhile
                pass

        threading.Thread(target=load, name="file waveform", daemon=True).start()

    def _on_file_audio(self, path: str, samples) -> None:
        if path != self._file_audio_wanted:
            return
        self._file_audio_wanted = ""
        if self.recording:
            return
        if samples is None:  # not drawable: not the previous file's picture either
            import numpy as np

            samples = np.zeros(0, np.float32)
            path = ""
        self.waveform.set_overview(samples)
        self.spectrogram.set_overview(samples)
        self.file_audio_path = path

    # -- state ----------------------------------------------------------------------------
    def show_message(self, text: str, error: bool = False) -> None:
        self.message.setText(text)
        self.message.setStyleSheet("color: #c0392b;" if error else "")
        self.message.setProperty("isError", error)

    def _update_buttons(self) -> None:
        c = self.controller
        self.record_button.setText("\u25a0 Stop" if c.recording else "\u25cf Record")
        no_mic = self.device_combo.currentData() == NO_MICROPHONE and not c.recording
        self.record_button.setEnabled(not c.file_busy and not c.stopping and self.device_combo.count() > 0
                                      and not no_mic)
        self.record_button.setToolTip(f"{c.mic_problem or 'No microphone found.'} Choose another input, "
                                      "or a file played live." if no_mic else RECORD_TIP)
        comparing = self.comparison.busy
        if comparing:
            self.record_button.setEnabled(False)
        self.open_button.setEnabled(not c.busy and not comparing)
        self.device_combo.setEnabled(not c.recording)
        self.model_combo.setEnabled(not c.busy and not comparing)
        self.compare.setEnabled(not c.busy and not comparing)
        self.compare.switch.setEnabled(not c.busy and not comparing)
        self.language_combo.setEnabled(not c.busy and not comparing)
        self.task_combo.setEnabled(not c.busy and not comparing)
        has_text = bool(c.segments())
        self.play_button.setText("\u25a0 Stop" if c.playing else "\u25b6 Play")
        self.play_button.setEnabled((has_text and not c.output_problem) or c.playing)
        self.play_button.setToolTip(c.output_problem or PLAY_TIP)
        self.copy_button.setEnabled(has_text)
        self.save_button.setEnabled(has_text)
        self.delete_button.setEnabled(c.current is not None)

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
        self.sound_panel.shutdown()
        self.controller.shutdown()

def _make_waveform() -> QWidget:
    from playground.ui.widgets.audio_views import WaveformView  # imports pyqtgraph and numpy

    return WaveformView()


def _make_spectrogram(waveform_slot: Deferred) -> QWidget:
    from playground.ui.widgets.audio_views import MelSpectrogramView

    view = MelSpectrogramView()
    view.link_time_axis(waveform_slot.widget())  # one time axis: each second under the same pixels
    return view


def build(ctx) -> QWidget:
    return SpeechTab(ctx, devices_after_paint=True)
