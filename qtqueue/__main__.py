"""`python -m qtqueue`: the same as the `qtqueue` command — and the entry point of the packaged
build (packaging/qtqueue.spec), whose one executable is also the spawner of its engine."""

from __future__ import annotations

import os
import sys

from qtqueue.config import FROZEN, SPAWNER_ARGUMENT


def _unpackaged_environment() -> None:
    """In a packaged build, give the commands qtqueue starts the user's library path back.

    PyInstaller's launcher puts the bundle's own libraries first on LD_LIBRARY_PATH (keeping
    the user's in LD_LIBRARY_PATH_ORIG); inherited, that would make `git`, `docker` or a
    shell load the bundle's OpenSSL or readline instead of the system's. This process has
    already read it (the loader reads it once, at start), so only children see the change.
    """
    original = os.environ.pop("LD_LIBRARY_PATH_ORIG", None)
    if original is None:
        os.environ.pop("LD_LIBRARY_PATH", None)
    else:
        os.environ["LD_LIBRARY_PATH"] = original


def main() -> int:
    """Run the command line (or, in a packaged build asked to, the spawner: a standalone
    script of the standard library only, run without importing the package)."""
    if FROZEN:
        _unpackaged_environment()
        if sys.argv[1:2] == [SPAWNER_ARGUMENT]:  # SPAWNER_ARGUMENT spawner.py SOCKET READY_FD
            import runpy

            sys.argv = sys.argv[2:]
            runpy.run_path(sys.argv[0], run_name="__main__")  # it exits with its status
            return 0
    from qtqueue.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    raise SystemExit(main())
