"""The app's log: a rotating file in the user's log folder, with secrets masked.

`setup_logging()` is called by `run_app` (and by the CLI only with `--debug`).
Every record that reaches the file goes through `SecretFilter`, which masks
Hugging Face tokens (`hf_...`) and any other value registered with
`add_secret()` (the token the user typed in Settings), in the message, its
arguments and the formatted traceback.
"""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path

from playground.core import paths

LOG_NAME = "playground.log"
MAX_BYTES = 2 * 1024 * 1024
BACKUPS = 3
FORMAT = "%(asctime)s %(levelname)-7s %(threadName)s %(name)s: %(message)s"

HF_TOKEN_RE = re.compile(r"hf_[A-Za-z0-9]{6,}")
MASK = "hf_***"

_secrets: set[str] = set()
_secrets_lock = threading.Lock()
_handler: logging.Handler | None = None
_buffer: _StartBuffer | None = None
_level = logging.INFO
_console = False


class _StartBuffer(logging.Handler):
    """Holds the records logged before the log file is open (logging.handlers, with socket and
    pickle, would cost the first paint; the file handler comes after it)."""

    def __init__(self, capacity: int = 100_000):
        super().__init__()
        self.capacity = capacity
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.records) < self.capacity:
            self.records.append(record)

    def flush_to(self, target: logging.Handler) -> None:
        for record in self.records:
            if record.levelno >= target.level:
                target.handle(record)
        self.records.clear()


def add_secret(value: str | None) -> None:
    """Mask this exact value in every later log record (e.g. a token that does not start with hf_)."""
    if value and len(value) >= 4:
        with _secrets_lock:
            _secrets.add(value)


def mask(text: str) -> str:
    text = HF_TOKEN_RE.sub(MASK, text)
    with _secrets_lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "***")
    return text


class SecretFilter(logging.Filter):
    """Rewrites a record so no token survives formatting: message, args and exception text."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep what we can
            message = str(record.msg)
        record.msg = mask(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask(record.exc_text)
        if record.stack_info:
            record.stack_info = mask(record.stack_info)
        return True


def log_file() -> Path:
    return paths.log_dir() / LOG_NAME


def start_buffering(level: int = logging.INFO, console: bool = False) -> None:
    """Keep log records in memory until `setup_logging()` opens the file.

    The app calls this first and opens the file just after the window's first
    paint: finding the user's log folder imports platformdirs, which start-up
    does not need to pay for.
    """
    global _buffer, _level, _console
    _level, _console = level, console
    if _buffer is None and _handler is None:
        _buffer = _StartBuffer()
        root = logging.getLogger()
        root.addHandler(_buffer)
        if root.level == logging.NOTSET or root.level > level:
            root.setLevel(level)


def is_ready() -> bool:
    """Whether records reach the log file (not just the start-up buffer)."""
    return _handler is not None


def setup_logging(level: int | None = None, console: bool | None = None) -> Path:
    """Install the rotating file handler on the root logger once; returns the log file's path."""
    global _handler
    level = _level if level is None else level
    console = _console if console is None else console
    root = logging.getLogger()
    target = log_file()
    if _handler is not None and getattr(_handler, "baseFilename", None) == str(target):
        root.setLevel(min(root.level or level, level))
        return target
    if _handler is not None:
        root.removeHandler(_handler)
        _handler.close()
    from logging.handlers import RotatingFileHandler

    handler = RotatingFileHandler(target, maxBytes=MAX_BYTES, backupCount=BACKUPS,
                                                   encoding="utf-8", delay=False)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(SecretFilter())
    handler.setLevel(level)
    # Handlers installed before us (the CLI's stderr under --debug) get the mask too.
    for existing in root.handlers:
        if not any(isinstance(f, SecretFilter) for f in existing.filters):
            existing.addFilter(SecretFilter())
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > level:
        root.setLevel(level)
    if console:
        stream = logging.StreamHandler()
        stream.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        stream.addFilter(SecretFilter())
        root.addHandler(stream)
    # Chatty libraries stay at warnings.
    for name in ("urllib3", "httpx", "httpcore", "filelock", "PIL", "numba", "matplotlib", "fsspec"):
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.captureWarnings(True)
    _handler = handler
    _flush_buffer(handler)
    return target


def _flush_buffer(target: logging.Handler) -> None:
    global _buffer
    if _buffer is not None:
        logging.getLogger().removeHandler(_buffer)
        _buffer.flush_to(target)  # records logged before the file was open, through the file's filter
        _buffer.close()
        _buffer = None


def shutdown_logging() -> None:
    """Remove and close the file handler (tests, and before the log folder moves)."""
    global _handler, _buffer
    if _buffer is not None:
        logging.getLogger().removeHandler(_buffer)
        _buffer.close()
        _buffer = None
    if _handler is not None:
        logging.getLogger().removeHandler(_handler)
        _handler.close()
        _handler = None


def tail(lines: int = 50) -> list[str]:
    """The last lines of the log (already masked when written)."""
    target = log_file()
    if _handler is not None:
        _handler.flush()
        target = Path(getattr(_handler, "baseFilename", target))
    try:
        with open(target, encoding="utf-8", errors="replace") as fh:
            data = fh.readlines()
    except OSError:
        return []
    return [line.rstrip("\n") for line in data[-lines:]]
