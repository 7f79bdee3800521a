"""The headless command line: the same engine as the app, no window, no Qt.

Feature commands live in `playground/commands/*.py`; each module has
`register(subparsers)` and sets `func` on its parsers. Output is JSON with
`--json`. Errors: one line on stderr; exit 2 for usage, 1 for failures.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import pkgutil
import sys
from collections.abc import Sequence
from pathlib import Path

from playground import __version__
# The exit codes stay readable as cli.EXIT_* (the `playground` command's contract).
from playground.commands.common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError, fail, print_json  # noqa: F401
from playground.core.errors import Cancelled, PlaygroundError, friendly_message
from playground.core.wording import plural


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line on stderr and exit 2."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


APP_USAGE = "playground [options] [FILE ...]\n       playground [options] COMMAND ..."
FILES_HELP = ("FILE ...: open the window with these files, routed like a drop: images to the Image tab, "
              "audio to Speech, tables and class folders to Train. A file named like a command: ./NAME.")


def build_parser(with_commands: bool = True) -> argparse.ArgumentParser:
    parser = _Parser(prog="playground", usage=APP_USAGE, epilog=FILES_HELP,
                     description="Model Playground: try, compare and fine-tune AI models.")
    parser.add_argument("--version", action="version", version=f"playground {__version__}")
    parser.add_argument("--device", default=None, help="compute device: auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    parser.add_argument("--quit-after-show", action="store_true",
                        help="open the main window and exit as soon as it is painted (start-up timing)")
    if not with_commands:
        parser.add_argument("files", nargs="*", metavar="FILE", help="files or folders to open in the window")
        parser.set_defaults(command=None)
        return parser
    # prog: sub-commands are "playground NAME" (the custom usage above would otherwise prefix them)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser, prog="playground")

    p = sub.add_parser("devices", help="list compute devices")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_devices)

    p = sub.add_parser("models", help="list the model catalog")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--task", default=None, help="only models for this task")
    p.set_defaults(func=cmd_models)

    for module in _command_modules():
        module.register(sub)
    return parser


def _command_modules():
    """Every feature's command module; `_*` modules and `common` are helpers the commands share."""
    import playground.commands as pkg

    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if not info.name.startswith("_") and info.name != "common":
            yield importlib.import_module(f"playground.commands.{info.name}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def parse_app_args(argv: Sequence[str] | None = None) -> argparse.Namespace | None:
    """The app's own options when no sub-command is given, without importing every
    command module (that would slow the window's start-up); None otherwise."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if {"-h", "--help", "--version"} & set(args_list):
        return None
    parser = build_parser(with_commands=False)
    args, rest = parser.parse_known_intermixed_args(args_list)
    if args.files and not is_file_argument(args.files[0]):
        return None  # a sub-command (or a mistyped one: the full parser says so)
    if rest:
        if not args.files:
            return None
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    return args


def command_names() -> set[str]:
    """The sub-command names (imports every command module: only asked when a bare name is ambiguous)."""
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return set(sub.choices)


def is_file_argument(token: str) -> bool:
    """`playground FILE...`: is this first positional a path to open, not a sub-command?

    A path with a separator (`./transcribe`, `/tmp/a.wav`) or a suffix (`cat.png`; no command
    has a dot) is a file, found or not; a bare existing name is a file unless it is a command.
    """
    if os.sep in token or (os.altsep and os.altsep in token) or Path(token).suffix:
        return True
    return os.path.exists(token) and token not in command_names()


# -- built-in commands ----------------------------------------------------------


def cmd_devices(args) -> int:
    from playground.core import devices

    found = devices.list_devices()
    if args.json:
        print_json([d.to_dict() for d in found])
        return EXIT_OK
    chosen = devices.choose_device()
    for d in found:
        mark = "*" if d.torch_device == chosen else " "
        print(f"{mark} {d.torch_device:8} {d.name}  memory {devices.format_bytes(d.memory_total)} "
              f"(free {devices.format_bytes(d.memory_free)})  dtype {d.dtype}")
    return EXIT_OK


def cmd_models(args) -> int:
    from playground.core import tasks
    from playground.core.devices import format_bytes

    if args.task and args.task not in tasks.ids():
        raise UsageError(f"unknown task '{args.task}'; tasks: {', '.join(tasks.ids())}")
    entries = tasks.catalog(args.task)
    if args.json:
        print_json([e.to_dict() for e in entries])
        return EXIT_OK
    for e in entries:
        state = "available" if e.available else f"not available ({e.unavailable_reason})"
        size = format_bytes(e.size_bytes) if e.size_bytes else "-"
        print(f"{e.task:22} {e.id:58} {e.source:9} {size:>9}  {e.licence}  {state}")
    return EXIT_OK


def check_input_paths(args: argparse.Namespace) -> None:
    """A missing input fails in a moment, before any model loads (seconds, for some).

    Commands name their input arguments with `set_defaults(input_paths={dest: noun})`
    (and may check their other options first with `set_defaults(check_options=fn)`).
    A list of inputs fails here only when none of them exists: with some there, the
    missing ones are rows of the batch's per-input errors, as any unreadable input is.
    URLs are left to the download. `finetune --print-launch` only prints commands for
    another machine, whose data need not exist here.
    """
    from playground.core.errors import InputError

    if getattr(args, "print_launch", False):
        return
    for dest, noun in getattr(args, "input_paths", {}).items():
        value = getattr(args, dest, None)
        paths = [value] if isinstance(value, str) else list(value or [])
        missing = [p for p in paths
                   if not p.startswith(("http://", "https://")) and not os.path.exists(os.path.expanduser(p))]
        if missing and len(missing) == len(paths):
            raise InputError(f"{missing[0]}: {noun} not found."
                             + (f" (nor {plural(len(missing) - 1, 'other')})" if len(missing) > 1 else ""))


def run(args: argparse.Namespace) -> int:
    """Run a parsed sub-command with consistent errors and exit codes."""
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    if args.debug:  # --debug also writes the rotating log file (tokens masked)
        from playground import logsetup

        logsetup.setup_logging(logging.DEBUG)
    try:
        if getattr(args, "check_options", None) is not None:  # usage errors first (exit 2)
            args.check_options(args)
        check_input_paths(args)
        if args.device:
            from playground.core import devices

            devices.set_preference(args.device)
            devices.choose_device()  # validate early: one clear line if unavailable
        return int(args.func(args) or 0)
    except UsageError as exc:
        sys.stderr.write(f"playground: error: {exc}\n")
        return EXIT_USAGE
    except Cancelled:
        return fail("cancelled")
    except KeyboardInterrupt:
        return fail("interrupted")
    except PlaygroundError as exc:
        if args.debug:
            raise
        return fail(str(exc))
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:
        if args.debug:
            raise
        return fail(friendly_message(exc))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.command is None:
        raise UsageError("no command given")
    return run(args)
