"""The real `qtqueue` command in a subprocess, for tests outside tests/test_cli.py."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

Run = Callable[..., "subprocess.CompletedProcess[str]"]


def qtqueue_command(tmp_path: Path, *, prefix: Sequence[str] = ()) -> Run:
    """`run(*args)`: `[*prefix] python -m qtqueue --data-dir TMP/q ARGS…` to completion, never
    touching the user's real data directory."""
    env = {**os.environ, "QTQUEUE_DATA_DIR": str(tmp_path / "not-this-one")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*prefix, sys.executable, "-m", "qtqueue", "--data-dir", str(tmp_path / "q"), *args],
            capture_output=True, text=True, env=env, timeout=60, check=False,
        )  # fmt: skip

    return run
