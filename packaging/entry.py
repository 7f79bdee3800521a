"""Entry script of the frozen app (PyInstaller): the same `main` as the `playground` command."""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()  # torch data loaders may spawn workers
    from playground.__main__ import main

    sys.exit(main())
