"""The spawner, a real process over its real socket: it starts commands, reports how they end,
keeps what no engine has acknowledged, and leaves nothing behind after a clean goodbye."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import psutil
from helpers.processes import gone
from helpers.waiting import eventually

from qtqueue.executors.spawn_client import SpawnerClient


async def spawn(client: SpawnerClient, task_id: str, *argv: str) -> tuple[int, int]:
    """Start argv for `task_id`; returns its pid and the read end of its output."""
    read_fd, write_fd = os.pipe()
    keep = os.dup(read_fd)
    try:
        pid = await client.spawn(
            task_id, list(argv), executable=None, cwd=None, env=None,
            stdout_fd=write_fd, keep_fd=keep, stdin_fd=None,
        )  # fmt: skip
    finally:
        os.close(write_fd)
        os.close(keep)
    return pid, read_fd


def spawner_of(pid: int) -> psutil.Process:
    parent = psutil.Process(pid).parent()
    assert parent is not None and "spawner.py" in " ".join(parent.cmdline())
    return parent


async def test_a_command_runs_in_its_own_group_and_ends_with_its_real_status(
    tmp_path: Path,
) -> None:
    client, left = await SpawnerClient.connect(tmp_path)
    try:
        assert not left.known and not left.running and not left.ended  # a new spawner
        # It prints its process group (field 5 of /proc/PID/stat), then exits with 7.
        pid, out = await spawn(client, "t1", "sh", "-c", "cut -d' ' -f5 /proc/$$/stat; exit 7")
        assert os.waitstatus_to_exitcode(await client.exit_status("t1")) == 7
        assert os.read(out, 100) == f"{pid}\n".encode()  # its own group: signals reach all
        os.close(out)
        client.forget("t1")
    finally:
        client.close()


async def test_after_a_clean_goodbye_nothing_it_started_is_left_running(tmp_path: Path) -> None:
    client, _ = await SpawnerClient.connect(tmp_path)
    try:
        pid, out = await spawn(client, "t1", "sleep", "60")
        os.close(out)
        spawner = spawner_of(pid)
    finally:
        client.close()  # an engine that forgot this command said goodbye
    await eventually(lambda: gone(pid), what="the forgotten command is stopped")
    await asyncio.to_thread(spawner.wait, 10)
    assert not (tmp_path / "spawner.sock").exists()
