"""A task's scheduling facts in words, as the detail pane shows them (Qt-free)."""

from __future__ import annotations

import json
import logging
import re
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from qtqueue.core.errors import error_info
from qtqueue.core.task import (
    ACTIVE,
    TERMINAL,
    Permission,
    Task,
    TaskStatus,
    TaskType,
    summarize_params,
)
from qtqueue.engine.schedules import SCHEDULE_TAG_PREFIX
from qtqueue.executors.family import Family
from qtqueue.ui.task_list.columns import MASK, format_timestamp, is_secret_key

logger = logging.getLogger(__name__)

__all__ = [
    "awaits_input",
    "cancelled_in_words",
    "command_line",
    "fix_needs_credential",
    "input_hint",
    "leading_params",
    "log_tail",
    "param_order",
    "param_text",
    "permission_in_words",
    "resources_in_words",
    "schedule_of",
    "waiting_in_words",
]


def _amount(value: Any) -> str:
    return f"{float(value):g}"


def resources_in_words(resources: dict[str, Any]) -> str:
    """'2 CPU cores, 8 GB of memory, 20 GB of disk on /data, 6 GB of GPU memory'; ''."""
    parts: list[str] = []
    cpu = resources.get("cpu_cores")
    if cpu:
        parts.append(f"{_amount(cpu)} CPU core{'' if float(cpu) == 1 else 's'}")
    if resources.get("memory_gb"):
        parts.append(f"{_amount(resources['memory_gb'])} GB of memory")
    if resources.get("disk_gb"):
        where = resources.get("disk_path") or "the home folder"
        parts.append(f"{_amount(resources['disk_gb'])} GB of disk on {where}")
    if resources.get("gpu_memory_gb"):
        parts.append(f"{_amount(resources['gpu_memory_gb'])} GB of GPU memory")
    return ", ".join(parts)


def permission_in_words(t: Task) -> str:
    """What the task's permission means for it now."""
    if t.permission == Permission.HUMAN_REQUIRED:
        if t.approved_at is not None:
            return f"approved {format_timestamp(t.approved_at)}"
        if t.status in TERMINAL:
            return "needed approval; it was never given"
        return "awaiting approval: it runs only once a person approves it"
    if t.permission == Permission.SUPERVISED:
        return "supervised: runs on its own, with a notice when it starts"
    return "autonomous: runs without asking"


def waiting_in_words(t: Task, now: float) -> str:
    """Why a pending task is not running, for a person; '' for a task not pending."""
    if t.status != TaskStatus.PENDING:
        return ""
    reason = t.wait_reason
    if reason:
        return reason[0].upper() + reason[1:]
    if t.run_at is not None and t.run_at > now:
        return f"Scheduled: not before {format_timestamp(t.run_at)}"
    return "Queued: it starts when a slot is free"


def input_hint(t: Task) -> str:
    """Why `stdinInput` is disabled for `t`, or '' when the task takes input now."""
    if not t.params.get("interactive"):
        return "No input: not started as interactive"
    if t.status in ACTIVE:
        return ""
    if t.status in TERMINAL:
        return "Finished: it takes no more input"
    return "Input can be sent once it runs"


def schedule_of(t: Task) -> str:
    """The id of the schedule that added `t` (its `schedule:<id>` tag), or ''."""
    for tag in t.tags:
        if tag.startswith(SCHEDULE_TAG_PREFIX):
            return tag[len(SCHEDULE_TAG_PREFIX) :]
    return ""


def log_tail(text: str, limit: int) -> str:
    """The last `limit` characters of `text`, from a line's start when one is in reach."""
    if len(text) <= limit:
        return text
    cut = text[-limit:]
    newline = cut.find("\n")
    return cut[newline + 1 :] if newline >= 0 else cut


def leading_params(families: Sequence[Family]) -> tuple[str, ...]:
    """The params that say most about a task, shown first: a command and its args, each
    family's name keys (the image of a pull…), a script, a URL."""
    keys = ["command", "args", *(k for f in families for k in f.name_keys), "script_path", "url"]
    return tuple(dict.fromkeys(keys))


def param_order(item: tuple[str, Any], leading: Sequence[str]) -> tuple[int, str]:
    """Sort key of a (name, value) param: those of `leading` first, the rest by name."""
    name = item[0]
    lead = leading.index(name) if name in leading else len(leading)
    return lead, name


def param_text(name: str, value: Any) -> str:
    """A param's value as shown: masked for a secret-looking name, JSON unless a string."""
    if is_secret_key(name):
        return MASK
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)


def command_line(t: Task, title: str = "", name_keys: Sequence[str] = ()) -> str:
    """What runs first: a command's or a script's argv as one shell-quoted line (a shell
    line through `/bin/sh -c`), else '<type title>: <what it works on>' (the image of a
    pull…), from `name_keys` then command/script/url."""
    p: Mapping[str, Any] = t.params
    if t.type_name == TaskType.CUSTOM_COMMAND.value and p.get("command"):
        args = [str(a) for a in p.get("args") or []]
        if p.get("shell"):
            line = " ".join([str(p["command"]), *map(shlex.quote, args)])
            return shlex.join(["/bin/sh", "-c", line])
        return shlex.join([str(p["command"]), *args])
    if t.type_name == TaskType.CUSTOM_SCRIPT.value and p.get("script_path"):
        interpreter = shlex.split(str(p["interpreter"])) if p.get("interpreter") else []
        args = [str(a) for a in p.get("script_args") or []]
        return shlex.join([*interpreter, str(p["script_path"]), *args])
    what = summarize_params(t.type_name, p, name_keys)
    title = title or t.type_name
    return title if what == t.type_name else f"{title}: {what}"


def cancelled_in_words(t: Task) -> str:
    """Who ended a cancelled task: 'Cancelled by the user', 'Cancelled by <who>' where the
    engine named one (`error_details["cancelled_by"]`), or its own message."""
    who = t.error_details.get("cancelled_by")
    if who:
        return f"Cancelled by {who}"
    message = (t.error or "").strip()
    if message and message.lower() != "none":
        return message[0].upper() + message[1:]
    return "Cancelled by the user"


#: A fix that is a credential to store in qtqueue's credentials (the keyring): the words the
#: suggestions of such codes use (core/errors.toml, the families' errors.toml).
_CREDENTIAL_FIX = re.compile(
    r"credentials settings|qtqueue's credentials|stored registry token|task's credential name",
    re.IGNORECASE,
)


def fix_needs_credential(code: str | None) -> bool:
    """Whether the fix for `code` is a credential missing from qtqueue's credentials."""
    if not code:
        return False
    return code == "CREDENTIAL_NOT_FOUND" or bool(
        _CREDENTIAL_FIX.search(error_info(code).suggestion)
    )


def awaits_input(t: Task, log_end: str) -> bool:
    """Whether an interactive task waits for input: it runs and its output ends with a
    prompt (a last line without its newline, as 'Continue? [y/N] ')."""
    if not t.params.get("interactive") or t.status != TaskStatus.RUNNING:
        return False
    return bool(log_end) and not log_end.endswith("\n")
