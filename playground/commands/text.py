"""`playground text TASK ...`: the text tasks, each task in a `_text_*.py` module here."""

from __future__ import annotations

import importlib
import pkgutil


def register(sub) -> None:
    import playground.commands as pkg

    parser = sub.add_parser("text", help="text tasks: embed, zero-shot, similar, classify, generate, ...")
    tasks = parser.add_subparsers(dest="text_command", metavar="TASK", parser_class=type(parser))
    tasks.required = True
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if info.name.startswith("_text_"):
            importlib.import_module(f"playground.commands.{info.name}").register(tasks)
