"""Specification: what a command writes to stderr is marked in its task's log
(`qtqueue.core.log_streams`), through the spawner and after an engine crash alike; secrets are
masked on stderr too; readers for people (`qtqueue log`) print plain text; and a spawner from
before stderr had its own pipe still runs commands, their output unmarked. Real commands, a
real spawner, a real engine on a real data directory."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

from helpers.cli import ok, qtqueue_command
from helpers.processes import gone
from helpers.queues import QueueFactory
from helpers.waiting import eventually

from engine.crash_env import crash_while_running, gated_command
from qtqueue.core.log_streams import MARK_ERR_TEXT, has_marks, split_streams, strip_marks
from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.engine.logs import REDACTED
from qtqueue.engine.queue import TaskQueue
from qtqueue.executors import ExecutorRegistry, RunContext, default_registry
from qtqueue.executors.base import Executor
from qtqueue.executors.process import run_command
from qtqueue.executors.spawn_client import SOCKET_NAME

S = TaskStatus
OLD_SPAWNER = Path(__file__).parent.parent / "executors" / "data" / "spawner_before_stderr.py.txt"


def shell(command: str) -> Task:
    return Task(TaskType.CUSTOM_COMMAND, {"command": command, "shell": True}, max_retries=0)


def wait_for(gate: Path) -> str:
    """Shell: wait until the test creates `gate` (the command's own wait, not the test's)."""
    return f"while [ ! -e {shlex.quote(str(gate))} ]; do sleep 0.01; done"


async def test_stdout_and_stderr_lines_are_kept_apart_in_the_order_they_came(
    make_queue: QueueFactory, data_dir: Path, tmp_path: Path
) -> None:
    # Each line waits until the test has seen the one before it in the log: their order is
    # known, whatever the order in which the engine would read two ready pipes.
    said = [
        ("echo out one", "out one"),
        ("echo err one >&2", "err one"),
        ("echo out two", "out two"),
    ]
    steps = [f"{line}; {wait_for(tmp_path / str(i))}" for i, (line, _) in enumerate(said)]
    queue = await make_queue()
    task_id = await queue.add_task(shell("; ".join([*steps, "echo err two >&2"])))
    for i, (_, text) in enumerate(said):
        await eventually(lambda t=text: _has(queue, task_id, t), what=f"{text!r} logged")
        (tmp_path / str(i)).touch()
    task = await queue.wait_for(task_id, timeout_s=20)
    assert task.status is S.COMPLETED, task.error
    log = await queue.read_log(task_id)
    output = [(err, text) for err, text in split_streams(log) if "[qtqueue]" not in text]
    assert output == [
        (False, "out one\n"),
        (True, "err one\n"),
        (False, "out two\n"),
        (True, "err two\n"),
    ]
    # A tail read that begins inside the last stderr run still knows it is stderr.
    start = log.rindex("err two") + len("err ")
    tail = await queue.read_log(task_id, tail_bytes=len(log.encode()) - len(log[:start].encode()))
    assert split_streams(tail)[0] == (True, "two\n")
    await queue.close()

    cli = qtqueue_command(tmp_path, data_dir=data_dir)
    printed = ok(cli("log", task_id))
    assert "out one\nerr one\nout two\nerr two\n" in printed
    assert "\x1b" not in printed  # plain text: no mark reaches a terminal
    assert ok(cli("log", "--stderr-only", task_id)) == "err one\nerr two\n"
    shown = ok(cli("show", "--logs", task_id))
    assert "err two" in shown and "\x1b" not in shown
    assert ok(cli("log", "--follow", task_id)) == printed
    refused = cli("log", "--follow", "--stderr-only", task_id)
    assert refused.returncode == 2 and "drop --follow" in refused.stderr


async def _has(queue: TaskQueue, task_id: str, text: str) -> bool:
    return text in strip_marks(await queue.read_log(task_id))


SECRET = "s3cr3t-on-stderr"


class StderrLeak(Executor):
    """Learns a secret, then runs a command that prints it on stderr (in two writes)."""

    task_type: ClassVar[str] = "stderr_leak"

    async def run(self, ctx: RunContext) -> dict[str, Any] | None:
        ctx.add_secret(SECRET)
        half = len(SECRET) // 2
        script = f"printf %s {SECRET[:half]} >&2; sleep 0.05; printf '%s\\n' {SECRET[half:]} >&2"
        await run_command(ctx, ["sh", "-c", script])
        return None


async def test_a_secret_a_command_prints_on_stderr_is_masked(
    make_queue: QueueFactory, data_dir: Path
) -> None:
    registry: ExecutorRegistry = default_registry(entry_points=False)
    registry.register(StderrLeak())
    queue = await make_queue(registry=registry)
    task = await queue.wait_for(await queue.add_task(Task("stderr_leak")), timeout_s=20)
    assert task.status is S.COMPLETED, task.error
    log = await queue.read_log(task.id)
    assert (True, REDACTED + "\n") in split_streams(log)
    await queue.close()
    stored = b"".join(p.read_bytes() for p in data_dir.rglob("*") if p.is_file())
    assert SECRET.encode() not in stored


async def test_stderr_written_while_no_engine_ran_is_marked_once_the_command_is_adopted(
    tmp_path: Path,
) -> None:
    data_dir, runs, gate = tmp_path / "data", tmp_path / "runs.txt", tmp_path / "gate"
    said = tmp_path / "said"
    # After the crash (the gate), it writes to stderr and waits to be read, then ends.
    command = gated_command(runs, gate, 0).replace(
        "echo after the crash;",
        f"echo on stderr meanwhile >&2; touch {shlex.quote(str(said))}; "
        f"{wait_for(tmp_path / 'adopted')}; echo after the crash;",
    )
    task_id, _ = await crash_while_running(data_dir, "fail", 0, command, runs)
    gate.touch()
    await eventually(said.exists, what="it wrote to stderr with no engine running")

    async with TaskQueue(data_dir) as queue:
        assert (await queue.get_task(task_id)).status is S.RUNNING  # adopted
        (tmp_path / "adopted").touch()
        task = await queue.wait_for(task_id, timeout_s=20)
        log = await queue.read_log(task_id)
    assert task.status is S.COMPLETED, task.error
    assert (True, "on stderr meanwhile\n") in split_streams(log)
    assert "after the crash" in strip_marks(log)


async def test_stderr_of_a_command_that_ended_while_no_engine_ran_is_recorded_marked(
    tmp_path: Path,
) -> None:
    data_dir, runs, gate = tmp_path / "data", tmp_path / "runs.txt", tmp_path / "gate"
    command = gated_command(runs, gate, 3).replace(
        "echo after the crash;", "echo after the crash; echo no space left >&2;"
    )
    task_id, pid = await crash_while_running(data_dir, "fail", 0, command, runs)
    gate.touch()
    await eventually(lambda: gone(pid), what="the command ends while no engine runs")

    async with TaskQueue(data_dir) as queue:
        task = await queue.wait_for(task_id, timeout_s=20)
        log = await queue.read_log(task_id)
    assert task.status is S.FAILED
    assert (True, "no space left\n") in split_streams(log)
    assert "no space left" in (task.error or "")  # its last words name the failure


async def test_a_spawner_from_before_the_split_still_runs_commands_unmarked(
    make_queue: QueueFactory, data_dir: Path
) -> None:
    """An upgrade while the previous version's spawner still serves the data directory."""
    data_dir.mkdir(mode=0o700, parents=True)
    ready_r, ready_w = os.pipe()
    old = subprocess.Popen(
        [sys.executable, "-I", "-S", str(OLD_SPAWNER), str(data_dir / SOCKET_NAME), str(ready_w)],
        pass_fds=(ready_w,),
        start_new_session=True,
    )
    os.close(ready_w)
    try:
        assert os.read(ready_r, 1) == b"1"
        queue = await make_queue()
        assert queue.state.spawner is not None and not queue.state.spawner.splits_stderr
        task_id = await queue.add_task(shell("echo out; echo err >&2; exit 4"))
        task = await queue.wait_for(task_id, timeout_s=20)
        log = await queue.read_log(task_id)
        await queue.close()
    finally:
        os.close(ready_r)
        old.kill()
        old.wait()
    assert task.status is S.FAILED and task.error_details["exit_code"] == 4
    assert "out\nerr\n" in log and MARK_ERR_TEXT not in log and not has_marks(log)


async def test_a_failed_commands_error_quotes_its_last_words_on_stderr(queue: TaskQueue) -> None:
    """Whichever pipe the engine read last, the error names what went wrong (stderr), not
    the chatter the command printed on stdout after it."""
    command = "echo 'fatal: no such ref main' >&2; echo 'cleaning up'; echo 'done'; exit 2"
    task = await queue.wait_for(await queue.add_task(shell(command)), timeout_s=20)
    assert task.status is S.FAILED
    assert (task.error or "").endswith("fatal: no such ref main")


async def test_without_a_spawner_the_engines_own_commands_mark_stderr_too(
    make_queue: QueueFactory,
) -> None:
    queue = await make_queue()
    assert queue.state.spawner is not None
    queue.state.spawner.close()  # it went away: commands are the engine's own children now
    task = await queue.wait_for(await queue.add_task(shell("echo out; echo err >&2")), 20)
    assert task.status is S.COMPLETED, task.error
    log = await queue.read_log(task.id)
    assert (True, "err\n") in split_streams(log) and (False, "out\n") in split_streams(log)
