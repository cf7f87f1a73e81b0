"""The work-order family: the RQ-style design document's work orders as a task type.

`work_order` runs a configurable agent command in a fresh git worktree of the work order's
branch (a local repository path, or an unauthenticated URL to clone), with its output as the
task's log and the files it changed as the result; see `executor.py`. Work orders are built
from the document's `WorkOrderMessage` with `qtqueue.work_orders.work_order_task`, or added
like any task (`qtqueue add work_order title=… description=… repository_url=… branch_name=…`).
The agent command is a setting (`work_order_agent_command`, none by default); the permission
level is the task's own `permission`: autonomous runs unattended, supervised runs with a notice,
human_required waits for approval.

Importing this module is cheap: the executor (and git helpers) are imported when a registry is
filled (`family.executors()`).
"""

from __future__ import annotations

import logging
from importlib import resources

from qtqueue.core.errors import CATALOG
from qtqueue.executors.base import Executor
from qtqueue.executors.family import Family
from qtqueue.families.work_order.settings import WorkOrderSettings
from qtqueue.work_orders import WORK_ORDER_CATEGORY

logger = logging.getLogger(__name__)

__all__ = ["ERRORS", "WorkOrderSettings", "family"]


def _executors() -> list[Executor]:
    from qtqueue.families.work_order.executor import WorkOrderExecutor

    return [WorkOrderExecutor()]


#: The family's error codes.
ERRORS = resources.files(__name__) / "errors.toml"

#: The work-order family, advertised as `work_order` in the `qtqueue.families` entry-point group.
family = Family(
    name="work_order",
    title="Work orders",
    category=WORK_ORDER_CATEGORY,
    executors=_executors,
    settings_model=WorkOrderSettings,
    errors=ERRORS,
    name_keys=("title",),
    qt_module=f"{__name__}.qt",
)

# Its codes are known as soon as the family is imported, as the docker family's are
# (`ExecutorRegistry.add_family` registering them again is a no-op).
CATALOG.register_file(family.name, ERRORS)
