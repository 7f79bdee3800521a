"""The Speech tab's Qt adapter: `SpeechSession` (core/speech/session.py) with signals and lanes.

The session holds the tab's state and rules without Qt; this class gives it what needs Qt:
its events become signals (`SpeechTab` renders them), its jobs run on the app's lanes ("live"
for recordings, "speech" for files), the playback thread's outcome comes back to the UI thread,
a timer follows the playback position, and the measured real-time factors are kept in the
settings. Tests drive it alone with an `AppContext` and a fake microphone.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from playground.core.jobs import Job
from playground.core.speech.session import LIVE_LANE, SpeechSession
from playground.core.transcript_store import TranscriptStore


class SpeechController(SpeechSession, QObject):
    """`source_factory(device_data) -> AudioSource` and `sounddevice_importer(name) -> module` may be
    injected (tests, demos). Every handler runs on the UI thread."""

    devices_changed = Signal(list, str)  # [DeviceChoice], the microphone problem ("" when none)
    status = Signal(str, bool)  # a one-sentence message, is it an error
    recording_changed = Signal(bool)
    file_busy_changed = Signal(bool)  # a file transcription started (True) or ended
    state_changed = Signal()  # recording, stopping, file job, playback or segments changed
    partial_text = Signal(int, float, str)  # utterance, start (s), text that may still change
    partial_dropped = Signal(int)  # utterance: its partial line is gone (no speech, or the job ended)
    segment_added = Signal(int, object, int)  # index in segments(), Segment, utterance (-1: from a file)
    realtime_changed = Signal(str)  # the live status line (seconds heard, real-time factor, advice)
    autosaved = Signal(str)  # path of the live session's autosaved transcript
    transcript_done = Signal(object)  # Transcript of a finished file or live session
    playback_changed = Signal(bool)  # playing
    playback_position = Signal(int, float)  # segment index, seconds of audio being played (every 50 ms)
    language_changed = Signal(str)  # "Language: French (fr), detected, 93 % sure" ("" when unknown)
    model_rtf_changed = Signal(str)  # the measured real-time factors line (with advice above 1)
    cleared = Signal()
    system_audio_problem = Signal(str)  # why what the computer plays cannot be recorded ("" when it can)
    transcripts_changed = Signal(list)  # [StoredTranscript], oldest first
    current_changed = Signal(str)  # the id of the transcript shown ("" when none)

    # Playback runs on a short-lived thread (decoding a slice of a long file takes a moment):
    # its outcome comes back to the UI thread through these.
    _playback_failed = Signal(str)
    _playback_done = Signal(int)  # the playback's number: a stopped one must not reset a newer one

    def __init__(self, ctx, source_factory: Callable[[object], object] | None = None,
                 sounddevice_importer: Callable[[str], object] | None = None, parent: QObject | None = None,
                 system_lister: Callable[[], list] | None = None, store: TranscriptStore | None = None):
        QObject.__init__(self, parent)  # first: the session's base comes first, so its methods win
        self.ctx = ctx  # before the session: it reads the measured speeds from the settings
        self._runners: dict[str, object] = {}  # lane -> JobRunner, made on its first job
        SpeechSession.__init__(self, source_factory, sounddevice_importer, system_lister, store)
        self._position_timer = QTimer(self)
        self._position_timer.setInterval(50)
        self._position_timer.timeout.connect(self._emit_position)
        self._playback_failed.connect(lambda message: self._say(message, error=True))
        self._playback_done.connect(self._on_playback_done)

    # -- what the session asks of its front end -----------------------------------------------
    def _emit(self, event: str, *args) -> None:
        getattr(self, event).emit(*args)

    def _submit(self, lane: str, job: Job, **callbacks):
        if lane not in self._runners:
            self._runners[lane] = self.ctx.runner(lane, self)
        return self._runners[lane].submit(job, **callbacks)

    def _show_status(self, text: str) -> None:
        self.ctx.show_status(text)

    def _from_playback_thread(self, event: str, *args) -> None:
        getattr(self, event).emit(*args)  # queued to the UI thread

    def _playback_started(self) -> None:
        self._position_timer.start()

    def _playback_stopped(self) -> None:
        self._position_timer.stop()

    def _emit_position(self) -> None:
        if self._play_from is None or not self.playing:
            self._position_timer.stop()
            return
        index, start, t0 = self._play_from
        self.playback_position.emit(index, start + time.monotonic() - t0)

    def _load_rtf(self) -> dict[str, float]:
        """The factors measured in earlier sessions (settings), so both models show theirs at once."""
        from playground.settings import Key

        settings = getattr(self.ctx, "settings", None)
        try:
            data = json.loads(settings.get(Key.SPEECH_REALTIME_FACTORS) or "{}") if settings is not None else {}
        except (TypeError, ValueError):
            return {}
        return {str(k): float(v) for k, v in data.items() if isinstance(v, int | float)} if isinstance(data, dict) else {}

    def _save_rtf(self) -> None:
        from playground.settings import Key

        settings = getattr(self.ctx, "settings", None)
        if settings is not None and self.model_rtf:
            settings.set(Key.SPEECH_REALTIME_FACTORS, json.dumps({k: round(v, 3) for k, v in self.model_rtf.items()}))

    def shutdown(self) -> None:
        SpeechSession.shutdown(self)
        if LIVE_LANE in self._runners:  # stop capturing, then join the live lane (finals are kept)
            self._runners[LIVE_LANE].cancel()
            self.ctx.lanes.worker(LIVE_LANE).shutdown(timeout=5.0)
