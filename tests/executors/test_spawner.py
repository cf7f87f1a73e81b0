"""The spawner, a real process over its real socket: it starts commands, reports how they end,
keeps what no engine has acknowledged, and leaves nothing behind after a clean goodbye."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
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


CRASHING_ENGINE = r"""
import asyncio, os, sys
from pathlib import Path
from qtqueue.executors.spawn_client import SpawnerClient

async def main(data_dir, n):
    client, _ = await SpawnerClient.connect(Path(data_dir))
    assert client.splits_stderr
    for i in range(int(n)):
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        await client.spawn(
            f"t{i}", ["sh", "-c", f"echo out {i}; echo err {i} >&2; exec sleep 60"],
            executable=None, cwd=None, env=None, stdout_fd=out_w, keep_fd=out_r,
            stdin_fd=None, stderr_fds=(err_w, err_r),
        )
        for fd in (out_r, out_w, err_r, err_w):
            os.close(fd)
    print("ready", flush=True)
    await asyncio.Event().wait()  # killed here, as an engine crashes

asyncio.run(main(*sys.argv[1:]))
"""


async def test_after_a_crash_each_command_is_handed_back_with_its_stdout_and_stderr(
    tmp_path: Path,
) -> None:
    """More commands than one message can carry descriptors for (two each): all come back."""
    n = 130
    engine = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CRASHING_ENGINE, str(tmp_path), str(n),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert engine.stdout is not None
    assert await asyncio.wait_for(engine.stdout.readline(), 60) == b"ready\n"
    engine.kill()
    await engine.wait()
    client, left = await SpawnerClient.connect(tmp_path)
    pids = [r.pid for r in left.running.values()]
    try:
        assert left.known and sorted(left.running) == sorted(f"t{i}" for i in range(n))
        for i in (0, n - 1):
            running = left.running[f"t{i}"]
            assert running.error_fd is not None
            assert os.read(running.output_fd, 100) == f"out {i}\n".encode()
            assert os.read(running.error_fd, 100) == f"err {i}\n".encode()
    finally:
        left.close()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        client.close()
    await eventually(lambda: all(gone(pid) for pid in pids), what="the commands stopped")
