"""Which recogniser a model id or folder gets, on which device, and the transformers path."""

from __future__ import annotations

import json

import numpy as np
import pytest

from playground.core import models
from playground.core.speech import file_transcription, languages, recognizers, sources
from playground.core.errors import ModelError, UnsafeModelError


class FakeWhisperModel:
    calls: list[dict] = []

    def __init__(self, path, device="cpu", device_index=0, compute_type="default", cpu_threads=0):
        FakeWhisperModel.calls.append({"path": path, "device": device, "compute_type": compute_type,
                                       "device_index": device_index, "cpu_threads": cpu_threads})
        self.model = type("M", (), {"is_multilingual": False})()


@pytest.fixture
def fake_whisper(monkeypatch):
    import faster_whisper

    FakeWhisperModel.calls = []
    monkeypatch.setattr(faster_whisper, "WhisperModel", FakeWhisperModel)
    models.cache.clear()
    yield FakeWhisperModel.calls
    models.cache.clear()


def test_bundled_model_runs_int8_on_the_cpu(fake_whisper, monkeypatch):
    monkeypatch.setattr(recognizers.devices, "choose_device", lambda *a: "cpu")
    rec = recognizers.load_recognizer()
    assert isinstance(rec, recognizers.FasterWhisperRecognizer)
    assert fake_whisper[-1]["device"] == "cpu" and fake_whisper[-1]["compute_type"] == "int8"
    assert fake_whisper[-1]["path"] == str(models.bundled_path(languages.DEFAULT_MODEL))
    assert recognizers.load_recognizer() is rec  # cached between jobs


def test_cuda_uses_float16_when_ctranslate2_sees_a_gpu(fake_whisper, monkeypatch):
    import ctranslate2

    monkeypatch.setattr(recognizers.devices, "choose_device", lambda *a: "cuda:0")
    monkeypatch.setattr(ctranslate2, "get_cuda_device_count", lambda: 1)
    rec = recognizers.load_recognizer()
    assert fake_whisper[-1]["device"] == "cuda" and fake_whisper[-1]["compute_type"] == "float16"
    assert rec.device == "cuda:0"
    models.cache.clear()
    # torch sees a GPU but this CTranslate2 build does not: the CPU, int8.
    monkeypatch.setattr(ctranslate2, "get_cuda_device_count", lambda: 0)
    recognizers.load_recognizer()
    assert fake_whisper[-1]["device"] == "cpu" and fake_whisper[-1]["compute_type"] == "int8"


def test_local_ctranslate2_folder_and_faster_whisper_hub_ids(fake_whisper, monkeypatch, tmp_path):
    monkeypatch.setattr(recognizers.devices, "choose_device", lambda *a: "cpu")
    folder = tmp_path / "my-whisper-ct2"
    folder.mkdir()
    (folder / "model.bin").write_bytes(b"\0" * 16)  # CTranslate2's own format, not a pickle
    (folder / "config.json").write_text(json.dumps({"alignment_heads": [], "lang_ids": []}))
    rec = recognizers.load_recognizer(str(folder))
    assert isinstance(rec, recognizers.FasterWhisperRecognizer) and fake_whisper[-1]["path"] == str(folder)

    # Offline, a Hub id that is not downloaded fails in one sentence naming it.
    with pytest.raises(ModelError, match="Systran/faster-whisper-small.en.*offline"):
        recognizers.load_recognizer("Systran/faster-whisper-small.en")


def test_pickle_only_transformers_folder_is_refused(tmp_path):
    folder = tmp_path / "asr"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"architectures": ["Wav2Vec2ForCTC"], "model_type": "wav2vec2"}))
    (folder / "pytorch_model.bin").write_bytes(b"\0" * 16)
    with pytest.raises(UnsafeModelError, match="pickle"):
        recognizers.load_recognizer(str(folder))


@pytest.fixture(scope="module")
def tiny_ctc(tmp_path_factory):
    """A tiny random wav2vec2 CTC model saved like a Hub model (weights are random: text is noise)."""
    from transformers import (
        Wav2Vec2Config, Wav2Vec2CTCTokenizer, Wav2Vec2FeatureExtractor, Wav2Vec2ForCTC, Wav2Vec2Processor,
    )

    folder = tmp_path_factory.mktemp("tiny-ctc")
    vocab = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3, "|": 4, **{c: i + 5 for i, c in enumerate("abcdefgh")}}
    (folder / "vocab.json").write_text(json.dumps(vocab))
    tok = Wav2Vec2CTCTokenizer(str(folder / "vocab.json"), word_delimiter_token="|")
    fe = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True,
                                  return_attention_mask=False)
    config = Wav2Vec2Config(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                            intermediate_size=37, conv_dim=(32, 32), conv_stride=(5, 4), conv_kernel=(10, 8),
                            num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2, pad_token_id=0)
    import torch

    torch.manual_seed(0)
    Wav2Vec2ForCTC(config).save_pretrained(folder)
    Wav2Vec2Processor(feature_extractor=fe, tokenizer=tok).save_pretrained(folder)
    return folder


def test_transformers_asr_folder_runs_through_the_pipeline(tiny_ctc, monkeypatch):
    monkeypatch.setattr(recognizers.devices, "choose_device", lambda *a: "cpu")
    models.cache.clear()
    rec = recognizers.load_recognizer(str(tiny_ctc))
    assert isinstance(rec, recognizers.TransformersRecognizer) and not rec.is_whisper
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(16000) * 0.1).astype(np.float32)
    segs = rec.transcribe(x, offset=5.0)
    # Random weights give some string; what matters is the shape of the result.
    for s in segs:
        assert s.start == 5.0 and s.end == pytest.approx(6.0) and s.text.strip()
    # VAD gating: white noise is not speech, so nothing reaches the model.
    assert rec.transcribe(x * 0.01, vad=True) == []
    models.cache.clear()


def test_long_files_go_through_in_bounded_windows_cut_in_pauses(tmp_path):
    """A 10-minute file: no window over 30 s, windows tile the file, cuts land in the quiet gaps."""
    import soundfile as sf

    from playground.core.jobs import JobContext, Progress

    sr = 8000  # written at 8 kHz: also exercises resampling in blocks
    t = np.arange(sr * 7) / sr
    word = (0.4 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    pattern = np.concatenate([word, np.zeros(sr * 1, np.float32)])  # 7 s "speech", 1 s pause
    path = tmp_path / "long.wav"
    with sf.SoundFile(path, "w", sr, 1) as fh:
        for _ in range(75):  # 600 s
            fh.write(pattern)

    class Counting(recognizers.Recognizer):
        def __init__(self):
            super().__init__("fake", "cpu")
            self.windows = []

        def transcribe(self, samples, offset=0.0, beam_size=5, vad=False, prompt=None):
            self.windows.append((offset, len(samples) / sources.SR))
            return [recognizers.Segment(offset, offset + len(samples) / sources.SR, f"w{len(self.windows)}")]

    rec = Counting()
    progress = []
    ctx = JobContext(lambda e: progress.append(e) if isinstance(e, Progress) else None)
    segs = [e.segment for e in file_transcription.iter_file_segments(ctx, path, rec)]
    assert max(length for _, length in rec.windows) <= file_transcription.WINDOW_SECONDS
    ends = [o + n for o, n in rec.windows]
    assert all(abs(e - o) < 1e-6 for e, (o, _) in zip(ends, rec.windows[1:], strict=False))  # contiguous
    assert ends[-1] == pytest.approx(600, abs=0.05)
    for offset, _ in rec.windows[1:]:  # each cut is inside a 1 s pause
        assert offset % 8 >= 7 - 0.06, offset
    assert len(segs) == len(rec.windows) >= 20
    assert progress[-1].fraction == pytest.approx(1.0, abs=1e-3)
