"""Answers to a question about a passage.

Offline: the bundled SmolLM2 (or any chat/causal LM) with worked examples in
the chat prompt, so it answers briefly instead of repeating the passage.
Online: extractive question-answering models (`...ForQuestionAnswering`) from
the Hub or a local folder (span scoring is done here: transformers 5 has no
question-answering pipeline). When the answer is a span of the passage its
character offsets are given, so the UI can highlight it there.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from playground.core import generation, models
from playground.core.errors import InputError, ModelError
from playground.core.jobs import JobContext

BUNDLED_ID = generation.BUNDLED_ID
MAX_CONTEXT_CHARS = 12_000

SYSTEM = ("You answer questions about a passage. Reply with only the short answer taken from the passage "
          "(a few words), not a full sentence.")
EXAMPLE_PASSAGE = ("The Golden Gate Bridge opened to traffic in May 1937. It spans the strait between "
                   "San Francisco Bay and the Pacific Ocean and was designed by Joseph Strauss.")
EXAMPLE_QUESTION = "Who designed the Golden Gate Bridge?"
EXAMPLE_ANSWER = "Joseph Strauss"
# Two examples (a name and a year): with one, the 135M model still tended to repeat the passage.
EXAMPLE2_PASSAGE = "The Eiffel Tower was completed in 1889 for the World's Fair in Paris."
EXAMPLE2_QUESTION = "When was the Eiffel Tower completed?"
EXAMPLE2_ANSWER = "1889"


@dataclass(frozen=True)
class Answer:
    question: str
    answer: str
    start: int | None = None  # character span of the answer in the passage, when it is one
    end: int | None = None
    score: float | None = None  # extractive models only
    model_id: str = BUNDLED_ID

    def to_dict(self) -> dict:
        return {"question": self.question, "answer": self.answer, "start": self.start, "end": self.end,
                "score": self.score, "model": self.model_id}


def _user_message(context: str, question: str) -> str:
    return f"Passage: {context}\nQuestion: {question}"


def build_messages(context: str, question: str) -> list[dict]:
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": _user_message(EXAMPLE_PASSAGE, EXAMPLE_QUESTION)},
        {"role": "assistant", "content": EXAMPLE_ANSWER},
        {"role": "user", "content": _user_message(EXAMPLE2_PASSAGE, EXAMPLE2_QUESTION)},
        {"role": "assistant", "content": EXAMPLE2_ANSWER},
        {"role": "user", "content": _user_message(context, question)},
    ]


def clean_answer(text: str) -> str:
    """The first line of the model's reply, without 'Answer:' and wrapping quotes."""
    line = next((ln.strip() for ln in text.strip().splitlines() if ln.strip()), "")
    line = re.sub(r"^(answer|a)\s*:\s*", "", line, flags=re.IGNORECASE)
    line = line.strip().strip('"“”\'`').strip()
    if line.endswith(".") and not re.search(r"\b[A-Z]\.$|\.\.\.$", line):
        line = line[:-1].rstrip()
    return line


def find_span(context: str, answer: str) -> tuple[int, int] | None:
    """Where the answer occurs in the passage (case- and whitespace-insensitive), if it does."""
    if not answer:
        return None
    idx = context.find(answer)
    if idx >= 0:
        return idx, idx + len(answer)
    words = [re.escape(w) for w in answer.split()]
    if not words:
        return None
    match = re.search(r"\s+".join(words), context, flags=re.IGNORECASE)
    return (match.start(), match.end()) if match else None


def _is_extractive(folder: Path) -> bool:
    try:
        data = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return any(a.endswith("ForQuestionAnswering") for a in data.get("architectures") or [])


def _load_extractive(model_id: str, folder: Path, trust_remote_code: bool):
    from playground.core import devices

    try:
        from transformers import AutoModelForQuestionAnswering, AutoTokenizer

        tok = AutoTokenizer.from_pretrained(folder, trust_remote_code=trust_remote_code)
        model = AutoModelForQuestionAnswering.from_pretrained(folder, trust_remote_code=trust_remote_code)
    except (ValueError, OSError) as exc:
        raise ModelError(f"Cannot load '{model_id}' as a question-answering model: {str(exc).splitlines()[0]}") from exc
    if not getattr(tok, "is_fast", False):
        raise ModelError(f"'{model_id}' has no fast tokenizer, which extractive answers need for character offsets.")
    device = devices.choose_device()
    model.to(device).eval()
    return model, tok, device


def extract_span(loaded, question: str, context: str, ctx: JobContext, max_answer_tokens: int = 30,
                 max_length: int = 384, stride: int = 128) -> tuple[str, int, int, float]:
    """The best answer span over sliding windows of the passage: (text, start, end, score).

    transformers 5 removed the question-answering pipeline; this is its core:
    start/end logits over the passage tokens, the best pair with start <= end.
    """
    import torch

    model, tok, device = loaded
    limit = getattr(tok, "model_max_length", max_length)
    max_length = min(max_length, limit) if isinstance(limit, int) and limit > 0 else max_length
    enc = tok(question, context, truncation="only_second", max_length=max_length, stride=stride,
              return_overflowing_tokens=True, return_offsets_mapping=True, padding=True, return_tensors="pt")
    offsets = enc.pop("offset_mapping")
    enc.pop("overflow_to_sample_mapping", None)
    best = ("", 0, 0, -1.0)
    for w in range(enc["input_ids"].shape[0]):
        ctx.check_cancelled()
        window = {k: v[w:w + 1].to(device) for k, v in enc.items()}
        with torch.inference_mode():
            out = model(**window)
        seq_ids = enc.sequence_ids(w)
        in_context = torch.tensor([sid == 1 for sid in seq_ids])
        start_logits = out.start_logits[0].float().cpu().masked_fill(~in_context, -1e9)
        end_logits = out.end_logits[0].float().cpu().masked_fill(~in_context, -1e9)
        start_p = torch.softmax(start_logits, -1)
        end_p = torch.softmax(end_logits, -1)
        scores = torch.triu(start_p[:, None] * end_p[None, :])  # end >= start
        scores = torch.tril(scores, diagonal=max_answer_tokens - 1)  # at most max_answer_tokens long
        flat = int(torch.argmax(scores))
        i, j = divmod(flat, scores.shape[1])
        score = float(scores[i, j])
        if score > best[3]:
            s_char, e_char = int(offsets[w][i][0]), int(offsets[w][j][1])
            best = (context[s_char:e_char], s_char, e_char, score)
    return best


def answer(ctx: JobContext, context: str, question: str, model: str | None = None, *,
           max_new_tokens: int = 32, allow_pickle: bool = False, trust_remote_code: bool = False) -> Answer:
    """Answer `question` from the passage `context`."""
    context = (context or "").strip()
    question = (question or "").strip()
    if not context:
        raise InputError("Paste a passage to answer the question from.")
    if not question:
        raise InputError("Type a question about the passage.")
    if len(context) > MAX_CONTEXT_CHARS:
        raise InputError(f"The passage is too long ({len(context):,} characters; the limit is "
                         f"{MAX_CONTEXT_CHARS:,}): paste the part that holds the answer.")
    model_id = (model or "").strip() or BUNDLED_ID
    if model_id != BUNDLED_ID:
        folder = models.local_folder(model_id, ctx)
        models.check_weights_safe(folder, allow_pickle, trust_remote_code)
        if _is_extractive(folder):
            from playground.core import devices

            key = ("question-answering", model_id, devices.choose_device(), bool(trust_remote_code))
            loaded = models.cache.get(key, lambda: _load_extractive(model_id, folder, trust_remote_code),
                                      size=lambda v: models.estimate_size(v[0]))
            ctx.check_cancelled()
            text, start, end, score = extract_span(loaded, question, context, ctx)
            stripped = text.strip()
            start += len(text) - len(text.lstrip())
            return Answer(question, stripped, start, start + len(stripped), score, model_id)
    # transformers, not the int8 fast path: answers are a few tokens (speed matters little), and int8 rounding
    # turned the bundled model's "Rosa Vance" into a full sentence (tests/e2e/test_offline_text.py)
    gen = generation.load_generator(model_id, ctx, allow_pickle=allow_pickle, trust_remote_code=trust_remote_code,
                                    backend="transformers")
    ctx.check_cancelled()
    # An answer copies words from the passage: no repetition penalty or n-gram block (they count the prompt).
    exact = {"repetition_penalty": 1.0, "no_repeat_ngram_size": 0}
    if gen.has_chat_template:
        result = generation.generate_with(ctx, gen, messages=build_messages(context, question),
                                          max_new_tokens=max_new_tokens, temperature=0, **exact)
    else:  # a plain language model: the same one-shot example as text
        prompt = (f"{_user_message(EXAMPLE_PASSAGE, EXAMPLE_QUESTION)}\nAnswer: {EXAMPLE_ANSWER}\n\n"
                  f"{_user_message(EXAMPLE2_PASSAGE, EXAMPLE2_QUESTION)}\nAnswer: {EXAMPLE2_ANSWER}\n\n"
                  f"{_user_message(context, question)}\nAnswer:")
        result = generation.generate_with(ctx, gen, prompt, max_new_tokens=max_new_tokens, temperature=0, **exact)
    ctx.check_cancelled()
    text = clean_answer(result.text)
    if not text:
        raise ModelError(f"'{model_id}' gave no answer to the question.")
    span = find_span(context, text)
    return Answer(question, text, span[0] if span else None, span[1] if span else None, None, model_id)
