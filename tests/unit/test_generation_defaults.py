"""Issue 20, a chat that does not loop, with honest numbers: the default decoding (repetition penalty,
4-gram block) is what a generation job hands to `model.generate`; the time to the first token counts
the model's load; a Generate that comes while the bundled model is being prepared waits for that work
and shows its progress; Summarize starts on the bundled chat model and Classify on your own classifier."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from playground import cli
from playground.core import generation, models, tasks
from playground.core.errors import Cancelled
from playground.core.jobs import Job, JobContext, Progress
from playground.core.runner import run_sync

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_generation_mechanics import make_char_gpt  # noqa: E402


@pytest.fixture(scope="module")
def subword_dir(tmp_path_factory):
    """A tiny GPT-2 that is not a char-level model (no Train tab marker): it gets the chat defaults."""
    folder = make_char_gpt(tmp_path_factory.mktemp("subword") / "gpt")
    (folder / models.FINETUNED_MARKER).unlink()
    return folder


@pytest.fixture(scope="module")
def char_dir(tmp_path_factory):
    return make_char_gpt(tmp_path_factory.mktemp("char") / "charlm")


@pytest.fixture(autouse=True)
def _fresh_cache():
    models.cache.clear()
    yield
    models.cache.clear()


def _spy_generate(folder) -> list[dict]:
    """Load the model into the cache and record the keyword arguments of each `model.generate` call."""
    gen = generation.load_generator(str(folder))
    calls: list[dict] = []
    original = gen.model.generate

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return original(*args, **kwargs)

    gen.model.generate = spy
    return calls


def test_default_decoding_reaches_model_generate(subword_dir):
    calls = _spy_generate(subword_dir)
    result = run_sync(Job(generation.generate, ("hello world", str(subword_dir)), {"max_new_tokens": 5, "seed": 1}))
    d = generation.DEFAULT_DECODING
    assert d.repetition_penalty > 1.0  # the default does something
    (kwargs,) = calls
    assert kwargs["do_sample"] is True
    assert kwargs["temperature"] == d.temperature and kwargs["top_p"] == d.top_p
    assert kwargs["repetition_penalty"] == d.repetition_penalty
    assert kwargs.get("no_repeat_ngram_size", 0) == d.no_repeat_ngram_size
    assert (result.repetition_penalty, result.no_repeat_ngram_size) == (d.repetition_penalty, d.no_repeat_ngram_size)


def test_cli_generate_uses_the_same_defaults(subword_dir, capsys):
    calls = _spy_generate(subword_dir)
    assert cli.main(["text", "generate", "--model", str(subword_dir), "--max-new-tokens", "3", "hi"]) == 0
    d = generation.DEFAULT_DECODING
    (kwargs,) = calls
    assert (kwargs["temperature"], kwargs["top_p"]) == (d.temperature, d.top_p)
    assert kwargs["repetition_penalty"] == d.repetition_penalty
    assert kwargs.get("no_repeat_ngram_size", 0) == d.no_repeat_ngram_size
    calls.clear()
    assert cli.main(["text", "generate", "--model", str(subword_dir), "--max-new-tokens", "3",
                     "--repetition-penalty", "1.3", "--no-repeat-ngram", "3", "hi"]) == 0
    assert (calls[0]["repetition_penalty"], calls[0]["no_repeat_ngram_size"]) == (1.3, 3)


def test_explicit_settings_and_char_level_models_turn_them_off(subword_dir, char_dir):
    calls = _spy_generate(subword_dir)
    run_sync(Job(generation.generate, ("hello", str(subword_dir)),
                 {"max_new_tokens": 3, "repetition_penalty": 1.0, "no_repeat_ngram_size": 0}))
    assert "repetition_penalty" not in calls[0] and "no_repeat_ngram_size" not in calls[0]
    # A char-level model repeats characters by nature: no penalty, no block by default.
    char_calls = _spy_generate(char_dir)
    result = run_sync(Job(generation.generate, ("hello", str(char_dir)), {"max_new_tokens": 3}))
    assert "repetition_penalty" not in char_calls[0] and "no_repeat_ngram_size" not in char_calls[0]
    assert (result.repetition_penalty, result.no_repeat_ngram_size) == (1.0, 0)


def test_time_to_first_token_counts_the_models_load(subword_dir):
    first = run_sync(Job(generation.generate, ("hello", str(subword_dir)), {"max_new_tokens": 4, "temperature": 0}))
    again = run_sync(Job(generation.generate, ("hello", str(subword_dir)), {"max_new_tokens": 4, "temperature": 0}))
    assert first.load_seconds > 0  # loaded from disk
    assert first.time_to_first_token >= first.load_seconds  # the load is part of the wait for the first token
    assert first.seconds >= first.time_to_first_token
    assert again.load_seconds < first.load_seconds  # from the model cache
    assert first.to_dict()["load_seconds"] == round(first.load_seconds, 3)


def test_waiting_for_the_bundled_preparation_relays_its_progress():
    """While one job holds the bundled model (the background preparation), another waits and shows its steps."""
    seen: list[Progress] = []
    got_it = threading.Event()

    def waiter():
        with generation._hold_bundled(JobContext(seen.append)):
            got_it.set()

    assert generation._bundled_lock.acquire(timeout=5)
    try:
        generation._report_step(JobContext(), 0.2, "Preparing the bundled SmolLM2: dequantizing the weights...")
        thread = threading.Thread(target=waiter)
        thread.start()
        assert not got_it.wait(0.6)  # it waits for the preparation
    finally:
        generation._bundled_step = None
        generation._bundled_lock.release()
    thread.join(5)
    assert got_it.is_set()
    assert seen and seen[0] == Progress(0.2, "Preparing the bundled SmolLM2: dequantizing the weights...")


def test_a_cancelled_wait_for_the_bundled_model_stops():
    ctx = JobContext()
    errors: list[BaseException] = []

    def waiter():
        try:
            with generation._hold_bundled(ctx):
                pass
        except Cancelled as exc:
            errors.append(exc)

    assert generation._bundled_lock.acquire(timeout=5)
    try:
        thread = threading.Thread(target=waiter)
        thread.start()
        ctx.cancel()
        thread.join(5)
    finally:
        generation._bundled_lock.release()
    assert not thread.is_alive() and len(errors) == 1


def test_distinct_ngram_share():
    assert generation.distinct_ngram_share("one two three four five six") == 1.0
    assert generation.distinct_ngram_share("short text") == 1.0
    loop = "a silent beauty " * 30
    assert generation.distinct_ngram_share(loop) < 0.05


def _entry(model_id, task, source, available=True):
    return models.ModelEntry(model_id, task, model_id, source, available=available)


def test_summarize_defaults_to_the_bundled_chat_model():
    assert tasks.default_model("summarization") == generation.BUNDLED_ID
    bundled = _entry(generation.BUNDLED_ID, "text-generation", "bundled")
    listing = {t["id"]: t for t in tasks.listing([bundled], hub_cached=lambda _r: None)}
    assert listing["summarization"]["default"] == generation.BUNDLED_ID
    assert listing["summarization"]["models"][0]["id"] == generation.BUNDLED_ID


def test_classify_prefers_your_trained_classifier():
    yours = _entry("/models/reviews", "text-classification", "finetuned")
    entries = [_entry(generation.BUNDLED_ID, "text-generation", "bundled"), yours]
    served = tasks.models_for("text-classification", entries, hub_cached=lambda _r: None, sources=False)
    assert served[0].id == yours.id  # listed first
    assert tasks.preferred_model("text-classification", served) == yours.id
    listing = {t["id"]: t for t in tasks.listing(entries, hub_cached=lambda _r: None)}
    assert listing["text-classification"]["default"] == yours.id
    # Nothing of yours and nothing downloaded: no default (the panel says what it needs instead).
    none = tasks.models_for("text-classification", entries[:1], hub_cached=lambda _r: None, sources=False)
    assert tasks.preferred_model("text-classification", none) is None
    assert tasks.preferred_model("fill-mask", tasks.models_for("fill-mask", [], hub_cached=lambda _r: None)) is None
    # A task that picks its own model keeps "Automatic".
    assert tasks.preferred_model("translation", [_entry("x", "translation", "local")]) is None
