"""The real `qtqueue` command in a subprocess, as every test that runs it starts it: one command
to completion (`qtqueue_command`), or an engine in the background (`running_engine`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

from helpers.waiting import wait_until

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


def stop_engine(proc: subprocess.Popen[bytes], timeout_s: float = TIMEOUT_S) -> int:
    """SIGTERM an engine this test started (unless it has ended) and return its exit status;
    SIGKILL it, and fail, if it does not end within `timeout_s`."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise


@contextmanager
def running_engine(
    data_dir: Path,
    env: Mapping[str, str],
    log: Path,
    *,
    args: Sequence[str] = (),
    cwd: Path | None = None,
    timeout_s: float = TIMEOUT_S,
) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m qtqueue --data-dir DATA_DIR run ARGS…` in the background, its stderr in `log`.

    Entered once the engine has announced its API (engine.json); fails at once, with its log,
    if it exits before. On exit it is stopped (`stop_engine`) unless it has already ended."""
    with open(log, "wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "qtqueue", "--data-dir", str(data_dir), "run", *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr, env=dict(env),
            cwd=cwd,
        )  # fmt: skip

    def announced() -> bool:
        if proc.poll() is not None:
            pytest.fail(f"the engine exited with {proc.returncode}:\n{log.read_text()}")
        return (data_dir / "engine.json").exists()

    try:
        wait_until(announced, timeout_s, what="the engine to announce its API")
        yield proc
    finally:
        stop_engine(proc, timeout_s)
