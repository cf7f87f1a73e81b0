"""Where qtqueue keeps its data: --data-dir, else $QTQUEUE_DATA_DIR, else the user data dir;
and how it starts itself again, from a virtual environment or from a packaged build."""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP_NAME = "qtqueue"
ENV_DATA_DIR = "QTQUEUE_DATA_DIR"


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The data directory to use: the argument, the environment variable, or the platform's
    per-user data directory (e.g. ~/.local/share/qtqueue on Linux). Not created here."""
    if data_dir:
        return Path(data_dir).expanduser().absolute()
    env = os.environ.get(ENV_DATA_DIR)
    if env:
        return Path(env).expanduser().absolute()
    import platformdirs  # only here: it costs every command a few milliseconds to start

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


# ------------------------------------------------------------------------ starting qtqueue again

#: A packaged build's executable (PyInstaller's `qtqueue`) sets `sys.frozen`: `sys.executable`
#: is then qtqueue itself, not a Python interpreter.
FROZEN = bool(getattr(sys, "frozen", False))
#: The first argument on which a packaged `qtqueue` runs the spawner (executors/spawner.py)
#: instead of its command line: a packaged build has no interpreter to run spawner.py with.
SPAWNER_ARGUMENT = "--run-qtqueue-spawner"


def qtqueue_command() -> list[str]:
    """The command that runs qtqueue again (add the arguments): the packaged executable, or
    this interpreter with `-m qtqueue`."""
    return [sys.executable] if FROZEN else [sys.executable, "-m", "qtqueue"]


def python_interpreter() -> str:
    """The Python that runs a user's `.py` script: this interpreter, or in a packaged build
    (whose executable is qtqueue, not Python) the system's `python3`."""
    if not FROZEN:
        return sys.executable
    import shutil

    return shutil.which("python3") or "python3"
