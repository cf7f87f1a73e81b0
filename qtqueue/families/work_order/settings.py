"""The work-order family's settings: which agent runs work orders, and what is kept after."""

from __future__ import annotations

import logging

from pydantic import BaseModel, ConfigDict, Field, field_validator

from qtqueue.families.work_order.template import check_template

logger = logging.getLogger(__name__)

__all__ = ["WorkOrderSettings"]


class WorkOrderSettings(BaseModel):
    """Settings every work order reads when it runs (`RunContext.family_settings`); the
    settings page and `qtqueue config` are generated from it.

    No agent is set by default, on purpose: a work order runs a program on a repository, and
    which program is the user's choice. Until one is set, a work order fails with
    WORK_ORDER_AGENT_NOT_CONFIGURED (its worktree made, nothing run in it)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    work_order_agent_command: list[str] = Field(
        default_factory=list,
        title="Agent command",
        description=(
            "The program that does a work order, run in its worktree without a shell, one "
            "argument a row; a whole argument may be a placeholder: {prompt}, {title}, "
            "{description}, {task_type}, {branch}, {worktree}, {work_order_file}, {files}, "
            "{requirements}… (e.g. my-agent --print {prompt})"
        ),
    )
    work_order_keep_worktrees: bool = Field(
        default=True,
        title="Keep worktrees",
        description=(
            "Keep each work order's worktree (data folder/work_orders/<task id>) after it ends, "
            "to review the changes; off: removed when it ends (the work branch, with any "
            "commits, stays in a local repository)"
        ),
    )
    work_order_output_lines: int = Field(
        default=20,
        ge=1,
        le=1000,
        title="Output lines in the result",
        description="How many of the agent's last output lines the result keeps",
    )

    @field_validator("work_order_agent_command")
    @classmethod
    def _template(cls, template: list[str]) -> list[str]:
        return check_template(template)
