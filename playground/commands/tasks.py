"""`playground tasks [--json] [--tab TAB]`: the task registry with each task's default and models.

The same table feeds every model picker and the Settings dialog, so this is
what the window offers: with `--json`, a list of `{"id", "label", "tab",
"input", "needs", "default", "settings_key", "models": [{"id", "name",
"source", "available"}]}`.
"""

from __future__ import annotations

from playground.commands import common

TABS = ("text", "image", "speech", "engine")


def register(sub) -> None:
    p = sub.add_parser("tasks", help="list the tasks the app offers, with their default and available models")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--tab", choices=TABS, default=None, help="only the tasks of one tab")
    p.set_defaults(func=cmd_tasks)


def cmd_tasks(args) -> int:
    from playground.core import tasks

    rows = [r for r in tasks.listing() if args.tab is None or r["tab"] == args.tab]
    if args.json:
        common.print_json(rows)
        return common.EXIT_OK
    for r in rows:
        ready = [m["id"] for m in r["models"] if m["available"]]
        print(f"{r['id']:26} {r['tab']:7} {r['label']:20} default: {r['default'] or '-':32} "
              f"{len(ready)} of {len(r['models'])} models ready")
    return common.EXIT_OK
