"""CLI sub-commands, one module per feature; `cli.py` registers every module here."""
