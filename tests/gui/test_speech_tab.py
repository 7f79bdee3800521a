"""The Speech tab with real models: live recording from an injected source, files, faults."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from speech_support import PHRASES, FakeSoundDevice, silence, speak  # noqa: E402

from playground.core import audio  # noqa: E402
from playground.core.speech import sources  # noqa: E402
from playground.core.speech.accuracy import word_error_rate  # noqa: E402

pytestmark = pytest.mark.slow
SPEECH_TAB = 2


@pytest.fixture(scope="module")
def wavs(tmp_path_factory):
    d = tmp_path_factory.mktemp("tab")
    return {"p0": speak(PHRASES[0], d / "p0.wav"), "p1": speak(PHRASES[1], d / "p1.flac", rate=44100, channels=2),
            "quiet": silence(d / "quiet.wav", 2.0)}


@pytest.fixture
def tab(main_window):
    main_window.tabs.setCurrentIndex(SPEECH_TAB)
    return main_window.page(SPEECH_TAB)


def test_recording_from_a_file_source_updates_meter_waveform_and_transcript(qtbot, tab, wavs, isolated_home):
    source = sources.FileSource(wavs["p0"], speed=1.0)
    tab.start_recording(source)
    assert tab.recording and tab.record_button.text().endswith("Stop")
    # While audio flows, the meter, waveform and spectrogram move (drawn from the ring buffer).
    qtbot.waitUntil(lambda: tab.meter.updates > 5 and tab.meter.rms_db > -40, timeout=10_000)
    qtbot.waitUntil(lambda: tab.waveform.frames > 3 and tab.spectrogram.frames > 3, timeout=10_000)
    assert tab.spectrogram.image.max() > -60  # real energy in the mel image
    # Text appears while recording: a partial (italic) or the final line.
    qtbot.waitUntil(lambda: tab.view.topLevelItemCount() > 0, timeout=60_000)
    handle = tab.live_handle
    if handle is not None:
        with qtbot.waitSignal(handle.finished, timeout=60_000):
            pass
    assert not tab.recording and tab.record_button.text().endswith("Record")
    assert word_error_rate(PHRASES[0], tab.transcript_text()) < 0.3
    last = tab.view.topLevelItem(tab.view.topLevelItemCount() - 1)
    assert not last.font(1).italic()  # the final line replaced the partial one
    assert "Autosaved to" in tab.autosave_label.text()
    saved = list((isolated_home / "data" / "transcripts").glob("*.txt"))
    assert saved and word_error_rate(PHRASES[0], saved[0].read_text()) < 0.3


def test_file_open_save_copy_and_faults_keep_the_text(qtbot, tab, wavs, tmp_path):
    tab.open_paths([str(wavs["p1"])])
    with qtbot.waitSignal(tab.file_handle.finished, timeout=60_000):
        pass
    assert word_error_rate(PHRASES[1], tab.transcript_text()) < 0.3
    assert "Transcribed p1.flac" in tab.message.text() and "real-time factor" in tab.message.text()
    before = tab.transcript_text()

    target = tmp_path / "out.srt"
    tab.save(str(target))
    assert target.read_text().startswith("1\n00:00:0") and PHRASES[1].split()[0] in target.read_text()
    tab.copy_text()
    from PySide6.QtGui import QGuiApplication

    assert QGuiApplication.clipboard().text() == before

    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF" + bytes(300))
    tab.open_paths([str(bad)])
    with qtbot.waitSignal(tab.file_handle.finished, timeout=30_000):
        pass
    assert tab.message.property("isError") and "broken.wav" in tab.message.text()
    assert "\n" not in tab.message.text()
    assert tab.transcript_text() == ""  # p1's text is not shown as if it were broken.wav's

    tab.open_paths([str(wavs["quiet"])])
    with qtbot.waitSignal(tab.file_handle.finished, timeout=30_000):
        pass
    assert tab.message.text() == "No speech found in quiet.wav."
    assert tab.select_transcript("p1.flac")
    assert tab.transcript_text() == before  # faults never lose what was transcribed: it is kept in the list

    tab.clear()
    assert tab.view.topLevelItemCount() == 0 and not tab.save_button.isEnabled()


def test_no_portaudio_says_why_and_files_still_work(qtbot, main_window):
    from playground.ui.speech_tab import FILE_SOURCE, NO_MICROPHONE, SpeechTab

    def no_portaudio(name):
        raise OSError("PortAudio library not found")

    t = SpeechTab(main_window.ctx, sounddevice_importer=no_portaudio)
    qtbot.addWidget(t)
    assert "PortAudio library is not installed" in t.message.text() and t.message.property("isError")
    assert [t.device_combo.itemData(i) for i in range(t.device_combo.count())] == [NO_MICROPHONE, FILE_SOURCE]
    assert t.device_combo.currentData() == NO_MICROPHONE and not t.record_button.isEnabled()
    assert "PortAudio library is not installed" in t.record_button.toolTip()
    assert t.open_button.isEnabled()


def test_device_lost_mid_recording_shows_one_sentence_and_keeps_text(qtbot, main_window, wavs):
    from playground.ui.speech_tab import SpeechTab

    heard = np.concatenate([audio.load(wavs["p0"]), np.zeros(16000, np.float32), np.full(32000, 0.0, np.float32)])
    lose_at = len(audio.load(wavs["p0"])) / 16000 + 0.9
    sd = FakeSoundDevice(heard, lose_after=lose_at, speed=1.5)
    t = SpeechTab(main_window.ctx, source_factory=lambda data: sources.MicrophoneSource(sd))
    qtbot.addWidget(t)
    t.toggle_record()  # Ctrl+R does the same through the main window
    assert t.recording
    with qtbot.waitSignal(t.live_handle.finished, timeout=60_000):
        pass
    assert "'Fake microphone' stopped delivering audio" in t.message.text() and t.message.property("isError")
    assert word_error_rate(PHRASES[0], t.transcript_text()) < 0.3
    assert t.record_button.isEnabled() and not t.recording


def test_a_segment_plays_from_its_file_or_from_the_live_buffer(qtbot, tab, wavs):
    sd = FakeSoundDevice()
    tab._sd = sd
    tab.open_paths([str(wavs["p0"])])
    with qtbot.waitSignal(tab.file_handle.finished, timeout=60_000):
        pass
    item = tab.view.topLevelItem(0)
    seg = item.data(0, __import__("PySide6.QtCore").QtCore.Qt.ItemDataRole.UserRole)
    tab.view.setCurrentItem(item)
    tab.play_button.click()
    qtbot.waitUntil(lambda: not tab.playing, timeout=10_000)
    samples, rate = sd.played[-1]
    assert rate == 16000 and abs(len(samples) / rate - (seg.end - seg.start)) < 0.05
    expected = audio.load_range(wavs["p0"], seg.start, seg.end)
    assert np.array_equal(samples, expected) and np.abs(samples).max() > 0.05  # the spoken words

    tab.clear()
    tab.start_recording(sources.FileSource(wavs["p0"], speed=3.0))
    qtbot.waitUntil(lambda: tab.live_handle is None, timeout=60_000)
    item = tab.view.topLevelItem(tab.view.topLevelItemCount() - 1)
    tab.play_segment(item)  # what a double-click does
    qtbot.waitUntil(lambda: not tab.playing, timeout=10_000)
    assert len(sd.played) == 2 and np.abs(sd.played[-1][0]).max() > 0.05

    sd.fail_playback = "Error opening OutputStream: Device unavailable"
    tab.play_segment(item)
    qtbot.waitUntil(lambda: not tab.playing, timeout=10_000)
    assert tab.message.property("isError") and "Cannot play the segment" in tab.message.text()
    assert tab.play_button.isEnabled() and "Play" in tab.play_button.text()
