"""A work order's params: the `WorkOrderMessage` fields that are not `Task` fields.

Priority, permission level, timeout and retries are the task's own fields (the new-task
dialog's Priority, Approval, Timeout and Retries; `work_order_task` maps them), so they are
not repeated here.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from qtqueue.executors.base import Params
from qtqueue.families.work_order.template import check_template
from qtqueue.work_orders import TaskType

logger = logging.getLogger(__name__)

__all__ = ["REMOTE_SCHEMES", "WorkOrderParams", "is_remote"]

#: URL schemes a work order's repository may use (nothing that runs a program, like ext::).
REMOTE_SCHEMES = ("file", "http", "https", "ssh", "git")
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_HELPER = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*::")  # git's <transport>::<address>
_SCP_LIKE = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:(?!//)")
# What git refuses in a ref name (git check-ref-format), and a leading '-' (an option).
_BAD_REF = re.compile(r"^-|[\s~^:?*\[\\\x00-\x1f\x7f]|\.\.|@\{|^/|/$|\.lock$|^\.|/\.")


def is_remote(repository: str) -> bool:
    """Whether `repository` is a URL to clone (else a local repository path)."""
    return bool(_URL.match(repository) or _SCP_LIKE.match(repository))


class WorkOrderParams(Params):
    """What the agent is asked to do, and on which repository and branch."""

    title: str = Field(..., min_length=1, description="What to do, in one line")
    task_type: TaskType = Field(
        TaskType.FEATURE, title="Kind of work", description="The kind of work"
    )
    description: str = Field(
        ...,
        min_length=1,
        description="What the agent is to do, in full",
        json_schema_extra={"widget": "multiline"},
    )
    repository_url: str = Field(
        ...,
        min_length=1,
        title="Repository",
        description=(
            "A local repository folder, or a URL to clone without credentials "
            "(file://, http(s)://, ssh://, git://)"
        ),
        json_schema_extra={"widget": "folder"},
    )
    branch_name: str = Field(
        ...,
        min_length=1,
        title="Branch",
        description="The branch (or tag) the work starts from, e.g. main",
    )
    requirements: list[str] = Field(default_factory=list, description="Requirements, one a row")
    files: list[str] = Field(
        default_factory=list, description="Files the work is about, paths in the repository"
    )
    issue_number: int | None = Field(None, ge=1, title="Issue", description="The issue it is about")
    pr_number: int | None = Field(
        None, ge=1, title="Pull request", description="The pull request it is about"
    )
    agent_command: list[str] = Field(
        default_factory=list,
        description=(
            "The agent command for this work order, one argument a row, placeholders such as "
            "{prompt} as whole arguments (empty: the Work orders settings' agent command)"
        ),
    )
    work_order_id: str | None = Field(
        None, title="Work order id", description="Your own id for the work order"
    )
    payload: dict[str, Any] = Field(
        default_factory=dict, description="Data for the agent (in $QTQUEUE_WORK_ORDER)"
    )
    metadata: dict[str, Any] = Field(
        default_factory=dict, description="Data about the work order (in $QTQUEUE_WORK_ORDER)"
    )

    @field_validator("title")
    @classmethod
    def _one_line(cls, title: str) -> str:
        if "\n" in title or "\r" in title:
            raise ValueError("must be one line")
        return title

    @field_validator("repository_url")
    @classmethod
    def _repository(cls, repository: str) -> str:
        repository = repository.strip()
        if _HELPER.match(repository):
            raise ValueError(
                "a remote helper (<transport>::<address>) is not a repository qtqueue clones"
            )
        scheme = _URL.match(repository)
        if scheme is not None:
            if scheme.group(1).lower() not in REMOTE_SCHEMES:
                raise ValueError(
                    f"{scheme.group(1)}:// is not a repository URL qtqueue clones "
                    f"(use {', '.join(s + '://' for s in REMOTE_SCHEMES)} or a local folder)"
                )
            try:
                parts = urlsplit(repository)
                userinfo = parts.password is not None or (
                    parts.username is not None and parts.scheme.lower() in ("http", "https")
                )
            except ValueError:
                raise ValueError("is not a valid URL") from None
            if userinfo:
                # Not echoed back: params are stored and shown as plain text.
                raise ValueError(
                    "must not hold a user name or password: params are saved as plain text; "
                    "work orders clone only what needs no credentials"
                )
        elif repository.startswith("-"):
            raise ValueError("must not start with '-'")
        return repository

    @field_validator("branch_name")
    @classmethod
    def _branch(cls, branch: str) -> str:
        branch = branch.strip()
        if _BAD_REF.search(branch):
            raise ValueError(f"{branch!r} is not a branch name git accepts")
        return branch

    @field_validator("agent_command")
    @classmethod
    def _template(cls, template: list[str]) -> list[str]:
        return check_template(template)
