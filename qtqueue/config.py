"""Where qtqueue keeps its data: --data-dir, else $QTQUEUE_DATA_DIR, else the user data dir."""

from __future__ import annotations

import os
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
