"""Try a LoRA run while it trains: each evaluation writes the adapter into the run's live folder,
generation loads its newest step as base + adapter, and a run's adapter alone loads too."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("peft")

from lm_support import make_tiny_llm, toy_pairs, write_toy_jsonl  # noqa: E402

from playground.core import generation, lora, models  # noqa: E402
from playground.core.errors import ModelError  # noqa: E402
from playground.core.jobs import Job, JobContext  # noqa: E402
from playground.core.runner import run_sync  # noqa: E402
from playground.core.training import checkpoint as ckpt  # noqa: E402
from playground.core.training import events as ev  # noqa: E402
from playground.core.training.lm import train_lm  # noqa: E402

OPTIONS = {"max_length": 64, "epochs": 3, "lr": 3e-2, "lora_rank": 8, "batch_size": 8, "val_share": 0.25,
           "patience": 0, "device": "cpu"}


@pytest.fixture(autouse=True)
def _one_thread():
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
    models.cache.clear()


def _logits(gen, ids):
    import torch

    with torch.no_grad():
        return gen.model(input_ids=torch.tensor([ids])).logits


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A three-epoch run; at each live checkpoint, the test loads and uses it *during* the run (the
    job's thread is inside `fit` while the sink runs) and keeps what it saw."""
    import torch

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("live")
    base = make_tiny_llm(root / "base")
    data = write_toy_jsonl(root / "toy.jsonl")
    prompt = toy_pairs()[0][0]
    ids = [3, 6, 7, 14, 2, 4]
    seen = []

    def sink(event):
        if isinstance(event, ev.LiveCheckpoint):
            gen = generation.load_generator(event.path, device="cpu")
            answer = generation.generate_with(JobContext(), gen, prompt, temperature=0.0, max_new_tokens=4)
            seen.append({"event": event, "step": gen.extra["step"], "backend": answer.backend, "tuned": gen.tuned,
                         "steps_on_disk": [n for n, _ in lora.steps(Path(event.path))],
                         "logits": _logits(gen, ids), "text": answer.text})

    out = root / "out"
    result = run_sync(Job(train_lm, (str(data), str(out)), OPTIONS | {"base": str(base)}), sink, None)
    models.cache.clear()
    return {"base": base, "out": out, "result": result, "seen": seen, "ids": ids}


def test_each_evaluation_writes_a_checkpoint_that_generation_loads_while_the_run_goes_on(run):
    seen = run["seen"]
    history = run["result"].history
    assert [s["event"].epoch for s in seen] == [1, 2, 3]
    assert [s["event"].step for s in seen] == [h["step"] for h in history]
    assert [s["event"].val_loss for s in seen] == pytest.approx([h["val_loss"] for h in history])
    assert all(s["step"] == s["event"].step and s["tuned"] for s in seen)  # the newest step was loaded
    assert all(f"LoRA at step {s['event'].step}" in s["backend"] for s in seen)
    assert seen[-1]["steps_on_disk"] == [h["step"] for h in history][-lora.KEEP_STEPS:]  # older ones pruned
    assert seen[-1]["event"].path == str(ckpt.live_dir(run["out"]))
    assert not ckpt.live_dir(run["out"]).exists()  # removed with the checkpoints when the run ends


def test_the_live_checkpoint_is_the_model_at_its_step(run):
    """The final model is the best epoch's weights: its live checkpoint gives the same logits;
    the first epoch's (a model still learning) does not."""
    import torch

    best = min(range(len(run["result"].history)), key=lambda i: run["result"].history[i]["val_loss"])
    final = generation.load_generator(str(run["out"]), device="cpu", backend="transformers")
    logits = _logits(final, run["ids"])
    assert torch.allclose(run["seen"][best]["logits"], logits, atol=1e-4)
    if best != 0:
        assert not torch.allclose(run["seen"][0]["logits"], logits, atol=1e-3)


def test_a_runs_adapter_alone_loads_with_its_base_and_equals_the_merged_model(run):
    import torch

    merged = generation.load_generator(str(run["out"]), device="cpu", backend="transformers")
    adapter = generation.load_generator(str(run["out"] / "adapter"), device="cpu")
    assert adapter.tuned and merged.tuned and "LoRA" in adapter.backend
    assert torch.allclose(_logits(adapter, run["ids"]), _logits(merged, run["ids"]), atol=1e-4)
    # the cached base is untouched by the merge: it still gives the base's logits
    base = generation.load_generator(str(run["base"]), device="cpu", backend="transformers")
    assert not base.tuned
    assert not torch.allclose(_logits(base, run["ids"]), _logits(merged, run["ids"]), atol=1e-2)


def test_the_merged_model_runs_on_the_fast_path_with_the_same_greedy_answers(run):
    """What a run leaves loads on CTranslate2 too (int8: the toy answers stay the same)."""
    fast = generation.load_generator(str(run["out"]), device="cpu")
    slow = generation.load_generator(str(run["out"]), device="cpu", backend="transformers")
    assert fast.fast and fast.tuned and not slow.fast
    for prompt, _response in toy_pairs()[:6]:
        a, b = (generation.generate_with(JobContext(), g, prompt, temperature=0.0, max_new_tokens=4).text
                for g in (fast, slow))
        assert a == b


def test_a_tuned_model_decodes_without_the_repetition_penalty(run):
    gen = generation.load_generator(str(run["out"]), device="cpu", backend="transformers")
    assert generation.decoding_for(gen) == generation.TUNED_DECODING
    assert generation.TUNED_DECODING.repetition_penalty == 1.0
    result = generation.generate_with(JobContext(), gen, "red cat", temperature=0.0, max_new_tokens=2)
    assert result.repetition_penalty == 1.0


def test_a_live_folder_without_a_step_yet_says_so(tmp_path):
    live = tmp_path / "run.checkpoint" / "live"
    (live / ".step-000004.saving-1").mkdir(parents=True)  # a step being written is not a step yet
    with pytest.raises(ModelError, match="no checkpoint yet"):
        generation.load_generator(str(live), device="cpu")


def test_an_adapter_without_the_apps_marker_names_the_missing_base(tmp_path):
    folder = tmp_path / "someone-elses-adapter"
    folder.mkdir()
    (folder / "adapter_config.json").write_text("{}")
    with pytest.raises(ModelError, match="base model it adapts is unknown"):
        generation.load_generator(str(folder), device="cpu")


def test_the_fast_backend_refuses_an_adapter_in_one_sentence(run):
    with pytest.raises(ModelError, match="LoRA adapter: it runs on transformers"):
        generation.load_generator(str(run["out"] / "adapter"), device="cpu", backend="ctranslate2")
