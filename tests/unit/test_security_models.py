"""Security: pickle-only weights and custom model code are refused unless the user allows them.

The model folders are tiny transformers models built here (a few layers, the
bundled MiniLM tokenizer), saved the way a downloaded Hub repo would be.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import pytest

from playground.core import models
from playground.core.errors import ModelError, PlaygroundError, UnsafeModelError
from playground.core.jobs import JobContext

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")


def _tiny_classifier(folder: Path, pickle_only: bool) -> Path:
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    src = models.bundled_path("bundled/all-minilm-l6-v2")
    torch.manual_seed(0)
    config = BertConfig(vocab_size=30522, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=64, num_labels=2,
                        id2label={0: "bad", 1: "good"}, label2id={"bad": 0, "good": 1})
    net = BertForSequenceClassification(config)
    net.save_pretrained(folder)
    if pickle_only:
        (folder / "model.safetensors").unlink()
        torch.save(net.state_dict(), folder / "pytorch_model.bin")
    for name in TOKENIZER_FILES:
        if (src / name).is_file():
            shutil.copy(src / name, folder / name)
    return folder


@pytest.fixture(scope="module")
def pickle_model(tmp_path_factory):
    return _tiny_classifier(tmp_path_factory.mktemp("pickle-model"), pickle_only=True)


@pytest.fixture(scope="module")
def safe_model(tmp_path_factory):
    return _tiny_classifier(tmp_path_factory.mktemp("safe-model"), pickle_only=False)


@pytest.fixture(autouse=True)
def _fresh_cache():
    models.cache.clear()
    yield
    models.cache.clear()


class _Evil:
    """Unpickling this runs code: it creates the file named in `marker`."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickle_only_text_classifier_is_refused_by_default(pickle_model):
    from playground.core import text

    with pytest.raises(UnsafeModelError) as err:
        text.classify(JobContext(), ["fine"], model=str(pickle_model))
    message = str(err.value)
    assert "pytorch_model.bin" in message and "pickle" in message
    assert pickle_model.name in message
    assert "\n" not in message


def test_pickle_allowed_loads_with_weights_only(pickle_model, monkeypatch):
    import torch

    from playground.core import text

    calls = []
    real_load = torch.load

    def spy(*args, **kwargs):
        calls.append((str(args[0]) if args else "", kwargs.get("weights_only")))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    result = text.classify(JobContext(), ["fine"], model=str(pickle_model), allow_pickle=True)
    assert {s.label for s in result.items[0].scores} == {"bad", "good"}
    loads = [w for path, w in calls if path.endswith("pytorch_model.bin")]
    assert loads, "the pickle weights were not read through torch.load"
    assert all(w is True for w in loads), calls


def _evil_folder(tmp_path: Path) -> tuple[Path, Path]:
    folder = _tiny_classifier(tmp_path / "evil", pickle_only=True)
    marker = tmp_path / "pwned"
    with open(folder / "pytorch_model.bin", "wb") as fh:
        pickle.dump({"bert.embeddings.word_embeddings.weight": _Evil(str(marker))}, fh)
    return folder, marker


def test_malicious_pickle_never_runs_even_when_allowed(tmp_path):
    from playground.core import text
    from playground.core.errors import friendly_message

    folder, marker = _evil_folder(tmp_path)
    with pytest.raises(Exception) as err:
        text.classify(JobContext(), ["fine"], model=str(folder), allow_pickle=True)
    assert not marker.exists(), "unpickling ran code"
    assert "\n" not in friendly_message(err.value)


def test_malicious_pickle_gives_a_typed_error_naming_the_model(tmp_path):
    from playground.core import text

    folder, _marker = _evil_folder(tmp_path)
    with pytest.raises(PlaygroundError) as err:
        text.classify(JobContext(), ["fine"], model=str(folder), allow_pickle=True)
    assert "evil" in str(err.value)


def _with_remote_code(folder: Path) -> Path:
    cfg = json.loads((folder / "config.json").read_text())
    cfg["auto_map"] = {"AutoModelForSequenceClassification": "modeling_evil.EvilModel",
                       "AutoConfig": "configuration_evil.EvilConfig"}
    (folder / "config.json").write_text(json.dumps(cfg))
    (folder / "modeling_evil.py").write_text(f"open({str(folder / 'ran')!r}, 'w').close()\n")
    (folder / "configuration_evil.py").write_text(f"open({str(folder / 'ran')!r}, 'w').close()\n")
    return folder


@pytest.fixture
def remote_code_model(tmp_path, safe_model):
    folder = tmp_path / "remote-code"
    shutil.copytree(safe_model, folder)
    return _with_remote_code(folder)


def test_remote_code_text_model_is_refused_with_an_explanation(remote_code_model):
    from playground.core import text

    with pytest.raises(UnsafeModelError) as err:
        text.classify(JobContext(), ["fine"], model=str(remote_code_model))
    message = str(err.value)
    assert "trust_remote_code" in message and "remote-code" in message
    assert "refused unless you allow" in message
    assert not (remote_code_model / "ran").exists()


@pytest.mark.parametrize("loader", ["image", "generation", "detection", "speech"])
def test_every_loader_refuses_remote_code(remote_code_model, loader):
    """The same folder through each feature's loader: refused before any of its code could run."""
    with pytest.raises(UnsafeModelError, match="trust_remote_code"):
        if loader == "image":
            from playground.core import image

            image.load_classifier(str(remote_code_model), JobContext(), device="cpu")
        elif loader == "generation":
            from playground.core import generation

            generation.load_generator(str(remote_code_model), JobContext(), device="cpu")
        elif loader == "detection":
            from playground.core import detection

            detection.load_object_detector(str(remote_code_model), JobContext(), device="cpu")
        else:
            from playground.core.speech import recognizers

            recognizers.load_recognizer(str(remote_code_model), JobContext())
    assert not (remote_code_model / "ran").exists()


@pytest.mark.parametrize("loader", ["text", "generation", "detection", "speech"])
def test_every_loader_refuses_pickle_only(pickle_model, loader):
    with pytest.raises(UnsafeModelError, match="pickle"):
        if loader == "text":
            from playground.core import text

            text.classify(JobContext(), ["x"], model=str(pickle_model))
        elif loader == "generation":
            from playground.core import generation

            generation.load_generator(str(pickle_model), JobContext(), device="cpu")
        elif loader == "detection":
            from playground.core import detection

            detection.load_object_detector(str(pickle_model), JobContext(), device="cpu")
        else:
            from playground.core.speech import recognizers

            recognizers.load_recognizer(str(pickle_model), JobContext())


def test_image_loader_refuses_pickle_only(tmp_path):
    """An image-classification folder with only pytorch_model.bin is refused (no allow switch there)."""
    from playground.core import image

    folder = tmp_path / "img-pickle"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"architectures": ["ViTForImageClassification"],
                                                    "model_type": "vit"}))
    (folder / "pytorch_model.bin").write_bytes(b"\x80\x04N.")
    with pytest.raises(UnsafeModelError, match="pickle"):
        image.load_classifier(str(folder), JobContext(), device="cpu")


def test_remote_code_refused_through_the_cli(remote_code_model, capsys):
    from playground import cli

    code = cli.main(["text", "classify", "--model", str(remote_code_model), "hello"])
    err = capsys.readouterr().err
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "trust_remote_code" in lines[0] and "remote-code" in lines[0]
    assert "Traceback" not in err
    assert not (remote_code_model / "ran").exists()


def test_safetensors_beside_a_pickle_is_accepted(tmp_path, safe_model):
    """A repo shipping both formats loads (safetensors is what transformers then reads)."""
    import torch

    from playground.core import text

    folder = tmp_path / "both"
    shutil.copytree(safe_model, folder)
    torch.save({}, folder / "pytorch_model.bin")
    result = text.classify(JobContext(), ["ok"], model=str(folder))
    assert len(result.items) == 1
    assert os.path.exists(folder / "model.safetensors")


def test_models_check_rejects_bad_config_json_with_a_model_error(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"")
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ModelError, match="config.json"):
        models.check_weights_safe(tmp_path)
