"""`playground` (and `python -m playground`): the app, or a CLI command."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from playground import cli

    args = cli.parse_app_args(argv) or cli.parse_args(argv)
    if args.command is None:
        from playground.app import run_app  # Qt only when a window is wanted

        return run_app(args)
    return cli.run(args)


if __name__ == "__main__":
    sys.exit(main())
