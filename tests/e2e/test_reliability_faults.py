"""Fault injection with the real bundled models: CUDA out-of-memory in each feature's forward pass,
a microphone that fails mid-recording, a full disk while exporting or autosaving a transcript."""

from __future__ import annotations

import errno
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from playground.core.jobs import Job, JobContext
from playground.core.runner import run_sync
from playground.worker import JobState

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _oom(*args, **kwargs):
    import torch

    raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 7.79 GiB total)")


def _run(qtbot, worker, job: Job, timeout_ms: int = 240_000):
    handle = worker.submit(job)
    with qtbot.waitSignal(handle.finished, timeout=timeout_ms):
        pass
    return handle


def _assert_clear_oom(handle) -> None:
    assert handle.state is JobState.FAILED, handle.state
    message = handle.error_message
    assert "\n" not in message
    assert "out of gpu memory" in message.lower() and "smaller batch" in message and "CPU" in message, message


# -- CUDA out of memory: where no fallback is left (classification already on the CPU), a clear sentence --


@pytest.mark.slow
def test_oom_in_image_classification_is_one_clear_sentence(qtbot, worker, monkeypatch, tmp_path):
    from PIL import Image

    from playground.core import image

    clf = image.load_classifier(None, JobContext(), device="cpu")
    monkeypatch.setattr(clf.model, "forward", _oom)
    path = tmp_path / "red.png"
    Image.new("RGB", (64, 64), (200, 20, 20)).save(path)
    handle = _run(qtbot, worker, Job(image.classify, ([str(path)],), {"device": "cpu"}, name="classify"))
    _assert_clear_oom(handle)
    monkeypatch.undo()
    again = _run(qtbot, worker, Job(image.classify, ([str(path)],), {"device": "cpu"}, name="classify"))
    assert again.state is JobState.DONE and again.value.results[0].predictions, "the app is not usable after OOM"


@pytest.mark.slow
def test_oom_in_text_embedding_is_one_clear_sentence(qtbot, worker, monkeypatch):
    from playground.core import text

    enc = text.load_encoder(None, JobContext())
    monkeypatch.setattr(enc.model, "forward", _oom)
    handle = _run(qtbot, worker, Job(text.embed, (["a sentence"],), name="embed"))
    _assert_clear_oom(handle)


@pytest.mark.slow
def test_oom_in_training_is_one_clear_sentence_and_keeps_a_checkpoint(qtbot, worker, monkeypatch, tmp_path):
    from playground.core.training import checkpoint as ckpt
    from playground.core.training import charlm

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("The quick brown fox jumps over the lazy dog. " * 30)
    out = tmp_path / "models" / "gpt"
    real_loss = charlm.CharLMSpec.loss
    calls = {"n": 0}

    def loss_then_oom(self, batch):
        calls["n"] += 1
        if calls["n"] > 12:
            _oom()
        return real_loss(self, batch)

    monkeypatch.setattr(charlm.CharLMSpec, "loss", loss_then_oom)
    handle = _run(qtbot, worker, Job(charlm.train_charlm, (str(corpus), str(out)), {
        "steps": 40, "block_size": 16, "layers": 1, "heads": 2, "embed": 32, "batch_size": 8, "eval_every": 20,
        "checkpoint_every": 5, "device": "cpu"}, name="train"))
    _assert_clear_oom(handle)
    assert ckpt.has_checkpoint(out), "the steps done before the OOM are lost"
    assert int(ckpt.load_state(ckpt.checkpoint_path(out))["step"]) == 10
    assert not out.exists()


@pytest.mark.slow
def test_oom_in_transcription_is_one_clear_sentence(qtbot, worker, monkeypatch, tmp_path):
    """CTranslate2 reports a GPU out-of-memory as a RuntimeError("CUDA failed with error out of memory")."""
    import soundfile as sf

    from playground.core.speech import file_transcription, recognizers

    rec = recognizers.load_recognizer(None, JobContext())

    def ct2_oom(*args, **kwargs):
        raise RuntimeError("CUDA failed with error out of memory")

    monkeypatch.setattr(rec.model, "transcribe", ct2_oom)
    wav = tmp_path / "tone.wav"
    t = np.arange(2 * 16000) / 16000
    sf.write(wav, (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32), 16000)
    handle = _run(qtbot, worker, Job(file_transcription.transcribe_file, (str(wav),), name="transcribe"))
    _assert_clear_oom(handle)


# -- the microphone failing mid-recording ------------------------------------------------------------


@pytest.fixture(scope="module")
def phrase_audio(tmp_path_factory):
    from speech_support import PHRASES, speak

    import soundfile as sf

    folder = tmp_path_factory.mktemp("phrase")
    wav = speak(PHRASES[0], folder / "phrase.wav")
    samples, rate = sf.read(wav, dtype="float32")
    assert rate == 16000
    pad = np.zeros(int(0.5 * rate), np.float32)
    return np.concatenate([pad, samples, np.zeros(int(1.2 * rate), np.float32)])


class _FaultyStream:
    """A sounddevice InputStream that plays `samples` (fast), then fails the way `mode` says:
    "stall" (stays open, delivers nothing), "lost" (PortAudio ends the stream by itself),
    "broken-close" (like lost, and stop()/close() raise too)."""

    def __init__(self, module, samples, mode, callback=None, finished_callback=None, blocksize=320, **kw):
        self.module, self.samples, self.mode = module, samples, mode
        self.callback, self.finished_callback = callback, finished_callback
        self.blocksize = blocksize or 320
        self.active = False
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.active = True
        self._thread.start()

    def _run(self):
        for n in range(0, len(self.samples), self.blocksize):
            if self._halt.is_set():
                return
            block = self.samples[n:n + self.blocksize]
            block = np.pad(block, (0, self.blocksize - len(block)))
            self.callback(block.reshape(-1, 1), self.blocksize, None, None)
            self._halt.wait(self.blocksize / 16000 / 4)  # 4x real time
        if self.mode == "stall":
            return  # still "active", never calls back again
        self.active = False
        if self.finished_callback:
            self.finished_callback()

    def stop(self):
        self._halt.set()
        if self.mode == "broken-close":
            raise self.module.PortAudioError("Stream is not open [PaErrorCode -9988]")

    def close(self):
        if self.mode == "broken-close":
            raise self.module.PortAudioError("Device unavailable [PaErrorCode -9985]")


def _fake_sd(samples, mode):
    from speech_support import FakeSoundDevice

    sd = FakeSoundDevice(samples)
    sd.InputStream = lambda **kw: _FaultyStream(sd, samples, mode, **kw)
    return sd


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["stall", "lost", "broken-close"])
def test_microphone_failing_mid_recording_keeps_the_transcript(phrase_audio, mode, tmp_path):
    from playground.core.speech import live
    from playground.core.speech import sources

    source = sources.MicrophoneSource(sd=_fake_sd(phrase_audio, mode), stall_seconds=1.0)
    events = []
    t0 = time.monotonic()
    result = run_sync(Job(live.listen, (source,)), events.append, None)
    assert time.monotonic() - t0 < 120
    text = " ".join(s.text for s in result.segments).lower()
    assert "hello" in text and "world" in text, text
    assert result.error and "microphone" in result.error and "kept" in result.error, result.error
    finals = [e for e in events if isinstance(e, live.LiveText) and e.kind == "final" and e.text]
    # the words heard before the failure were made final (as they came, or by the flush at the end)
    assert finals and "world" in " ".join(f.text for f in finals).lower() and not finals[-1].continues
    assert result.autosave and "world" in Path(result.autosave).read_text().lower()


# -- a full disk while exporting or autosaving a transcript --------------------------------------------


def _segments():
    from playground.core.transcript import Segment

    return [Segment(0.0, 1.5, "hello world"), Segment(1.5, 3.0, "second line")]


def test_disk_full_while_exporting_a_transcript_keeps_the_previous_file(tmp_path, monkeypatch):
    from playground.core import atomic, transcript

    target = tmp_path / "talk.srt"
    transcript.save(_segments()[:1], target)
    before = target.read_bytes()

    def full(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device", str(dst))

    monkeypatch.setattr(atomic.os, "replace", full)
    with pytest.raises(OSError) as err:
        transcript.save(_segments(), target)
    from playground.core.errors import friendly_message

    assert "space" in friendly_message(err.value).lower()
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["talk.srt"], "a .part file was left behind"


def test_cli_export_to_a_full_disk_is_one_line(tmp_path, monkeypatch, capsys):
    """`playground transcribe x.wav -o out.txt` on a full disk: exit 1, one line naming the reason."""
    from playground import cli
    from playground.core import atomic
    from playground.core.speech import file_transcription
    from playground.core.transcript import Transcript

    wav = tmp_path / "in.wav"
    import soundfile as sf

    sf.write(wav, np.zeros(16000, np.float32), 16000)
    monkeypatch.setattr(file_transcription, "transcribe_file",
                        lambda ctx, path, model=None, **_options: Transcript(_segments(), 3.0, "fake", 0.1))

    def full(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device", str(dst))

    monkeypatch.setattr(atomic.os, "replace", full)
    code = cli.main(["transcribe", str(wav), "-o", str(tmp_path / "out.txt")])
    err = capsys.readouterr().err
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "space" in lines[0].lower() and "Traceback" not in err, err
    assert not (tmp_path / "out.txt").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


@pytest.mark.slow
def test_disk_full_while_autosaving_live_text_keeps_transcribing(phrase_audio, monkeypatch):
    from playground.core import atomic
    from playground.core.speech import live
    from playground.core.speech import sources

    def full(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device", str(dst))

    monkeypatch.setattr(atomic.os, "replace", full)
    source = sources.MicrophoneSource(sd=_fake_sd(phrase_audio, "lost"), stall_seconds=1.0)
    result = run_sync(Job(live.listen, (source,)), None, None)
    assert "world" in " ".join(s.text for s in result.segments).lower()
    assert result.autosave is None
    assert "could not be autosaved" in (result.error or "") or "microphone" in (result.error or "")


@pytest.mark.slow
def test_disk_full_while_writing_blurred_copies_is_one_line(tmp_path, monkeypatch, capsys):
    """`detect-faces --blur-to DIR` on a full disk: exit 1, one line; the copy made before is intact,
    no .part file is left in DIR."""
    from PIL import Image
    from skimage import data

    from playground import cli
    from playground.core import atomic

    photo = tmp_path / "coffee.jpg"
    Image.fromarray(data.coffee()).save(photo)
    out = tmp_path / "blurred"
    assert cli.main(["detect-faces", str(photo), "--blur-to", str(out)]) == 0
    capsys.readouterr()
    copies = sorted(out.rglob("*.jpg"))
    assert len(copies) == 1
    before = copies[0].read_bytes()

    def full(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device", str(dst))

    monkeypatch.setattr(atomic.os, "replace", full)
    code = cli.main(["detect-faces", str(photo), "--blur-to", str(out)])
    err = capsys.readouterr().err
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "space" in lines[0].lower() and "Traceback" not in err, err
    assert copies[0].read_bytes() == before
    assert not [p for p in out.rglob("*") if p.name.endswith(".part")]
