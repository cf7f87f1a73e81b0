"""A queue that opens itself on first use, and calls that reach the engine's loop from a
plain thread or another loop (engine/auto_open.py)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from helpers.waiting import eventually

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Task, TaskStatus
from qtqueue.engine.queue import TaskQueue
from qtqueue.executors import default_registry

S = TaskStatus


def _queue(data_dir: Path) -> TaskQueue:
    return TaskQueue(data_dir, registry=default_registry(entry_points=False))


async def test_a_queue_never_opened_opens_on_its_first_call(data_dir: Path) -> None:
    queue = _queue(data_dir)
    assert not queue.started
    done = await queue.wait_for(
        await queue.add_task(Task("custom_command", {"command": "true"})), 10
    )
    assert queue.started and done.status is S.COMPLETED
    await queue.close()
    with pytest.raises(QueueError) as closed:  # one its user closed stays closed
        await queue.list_tasks()
    assert closed.value.code is TaskErrorCode.QUEUE_ENGINE_UNAVAILABLE


async def test_first_calls_made_together_open_the_queue_once(data_dir: Path) -> None:
    queue = _queue(data_dir)
    ids = await asyncio.gather(
        *(queue.add_task(Task("custom_command", {"command": "true"})) for _ in range(3))
    )
    assert sorted(t.id for t in await queue.list_tasks()) == sorted(ids)
    await queue.close()


#: Two plain programs that leave their queue open: one opened by its first call inside
#: asyncio.run, one whose engine `start_worker()` runs on a thread. Each adds a long task.
LEAVING = {
    "never_closed": (
        "async def main():\n"
        "    queue = TaskQueue(DATA_DIR)\n"
        "    await queue.add_task(LONG)\n"
        "asyncio.run(main())\n"
    ),
    "worker_never_stopped": (
        "queue = TaskQueue(DATA_DIR)\nqueue.start_worker()\nasyncio.run(queue.add_task(LONG))\n"
    ),
}


def run_program(code: str) -> subprocess.CompletedProcess[str]:
    """`code` run by a fresh interpreter (60 s at most), its output captured."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def stored_tasks(data_dir: Path) -> list[Task]:
    """What the store in `data_dir` holds, read by the next program (the directory is free)."""

    async def read() -> list[Task]:
        queue = TaskQueue(data_dir, dispatch=False, lock_timeout_s=0)
        tasks = await queue.list_tasks()
        await queue.close()
        return tasks

    return asyncio.run(read())


@pytest.mark.parametrize("program", LEAVING.values(), ids=LEAVING.keys())
def test_a_program_that_leaves_its_queue_open_still_exits_and_lets_it_go(
    data_dir: Path, program: str
) -> None:
    setup = (
        "import asyncio\n"
        "from qtqueue import Task, TaskQueue\n"
        f"DATA_DIR = {str(data_dir)!r}\n"
        "LONG = Task('custom_command', {'command': 'sleep', 'args': ['60']})\n"
    )
    done = run_program(setup + program + "print('exited')\n")
    assert (done.returncode, done.stdout) == (0, "exited\n"), done.stderr
    (left,) = stored_tasks(data_dir)  # the directory is free again
    # Closed by its shutdown policy (requeue): the task waits for the next engine.
    assert left.status is S.PENDING


async def test_update_progress_from_a_plain_handler_moves_the_task_at_once(
    queue: TaskQueue,
) -> None:
    halfway = threading.Event()
    finish = threading.Event()

    def handler(task_id: str, params: dict[str, Any]) -> dict[str, Any]:
        queue.update_progress(task_id, 50, "halfway")  # no await: a plain function's call
        halfway.set()
        assert finish.wait(10)
        return {"thread": threading.current_thread().name}

    queue.register_handler("plain", handler)
    task_id = await queue.add_task(Task("plain"))
    assert await asyncio.to_thread(halfway.wait, 10)
    midway = await queue.get_task(task_id)
    assert (midway.status, midway.progress, midway.current_step) == (S.RUNNING, 50.0, "halfway")
    finish.set()
    done = await queue.wait_for(task_id, 10)
    assert done.status is S.COMPLETED
    assert done.result is not None and done.result["thread"] != threading.current_thread().name


async def test_update_progress_from_a_thread_raises_what_the_engine_refuses(
    queue: TaskQueue,
) -> None:
    finished = await queue.wait_for(
        await queue.add_task(Task("custom_command", {"command": "true"})), 10
    )

    def report() -> None:
        queue.update_progress(finished.id, 10)

    with pytest.raises(QueueError) as refused:
        await asyncio.to_thread(report)
    assert refused.value.code is TaskErrorCode.QUEUE_INVALID_STATE


async def test_a_call_made_on_another_loop_runs_on_the_engines(queue: TaskQueue) -> None:
    task_id = await queue.add_task(Task("custom_command", {"command": "true"}))

    def elsewhere() -> Task:  # a plain thread with a loop of its own
        return asyncio.run(queue.wait_for(task_id, 10))

    done = await asyncio.to_thread(elsewhere)
    assert (done.id, done.status) == (task_id, S.COMPLETED)


async def test_a_paused_plain_handler_waits_in_its_next_update_progress(queue: TaskQueue) -> None:
    started, go_on, past = threading.Event(), threading.Event(), threading.Event()

    def handler(task_id: str, params: dict[str, Any]) -> dict[str, Any]:
        queue.update_progress(task_id, 10, "started")
        started.set()
        assert go_on.wait(10)
        queue.update_progress(task_id, 60, "went on")  # paused: returns once resumed
        past.set()
        return {}

    queue.register_handler("plain", handler)
    task_id = await queue.add_task(Task("plain"))
    assert await asyncio.to_thread(started.wait, 10)
    assert (await queue.pause_task(task_id)).status is S.PAUSED
    go_on.set()
    # The report is applied at once; the call then waits on the engine's loop for the resume.
    await eventually(lambda: _progress_is(queue, task_id, 60.0), what="the report")
    assert not past.is_set()
    await queue.resume_task(task_id)
    assert await asyncio.to_thread(past.wait, 10)
    assert (await queue.wait_for(task_id, 10)).status is S.COMPLETED


async def _progress_is(queue: TaskQueue, task_id: str, percent: float) -> bool:
    return (await queue.get_task(task_id)).progress == percent


def test_a_queue_closed_as_its_loop_ended_opens_again_on_the_next(data_dir: Path) -> None:
    queue = _queue(data_dir)
    task_id = asyncio.run(queue.add_task(Task("custom_command", {"command": "true"})))
    assert not queue.started  # closed as asyncio.run ended
    assert asyncio.run(queue.wait_for(task_id, 10)).status is S.COMPLETED
    assert not queue.started

    async def closed_by_its_user() -> None:
        await queue.get_task(task_id)
        await queue.close()

    asyncio.run(closed_by_its_user())
    with pytest.raises(QueueError) as closed:
        asyncio.run(queue.get_task(task_id))
    assert closed.value.code is TaskErrorCode.QUEUE_ENGINE_UNAVAILABLE


async def test_a_call_made_while_the_queue_opens_waits_until_it_is_open(data_dir: Path) -> None:
    queue = _queue(data_dir)
    first = asyncio.ensure_future(queue.add_task(Task("custom_command", {"command": "true"})))
    while queue.state.writer is None:  # opening: the store is open, the engine not yet
        await asyncio.sleep(0)  # one turn of the loop, to the next step of the opening
    assert not queue.started
    assert await queue.list_tasks() is not None  # not "the queue is not open"
    await first
    await queue.close()


#: Programs that use one queue from several loops or threads, each of which must exit with
#: every call answered (they hung before: a closer registered on the wrong loop, an opening
#: lock bound to another thread's loop, start_worker racing itself).
ACROSS_LOOPS = {
    "auto-opened, then start_worker": (
        "queue = TaskQueue(DATA_DIR)\n"
        "asyncio.run(queue.add_task(quick()))\n"
        "queue.start_worker()\n"
        "asyncio.run(queue.add_task(quick()))\n"
        "queue.stop_worker()\n"
    ),
    "start_worker, then two threads with a loop each": (
        "queue = TaskQueue(DATA_DIR)\n"
        "queue.start_worker()\n"
        "def add():\n"
        "    asyncio.run(queue.add_task(quick()))\n"
        "threads = [threading.Thread(target=add) for _ in range(2)]\n"
        "[t.start() for t in threads]; [t.join() for t in threads]\n"
        "queue.stop_worker()\n"
    ),
    "two threads call start_worker together": (
        "queue = TaskQueue(DATA_DIR)\n"
        "threads = [threading.Thread(target=queue.start_worker) for _ in range(2)]\n"
        "[t.start() for t in threads]; [t.join() for t in threads]\n"
        "engines = [t for t in threading.enumerate() if t.name == 'qtqueue-engine']\n"
        "assert len(engines) == 1, engines\n"
        "asyncio.run(queue.add_task(quick())); asyncio.run(queue.add_task(quick()))\n"
        "queue.stop_worker()\n"
    ),
}


@pytest.mark.parametrize("program", ACROSS_LOOPS.values(), ids=ACROSS_LOOPS.keys())
def test_a_queue_used_from_several_loops_or_threads_answers_every_call(
    data_dir: Path, program: str
) -> None:
    setup = (
        "import asyncio, threading\n"
        "from qtqueue import Task, TaskQueue\n"
        f"DATA_DIR = {str(data_dir)!r}\n"
        "def quick():\n"
        "    return Task('custom_command', {'command': 'true'})\n"
    )
    done = run_program(setup + program + "print('exited')\n")
    assert (done.returncode, done.stdout) == (0, "exited\n"), done.stderr
    assert len(stored_tasks(data_dir)) == 2


def test_two_threads_each_running_a_loop_on_an_auto_opened_queue_hear_why_or_succeed(
    data_dir: Path,
) -> None:
    """Without start_worker the queue lives on the loop that opened it: a call from another
    thread's loop while that loop runs is refused with a message that names start_worker; a
    call made after it ended opens the queue again. Never a hang, nothing acknowledged lost."""
    program = (
        "import asyncio, threading\n"
        "from qtqueue import QueueError, Task, TaskQueue\n"
        f"queue = TaskQueue({str(data_dir)!r})\n"
        "added, refused = [], []\n"
        "def add():\n"
        "    try:\n"
        "        added.append(asyncio.run(queue.add_task(Task('custom_command', "
        "{'command': 'true'}))))\n"
        "    except QueueError as exc:\n"
        "        refused.append(str(exc))\n"
        "threads = [threading.Thread(target=add) for _ in range(2)]\n"
        "[t.start() for t in threads]; [t.join() for t in threads]\n"
        "assert all('start_worker' in r for r in refused), refused\n"
        "print(len(added))\n"
    )
    done = run_program(program)
    assert done.returncode == 0, done.stderr
    acknowledged = int(done.stdout)
    assert acknowledged >= 1 and len(stored_tasks(data_dir)) == acknowledged
