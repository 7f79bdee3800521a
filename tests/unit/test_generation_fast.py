"""The CTranslate2 fast path with a tiny Llama and a character-level tokenizer built here (no downloads):
the backend choice, the atomic conversion and greedy tokens equal to transformers' in float32."""

from __future__ import annotations

import pytest

from playground.core import fast_generation, generation, models
from playground.core.errors import ModelError
from playground.core.jobs import Job
from playground.core.runner import run_sync

pytest.importorskip("ctranslate2")

CHARS = list("abcdefghijklmnopqrstuvwxyz .,!?")
TEMPLATE = "{% for m in messages %}<{{ m['role'][0] }}>{{ m['content'] }}|{% endfor %}<a>"


def make_tiny_llama(folder, eos_token_id: int = 1, seed: int = 0):
    import torch
    from tokenizers import Regex, Tokenizer, decoders, models as tmodels, pre_tokenizers
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    vocab = {"<unk>": 0, "<eos>": 1, "<u>": 2, "<a>": 3, "<s>": 4, "|": 5} | {c: i + 6 for i, c in enumerate(CHARS)}
    tk = Tokenizer(tmodels.WordLevel(vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Split(Regex(r"<[usa]>|[\s\S]"), behavior="isolated")
    tk.decoder = decoders.Fuse()
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="<unk>", eos_token="<eos>",
                                  additional_special_tokens=["<u>", "<a>", "<s>"])
    tok.chat_template = TEMPLATE
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                      bos_token_id=0, eos_token_id=eos_token_id, tie_word_embeddings=False)
    model = LlamaForCausalLM(cfg)
    with torch.no_grad():  # larger logits: greedy choices are not near-ties that float rounding could flip
        model.lm_head.weight.mul_(8)
    model.generation_config = GenerationConfig(eos_token_id=eos_token_id, bos_token_id=0)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def llama_dir(tmp_path_factory):
    return make_tiny_llama(tmp_path_factory.mktemp("llama") / "tiny-llama")


@pytest.fixture(autouse=True)
def _fresh_cache():
    models.cache.clear()
    generation._not_fast.clear()
    yield
    models.cache.clear()
    generation._not_fast.clear()


def _run(folder, prompt="hello world", **kw):
    events = []
    result = run_sync(Job(generation.generate, (prompt, str(folder)), kw), events.append)
    return result, events


def _ids(result_text, folder):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(folder)(result_text)["input_ids"]


def test_auto_picks_ctranslate2_for_a_llama_and_names_it(llama_dir):
    result, events = _run(llama_dir, max_new_tokens=12, temperature=0)
    assert result.backend == "CTranslate2 int8"
    assert result.to_dict()["backend"] == "CTranslate2 int8"
    assert result.chat and result.new_tokens >= 1
    tokens = [e for e in events if isinstance(e, generation.TokenEvent)]
    assert "".join(t.text for t in tokens) == result.text
    texts = [getattr(e, "text", "") or "" for e in events]
    assert any("Converting" in t for t in texts), "the first use reports the conversion's progress"


def test_forced_transformers_and_unsupported_models(llama_dir, tmp_path):
    from tests.unit.test_generation_mechanics import make_char_gpt

    assert _run(llama_dir, max_new_tokens=4, temperature=0, backend="transformers")[0].backend == \
        "transformers float32"
    gpt = make_char_gpt(tmp_path / "gpt")
    assert _run(gpt, max_new_tokens=4, temperature=0)[0].backend == "transformers float32"  # auto: not a family it takes
    with pytest.raises(ModelError, match="cannot run on CTranslate2"):
        _run(gpt, max_new_tokens=4, backend="ctranslate2")


def test_greedy_tokens_equal_transformers_in_float32(llama_dir):
    # No repetition penalty: CTranslate2 penalizes the generated tokens only, transformers the prompt's too.
    kw = dict(max_new_tokens=40, temperature=0, repetition_penalty=1.0)
    fast, _ = _run(llama_dir, backend="ctranslate2", compute_type="float32", **kw)
    slow, _ = _run(llama_dir, backend="transformers", **kw)
    assert fast.backend == "CTranslate2 float32" and slow.backend == "transformers float32"
    assert fast.prompt_tokens == slow.prompt_tokens  # the same chat template, the same prompt tokens
    assert fast.text == slow.text and len(fast.text) > 10
    assert (fast.new_tokens, fast.finish_reason) == (slow.new_tokens, slow.finish_reason)


def test_eos_stops_both_paths_at_the_same_token(llama_dir, tmp_path):
    slow, _ = _run(llama_dir, backend="transformers", max_new_tokens=20, temperature=0, repetition_penalty=1.0)
    stop_char = slow.text[4]  # make the 5th greedy token the model's end token
    from transformers import AutoTokenizer

    stop_id = AutoTokenizer.from_pretrained(llama_dir).convert_tokens_to_ids(stop_char)
    folder = make_tiny_llama(tmp_path / "eos-llama", eos_token_id=stop_id)
    kw = dict(max_new_tokens=20, temperature=0, repetition_penalty=1.0)
    fast, _ = _run(folder, backend="ctranslate2", compute_type="float32", **kw)
    slow, _ = _run(folder, backend="transformers", **kw)
    assert slow.finish_reason == "eos" and stop_char not in slow.text
    assert (fast.text, fast.new_tokens, fast.finish_reason) == (slow.text, slow.new_tokens, "eos")


def test_sampling_runs_fast_and_a_given_seed_reproduces_on_transformers(llama_dir):
    free, _ = _run(llama_dir, max_new_tokens=20, temperature=1.0, top_p=0.95, repetition_penalty=1.0)
    assert free.backend == "CTranslate2 int8" and free.seed is None  # no per-run seed to report
    outs = {_run(llama_dir, max_new_tokens=20, temperature=1.0, seed=i, backend="ctranslate2")[0].text
            for i in range(4)}
    assert len(outs) > 1, "sampling must sample"
    a, _ = _run(llama_dir, max_new_tokens=20, temperature=1.0, top_p=0.95, seed=3)
    b, _ = _run(llama_dir, max_new_tokens=20, temperature=1.0, top_p=0.95, seed=3)
    assert a.backend == "transformers float32" and a.text == b.text and a.seed == 3


def test_an_interrupted_conversion_is_never_used(llama_dir, monkeypatch):
    from ctranslate2.converters import TransformersConverter

    target = fast_generation.converted_path(llama_dir, "int8")
    real = TransformersConverter.convert

    def interrupted(self, output_dir, **kw):
        real(self, output_dir, **kw)  # the files are written, then the process "dies" before the rename
        raise KeyboardInterrupt

    monkeypatch.setattr(TransformersConverter, "convert", interrupted)
    import shutil

    shutil.rmtree(target, ignore_errors=True)
    with pytest.raises(KeyboardInterrupt):
        fast_generation.convert(llama_dir, "int8")
    assert not target.exists()
    assert not [p for p in target.parent.iterdir() if p.name.startswith(f".{target.name}")], "no temp folder left"
    # a folder at the target without the marker (a copy interrupted some other way) is converted again
    target.mkdir(parents=True)
    (target / "model.bin").write_bytes(b"half")
    monkeypatch.setattr(TransformersConverter, "convert", real)
    result, _ = _run(llama_dir, max_new_tokens=3, temperature=0)
    assert result.backend == "CTranslate2 int8"
    assert (target / fast_generation.MARKER).is_file() and (target / "model.bin").stat().st_size > 4


def test_a_failed_conversion_falls_back_to_transformers(llama_dir, monkeypatch, caplog):
    from ctranslate2.converters import TransformersConverter

    def broken(self, output_dir, **kw):
        raise ValueError("unsupported layer")

    monkeypatch.setattr(TransformersConverter, "convert", broken)
    import shutil

    shutil.rmtree(fast_generation.converted_path(llama_dir, "float32"), ignore_errors=True)
    with caplog.at_level("WARNING"):
        result, _ = _run(llama_dir, max_new_tokens=3, temperature=0, compute_type="float32")
    assert result.backend == "transformers float32"
    assert "unsupported layer" in caplog.text
    with pytest.raises(ModelError, match="unsupported layer"):
        _run(llama_dir, max_new_tokens=3, backend="ctranslate2", compute_type="float32")


def test_cli_backend_flag_and_json(llama_dir, tmp_path, capsys):
    import json

    from playground import cli
    from tests.unit.test_generation_mechanics import make_char_gpt

    base = ["text", "generate", "--model", str(llama_dir), "--max-new-tokens", "5", "--temperature", "0", "--json"]
    assert cli.main(base + ["hi"]) == 0
    assert json.loads(capsys.readouterr().out)["backend"] == "CTranslate2 int8"
    assert cli.main(base + ["--backend", "transformers", "hi"]) == 0
    assert json.loads(capsys.readouterr().out)["backend"] == "transformers float32"
    gpt = make_char_gpt(tmp_path / "gpt")
    capsys.readouterr()  # (the save's own progress bars)
    assert cli.main(["text", "generate", "--model", str(gpt), "--backend", "ctranslate2", "hi"]) != 0
    err = capsys.readouterr().err.strip()
    assert "cannot run on CTranslate2" in err and len(err.splitlines()) == 1


def test_stop_within_one_token_on_the_fast_path(llama_dir):
    import threading

    cancel = threading.Event()
    seen = []

    def sink(event):
        if isinstance(event, generation.TokenEvent):
            seen.append(event)
            if event.index >= 5:
                cancel.set()

    # (the prompt and settings of the greedy comparison, which runs past 10 tokens)
    result = run_sync(Job(generation.generate, ("hello world", str(llama_dir)),
                          {"max_new_tokens": 200, "temperature": 0, "repetition_penalty": 1.0,
                           "backend": "ctranslate2", "compute_type": "float32"}), sink, cancel)
    assert result.stopped and result.finish_reason == "stopped"
    assert 5 <= result.new_tokens <= 6 and result.text == "".join(e.text for e in seen)


def test_small_models_run_on_one_cpu_thread(tmp_path):
    import json

    import torch

    for hidden, threads in ((576, 1), (2048, torch.get_num_threads())):
        (tmp_path / "config.json").write_text(json.dumps({"hidden_size": hidden}), encoding="utf-8")
        assert fast_generation._cpu_threads(tmp_path) == threads
