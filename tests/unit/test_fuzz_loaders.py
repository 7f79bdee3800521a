"""Fuzzing the loaders with hypothesis: every input ends in a result or a typed PlaygroundError
with a message, never another exception or a hang. Time-bounded (max_examples, deadline, and a
watchdog thread per call); the whole module runs in well under a minute."""

from __future__ import annotations

import io
import json
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from playground.core.errors import PlaygroundError

FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
FEW = settings(max_examples=25, deadline=None, derandomize=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
CALL_LIMIT_S = 60.0  # generous: the CI machine is shared; a real hang still fails


@pytest.fixture(scope="module", autouse=True)
def _warm_imports():
    """Import the heavy libraries once, outside the per-call watchdog."""
    import soundfile  # noqa: F401
    import timm  # noqa: F401

    from playground.core import audio, image, text  # noqa: F401
    from playground.core.training import data  # noqa: F401


def bounded(fn, *args, **kwargs):
    """Run fn on a thread; fail (instead of hanging the suite) if it takes longer than CALL_LIMIT_S.
    Returns ("ok", value) or ("error", exception)."""
    out: dict = {}

    def target():
        try:
            out["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - classified below
            out["error"] = exc

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(CALL_LIMIT_S)
    assert not t.is_alive(), f"{getattr(fn, '__name__', fn)} hung for more than {CALL_LIMIT_S} s"
    return ("error", out["error"]) if "error" in out else ("ok", out.get("value"))


def assert_typed(outcome) -> object:
    kind, value = outcome
    if kind == "error":
        if not isinstance(value, PlaygroundError):
            raise AssertionError(f"untyped {type(value).__name__}: {value}") from value
        message = str(value)
        assert message.strip(), "typed error without a message"
        assert "\n" not in message.strip(), f"message is not one line: {message!r}"
        return None
    return value


def mutate(data: bytes, edits: list[tuple[int, int]], cut: int | None) -> bytes:
    buf = bytearray(data)
    for pos, val in edits:
        if buf:
            buf[pos % len(buf)] = val
    if cut is not None and buf:
        buf = buf[: cut % (len(buf) + 1)]
    return bytes(buf)


edits_st = st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), max_size=12)
cut_st = st.none() | st.integers(0, 1 << 20)


# -- images --------------------------------------------------------------------


def _seed_images() -> dict[str, bytes]:
    from PIL import Image

    rng = np.random.default_rng(0)
    arr = rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)
    out = {}
    for fmt, mode in (("PNG", "RGBA"), ("JPEG", "RGB"), ("GIF", "P"), ("TIFF", "I;16"), ("BMP", "RGB"),
                      ("WEBP", "RGB"), ("PPM", "RGB")):
        img = Image.fromarray(arr).convert(mode) if mode != "I;16" else Image.fromarray(
            arr[..., 0].astype(np.uint16) * 200)
        bio = io.BytesIO()
        img.save(bio, fmt)
        out[fmt] = bio.getvalue()
    return out


SEED_IMAGES = _seed_images()


def _check_image(img) -> None:
    assert img.mode == "RGB"
    assert img.size[0] > 0 and img.size[1] > 0


@FUZZ
@given(fmt=st.sampled_from(sorted(SEED_IMAGES)), edits=edits_st, cut=cut_st)
def test_fuzz_image_bytes_mutated(fmt, edits, cut):
    from playground.core import imageio

    img = assert_typed(bounded(imageio.open_image, mutate(SEED_IMAGES[fmt], edits, cut), name="fuzz.img"))
    if img is not None:
        _check_image(img)


@FUZZ
@given(data=st.binary(max_size=2048))
@example(data=b"")
@example(data=b"\x89PNG\r\n\x1a\n")
@example(data=b"GIF89a\xff\xff\xff\xff")  # 65535x65535 claimed
@example(data=b"BM" + b"\xff" * 60)
def test_fuzz_image_random_bytes(data):
    from playground.core import imageio

    img = assert_typed(bounded(imageio.open_image, data))
    if img is not None:
        _check_image(img)


def test_image_bomb_header_is_refused_before_decoding():
    """A PNG that claims 100000 x 100000 pixels: InputError, not a MemoryError."""
    import struct
    import zlib

    from playground.core import imageio
    from playground.core.errors import InputError

    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)) + \
        chunk(b"IDAT", zlib.compress(b"\x00" * 100)) + chunk(b"IEND", b"")
    with pytest.raises(InputError, match="too large"):
        imageio.open_image(png, name="bomb.png")


# -- audio ---------------------------------------------------------------------


def _seed_audio() -> dict[str, bytes]:
    import soundfile as sf

    t = np.arange(int(0.3 * 22050)) / 22050
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    stereo = np.stack([tone, tone[::-1]], axis=1)
    out = {}
    for suffix, fmt in ((".wav", "WAV"), (".flac", "FLAC"), (".ogg", "OGG")):
        bio = io.BytesIO()
        sf.write(bio, stereo, 22050, format=fmt)
        out[suffix] = bio.getvalue()
    return out


SEED_AUDIO = _seed_audio()
AUDIO_SUFFIXES = [".wav", ".flac", ".ogg", ".mp3", ".m4a", ".webm"]


def _load_audio_bytes(data: bytes, suffix: str):
    from playground.core import audio

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"fuzz{suffix}"
        path.write_bytes(data)
        outcome = bounded(audio.load, path, max_seconds=30)
        probe = bounded(audio.probe, path)
    return outcome, probe


def _check_audio(samples) -> None:
    assert isinstance(samples, np.ndarray) and samples.dtype == np.float32 and samples.ndim == 1
    assert np.isfinite(samples).all() or samples.size == 0


@FUZZ
@given(src=st.sampled_from(sorted(SEED_AUDIO)), suffix=st.sampled_from(AUDIO_SUFFIXES), edits=edits_st, cut=cut_st)
def test_fuzz_audio_bytes_mutated(src, suffix, edits, cut):
    loaded, probed = _load_audio_bytes(mutate(SEED_AUDIO[src], edits, cut), suffix)
    samples = assert_typed(loaded)
    assert_typed(probed)
    if samples is not None:
        _check_audio(samples)


@FEW
@given(data=st.binary(max_size=4096), suffix=st.sampled_from(AUDIO_SUFFIXES))
@example(data=b"", suffix=".wav")
@example(data=b"RIFF\xff\xff\xff\xffWAVEfmt ", suffix=".wav")
@example(data=b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb" * 64, suffix=".mp3")
def test_fuzz_audio_random_bytes(data, suffix):
    loaded, probed = _load_audio_bytes(data, suffix)
    samples = assert_typed(loaded)
    assert_typed(probed)
    if samples is not None:
        _check_audio(samples)


# -- CSV / TSV training tables and text files --------------------------------------

cell = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
row = st.lists(cell, min_size=0, max_size=4)


@st.composite
def tables(draw):
    sep = draw(st.sampled_from([",", "\t", ";", "|"]))
    quote = draw(st.booleans())
    header = draw(st.lists(st.sampled_from(["text", "label", "review", "class", "a", "", "text", "x y"])
                           | cell, min_size=0, max_size=4))
    rows = draw(st.lists(row, max_size=12))

    def fmt(cells):
        return sep.join(f'"{c}"' if quote else c for c in cells)

    lines = [fmt(header)] + [fmt(r) for r in rows]
    eol = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    return eol.join(lines)


@FUZZ
@given(text=tables(), suffix=st.sampled_from([".csv", ".tsv", ".txt"]),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1"]))
@example(text="text,text\nhello,world\nfoo,bar\n", suffix=".csv", encoding="utf-8")
@example(text='text,label\n"unterminated,a\nb,c\n', suffix=".csv", encoding="utf-8")
def test_fuzz_training_table(text, suffix, encoding):
    from playground.core.training import data as tdata

    try:
        raw = text.encode(encoding)
    except UnicodeEncodeError:
        raw = text.encode("utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"data{suffix}"
        path.write_bytes(raw)
        table = assert_typed(bounded(tdata.read_table, path))
        assert_typed(bounded(tdata.table_columns, path))
    if table is not None:
        assert len(table.texts) == len(table.targets) >= 2
        assert len(table.labels) >= 2
        assert all(0 <= t < len(table.labels) for t in table.targets)


@FUZZ
@given(data=st.binary(max_size=600))
def test_fuzz_training_table_bytes(data):
    from playground.core.training import data as tdata

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.csv"
        path.write_bytes(data)
        assert_typed(bounded(tdata.read_table, path))


@FUZZ
@given(data=st.binary(max_size=800) | st.text(max_size=400).map(lambda s: s.encode("utf-8")))
def test_fuzz_charlm_text_file(data):
    from playground.core.training import data as tdata

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "corpus.txt"
        path.write_bytes(data)
        text = assert_typed(bounded(tdata.read_text_file, path, min_chars=20))
    if text is not None:
        assert len(text) >= 20 and "\r" not in text


# -- model folders: config.json and playground_model.json ---------------------------

json_leaf = st.none() | st.booleans() | st.integers(-5, 10**6) | st.floats(allow_nan=False) | st.text(max_size=8)
json_value = st.recursive(json_leaf, lambda inner: st.lists(inner, max_size=3)
                          | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8)


@st.composite
def model_configs(draw):
    """Mostly-plausible config.json dicts with hostile values, or any JSON at all."""
    if draw(st.integers(0, 4)) == 0:
        return draw(json_value)
    cfg = {}
    keys = {
        "model_type": st.sampled_from(["bert", "gpt2", "vit", "whisper", "llama", "nonsense", ""]) | json_value,
        "architectures": st.lists(st.sampled_from(["BertForSequenceClassification", "GPT2LMHeadModel",
                                                   "ViTForImageClassification", "Nope"]), max_size=2) | json_value,
        "id2label": st.dictionaries(st.sampled_from(["0", "1", "x", "-1"]), st.text(max_size=5), max_size=3)
        | json_value,
        "auto_map": st.just({}) | st.just({"AutoModel": "m.M"}) | json_value,
        "hidden_size": st.integers(-3, 64) | json_value,
        "num_labels": st.integers(-1, 4) | json_value,
        "is_encoder_decoder": json_value,
        "max_position_embeddings": st.integers(-1, 100) | json_value,
    }
    for key, strategy in keys.items():
        if draw(st.booleans()):
            cfg[key] = draw(strategy)
    return cfg


def _model_folder(tmp: Path, config, raw: bytes | None = None, weights: str = "model.safetensors") -> Path:
    folder = tmp / "fuzz-model"
    folder.mkdir()
    (folder / "config.json").write_bytes(raw if raw is not None else json.dumps(config).encode())
    (folder / weights).write_bytes(b"")
    return folder


@FUZZ
@given(config=model_configs(), raw=st.none() | st.binary(max_size=64),
       weights=st.sampled_from(["model.safetensors", "pytorch_model.bin", "model.ckpt", "weights.gguf"]),
       allow_pickle=st.booleans(), trust=st.booleans())
def test_fuzz_check_weights_safe(config, raw, weights, allow_pickle, trust):
    from playground.core import models, tasks

    with tempfile.TemporaryDirectory() as tmp:
        folder = _model_folder(Path(tmp), config, raw, weights)
        assert_typed(bounded(models.check_weights_safe, folder, allow_pickle, trust))


@FUZZ
@given(config=model_configs(), task=st.sampled_from(["classify", "zero-shot", "embedding", "fill-mask", "summarize",
                                                       "attention", "tokens"]))
def test_fuzz_text_config_checks(config, task):
    """The text engine reads config.json before loading weights: a bad one is a ModelError."""
    from playground.core import text

    with tempfile.TemporaryDirectory() as tmp:
        folder = _model_folder(Path(tmp), config)
        src = text.Source(str(folder), folder)
        assert_typed(bounded(lambda: text.check_fit(src, task)))


marker_st = st.fixed_dictionaries({}, optional={
    "task": st.sampled_from(["image-classification", "text-classification", "text-generation"]) | json_value,
    "backbone": st.sampled_from(["efficientnet_lite0", "resnet18", "no_such_net", ""]) | json_value,
    "num_classes": st.integers(-2, 5) | json_value,
    "labels": st.lists(st.text(max_size=4), max_size=4) | json_value,
    "image_size": st.integers(-8, 64) | json_value,
    "mean": st.lists(st.floats(-1, 1), max_size=4) | json_value,
    "std": st.lists(st.floats(-1, 1), max_size=4) | json_value,
    "name": json_value,
}) | json_value


@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(meta=marker_st)
@example(meta=[])
@example(meta={"task": "image-classification", "backbone": "efficientnet_lite0", "num_classes": "many"})
def test_fuzz_finetuned_marker_in_catalog_and_image_loader(meta):
    """A damaged playground_model.json never breaks the model catalog, and the image loader
    answers with a ModelError."""
    from playground.core import image, models, paths, tasks

    folder = paths.models_dir() / "fuzzed"
    folder.mkdir(exist_ok=True)
    (folder / models.FINETUNED_MARKER).write_text(json.dumps(meta))
    (folder / "model.safetensors").write_bytes(b"")
    try:
        assert_typed(bounded(tasks.catalog, include_hub=False))
        models.cache.clear()
        assert_typed(bounded(image.load_classifier, str(folder), None, "cpu"))
    finally:
        models.cache.clear()
