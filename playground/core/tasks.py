"""The one task registry: every task the app offers, and which models serve it.

In the spirit of transformers' `SUPPORTED_TASKS`: one record per task names
what input it takes, what kind of model fits it (checked against a model's
`config.architectures` before any weights load), its offline default, its
settings key, and the model kinds, fine-tuned models and Hub suggestions that
serve it. Every picker, the Settings dialog, the CLI's `tasks` and `models`
listings and the engine's fit checks read this table; nothing else keeps a
list of tasks or models.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from playground.core import models, paths
from playground.core.errors import InputError

# A model kind is what a catalog entry was made for (`ModelEntry.task`): the tasks
# below say which kinds serve them. Kinds are task ids, plus these engine-only ones.
ENCODER_ONLY = ("ForSequenceClassification", "ForTokenClassification", "ForMaskedLM", "ForPreTraining",
                "ForQuestionAnswering", "Model")
DECODER = ("ForCausalLM", "LMHeadModel")


@dataclass(frozen=True)
class Hub:
    """A well-known Hub model offered in the pickers (needs a network the first time)."""

    id: str
    name: str
    licence: str


@dataclass(frozen=True)
class Task:
    id: str
    label: str
    tab: str  # where the app offers it: "text" | "image" | "speech" | "engine"
    input: str  # what it takes, in words for listings: "text", "text + labels", "image", "audio" ...
    needs: str  # what kind of model fits, for the one-sentence refusal
    default: str | None = None  # the offline default model id
    kinds: tuple[str, ...] = ()  # model kinds (catalog tasks) that serve it
    hub: tuple[Hub, ...] = ()
    # Which fine-tuned or catalog entries of those kinds really fit (e.g. NLI labels for zero-shot).
    accepts: Callable[[models.ModelEntry], bool] | None = field(default=None, compare=False)
    # Architecture name endings that fit (empty: any); checked on config.json before loading.
    architectures: tuple[str, ...] = ()
    optional_model: bool = False  # the task runs with no model chosen (it picks one itself)
    # More model sources, as "module:function" returning ModelEntry lists: imported only when
    # the models are listed (torchvision weights), so the registry itself imports no torch.
    sources: tuple[str, ...] = ()
    train: str = ""  # the Train tab's job that makes models for this task ("image", "text", "charlm")
    also_train: tuple[str, ...] = ()  # more jobs that make them (text generation: the LoRA fine-tune, "lm")

    @property
    def settings_key(self) -> str:
        """Where the user's default model for this task is stored (Settings, all pickers)."""
        return f"models/default/{self.id}"

    def serves(self, entry: models.ModelEntry) -> bool:
        kinds = (entry.task, *entry.extra.get("also", ()))
        if self.id not in kinds and not any(k in self.kinds for k in kinds):
            return False
        return self.accepts(entry) if self.accepts is not None else True

    def to_dict(self) -> dict:
        return {"id": self.id, "label": self.label, "tab": self.tab, "input": self.input, "needs": self.needs,
                "default": self.default, "settings_key": self.settings_key, "train": self.train or None,
                "train_jobs": list(self.train_jobs)}

    @property
    def train_jobs(self) -> tuple[str, ...]:
        """Every Train tab job that makes models for this task (`train` first)."""
        return tuple(j for j in (self.train, *self.also_train) if j)


def _labels(entry: models.ModelEntry) -> list[str]:
    labels = entry.extra.get("labels")
    return [str(x) for x in labels] if isinstance(labels, list) else []


def _is_nli(entry: models.ModelEntry) -> bool:
    if entry.source == "finetuned":
        return any(label.lower().startswith("entail") for label in _labels(entry))
    return "nli" in entry.id.lower() or "nli" in entry.display_name.lower()


def _not_embedder_or_nli(entry: models.ModelEntry) -> bool:
    return entry.task == "text-classification" and not _is_nli(entry) and entry.source != "bundled"


def _embedder_or_nli(entry: models.ModelEntry) -> bool:
    return entry.task == "text-embedding" or (entry.task == "text-classification" and _is_nli(entry))


def _has_tokenizer(entry: models.ModelEntry) -> bool:
    # A char-level GPT has no subword tokenizer worth showing; spaCy, Bergamot, GGUF-only do not fit either.
    return entry.extra.get("kind") != "charlm" and entry.source in ("bundled", "finetuned", "hub") \
        and entry.task in ("text-embedding", "text-classification", "text-generation")


TASKS: tuple[Task, ...] = (
    # -- Text tab -------------------------------------------------------------------------------
    Task("zero-shot-classification", "Zero-shot labels", "text", "text + candidate labels",
         "a sentence-embedding model or an NLI model (entailment labels)", models.DEFAULT_EMBEDDER,
         kinds=("text-embedding", "text-classification"), accepts=_embedder_or_nli,
         hub=(Hub("facebook/bart-large-mnli", "BART large MNLI (zero-shot)", "MIT"),)),
    Task("semantic-search", "Semantic search", "text", "query + texts", "a sentence-embedding (encoder) model",
         models.DEFAULT_EMBEDDER, kinds=("text-embedding",)),
    Task("text-classification", "Classify", "text", "text", "a sequence-classification model", None,
         kinds=("text-classification",), accepts=_not_embedder_or_nli, architectures=("ForSequenceClassification",),
         sources=("playground.core.onnx_runtime:text_entries",),
         train="text",
         hub=(Hub("distilbert/distilbert-base-uncased-finetuned-sst-2-english", "DistilBERT SST-2 sentiment",
                  "Apache-2.0"),)),
    Task("text-generation", "Generate", "text", "prompt or chat", "a causal language model (GPT-like) or a GGUF file",
         "bundled/smollm2-135m-instruct", kinds=("text-generation",), architectures=DECODER, train="charlm", also_train=("lm",),
         hub=(Hub("openai-community/gpt2", "GPT-2 (124M)", "MIT"),
              Hub("HuggingFaceTB/SmolLM2-360M-Instruct", "SmolLM2-360M-Instruct", "Apache-2.0"))),
    Task("question-answering", "Answer", "text", "question + passage", "an extractive QA model or a chat model",
         "bundled/smollm2-135m-instruct", kinds=("question-answering",),
         accepts=lambda e: e.extra.get("kind") != "charlm",
         hub=(Hub("distilbert/distilbert-base-cased-distilled-squad", "DistilBERT SQuAD", "Apache-2.0"),)),
    Task("entities", "Entities", "text", "text", "a token-classification (NER) model or a spaCy pipeline",
         "bundled/spacy-en-core-web-sm", kinds=("entities",), architectures=("ForTokenClassification",),
         hub=(Hub("dslim/bert-base-NER", "BERT base NER", "MIT"),)),
    Task("translation", "Translate", "text", "text + language pair", "a Marian/OPUS-MT or Bergamot translation model",
         None, kinds=("translation",), optional_model=True,
         hub=(Hub("Helsinki-NLP/opus-mt-en-de", "OPUS-MT en->de", "CC-BY-4.0"),)),
    Task("summarization", "Summarize", "text", "text",
         "a sequence-to-sequence model (BART, T5, Pegasus ...) or a chat model", "bundled/smollm2-135m-instruct",
         kinds=("summarization", "text-generation"),
         accepts=lambda e: e.extra.get("kind") != "charlm" and not e.extra.get("base"),  # a base model follows no instructions
         hub=(Hub("sshleifer/distilbart-cnn-12-6", "DistilBART CNN 12-6", "Apache-2.0"),
              Hub("google-t5/t5-small", "T5 small", "Apache-2.0"))),
    Task("fill-mask", "Fill mask", "text", "text with [MASK]", "a masked language model (ForMaskedLM)", None,
         kinds=("fill-mask",), architectures=("ForMaskedLM", "ForPreTraining"),
         hub=(Hub("distilbert/distilroberta-base", "DistilRoBERTa base", "Apache-2.0"),
              Hub("google-bert/bert-base-uncased", "BERT base uncased", "Apache-2.0"))),
    Task("tokens", "Tokens", "text", "text", "a model with a tokenizer", models.DEFAULT_EMBEDDER,
         kinds=("text-embedding", "text-classification", "text-generation"), accepts=_has_tokenizer),
    Task("attention", "Attention", "text", "text", "an encoder or decoder transformer", models.DEFAULT_EMBEDDER,
         kinds=("text-embedding", "text-classification", "text-generation"), accepts=_has_tokenizer),
    # -- Image tab ------------------------------------------------------------------------------
    Task("image-classification", "Classify images", "image", "images", "an image-classification model",
         "bundled/efficientnet-lite0", kinds=("image-classification",), architectures=("ForImageClassification",),
         sources=("playground.core.torchvision_weights:classifier_entries", "playground.core.onnx_runtime:entries"), train="image",
         hub=(Hub("google/vit-base-patch16-224", "ViT base 224 (ImageNet)", "Apache-2.0"),)),
    Task("object-detection", "Objects", "image", "images", "an object-detection model", "bundled/yolov3-tiny",
         kinds=("object-detection",), architectures=("ForObjectDetection",),
         sources=("playground.core.torchvision_weights:detector_entries",),
         hub=(Hub("facebook/detr-resnet-50", "DETR ResNet-50", "Apache-2.0"),)),
    Task("face-detection", "Faces", "image", "images", "a face detector", "bundled/mtcnn", kinds=("face-detection",)),
    # -- Speech tab -----------------------------------------------------------------------------
    Task("speech-recognition", "Transcribe", "speech", "audio", "a Whisper model (faster-whisper or transformers)",
         "bundled/whisper-tiny.en", kinds=("speech-recognition",), architectures=("ForSpeechSeq2Seq", "ForCTC"),
         hub=(Hub("Systran/faster-whisper-small.en", "Whisper small.en (faster-whisper)", "MIT"),
              Hub("openai/whisper-base.en", "Whisper base.en (transformers)", "Apache-2.0"))),
    Task("audio-classification", "Sound classes", "speech", "audio", "a sound classifier trained in the Train tab",
         None, kinds=("audio-classification",), train="sound"),
    # -- engine parts other tasks use -------------------------------------------------------------
    Task("text-embedding", "Sentence embeddings", "engine", "texts", "a sentence-embedding (encoder) model",
         models.DEFAULT_EMBEDDER, kinds=("text-embedding",)),
    Task("voice-activity", "Voice activity", "engine", "audio", "a voice-activity detector", "bundled/silero-vad",
         kinds=("voice-activity",)),
)

_BY_ID = {t.id: t for t in TASKS}
# Names older versions (and some users' settings) used for the same tasks.
ALIASES = {"classify": "text-classification", "zero-shot": "zero-shot-classification", "search": "semantic-search",
           "embedding": "text-embedding", "summarize": "summarization", "object": "object-detection"}


def get(task_id: str) -> Task:
    """The task record; a one-sentence error naming the known tasks otherwise."""
    key = ALIASES.get(task_id, task_id)
    try:
        return _BY_ID[key]
    except KeyError:
        raise InputError(f"Unknown task '{task_id}'; tasks: {', '.join(ids())}.") from None


def ids(tab: str | None = None) -> list[str]:
    return [t.id for t in TASKS if tab is None or t.tab == tab]


def for_tab(tab: str) -> list[Task]:
    return [t for t in TASKS if t.tab == tab]


def hub_suggestions() -> list[tuple[str, str, str, str]]:
    """(repo id, task id, name, licence) of every suggested Hub model."""
    return [(h.id, t.id, h.name, h.licence) for t in TASKS for h in t.hub]


def trained_by(kind: str) -> Task:
    """The task whose models a Train tab job makes ("image", "text", "charlm", "lm" or "sound")."""
    for t in TASKS:
        if kind in t.train_jobs:
            return t
    raise InputError(f"Unknown training job '{kind}'.")


def default_model(task_id: str) -> str | None:
    return get(task_id).default


def preferred_model(task_id: str, served: Iterable[models.ModelEntry]) -> str | None:
    """The model a task starts on: its offline default, else (a task with no model shipped, such as
    Classify) the first available one of `served` (`models_for` order: yours before folders and
    downloads); None when there is none, or the task picks its own (Translate's "Automatic")."""
    task = get(task_id)
    if task.default or task.optional_model:
        return task.default
    return next((e.id for e in served if e.available), None)


# -- which models serve a task ---------------------------------------------------------------


def catalog(task: str | None = None, include_hub: bool = True, extra_folders: Iterable[str] = ()) -> list[models.ModelEntry]:
    """Every model the app knows: bundled, fine-tuned and local folders (and the suggested Hub
    models); for one task, the models that serve it according to this registry."""
    entries = models.bundled_entries() + models.finetuned_entries() + local_entries(extra_folders)
    if task is not None:
        served = models_for(task, entries)
        return served if include_hub else [e for e in served if e.source != "hub"]
    if include_hub:
        entries += [e for t in TASKS for e in models_for(t.id, []) if e.source == "hub"]
    return entries


def _hub_entry(task: Task, hub: Hub, cached: Callable[[str], Path | None]) -> models.ModelEntry:
    folder = cached(hub.id)
    return models.ModelEntry(hub.id, task.id, hub.name, "hub", hub.licence, "Hugging Face Hub model",
                             location=str(folder) if folder else None, available=folder is not None,
                             unavailable_reason="" if folder else "Not downloaded yet: needs a network "
                                                                  "connection once.")


def models_for(task_id: str, entries: Iterable[models.ModelEntry] | None = None,
               hub_cached: Callable[[str], Path | None] | None = None,
               sources: bool = True) -> list[models.ModelEntry]:
    """The models that serve a task: the offline default first, then bundled, yours, local, Hub.

    `entries` is a catalog snapshot (bundled, fine-tuned and local folders: `catalog()`
    by default); `hub_cached` tells whether a suggested Hub repo is downloaded (a look at the
    Hub cache by default).
    """
    task = get(task_id)
    pool = list(catalog(include_hub=False) if entries is None else entries)
    out = [e for e in pool if task.serves(e)]
    for source in task.sources if sources else ():
        out += _call_source(source)
    cached = hub_cached or models.hub_cached_folder
    out += [_hub_entry(task, h, cached) for h in task.hub]
    order = {"bundled": 0, "finetuned": 1, "local": 2, "torchvision": 3, "hub": 4}
    seen: set[str] = set()
    unique = []
    for e in sorted(out, key=lambda e: (e.id != task.default, order.get(e.source, 9))):
        if e.id not in seen:
            seen.add(e.id)
            unique.append(e)
    return unique


def _call_source(ref: str) -> list[models.ModelEntry]:
    import importlib
    import logging

    module, _, name = ref.partition(":")
    try:
        return list(getattr(importlib.import_module(module), name)())
    except Exception as exc:  # a broken optional source must not hide the other models
        logging.getLogger(__name__).warning("model source %s failed: %s", ref, exc)
        return []


# -- what a model folder is for -----------------------------------------------------------------


def fits_architectures(task_id: str, architectures: Iterable[str]) -> bool:
    """Whether a model with these `config.architectures` can do the task (no list: it may)."""
    task = get(task_id)
    archs = [str(a) for a in architectures]
    if not task.architectures or not archs:
        return True
    return any(a.endswith(task.architectures) for a in archs)


# Architecture name endings -> the task a model of that kind was made for.
_ARCH_KINDS = (
    ("ForSequenceClassification", "text-classification"),
    ("ForTokenClassification", "entities"),
    ("ForQuestionAnswering", "question-answering"),
    ("ForCausalLM", "text-generation"),
    ("LMHeadModel", "text-generation"),
    ("ForMaskedLM", "fill-mask"),
    ("ForImageClassification", "image-classification"),
    ("ForObjectDetection", "object-detection"),
    ("ForSpeechSeq2Seq", "speech-recognition"),
    ("ForCTC", "speech-recognition"),
    ("MTModel", "translation"),
    ("ForConditionalGeneration", "summarization"),
)


def guess_kind(folder: Path | None, repo_id: str = "") -> str:
    """The task a model folder (or suggested Hub repo) was made for, or "unknown"."""
    for repo, task_id, _name, _licence in hub_suggestions():
        if repo == repo_id:
            return task_id
    if folder is None or not folder.is_dir():
        return "unknown"
    marker = models.read_marker(folder)
    if marker and marker.get("task"):
        return str(marker["task"])
    config = folder / "config.json"
    if config.is_file():
        try:
            data = json.loads(config.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        data = data if isinstance(data, dict) else {}
        model_type = str(data.get("model_type", "")).lower()
        if "whisper" in model_type:
            return "speech-recognition"
        if model_type in ("marian", "fsmt") or any("MTModel" in str(a) for a in data.get("architectures") or []):
            return "translation"
        for arch in data.get("architectures") or []:
            for ending, kind in _ARCH_KINDS:
                if str(arch).endswith(ending):
                    return kind
        if (folder / "sentence_bert_config.json").is_file() or (folder / "modules.json").is_file():
            return "text-embedding"
    vocabulary = (folder / "vocabulary.txt").exists() or (folder / "vocabulary.json").exists()
    if (folder / "model.bin").is_file() and vocabulary:
        return "speech-recognition"  # a CTranslate2 (faster-whisper) conversion
    try:
        if any(p.suffix == ".gguf" for p in folder.iterdir() if p.is_file()):
            return "text-generation"
    except OSError:
        pass
    return "unknown"


_MODEL_FILES = ("config.json", "model.safetensors", "pytorch_model.bin", "model.bin", "tokenizer.json",
                models.FINETUNED_MARKER)
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf", ".onnx", ".ckpt")


def looks_like_model(folder: Path) -> bool:
    try:
        names = [p.name for p in folder.iterdir()]
    except OSError:
        return False
    return any(n in _MODEL_FILES for n in names) or any(n.endswith(_WEIGHT_SUFFIXES) for n in names)


def local_entries(extra_folders: Iterable[str] = ()) -> list[models.ModelEntry]:
    """Model folders that are not fine-tuned here: in the models folder, or added by path."""
    root = paths.models_dir()
    try:
        inside = [p for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith(".")]
    except OSError:
        inside = []
    out, seen = [], set()
    for folder in inside + [Path(f).expanduser() for f in extra_folders]:
        try:
            key = folder.resolve()
        except OSError:
            continue
        if key in seen or not folder.is_dir() or models.read_marker(folder) is not None:
            continue
        seen.add(key)
        if not looks_like_model(folder):
            continue
        out.append(models.ModelEntry(str(folder), guess_kind(folder), folder.name, "local", "see the folder",
                                     "A model folder on this computer", location=str(folder), available=True))
    return out


def listing(entries: Iterable[models.ModelEntry] | None = None,
            hub_cached: Callable[[str], Path | None] | None = None) -> list[dict]:
    """`playground tasks --json`: every task with its default and the models that serve it."""
    pool = list(catalog(include_hub=False) if entries is None else entries)
    out = []
    for task in TASKS:
        served = models_for(task.id, pool, hub_cached)
        out.append(task.to_dict() | {"default": preferred_model(task.id, served),
            "models": [{"id": e.id, "name": e.display_name, "source": e.source, "available": e.available}
                       for e in served]})
    return out


def snapshot(ctx=None, extra_folders: Iterable[str] = ()) -> dict[str, list[models.ModelEntry]]:
    """Every task's model list from one look at the disk (a job: the model store's rescan)."""
    pool = catalog(include_hub=False, extra_folders=extra_folders)
    seen: dict[str, Path | None] = {}

    def cached(repo_id: str) -> Path | None:
        if repo_id not in seen:
            seen[repo_id] = models.hub_cached_folder(repo_id)
        return seen[repo_id]

    return {t.id: models_for(t.id, pool, cached) for t in TASKS}
