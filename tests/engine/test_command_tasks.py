"""Commands run as tasks: their output, progress, exit codes, and their whole process tree
paused, resumed, cancelled and timed out. Real processes, watched through psutil."""

from __future__ import annotations

import stat
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from helpers.processes import gone, log_text, status_of, tree_pids
from helpers.queues import QueueFactory
from helpers.virtual_time import VirtualTimer
from helpers.waiting import eventually

from qtqueue.api.views import task_summary
from qtqueue.core.errors import TaskErrorCode
from qtqueue.core.log_streams import split_streams
from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.engine.events import EventKind, TaskEvent
from qtqueue.engine.queue import TaskQueue

C = TaskErrorCode
S = TaskStatus

#: A shell with two children: the tree that pause and cancel must reach as a whole.
TREE = "sleep 30 & sleep 30; wait"


def shell(line: str, **params: Any) -> dict[str, Any]:
    return {"command": line, "shell": True, **params}


def cmd(params: dict[str, Any], **fields: Any) -> Task:
    return Task(TaskType.CUSTOM_COMMAND, params, **fields)


async def run(queue: TaskQueue, params: dict[str, Any], **fields: Any) -> Task:
    return await queue.wait_for(await queue.add_task(cmd(params, **fields)), timeout_s=20)


async def started_tree(queue: TaskQueue, task_id: str, size: int) -> list[int]:
    """The pids of the running task's process tree, once it has `size` processes."""

    async def tree() -> list[int] | None:
        task = await queue.get_task(task_id)
        if task.status is not S.RUNNING or task.pid is None:
            return None
        pids = tree_pids(task.pid)
        return pids if len(pids) == size else None

    result: list[int] = await eventually(tree, what=f"a running tree of {size} processes")
    return result


class Progress:
    """Subscriber keeping (progress, current_step) of every change of the task."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, str]] = []

    def __call__(self, events: list[TaskEvent]) -> None:
        for e in events:
            if (
                e.kind is EventKind.CHANGED
                and e.task is not None
                and e.status is S.RUNNING
                and (e.task.progress or e.task.current_step)  # not the start itself
            ):
                self.seen.append((e.task.progress, e.task.current_step))


# --- Output, progress and steps ---------------------------------------------------------------


async def test_output_of_both_streams_reaches_the_log_each_in_order(queue: TaskQueue) -> None:
    # Between the two pipes the order is the order they were read in (test_stderr_streams
    # pins it down); within each it is exact, and stderr is marked.
    done = await run(queue, shell("echo first; echo second >&2; echo third; echo fourth >&2"))
    assert done.status is S.COMPLETED
    assert done.result == {"exit_code": 0}
    runs = split_streams(await queue.read_log(done.id))
    assert "".join(text for err, text in runs if not err) == "first\nthird\n"
    assert "".join(text for err, text in runs if err) == "second\nfourth\n"


async def test_percentages_become_progress_and_step_lines_the_current_step(
    queue: TaskQueue,
) -> None:
    progress = Progress()
    queue.subscribe(progress)
    done = await run(
        queue,
        shell(
            "echo 'downloading 10%'; echo 'Step 2/3: compiling'; "
            "echo 'at 42% now'; echo unrelated; printf 'tail 77%%'"
        ),
    )
    assert done.status is S.COMPLETED
    assert (42.0, "Step 2/3: compiling") in progress.seen
    assert progress.seen[-1] == (77.0, "Step 2/3: compiling")  # a last line without newline
    assert done.progress == 100.0
    assert done.current_step == "Step 2/3: compiling"


async def test_carriage_return_progress_bars_are_read(queue: TaskQueue) -> None:
    progress = Progress()
    queue.subscribe(progress)
    # One write: a progress bar redrawn in place, as curl and pip do.
    await run(queue, shell("printf 'fetching  10%%\\rfetching  55%%\\rfetching  80%%\\r\\n'"))
    assert progress.seen[-1][0] == 80.0


@pytest.mark.parametrize("line", ["==> Installing", "[2/5] Linking", "stage: test", "Phase 3"])
async def test_the_default_step_pattern_knows_common_step_lines(
    queue: TaskQueue, line: str
) -> None:
    done = await run(queue, shell(f"echo '{line}'; echo plain output"))
    assert done.current_step == line


async def test_custom_progress_and_step_patterns(queue: TaskQueue) -> None:
    progress = Progress()
    queue.subscribe(progress)
    done = await run(
        queue,
        shell(
            "echo 'progress=30/100'; echo '99% by the default pattern'; echo '>> uploading'; "
            "echo 'Step 9: not a step here'; echo 'progress=65/100'",
            progress_pattern=r"progress=(\d+)/100",
            step_pattern=r"^>> ",
        ),
    )
    assert done.status is S.COMPLETED
    percents = {p for p, _ in progress.seen}
    assert 65.0 in percents
    assert 99.0 not in percents
    assert done.current_step == ">> uploading"


async def test_an_out_of_range_percentage_is_ignored(queue: TaskQueue) -> None:
    progress = Progress()
    queue.subscribe(progress)
    done = await run(queue, shell("echo 150%"))
    assert done.status is S.COMPLETED
    assert progress.seen == []


async def test_a_valid_percentage_is_kept_when_an_out_of_range_one_follows_it(
    queue: TaskQueue,
) -> None:
    progress = Progress()
    queue.subscribe(progress)
    # One printf: one write, so the parser sees all three lines in one chunk.
    await run(queue, shell("printf '150%%\\n20%%\\n300%%\\n'"))
    assert {p for p, _ in progress.seen} == {20.0}


async def test_env_and_cwd_reach_the_command(queue: TaskQueue, tmp_path: Path) -> None:
    done = await run(
        queue, shell("echo $QTQ_GREETING; pwd", env={"QTQ_GREETING": "hi there"}, cwd=str(tmp_path))
    )
    assert await queue.read_log(done.id) == f"hi there\n{tmp_path}\n"


async def test_without_shell_arguments_are_passed_as_they_are(queue: TaskQueue) -> None:
    done = await run(queue, {"command": "printf", "args": ["[%s]", "a b", "$HOME", ";ls"]})
    assert await queue.read_log(done.id) == "[a b][$HOME][;ls]"


# --- Exit statuses and their codes ------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "code", "exit_code"),
    [
        (shell("no-such-command-qtq"), C.SYSTEM_COMMAND_NOT_FOUND, 127),
        ({"command": "no-such-command-qtq"}, C.SYSTEM_COMMAND_NOT_FOUND, None),
        (shell("echo about to fail; exit 3"), C.SYSTEM_COMMAND_FAILED, 3),
        (shell("kill -9 $$"), C.SYSTEM_PROCESS_KILLED, -9),
        (shell("echo 'write error: No space left on device' >&2; exit 1"), C.SYSTEM_DISK_SPACE, 1),
    ],
    ids=["127-in-shell", "missing-program", "exit-3", "sigkill", "disk-full"],
)
async def test_a_failed_command_gets_the_code_its_exit_says(
    queue: TaskQueue, params: dict[str, Any], code: TaskErrorCode, exit_code: int | None
) -> None:
    done = await run(queue, params, max_retries=0)
    assert done.status is S.FAILED
    assert done.error_code == code.value
    assert done.error
    if exit_code is not None:
        assert done.error_details["exit_code"] == exit_code
    assert (await task_summary(queue, done.id))["error"]["suggestion"]


async def test_the_error_message_names_the_exit_and_the_last_output_line(
    queue: TaskQueue,
) -> None:
    done = await run(queue, shell("echo something went wrong; exit 3"), max_retries=0)
    assert done.error == "sh exited with code 3: something went wrong"
    assert done.error_details["output_tail"] == ["something went wrong"]
    assert "something went wrong" in await queue.read_log(done.id)


async def test_a_file_that_is_not_executable_is_a_permission_error(
    queue: TaskQueue, tmp_path: Path
) -> None:
    program = tmp_path / "not-executable"
    program.write_text("#!/bin/sh\necho hi\n")
    program.chmod(stat.S_IRUSR | stat.S_IWUSR)  # no execute bit: refused even to root
    done = await run(queue, {"command": str(program)}, max_retries=0)
    assert done.error_code == C.SYSTEM_PERMISSION_DENIED.value


async def test_a_missing_working_directory_is_a_missing_file(
    queue: TaskQueue, tmp_path: Path
) -> None:
    done = await run(queue, shell("true", cwd=str(tmp_path / "nowhere")), max_retries=0)
    assert done.error_code == C.DATA_FILE_NOT_FOUND.value


# --- Pause and resume reach the whole tree ----------------------------------------------------


async def test_pausing_a_command_stops_its_whole_tree_and_resuming_continues_it(
    queue: TaskQueue,
) -> None:
    task_id = await queue.add_task(cmd({"command": "sh", "args": ["-c", TREE]}))
    pids = await started_tree(queue, task_id, size=3)

    paused = await queue.pause_task(task_id)
    assert paused.status is S.PAUSED and paused.paused_from is S.RUNNING
    await eventually(
        lambda: all(status_of(p) == psutil.STATUS_STOPPED for p in pids),
        what="every process of the tree is stopped",
    )

    resumed = await queue.resume_task(task_id)
    assert resumed.status is S.RUNNING
    await eventually(
        lambda: all(status_of(p) not in (psutil.STATUS_STOPPED, "gone") for p in pids),
        what="every process runs again",
    )

    await queue.cancel_task(task_id)
    await eventually(lambda: all(gone(p) for p in pids), what="the tree is gone")


async def test_a_paused_command_is_not_timed_out_and_its_clock_resumes_with_it(
    make_queue: QueueFactory,
) -> None:
    timer = VirtualTimer()
    queue = await make_queue(timer=timer, clock=timer.time)
    task_id = await queue.add_task(
        cmd({"command": "sleep", "args": ["30"]}, timeout_s=1.0, max_retries=0)
    )
    await started_tree(queue, task_id, size=1)
    timer.advance(0.25)  # a quarter of its time runs
    await queue.pause_task(task_id)

    timer.advance(10.0)  # paused ten times longer than its timeout
    await queue.settled()
    assert (await queue.get_task(task_id)).status is S.PAUSED, "a paused task is not timed out"

    resumed = await queue.resume_task(task_id)
    assert resumed.status is S.RUNNING
    timer.advance(0.7)
    await queue.settled()
    assert (await queue.get_task(task_id)).status is S.RUNNING, "0.95 s of its 1 s ran"
    timer.advance(0.05)
    done = await queue.wait_for(task_id, timeout_s=10)
    assert done.status is S.TIMEOUT
    assert done.error_code == C.SYSTEM_TIMEOUT.value
    assert done.duration_s == pytest.approx(1.0)  # the paused stretch did not count


async def test_a_timed_out_command_ends_in_timeout_and_its_process_is_gone(
    queue: TaskQueue,
) -> None:
    task_id = await queue.add_task(
        cmd({"command": "sh", "args": ["-c", TREE]}, timeout_s=0.5, max_retries=0)
    )
    pids = await started_tree(queue, task_id, size=3)
    done = await queue.wait_for(task_id, timeout_s=10)
    assert done.status is S.TIMEOUT
    assert done.error_code == C.SYSTEM_TIMEOUT.value
    assert done.error_details == {"timeout_s": 0.5}
    assert "timed out" in (done.error or "")
    await eventually(lambda: all(gone(p) for p in pids), what="the tree is gone")


# --- Cancel terminates the whole tree ---------------------------------------------------------


async def test_cancelling_a_command_ends_its_whole_tree(queue: TaskQueue) -> None:
    task_id = await queue.add_task(cmd({"command": "sh", "args": ["-c", TREE]}))
    pids = await started_tree(queue, task_id, size=3)
    cancelled = await queue.cancel_task(task_id)
    assert cancelled.status is S.CANCELLED
    assert cancelled.pid is None
    await eventually(lambda: all(gone(p) for p in pids), what="every process of the tree is gone")


async def test_cancelling_a_paused_command_ends_its_tree(queue: TaskQueue) -> None:
    task_id = await queue.add_task(cmd({"command": "sh", "args": ["-c", TREE]}))
    pids = await started_tree(queue, task_id, size=3)
    await queue.pause_task(task_id)
    await eventually(lambda: all(status_of(p) == psutil.STATUS_STOPPED for p in pids))
    assert (await queue.cancel_task(task_id)).status is S.CANCELLED
    await eventually(lambda: all(gone(p) for p in pids), what="the stopped tree is gone")


async def test_a_command_that_ignores_sigterm_is_killed_after_the_grace_period(
    queue: TaskQueue,
) -> None:
    task_id = await queue.add_task(
        cmd(shell("trap '' TERM; echo ready; sleep 30; echo survived", grace_s=0.5))
    )
    pids = await started_tree(queue, task_id, size=2)
    await eventually(
        lambda: "ready" in log_text(queue.log_path(task_id)), what="the TERM trap is set"
    )
    began = time.monotonic()
    cancelled = await queue.cancel_task(task_id)
    assert time.monotonic() - began >= 0.45  # it was given its grace period first
    assert cancelled.status is S.CANCELLED
    await eventually(lambda: all(gone(p) for p in pids), what="the tree is killed")
    assert "survived" not in await queue.read_log(task_id)
