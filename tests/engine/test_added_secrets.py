"""`RunContext.add_secret`: a part of a credential (a JSON login's password) an executor found
is masked like the credential itself, in the log and in everything stored about the task."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from helpers.queues import QueueFactory

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Task, TaskStatus
from qtqueue.engine.logs import REDACTED
from qtqueue.executors import ExecutorRegistry, RunContext, default_registry
from qtqueue.executors.base import Executor

SECRET = "pa55-w0rd-only"


class LeakyLogin(Executor):
    """Learns a password, then says it everywhere it can: log, step, error."""

    task_type: ClassVar[str] = "leaky_login"

    async def run(self, ctx: RunContext) -> dict[str, Any] | None:
        ctx.add_secret(SECRET)
        ctx.log(f"logging in with {SECRET}")
        ctx.progress(50, f"step with {SECRET}")
        raise QueueError(TaskErrorCode.DOCKER_AUTHENTICATION_FAILED, f"refused {SECRET}")


async def test_an_added_secret_is_masked_in_the_log_the_error_and_the_store(
    make_queue: QueueFactory, data_dir: Path
) -> None:
    registry: ExecutorRegistry = default_registry(entry_points=False)
    registry.register(LeakyLogin())
    queue = await make_queue(registry=registry)
    task = await queue.wait_for(
        await queue.add_task(Task("leaky_login", max_retries=0)), timeout_s=10
    )
    assert task.status is TaskStatus.FAILED
    assert task.error == f"refused {REDACTED}"
    assert SECRET not in task.current_step
    log = await queue.read_log(task.id)
    assert f"logging in with {REDACTED}" in log and SECRET not in log
    await queue.close()
    stored = b"".join(p.read_bytes() for p in data_dir.rglob("*") if p.is_file())
    assert SECRET.encode() not in stored
