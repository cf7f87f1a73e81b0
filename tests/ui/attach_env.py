"""A real headless engine (`qtqueue run` in a subprocess) for the window to attach to, and
the `qtqueue` command on its data directory, for tests/ui/test_attach*.py."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from helpers.cli import ok, qtqueue_command, qtqueue_env, running_engine


@dataclass
class Headless:
    """An engine another process runs on `data_dir`, and the CLI on it."""

    data_dir: Path
    proc: subprocess.Popen[bytes]
    tmp: Path

    def cli(self, *args: str) -> str:
        """Run `qtqueue --data-dir DATA_DIR ARGS…` to completion; its stdout (it must succeed)."""
        return ok(qtqueue_command(self.tmp, data_dir=self.data_dir)(*args))

    async def acli(self, *args: str) -> str:
        """`cli`, in a thread: the window's loop goes on meanwhile."""
        return await asyncio.to_thread(self.cli, *args)

    def add(self, *command: str, name: str) -> str:
        """Add a shell command through the CLI; returns the task's id."""
        return self.cli("add", "command", "--name", name, "--", *command).strip()


@contextmanager
def headless_engine(tmp: Path) -> Iterator[Headless]:
    """`qtqueue run` on TMP/q until the block ends (stopped then, unless it already ended)."""
    tmp.mkdir(parents=True, exist_ok=True)
    data_dir = tmp / "q"
    with running_engine(data_dir, qtqueue_env(tmp), tmp / "engine.log") as proc:
        yield Headless(data_dir, proc, tmp)
