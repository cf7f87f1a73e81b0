"""WORK_ORDER: the agent command in a fresh git worktree of the work order's branch.

One attempt: PREPARING while the worktree is made (`git.py`), then RUNNING while the agent
command (the work order's own, else the settings' template, see `template.py`) runs in it,
through the same process helper as a shell task: its own process group, its output as the
task's log (progress and steps read from it), pause and resume of the whole tree, cancel and
time-out terminating it. The agent's environment names the work order:

- `QTQUEUE_TASK_ID`, `QTQUEUE_DATA_DIR` (as in every process the engine runs): so the agent can
  ask a person with `qtqueue ask "…"`, wait, and read the answer on its stdout;
- `QTQUEUE_WORK_ORDER`: a JSON file (0600, beside the worktree) with the whole work order
  (`WorkOrderMessage.to_dict()`, plus `worktree` and `work_branch`).

On success the result is the document's `{"status": "success", "output": <its last lines>,
"files_modified": [...]}` plus `branch` (the work order's), `work_branch`, `base_commit` and
`worktree`. The worktree is kept after the task ends, whatever the outcome, for the user to
review, unless the `work_order_keep_worktrees` setting is off (then it is removed as the task
ends, and `worktree` is None); a retry always starts from a fresh one. Removing the task
(`qtqueue remove`) deletes the task and its log, not its work: a kept worktree stays until it is
deleted by hand (and, for a local repository, `git worktree prune` there).
"""

from __future__ import annotations

import json
import logging
import os
import re
from hashlib import sha256
from pathlib import Path
from typing import Any, cast

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import TaskStatus
from qtqueue.executors.base import Executor, RunContext
from qtqueue.executors.process import run_command
from qtqueue.families.work_order.git import (
    Checkout,
    changed_files,
    git_program,
    make_checkout,
    remove_checkout,
)
from qtqueue.families.work_order.params import WorkOrderParams, is_remote
from qtqueue.families.work_order.settings import WorkOrderSettings
from qtqueue.families.work_order.template import fill_template
from qtqueue.work_orders import WORK_ORDER_TYPE, work_order_message

logger = logging.getLogger(__name__)

__all__ = ["WORK_ORDERS_DIR", "WorkOrderExecutor", "prompt_text", "work_order_folder"]

#: The folder of the data directory that holds one folder per work-order task.
WORK_ORDERS_DIR = "work_orders"
_SAFE_ID = re.compile(r"[0-9A-Za-z-]{1,64}")
_TAIL_BYTES = 65536


def work_order_folder(ctx: RunContext) -> Path:
    """`<data dir>/work_orders/<task id>`: the task's worktree and work order file. An id that
    is not a plain one gets a digest name, so the folder never leaves `work_orders`."""
    data_dir = Path(ctx.data_dir)
    task_id = ctx.task.id
    name = task_id if _SAFE_ID.fullmatch(task_id) else sha256(task_id.encode()).hexdigest()
    return data_dir / WORK_ORDERS_DIR / name


def prompt_text(p: WorkOrderParams) -> str:
    """The whole work order as one text for an agent (`{prompt}`)."""
    parts = [f"{p.task_type.value}: {p.title}", p.description.strip()]
    if p.requirements:
        parts.append("Requirements:\n" + "\n".join(f"- {r}" for r in p.requirements))
    if p.files:
        parts.append("Files:\n" + "\n".join(f"- {f}" for f in p.files))
    refs = [
        f"{what} #{number}"
        for what, number in (("issue", p.issue_number), ("pull request", p.pr_number))
        if number
    ]
    if refs:
        parts.append("About: " + ", ".join(refs))
    return "\n\n".join(parts) + "\n"


class _TailContext:
    """The task's context, which also keeps the end of what the agent prints."""

    def __init__(self, ctx: RunContext) -> None:
        self._ctx = ctx
        self.tail = bytearray()

    def log_bytes(self, chunk: bytes) -> None:
        self._ctx.log_bytes(chunk)
        self.tail += chunk
        if len(self.tail) > _TAIL_BYTES:
            del self.tail[: len(self.tail) - _TAIL_BYTES]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ctx, name)

    def last_lines(self, count: int) -> str:
        lines = [ln for ln in self.tail.decode("utf-8", "replace").splitlines() if ln.strip()]
        return "\n".join(lines[-count:])


def _agent_error(exc: QueueError, program: str, folder: Path) -> QueueError:
    """The work-order code of a failed agent command: not found, or failed (with the code
    the process helper gave as `cause`)."""
    if exc.code == TaskErrorCode.SYSTEM_COMMAND_NOT_FOUND:
        code, message = "WORK_ORDER_AGENT_NOT_FOUND", f"agent not found: {program}"
    else:
        code, message = "WORK_ORDER_AGENT_FAILED", f"the agent failed: {exc.message}"
    return QueueError(
        code, message, **{**exc.details, "cause": str(exc.code), "worktree": str(folder)}
    )


class WorkOrderExecutor(Executor[WorkOrderParams]):
    """Runs the agent command on a fresh worktree of the work order's branch."""

    task_type = WORK_ORDER_TYPE
    summary = "Have an agent do a work order in a fresh git worktree of a branch"

    async def run(self, ctx: RunContext[WorkOrderParams]) -> dict[str, Any] | None:
        p = ctx.params
        settings = ctx.family_settings(WorkOrderSettings)
        git_program()  # a clear error before anything is made
        root = work_order_folder(ctx)
        folder = root / "worktree"
        local = None if is_remote(p.repository_url) else Path(p.repository_url).expanduser()
        ctx.phase(TaskStatus.PREPARING)
        ctx.progress(0, "making the worktree")
        if folder.exists():
            await remove_checkout(ctx, folder, local)  # an earlier attempt's
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            checkout = await make_checkout(ctx, p, folder)
            return await self._run_agent(ctx, settings, checkout, root / "work_order.json")
        finally:
            if not settings.work_order_keep_worktrees:
                await remove_checkout(ctx, folder, local)

    async def _run_agent(
        self,
        ctx: RunContext[WorkOrderParams],
        settings: WorkOrderSettings,
        checkout: Checkout,
        order_file: Path,
    ) -> dict[str, Any]:
        p = ctx.params
        order = {
            **work_order_message(ctx.task).to_dict(),
            "worktree": str(checkout.path),
            "work_branch": checkout.work_branch,
        }
        fd = os.open(order_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(order, fh, indent=2)
        ctx.phase(TaskStatus.RUNNING)
        template = p.agent_command or settings.work_order_agent_command
        if not template:
            raise QueueError(
                "WORK_ORDER_AGENT_NOT_CONFIGURED",
                "no agent command is set: set the Work orders agent command in the settings",
                worktree=str(checkout.path),
            )
        values = {
            "prompt": prompt_text(p),
            "title": p.title,
            "description": p.description,
            "task_type": p.task_type.value,
            "repository": p.repository_url,
            "branch": p.branch_name,
            "work_branch": checkout.work_branch,
            "worktree": str(checkout.path),
            "issue_number": str(p.issue_number or ""),
            "pr_number": str(p.pr_number or ""),
            "work_order_id": str(order["work_order_id"]),
            "task_id": ctx.task.id,
            "work_order_file": str(order_file),
        }
        argv = fill_template(template, values, {"files": p.files, "requirements": p.requirements})
        env = {"QTQUEUE_WORK_ORDER": str(order_file)}  # and the engine's, for `qtqueue ask`
        ctx.progress(5, f"running {os.path.basename(argv[0])}")
        ctx.log(f"[work order] running {argv[0]} in {checkout.path}")
        await ctx.checkpoint()
        tail = _TailContext(ctx)
        try:
            await run_command(cast(RunContext, tail), argv, cwd=str(checkout.path), env=env)
        except QueueError as exc:
            raise _agent_error(exc, argv[0], checkout.path) from exc
        files = await changed_files(ctx, checkout)
        return {
            "status": "success",
            "output": tail.last_lines(settings.work_order_output_lines),
            "files_modified": files,
            "branch": p.branch_name,
            "work_branch": checkout.work_branch,
            "base_commit": checkout.base,
            "worktree": str(checkout.path) if settings.work_order_keep_worktrees else None,
        }
