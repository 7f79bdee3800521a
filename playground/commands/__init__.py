"""CLI sub-commands, one module per feature; `cli.py` registers every module here.

`common` holds what the commands share (exit codes, the usage error, JSON output ...): commands
import it, never `playground.cli`, so the CLI depends on its commands and not the other way.
"""
