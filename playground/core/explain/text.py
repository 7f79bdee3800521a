"""Which words made a text classifier (or a zero-shot label) win: Captum's LayerIntegratedGradients on the
model's input embeddings.

Integrated gradients add up, over the tokens, to the difference between the class's score for the text
and for a baseline (the same text with every word replaced by padding, special tokens kept); Captum
reports how far the numeric integral misses that sum (the convergence delta). The delta relative to the
difference is the trust badge: a big miss means the attributions are not to be read closely (more steps
help).

- Classifiers: the target is the class's logit.
- Zero-shot with a sentence embedder: the label's logit is the scaled cosine similarity of the text's
  pooled embedding and the label sentence's (the labels' embeddings held fixed), as `text.zero_shot` scores.
- Zero-shot with an NLI model: the entailment logit of (text, label sentence); only the text's words move.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from playground.core import text as text_core
from playground.core.errors import InputError, ModelError
from playground.core.jobs import JobContext

METHOD = "integrated-gradients"
STEPS = 50
GOOD_DELTA = 0.05  # |delta| below this share of the score difference reads "good"


@dataclass(frozen=True)
class TokenScore:
    token: str  # the tokenizer's piece, as the tokenizer shows it
    score: float  # its share of the score difference (positive: for the label)
    start: int  # character span in the text
    end: int

    def to_dict(self) -> dict:
        return {"token": self.token, "score": round(self.score, 6)}


@dataclass
class TextExplanation:
    text: str
    label: str
    probability: float
    tokens: list[TokenScore]  # special tokens left out (they equal the baseline's: zero by construction)
    delta: float  # Captum's convergence delta: sum of attributions - (score - baseline score)
    score: float  # the label's logit for the text
    baseline_score: float  # ... and for the baseline
    model: str
    method: str = METHOD
    labels: list[str] = field(default_factory=list)

    @property
    def relative_delta(self) -> float:
        return abs(self.delta) / max(abs(self.score - self.baseline_score), 1e-6)

    @property
    def trust(self) -> str:
        """"good" when the attributions add up to the score difference within GOOD_DELTA of it, else "low"."""
        return "good" if self.relative_delta <= GOOD_DELTA else "low"

    def top(self, n: int = 1) -> list[TokenScore]:
        return sorted(self.tokens, key=lambda t: -t.score)[:n]

    def to_dict(self) -> dict:
        return {"text": self.text, "label": self.label, "method": self.method,
                "attributions": [t.to_dict() for t in self.tokens], "delta": self.delta,
                "trust": self.trust}


def _pick(labels: list[str], label: str | None, scores) -> int:
    if label is None:
        return int(scores.argmax())
    if label in labels:
        return labels.index(label)
    folded = [x.casefold() for x in labels]
    if label.casefold() in folded:
        return folded.index(label.casefold())
    raise InputError(f"'{label}' is not one of the labels ({', '.join(labels[:8])}{', ...' if len(labels) > 8 else ''}).")


def _integrate(embeddings, forward, ids, baseline, extra: tuple, target: int, steps: int):
    """(attributions per token, delta) from LayerIntegratedGradients, gradients on whatever thread calls."""
    import torch
    from captum.attr import LayerIntegratedGradients

    with torch.inference_mode(False), torch.enable_grad():
        lig = LayerIntegratedGradients(forward, embeddings)
        attr, delta = lig.attribute(ids, baselines=baseline, additional_forward_args=extra, target=target,
                                    n_steps=steps, internal_batch_size=16, return_convergence_delta=True)
    return attr.sum(-1)[0].detach().float().cpu(), float(delta[0])


def _tokens(tokenizer, enc, scores, moving) -> list[TokenScore]:
    ids = enc["input_ids"][0].tolist()
    offsets = enc["offset_mapping"][0].tolist()
    pieces = tokenizer.convert_ids_to_tokens(ids)
    return [TokenScore(pieces[i], float(scores[i]), int(offsets[i][0]), int(offsets[i][1]))
            for i in range(len(ids)) if moving[i]]


def _baseline(tokenizer, ids, moving):
    import torch

    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    return torch.where(torch.tensor(moving, device=ids.device)[None], torch.full_like(ids, pad), ids)


def explain_classification(ctx: JobContext, text: str, model: str, label: str | None = None,
                           steps: int = STEPS, trust_remote_code: bool = False) -> TextExplanation:
    """Token attributions of a sequence classifier for `label` (default: its top class)."""
    text = text_core.clean_texts([text])[0]
    if (model or "").strip().lower().endswith(".onnx"):
        raise ModelError("Word attributions need the model's gradients; an ONNX export has none: "
                         "explain the folder it was exported from.")
    src = text_core.model_source(model, ctx, trust_remote_code=trust_remote_code)
    config = text_core.check_fit(src, "text-classification")
    tokenizer = text_core.load_tokenizer(src)
    net = text_core.load_sequence_classifier(src, ctx)
    limit = text_core.model_limit(src, tokenizer, config)
    enc = tokenizer(text, truncation=True, max_length=limit, return_tensors="pt", return_offsets_mapping=True,
                    return_special_tokens_mask=True)
    ids = enc["input_ids"].to(net.device)
    mask = enc["attention_mask"].to(net.device)
    moving = [not s for s in enc["special_tokens_mask"][0].tolist()]
    labels = [str(net.config.id2label.get(k, f"LABEL_{k}")) for k in range(net.config.num_labels)]
    return _explain_logits(ctx, text, src.model_id, net, tokenizer, enc, ids, mask, moving, labels, label, steps,
                           lambda logits: logits)


def _explain_logits(ctx, text, model_id, net, tokenizer, enc, ids, mask, moving, labels, label, steps, head):
    import torch

    def forward(input_ids, attention_mask):
        return head(net(input_ids=input_ids, attention_mask=attention_mask).logits.float())

    base = _baseline(tokenizer, ids, moving)
    with torch.inference_mode():
        scores = forward(ids, mask)[0]
        base_scores = forward(base, mask)[0]
    target = _pick(labels, label, scores)
    ctx.check_cancelled()
    ctx.progress(None, f"Integrated gradients for '{labels[target]}'")
    attr, delta = _integrate(net.get_input_embeddings(), forward, ids, base, (mask,), target, steps)
    return TextExplanation(text, labels[target], float(scores.softmax(-1)[target]), _tokens(tokenizer, enc, attr, moving), delta,
                           float(scores[target]), float(base_scores[target]), model_id, labels=labels)


def explain_zero_shot(ctx: JobContext, text: str, labels, label: str | None = None, model: str | None = None,
                      template: str = text_core.DEFAULT_TEMPLATE, steps: int = STEPS,
                      trust_remote_code: bool = False) -> TextExplanation:
    """Token attributions for one zero-shot label (default: the best), scored as `text.zero_shot` scores."""
    import torch

    text = text_core.clean_texts([text])[0]
    labels = text_core.parse_labels(labels)
    template = (template or "").strip() or "{}"
    if "{}" not in template:
        raise InputError("The label template must contain {} where the label goes, e.g. 'This text is about {}.'")
    src = text_core.model_source(model, ctx, trust_remote_code=trust_remote_code)
    config = text_core.check_fit(src, "zero-shot-classification")
    tokenizer = text_core.load_tokenizer(src)
    if any(a.endswith("ForSequenceClassification") for a in config.get("architectures") or []):
        return _zero_shot_nli(ctx, text, labels, label, template, src, config, tokenizer, steps)
    enc_model = text_core.load_encoder(src.model_id, ctx, task="zero-shot-classification",
                                       trust_remote_code=trust_remote_code)
    label_vecs, _ = enc_model.encode([template.format(x) for x in labels], ctx)
    net = enc_model.model
    lv = torch.from_numpy(label_vecs).to(net.device)
    enc = tokenizer(text, truncation=True, max_length=enc_model.max_tokens, return_tensors="pt",
                    return_offsets_mapping=True, return_special_tokens_mask=True)
    ids, mask = enc["input_ids"].to(net.device), enc["attention_mask"].to(net.device)
    moving = [not s for s in enc["special_tokens_mask"][0].tolist()]

    def forward(input_ids, attention_mask):
        hidden = net(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state.float()
        if enc_model.pooling == "cls":
            pooled = hidden[:, 0]
        else:
            m = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=1) @ lv.float().T * text_core.ZERO_SHOT_SCALE

    base = _baseline(tokenizer, ids, moving)
    with torch.inference_mode():
        scores = forward(ids, mask)[0]
        base_scores = forward(base, mask)[0]
    target = _pick(labels, label, scores)
    ctx.progress(None, f"Integrated gradients for '{labels[target]}'")
    attr, delta = _integrate(net.get_input_embeddings(), forward, ids, base, (mask,), target, steps)
    return TextExplanation(text, labels[target], float(scores.softmax(-1)[target]),
                           _tokens(tokenizer, enc, attr, moving), delta, float(scores[target]),
                           float(base_scores[target]), src.model_id, labels=labels)


def _zero_shot_nli(ctx, text, labels, label, template, src, config, tokenizer, steps) -> TextExplanation:
    """NLI zero-shot: the entailment logit of (text, hypothesis); the label with the best one by default."""
    import torch

    net = text_core.load_sequence_classifier(src, ctx)
    entail = text_core.nli_entailment_index(config)
    best, chosen = None, None
    for name in labels if label is None else [labels[_pick(labels, label, torch.zeros(len(labels)))]]:
        enc = tokenizer(text, template.format(name), truncation="only_first", return_tensors="pt",
                        return_offsets_mapping=True, return_special_tokens_mask=True)
        ids, mask = enc["input_ids"].to(net.device), enc["attention_mask"].to(net.device)
        with torch.inference_mode():
            logit = float(net(input_ids=ids, attention_mask=mask).logits[0, entail])
        if best is None or logit > best:
            best, chosen = logit, (name, enc, ids, mask)
    name, enc, ids, mask = chosen
    sequence = enc.sequence_ids(0) if hasattr(enc, "sequence_ids") else [0] * ids.shape[1]
    moving = [s == 0 and not special for s, special in zip(sequence, enc["special_tokens_mask"][0].tolist())]
    result = _explain_logits(ctx, text, src.model_id, net, tokenizer, enc, ids, mask, moving,
                             [str(i) for i in range(net.config.num_labels)], str(entail), steps, lambda logits: logits)
    result.label, result.labels = name, labels
    return result
