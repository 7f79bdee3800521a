"""Closing the main window while a job runs: a Hub download, an image inference, a transcription,
a training run. Each time the window closes within 5 s, the worker thread is gone, the job ends
as cancelled (not failed) and nothing logs a traceback."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from pathlib import Path

import pytest

from playground.core.jobs import Job
from playground.worker import JobState, _orphans

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CLOSE_LIMIT_S = float(os.environ.get("RELIABILITY_CLOSE_LIMIT_S", "5.0"))  # raise it to debug on a loaded machine
OVERLOAD_GUARD = CLOSE_LIMIT_S <= 5.0
MID_RUN_TIMEOUT_MS = 240_000  # first load of a model on a busy 2-core machine


def _close_mid_run(qtbot, window, job: Job, first_event_type: str, caplog):
    """Run `job`, wait until it emits `first_event_type` (so it is really mid-work), close the window."""
    caplog.set_level(logging.WARNING)
    threads_before = {t.ident for t in threading.enumerate()}
    orphans_before = len(_orphans)
    handle = window.run_job(job)
    seen = threading.Event()
    handle.event.connect(lambda e: seen.set() if type(e).__name__ == first_event_type else None)
    handle.progress.connect(lambda f, t: seen.set() if first_event_type == "Progress" and f else None)
    qtbot.waitUntil(seen.is_set, timeout=MID_RUN_TIMEOUT_MS)
    assert handle.state is JobState.RUNNING, handle.state
    t0 = time.perf_counter()
    window.close()
    elapsed = time.perf_counter() - t0
    assert elapsed < CLOSE_LIMIT_S, f"closing took {elapsed:.1f} s"
    assert not window.worker.is_running(), "the worker thread is still running"
    assert len(_orphans) == orphans_before, "the worker thread had to be abandoned"
    qtbot.waitUntil(lambda: handle.is_finished, timeout=2000)
    # Cancelled, or stopped early and returned its partial result (image batches do): never failed.
    assert handle.state in (JobState.CANCELLED, JobState.DONE), (handle.state, handle.error_message)
    tracebacks = [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
    assert not tracebacks, [r.getMessage()[:300] for r in tracebacks]
    leaked = [t for t in threading.enumerate() if t.ident not in threads_before and not t.daemon and t.is_alive()]
    assert not leaked, [t.name for t in leaked]
    return handle


def test_close_during_hub_download(qtbot, main_window, monkeypatch, caplog, tmp_path):
    from types import SimpleNamespace

    from playground.core import model_store, models

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(models, "hub_cached_folder", lambda repo_id: None)
    monkeypatch.setattr("huggingface_hub.HfApi.model_info", lambda self, repo_id, **kw: SimpleNamespace(
        sha="abc", siblings=[SimpleNamespace(rfilename="model.safetensors", size=10**9)]))
    started = threading.Event()

    def slow_download(repo_id, name, revision=None, token=None, tqdm_class=None):
        bar = tqdm_class(total=10**9)
        for _ in range(100_000):  # 10 KB every 10 ms: would take hours
            started.set()
            bar.update(10_000)
            time.sleep(0.01)
        raise AssertionError("the download was never cancelled")

    monkeypatch.setattr("huggingface_hub.hf_hub_download", slow_download)
    _close_mid_run(qtbot, main_window, Job(model_store.download_model, ("org/huge-model",), name="download"),
                   "Progress", caplog)
    assert started.is_set()


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory):
    from PIL import Image
    from skimage import data

    folder = tmp_path_factory.mktemp("photos")
    img = Image.fromarray(data.chelsea()).resize((160, 120))
    for i in range(400):
        img.save(folder / f"cat-{i:03d}.jpg")
    return folder


@pytest.mark.slow
def test_close_during_image_inference(qtbot, main_window, caplog, photo_folder):
    from playground.core import image

    handle = _close_mid_run(qtbot, main_window, Job(image.classify, ([str(photo_folder)],), {"batch_size": 4},
                                                    name="classify"), "ImageResult", caplog)
    if handle.state is JobState.DONE:  # the partial result says it was cut short
        assert handle.value.cancelled and len(handle.value.results) < 400


@pytest.fixture(scope="module")
def long_speech(tmp_path_factory):
    from speech_support import PHRASES, concat, silence, speak

    folder = tmp_path_factory.mktemp("speech")
    parts = []
    for i, phrase in enumerate(PHRASES * 3):
        parts.append(speak(phrase, folder / f"p{i}.wav"))
        parts.append(silence(folder / f"s{i}.wav", 0.8))
    return concat(folder / "long.wav", *parts)


@pytest.mark.slow
def test_close_during_transcription(qtbot, main_window, caplog, long_speech):
    """Cancel is checked between recogniser windows (2 s here), so the close time is bounded by one
    window's decoding: on a machine so loaded that one window takes over 2.5 s the 5 s bound is
    meaningless and the test skips (it says so) rather than measure the load."""
    from playground.core import audio
    from playground.core.speech import file_transcription, recognizers

    rec = recognizers.load_recognizer()
    piece = audio.load(long_speech, max_seconds=2.0)
    t0 = time.perf_counter()
    rec.transcribe(piece, vad=True)
    window_s = time.perf_counter() - t0
    if window_s > 2.5 and OVERLOAD_GUARD:
        pytest.skip(f"machine overloaded: one 2 s recogniser window took {window_s:.1f} s")
    _close_mid_run(qtbot, main_window, Job(file_transcription.transcribe_file, (str(long_speech),), {"window_seconds": 2.0},
                                           name="transcribe"), "FileSegment", caplog)


@pytest.mark.slow
def test_close_during_training(qtbot, main_window, caplog, tmp_path):
    from playground.core.training import checkpoint as ckpt
    from playground.core.training.charlm import train_charlm

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("The quick brown fox jumps over the lazy dog. " * 40)
    out = tmp_path / "models" / "gpt"
    _close_mid_run(qtbot, main_window, Job(train_charlm, (str(corpus), str(out)), {
        "steps": 100_000, "block_size": 16, "layers": 1, "heads": 2, "embed": 32, "batch_size": 8,
        "eval_every": 50_000, "device": "cpu"}, name="train"), "StepEvent", caplog)
    # Cancel saved a checkpoint to resume from, and no half model.
    assert ckpt.has_checkpoint(out)
    assert not out.exists()


@pytest.mark.slow
def test_close_while_the_speech_tab_records(qtbot, main_window, caplog, long_speech):
    """Live transcription from a (fake) microphone in the Speech tab: closing the window stops the
    recording, the job and the worker within 5 s (same overload guard as above)."""
    import soundfile as sf
    from speech_support import FakeSoundDevice

    from playground.app import SPEECH_TAB
    from playground.core.speech import live
    from playground.core.speech import recognizers, sources

    rec = recognizers.load_recognizer()
    samples, rate = sf.read(long_speech, dtype="float32")
    t0 = time.perf_counter()
    rec.transcribe(samples[: 2 * rate], beam_size=1)
    window_s = time.perf_counter() - t0
    if window_s > 1.0 and OVERLOAD_GUARD:
        pytest.skip(f"machine overloaded: a 2 s partial hypothesis took {window_s:.1f} s")
    main_window.tabs.setCurrentIndex(SPEECH_TAB)
    tab = main_window.page(SPEECH_TAB)
    source = sources.MicrophoneSource(sd=FakeSoundDevice(samples), device=None)
    caplog.set_level(logging.WARNING)
    tab.start_recording(source)
    handle = tab.live_handle
    got_text = threading.Event()
    handle.event.connect(lambda e: got_text.set() if isinstance(e, live.LiveText) and e.text else None)
    qtbot.waitUntil(got_text.is_set, timeout=MID_RUN_TIMEOUT_MS)
    t0 = time.perf_counter()
    main_window.close()
    elapsed = time.perf_counter() - t0
    assert elapsed < CLOSE_LIMIT_S, f"closing took {elapsed:.1f} s"
    assert not main_window.worker.is_running()
    qtbot.waitUntil(lambda: handle.is_finished, timeout=2000)
    assert handle.state in (JobState.CANCELLED, JobState.DONE), (handle.state, handle.error_message)
    assert source.buffer.closed and source._stream is None, "the microphone stream is still open"
    assert not [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
