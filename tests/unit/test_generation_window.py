"""Issue 17 review fixes: a char-GPT generates within its trained context (sliding the window), and
a generation reports both rates, named: generation alone (the live figure) and with the prompt."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_generation_mechanics import make_char_gpt

from playground.core import generation, models
from playground.core.jobs import Job
from playground.core.runner import run_sync


@pytest.fixture(autouse=True)
def _fresh_cache():
    models.cache.clear()
    yield
    models.cache.clear()


@pytest.fixture
def trained_on_16(tmp_path):
    """A char-GPT with 64 positions trained (its marker says) on a context of 16, like the Train tab's."""
    folder = make_char_gpt(tmp_path / "charlm", n_positions=64)
    (folder / "playground_model.json").write_text(json.dumps(
        {"task": "text-generation", "name": "tiny", "kind": "charlm", "context": 16}), encoding="utf-8")
    return folder


def _positions_seen(gen) -> list[int]:
    seen: list[int] = []
    gen.model.transformer.wpe.register_forward_hook(lambda mod, args, out: seen.append(int(args[0].max())))
    return seen


def test_generation_slides_within_the_trained_context(trained_on_16):
    gen = generation.load_generator(str(trained_on_16))
    assert gen.context == 16 and gen.max_length == 64
    seen = _positions_seen(gen)
    events = []
    result = run_sync(Job(generation.generate, ("hello world, a long prompt of text", str(trained_on_16)),
                          {"max_new_tokens": 100, "temperature": 0}), events.append)
    assert result.new_tokens == 100 and len(result.text) == 100  # far past the 16 trained positions
    assert seen and max(seen) < 16, f"a token ran on position {max(seen)}"
    assert result.window == 16 and "trained on a context of 16" in result.notice
    streamed = "".join(e.text for e in events if isinstance(e, generation.TokenEvent))
    assert streamed == result.text
    tokens = [e.index for e in events if isinstance(e, generation.TokenEvent)]
    assert tokens == sorted(tokens) and tokens[-1] == 100


def test_sampling_with_a_seed_reproduces_across_windows(trained_on_16):
    runs = [run_sync(Job(generation.generate, ("abc", str(trained_on_16)),
                         {"max_new_tokens": 40, "temperature": 1.0, "seed": 7})) for _ in range(2)]
    assert runs[0].text == runs[1].text and runs[0].new_tokens == 40


def test_a_model_without_a_shorter_trained_context_is_not_slid(tmp_path):
    folder = make_char_gpt(tmp_path / "plain", n_positions=64)
    gen = generation.load_generator(str(folder))
    assert gen.context is None
    result = run_sync(Job(generation.generate, ("hello", str(folder)), {"max_new_tokens": 10, "temperature": 0}))
    assert result.window is None and result.new_tokens == 10


def test_both_rates_are_reported_and_named(tmp_path):
    """A slow prompt (0.4 s of processing): the rate with it is lower than generation alone."""
    folder = make_char_gpt(tmp_path / "slow", n_positions=64)
    gen = generation.load_generator(str(folder))

    def slow_prompt(module, args, kwargs):
        ids = kwargs.get("input_ids", args[0] if args else None)
        if ids is not None and ids.shape[1] > 1:
            time.sleep(0.4)

    gen.model.register_forward_pre_hook(slow_prompt, with_kwargs=True)
    result = run_sync(Job(generation.generate, ("hello world", str(folder)), {"max_new_tokens": 20, "temperature": 0}))
    assert result.time_to_first_token >= 0.4
    assert result.decode_tokens_per_s > result.overall_tokens_per_s > 0
    assert result.overall_tokens_per_s == result.tokens_per_s
    assert result.overall_tokens_per_s <= 20 / 0.4
    data = result.to_dict()
    assert data["decode_tokens_per_s"] > data["overall_tokens_per_s"] == data["tokens_per_s"]
