"""Generation mechanics with a tiny GPT-2 and a character-level tokenizer built here (no downloads)."""

from __future__ import annotations

import threading

import pytest

from playground.core import generation, models
from playground.core.errors import InputError, ModelError, UnsafeModelError
from playground.core.jobs import Job, JobContext
from playground.core.runner import run_sync

CHARS = list("abcdefghijklmnopqrstuvwxyz .,!?\n") + ["é", "ü"]


def make_char_gpt(folder, n_positions: int = 64, with_template: bool = False, seed: int = 0):
    """The Train tab's char-level GPT format: GPT2LMHeadModel + char-level PreTrainedTokenizerFast."""
    import torch
    from tokenizers import Regex, Tokenizer, decoders, models as tmodels, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    vocab = {"[UNK]": 0, "[EOS]": 1} | {c: i + 2 for i, c in enumerate(CHARS)}
    tk = Tokenizer(tmodels.WordLevel(vocab, unk_token="[UNK]"))
    tk.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tk.decoder = decoders.Fuse()
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="[UNK]", eos_token="[EOS]")
    if with_template:
        tok.chat_template = "{% for m in messages %}{{ m['role'][0] }} {{ m['content'] }}\n{% endfor %}a "
    torch.manual_seed(seed)
    cfg = GPT2Config(vocab_size=len(vocab), n_positions=n_positions, n_embd=32, n_layer=2, n_head=2,
                     bos_token_id=1, eos_token_id=1)
    model = GPT2LMHeadModel(cfg)
    # Make EOS very unlikely so runs reach max_new_tokens deterministically.
    with torch.no_grad():
        model.lm_head.weight[1] = -0.0
        model.transformer.wte.weight[1].zero_()
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    (folder / "playground_model.json").write_text(
        '{"task": "text-generation", "name": "tiny", "kind": "charlm"}', encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return make_char_gpt(tmp_path_factory.mktemp("tiny") / "charlm")


@pytest.fixture(scope="module")
def tiny_chat_dir(tmp_path_factory):
    return make_char_gpt(tmp_path_factory.mktemp("tinychat") / "charlm", with_template=True)


@pytest.fixture(autouse=True)
def _fresh_cache():
    models.cache.clear()
    yield
    models.cache.clear()


def _run(folder, cancel=None, **kw):
    events = []
    result = run_sync(Job(generation.generate, ("hello world", str(folder)), kw),
                      lambda e: events.append(e), cancel)
    return result, [e for e in events if isinstance(e, generation.TokenEvent)]


def test_streams_tokens_in_order_and_result_matches(tiny_dir):
    result, tokens = _run(tiny_dir, max_new_tokens=20, temperature=0)
    assert result.new_tokens == 20
    assert result.finish_reason == "length"
    assert len(tokens) >= 2, "tokens must arrive one by one, not in one block"
    assert [t.index for t in tokens] == sorted(t.index for t in tokens)
    assert "".join(t.text for t in tokens) == result.text
    assert len(result.text) == 20  # one character per token
    assert result.tokens_per_s > 0 and result.time_to_first_token is not None
    assert not result.chat and not result.has_chat_template  # no template: plain continuation


def test_streamed_text_equals_direct_generate(tiny_dir):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    result, _ = _run(tiny_dir, max_new_tokens=15, temperature=0)
    tok = AutoTokenizer.from_pretrained(tiny_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_dir)
    ids = tok("hello world", return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        out = model.generate(ids, max_new_tokens=15, do_sample=False, pad_token_id=1)
    assert tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True) == result.text


def test_greedy_is_deterministic_and_seed_reproduces_sampling(tiny_dir):
    g1, _ = _run(tiny_dir, max_new_tokens=25, temperature=0)
    g2, _ = _run(tiny_dir, max_new_tokens=25, temperature=0)
    assert g1.text == g2.text and g1.seed is None
    s1, _ = _run(tiny_dir, max_new_tokens=25, temperature=1.5, top_p=1.0, seed=7)
    s2, _ = _run(tiny_dir, max_new_tokens=25, temperature=1.5, top_p=1.0, seed=7)
    s3, _ = _run(tiny_dir, max_new_tokens=25, temperature=1.5, top_p=1.0, seed=8)
    assert s1.text == s2.text and s1.seed == 7
    assert s1.text != s3.text
    random_seed, _ = _run(tiny_dir, max_new_tokens=5, temperature=1.0)
    again, _ = _run(tiny_dir, max_new_tokens=5, temperature=1.0, seed=random_seed.seed)
    assert random_seed.seed is not None and again.text == random_seed.text


def test_stop_within_one_token(tiny_dir):
    cancel = threading.Event()
    seen = []

    def sink(event):
        if isinstance(event, generation.TokenEvent):
            seen.append(event)
            if event.index >= 5:
                cancel.set()

    result = run_sync(Job(generation.generate, ("hello", str(tiny_dir)), {"max_new_tokens": 50, "temperature": 0}),
                      sink, cancel)
    assert result.stopped and result.finish_reason == "stopped"
    assert 5 <= result.new_tokens <= 6  # stopped within one token of the request
    assert result.text == "".join(e.text for e in seen)


def test_chat_template_used_when_present(tiny_chat_dir):
    result, _ = _run(tiny_chat_dir, max_new_tokens=5, temperature=0)
    assert result.chat and result.has_chat_template
    plain, _ = _run(tiny_chat_dir, max_new_tokens=5, temperature=0, chat=False)
    assert not plain.chat
    gen = generation.load_generator(str(tiny_chat_dir))
    ids, used = generation.build_inputs(gen, messages=[{"role": "user", "content": "hi"}])
    assert used and gen.tokenizer.decode(ids[0]) == "u hi\na "


def test_long_prompt_truncated_with_notice(tiny_dir):
    result = run_sync(Job(generation.generate, ("abc " * 100, str(tiny_dir)), {"max_new_tokens": 10, "temperature": 0}))
    assert result.new_tokens == 10
    assert result.prompt_tokens == 64 - 10
    assert "truncated" in result.notice


def test_input_errors(tiny_dir):
    with pytest.raises(InputError):
        run_sync(Job(generation.generate, ("   ", str(tiny_dir))))
    with pytest.raises(InputError):
        run_sync(Job(generation.generate, ("hi", str(tiny_dir)), {"max_new_tokens": 0}))
    with pytest.raises(InputError):
        run_sync(Job(generation.generate, ("hi", str(tiny_dir)), {"temperature": -1}))


def test_model_errors(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        generation.load_generator(str(tmp_path / "missing" / "folder"))
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "pytorch_model.bin").write_bytes(b"x")
    with pytest.raises(UnsafeModelError):
        generation.load_generator(str(pickled))


def test_not_a_causal_lm(tmp_path):
    from transformers import BertConfig, BertModel

    BertModel(BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=16)).save_pretrained(tmp_path / "bert")
    from tokenizers import Tokenizer, models as tmodels
    from transformers import PreTrainedTokenizerFast

    PreTrainedTokenizerFast(tokenizer_object=Tokenizer(tmodels.WordLevel({"[UNK]": 0}, unk_token="[UNK]")),
                            unk_token="[UNK]").save_pretrained(tmp_path / "bert")
    with pytest.raises(ModelError, match="not a text-generation"):
        generation.load_generator(str(tmp_path / "bert"))


def test_model_cached_between_jobs(tiny_dir):
    a = generation.load_generator(str(tiny_dir), JobContext())
    b = generation.load_generator(str(tiny_dir), JobContext())
    assert a is b


def test_gpu_choice_loads_in_half_precision_and_keys_the_cache(monkeypatch, tiny_dir):
    """No GPU here: mock CUDA and check the model is asked for fp16 on cuda:0 and cached under that key."""
    import torch

    from playground.core import devices

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(devices, "gpu_dtype_name", lambda torch, index=0: "float16")
    calls = []

    def fake_load(folder, model_id, device, dtype, trust_remote_code):
        calls.append((device, dtype))
        return generation.Generator(object(), object(), model_id, device, 64, False)

    monkeypatch.setattr(generation, "_load_folder", fake_load)
    gen = generation.load_generator(str(tiny_dir))
    assert calls == [("cuda:0", torch.float16)] and gen.device == "cuda:0"
    assert ("text-generation", str(tiny_dir), "cuda:0", "torch.float16", False) in models.cache.keys()
    generation.load_generator(str(tiny_dir))
    assert len(calls) == 1  # cached
