"""Typed errors whose message is one sentence a user can act on."""

from __future__ import annotations


class PlaygroundError(Exception):
    """Base for expected failures: the message is shown to the user as is."""


class Cancelled(PlaygroundError):
    """The user cancelled the job; not a failure."""

    def __init__(self, message: str = "Cancelled.") -> None:
        super().__init__(message)


class DeviceError(PlaygroundError):
    """A requested compute device is not available."""


class ModelError(PlaygroundError):
    """A model could not be found, downloaded or loaded."""


class UnsafeModelError(ModelError):
    """Loading the model would run code or unpickle data the user did not allow."""


class InputError(PlaygroundError):
    """The user's input (file, text, data set) cannot be used."""


def friendly_message(exc: BaseException) -> str:
    """One readable line for any exception, for the UI's error signal and the CLI."""
    if isinstance(exc, PlaygroundError):
        return str(exc) or type(exc).__name__
    if isinstance(exc, MemoryError):
        return "Out of memory: try a smaller model, a smaller batch or the CPU."
    if type(exc).__name__ == "OutOfMemoryError" or "out of memory" in str(exc).lower()[:200]:
        # torch.cuda.OutOfMemoryError (a RuntimeError), CTranslate2's "CUDA failed ... out of memory"
        return "Out of GPU memory: try a smaller batch, a smaller model or the CPU (Settings > Device)."
    if isinstance(exc, FileNotFoundError):
        name = exc.filename or str(exc)
        return f"File not found: {name}"
    if isinstance(exc, PermissionError):
        return f"Permission denied: {exc.filename or exc}"
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
