"""The real `qtqueue` command in a subprocess, as every test that runs it starts it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

Run = Callable[..., "subprocess.CompletedProcess[str]"]
TIMEOUT_S = 60


def qtqueue_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a qtqueue process a test starts: its default data directory points
    into `tmp_path`, so a command that forgot `--data-dir` never touches the user's real one."""
    return {**os.environ, "QTQUEUE_DATA_DIR": str(tmp_path / "not-this-one")}


def qtqueue_command(
    tmp_path: Path, *, prefix: Sequence[str] = (), data_dir: Path | None = None
) -> Run:
    """`run(*args, input=None)`: `[*prefix] python -m qtqueue --data-dir DATA_DIR ARGS…` to
    completion (DATA_DIR: `data_dir`, by default TMP/q), with `input` on its stdin."""
    env = qtqueue_env(tmp_path)
    data = str(data_dir if data_dir is not None else tmp_path / "q")

    def run(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*prefix, sys.executable, "-m", "qtqueue", "--data-dir", data, *args],
            input=input, capture_output=True, text=True, env=env, timeout=TIMEOUT_S,
            check=False,
        )  # fmt: skip

    return run


def ok(result: subprocess.CompletedProcess[str]) -> str:
    """The stdout of a command that must succeed without a traceback."""
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def refused(result: subprocess.CompletedProcess[str], code: str, exit_status: int = 1) -> str:
    """The stderr of a command that must fail with `code`, a hint and no traceback."""
    assert result.returncode == exit_status, (result.stdout, result.stderr)
    assert f"error: {code}: " in result.stderr
    assert "\nhint: " in result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr
