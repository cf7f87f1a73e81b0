"""The RQ-style queue design document (4-rq-queue-design.md): its work orders.

Its own examples, run as the document shows them with the import path `qtqueue.work_orders`;
the document's `QueueManager(redis_url).enqueue_task` is an illustration of its design, and in
qtqueue a work order is added as a task (`work_order_task`) to the queue.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

from helpers.git_repos import make_bare_repo
from helpers.queues import QueueFactory
from helpers.work_orders import work_order_registry

from qtqueue.core.task import Permission, TaskStatus
from qtqueue.core.task import Priority as TaskPriority
from qtqueue.work_orders import (
    PermissionLevel,
    Priority,
    TaskType,
    WorkOrderMessage,
    work_order_task,
)

#: The document's keys of `WorkOrderMessage.to_dict()`, in its order.
DOCUMENT_KEYS = [
    "id", "task_id", "work_order_id", "task_type", "permission_level", "priority",
    "repository_url", "branch_name", "issue_number", "pr_number", "files", "title",
    "description", "requirements", "created_at", "timeout_seconds", "max_retries",
    "retry_count", "payload", "metadata",
]  # fmt: skip


def the_documents_work_order() -> WorkOrderMessage:
    """Testing > Unit Tests > test_enqueue_task: its constructor call, as written."""
    work_order = WorkOrderMessage(
        id="test-id",
        task_id="task-1",
        work_order_id="order-1",
        task_type=TaskType.FEATURE,
        permission_level=PermissionLevel.AUTONOMOUS,
        priority=Priority.NORMAL,
        repository_url="https://github.com/test/repo",
        branch_name="main",
        title="Test task",
        description="Test description",
        created_at=datetime.now(),
    )
    return work_order


async def test_rq_queue_design_doc_testing_unit_tests_test_enqueue_task(
    make_queue: QueueFactory,
) -> None:
    work_order = the_documents_work_order()
    queue = await make_queue(registry=work_order_registry(), dispatch=False)
    job_id = await queue.add_task(work_order_task(work_order))

    queued = await queue.get_task(job_id)
    assert queued.status is TaskStatus.PENDING
    assert queued.params["work_order_id"] == work_order.work_order_id == "order-1"
    assert (queued.task_type, queued.name) == ("work_order", "Test task")
    assert queued.priority is TaskPriority.NORMAL
    assert queued.permission == Permission.AUTONOMOUS
    assert (queued.timeout_s, queued.max_retries) == (3600, 3)  # the document's defaults
    assert [t.id for t in await queue.list_tasks()] == [job_id]


def test_rq_queue_design_doc_message_structure_work_order_message() -> None:
    work_order = the_documents_work_order()
    data = work_order.to_dict()
    assert list(data) == DOCUMENT_KEYS
    assert (data["task_type"], data["permission_level"], data["priority"]) == (
        "feature",
        "autonomous",
        "normal",
    )
    assert data["created_at"] == work_order.created_at.isoformat()
    assert (data["files"], data["requirements"], data["payload"], data["metadata"]) == (
        [],
        [],
        {},
        {},
    )
    assert (data["timeout_seconds"], data["max_retries"], data["retry_count"]) == (3600, 3, 0)
    # Claiming Work > execute_task: `WorkOrderMessage.from_dict(work_order_dict)`.
    assert WorkOrderMessage.from_dict(data) == work_order
    # Each message gets its own lists (the document's `= []` shared one list among all).
    other = the_documents_work_order()
    other.files.append("README.md")
    assert work_order.files == []


async def test_rq_queue_design_doc_claiming_work_execute_task(
    make_queue: QueueFactory, tmp_path: Path
) -> None:
    """execute_task's result, `{"status": "success", "output": ..., "files_modified": [...]}`,
    from a work order on a real repository and a real (tiny) agent."""
    origin = make_bare_repo(tmp_path / "repos", {"README.md": "hello\n"})
    agent = tmp_path / "agent.py"
    agent.write_text(
        "import pathlib\npathlib.Path('CHANGES.md').write_text('done')\nprint('Task completed')\n"
    )
    queue = await make_queue(registry=work_order_registry())
    queue.executor_settings["work_order_agent_command"] = [sys.executable, str(agent)]
    work_order = WorkOrderMessage(
        task_type=TaskType.DOCS,
        permission_level=PermissionLevel.AUTONOMOUS,
        priority=Priority.LOW,
        repository_url=str(origin),
        branch_name="main",
        title="Write the changes file",
        description="Add CHANGES.md",
    )
    task = await queue.wait_for(await queue.add_task(work_order_task(work_order)), timeout_s=60)
    assert task.status is TaskStatus.COMPLETED, task.error
    result = task.result or {}
    assert {k: result[k] for k in ("status", "output", "files_modified")} == {
        "status": "success",
        "output": "Task completed",
        "files_modified": ["CHANGES.md"],
    }
    assert task.priority is TaskPriority.LOW
