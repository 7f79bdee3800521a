"""Choosing the compute device: CUDA, else Apple MPS, else the CPU.

torch is imported inside the functions, so importing this module is cheap and
the UI thread never pays for it.
"""

from __future__ import annotations

import contextlib
import os
import platform
import sys
import threading
from dataclasses import asdict, dataclass

from playground.core.errors import DeviceError

VALID_PREFERENCES = ("auto", "cpu", "cuda", "mps")
_preference = os.environ.get("PLAYGROUND_DEVICE", "auto")


@dataclass(frozen=True)
class DeviceInfo:
    name: str
    type: str  # "cpu" | "cuda" | "mps"
    index: int | None
    memory_total: int | None  # bytes
    memory_free: int | None  # bytes
    dtype: str  # the dtype models use on it by default

    @property
    def torch_device(self) -> str:
        return f"{self.type}:{self.index}" if self.type == "cuda" and self.index is not None else self.type

    def to_dict(self) -> dict:
        return asdict(self) | {"device": self.torch_device}


def set_preference(pref: str | None) -> None:
    """The user's override (setting or `--device`); validated when used."""
    global _preference
    _preference = (pref or "auto").lower()


def get_preference() -> str:
    return _preference


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "CPU"


def _cpu_memory() -> tuple[int | None, int | None]:
    try:
        page = os.sysconf("SC_PAGE_SIZE")
        return page * os.sysconf("SC_PHYS_PAGES"), page * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None, None


def _mps_available(torch) -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def list_devices() -> list[DeviceInfo]:
    """Every device torch can use here, best first."""
    import torch

    found: list[DeviceInfo] = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            try:
                free, total = torch.cuda.mem_get_info(i)
            except Exception:  # an older driver: report total only
                free, total = None, torch.cuda.get_device_properties(i).total_memory
            found.append(DeviceInfo(torch.cuda.get_device_name(i), "cuda", i, total, free, gpu_dtype_name(torch, i)))
    if _mps_available(torch):
        total, free = _cpu_memory()  # unified memory
        found.append(DeviceInfo("Apple GPU (MPS)", "mps", None, total, free, "float16"))
    total, free = _cpu_memory()
    found.append(DeviceInfo(_cpu_name(), "cpu", None, total, free, "float32"))
    return found


def gpu_dtype_name(torch, index: int = 0) -> str:
    """bf16 where the GPU does it natively (Ampere+), else fp16."""
    try:
        if torch.cuda.is_bf16_supported():
            return "bfloat16"
    except Exception:
        pass
    return "float16"


_forced = threading.local()  # a device this thread's job must use (the CPU after a GPU ran out)


@contextlib.contextmanager
def forced(device: str):
    """Within the block, `choose_device` on this thread answers `device` whatever is preferred."""
    before = getattr(_forced, "device", None)
    _forced.device = device
    try:
        yield
    finally:
        _forced.device = before


def forced_device() -> str | None:
    return getattr(_forced, "device", None)


def choose_device(preference: str | None = None) -> str:
    """A torch device string for the preference ("auto" picks the best one)."""
    if forced_device():
        return forced_device()
    import torch

    pref = (preference or _preference or "auto").lower()
    if pref not in VALID_PREFERENCES and not pref.startswith("cuda:"):
        raise DeviceError(f"Unknown device '{pref}': use one of {', '.join(VALID_PREFERENCES)}.")
    if pref == "auto":
        if torch.cuda.is_available():
            return "cuda:0"
        if _mps_available(torch):
            return "mps"
        return "cpu"
    if pref.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceError("CUDA was requested but no CUDA GPU is available; choose 'cpu' or 'auto'.")
        return "cuda:0" if pref == "cuda" else pref
    if pref == "mps" and not _mps_available(torch):
        raise DeviceError("Apple MPS was requested but is not available on this machine; choose 'cpu' or 'auto'.")
    return pref


def imported(name: str):
    """The module `name` if it is imported *and* initialised, else None; never imports it.

    While another thread is still importing a module, `sys.modules` already holds it half
    built (its spec's `_initializing` flag is set) and reading an attribute raises "partially
    initialized module": a lane that fails while another lane imports torch must not turn its
    own error into that one.
    """
    module = sys.modules.get(name)
    if module is None or getattr(getattr(module, "__spec__", None), "_initializing", False):
        return None
    return module


def is_out_of_memory(exc: BaseException) -> bool:
    """A GPU out-of-memory error: torch's, or a RuntimeError that says so (MPS, CTranslate2)."""
    # By the class, not through the torch module: torch may be half imported by another lane.
    if any(c.__name__ == "OutOfMemoryError" and c.__module__.split(".")[0] == "torch" for c in type(exc).__mro__):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def free_gpu_memory() -> None:
    torch = imported("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def dtype_for(device: str, allow_half: bool = True):
    """The dtype a model should run in on `device`: half on GPUs, fp32 on the CPU."""
    import torch

    if not allow_half or device == "cpu":
        return torch.float32
    if device.startswith("cuda"):
        return torch.bfloat16 if gpu_dtype_name(torch) == "bfloat16" else torch.float16
    return torch.float16  # mps


def format_bytes(n: int | None) -> str:
    if n is None:
        return "unknown"
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


@dataclass(frozen=True)
class Report:
    """What the status bar and the About box show; built on the worker thread."""

    chosen: DeviceInfo
    devices: list[DeviceInfo]
    torch_version: str
    cuda_version: str | None


def report(ctx=None, preference: str | None = None) -> Report:
    import torch

    found = list_devices()
    try:
        chosen_name = choose_device(preference)
    except DeviceError:
        chosen_name = "cpu"  # the status bar still shows something true
    kind = chosen_name.split(":")[0]
    chosen = next((d for d in found if d.torch_device == chosen_name or (d.type == kind and kind != "cuda")), found[-1])
    return Report(chosen, found, torch.__version__, torch.version.cuda)
