"""Input sent to a running command's stdin (`TaskQueue.send_input`). Real processes."""

from __future__ import annotations

import sys

import pytest
from helpers.processes import log_text
from helpers.waiting import eventually

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.engine.queue import TaskQueue

C = TaskErrorCode
S = TaskStatus

#: Echoes each line it reads until the end of its input.
ECHO = "import sys\nfor line in sys.stdin:\n    print('got:', line.strip(), flush=True)\n"


def echo(**params: object) -> Task:
    return Task(
        TaskType.CUSTOM_COMMAND, {"command": sys.executable, "args": ["-c", ECHO], **params}
    )


async def test_lines_sent_reach_an_interactive_command_and_eof_ends_it(queue: TaskQueue) -> None:
    task_id = await queue.add_task(echo(interactive=True))
    await eventually(lambda: (a := queue.attempt_state(task_id)) is not None and a.takes_input)
    await queue.send_input(task_id, "hello\n")
    await eventually(lambda: "got: hello" in log_text(queue.log_path(task_id)))
    await queue.send_input(task_id, "bye\n", eof=True)
    done = await queue.wait_for(task_id, timeout_s=10)
    assert done.status is S.COMPLETED
    log = log_text(queue.log_path(task_id))
    assert log.index("got: hello") < log.index("got: bye")
    assert "[qtqueue] sent 4 bytes of input and end of input" in log


async def test_a_command_that_is_not_interactive_reads_an_empty_stdin_and_takes_no_input(
    queue: TaskQueue,
) -> None:
    quick = await queue.add_task(echo())  # reads /dev/null: ends at once, never hangs
    assert (await queue.wait_for(quick, timeout_s=10)).status is S.COMPLETED
    with pytest.raises(QueueError) as finished:
        await queue.send_input(quick, "late\n")
    assert finished.value.code is C.QUEUE_INVALID_STATE

    sleeper = await queue.add_task(
        Task(TaskType.CUSTOM_COMMAND, {"command": "sleep 30", "shell": True})
    )
    await eventually(lambda: queue.attempt_state(sleeper) is not None)
    with pytest.raises(QueueError) as closed:
        await queue.send_input(sleeper, "hello\n")
    assert closed.value.code is C.QUEUE_INVALID_STATE
    assert "interactive: true" in closed.value.message
    await queue.cancel_task(sleeper)
