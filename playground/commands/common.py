"""What every sub-command shares: exit codes, the usage error, argparse types, JSON output,
the one-line failure and Ctrl+C as a cancel flag.

`playground.cli` builds the parser, registers the command modules and runs them; the command
modules import only this module from the CLI side, so the dependency goes one way (cli -> commands).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    pass


def at_least_one(text: str) -> int:
    """argparse type for counts (--top-k, --batch-size): a usage error before any input is read."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: '{text}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def share(text: str) -> float:
    """argparse type for a share strictly between 0 and 1 (--val-share)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid float value: '{text}'") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def print_json(data) -> None:
    json.dump(data, sys.stdout, ensure_ascii=False, indent=None if isinstance(data, dict) else 2, default=str)
    sys.stdout.write("\n")
    sys.stdout.flush()


def print_json_line(data) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def fail(message: str) -> int:
    sys.stderr.write(f"playground: error: {message}\n")
    sys.stderr.flush()
    return EXIT_FAILURE


def cancel_on_sigint() -> threading.Event:
    """Ctrl+C sets a cancel flag (jobs stop at their next check) instead of a traceback."""
    flag = threading.Event()

    def handler(signum, frame):
        if flag.is_set():
            raise KeyboardInterrupt
        flag.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, handler)
    return flag
