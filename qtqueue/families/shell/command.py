"""CUSTOM_COMMAND and CUSTOM_SCRIPT: run a program or a script as a task."""

from __future__ import annotations

import os
import re
import shlex
import shutil
from typing import Any

from pydantic import AliasChoices, Field, field_validator

from qtqueue.config import python_interpreter
from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import TaskType
from qtqueue.executors.base import Executor, Params, RunContext
from qtqueue.executors.env import check_env, resolve_env
from qtqueue.executors.process import (
    DEFAULT_GRACE_S,
    DEFAULT_PROGRESS_PATTERN,
    DEFAULT_STEP_PATTERN,
    run_command,
)


def _check_regex(value: str | None) -> str | None:
    if value:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
    return value


class _ProcessParams(Params):
    cwd: str | None = Field(
        None,
        description="Working directory",
        # `working_dir`: the universal queue document's name for it
        validation_alias=AliasChoices("cwd", "working_dir"),
        json_schema_extra={"widget": "folder"},
    )
    env: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Extra environment variables; a value 'keyring:NAME' is the credential NAME from "
            "the OS keyring, read at start and masked in the log (never stored)"
        ),
    )
    progress_pattern: str | None = Field(
        DEFAULT_PROGRESS_PATTERN,
        description="Regex whose first group is a percentage found in the output",
    )
    step_pattern: str | None = Field(
        DEFAULT_STEP_PATTERN,
        description="Regex: the last output line matching it becomes the current step",
    )
    grace_s: float = Field(
        DEFAULT_GRACE_S, ge=0, le=600, description="Seconds between SIGTERM and SIGKILL on cancel"
    )
    # Optional (None) rather than False, so that forms leave it out unless it is asked for.
    interactive: bool | None = Field(
        None, description="Keep stdin open for input sent with 'qtqueue send' (else /dev/null)"
    )

    _regexes = field_validator("progress_pattern", "step_pattern")(_check_regex)
    _env = field_validator("env")(check_env)


async def _run_argv(ctx: RunContext[Any], argv: list[str], p: _ProcessParams) -> dict[str, Any]:
    """Run `argv` with the process settings both shell types share; its exit code."""
    rc = await run_command(
        ctx,
        argv,
        cwd=p.cwd,
        env=await resolve_env(ctx, p.env),
        progress_pattern=p.progress_pattern,
        step_pattern=p.step_pattern,
        grace_s=p.grace_s,
        interactive=bool(p.interactive),
    )
    return {"exit_code": rc}


class CommandParams(_ProcessParams):
    command: str = Field(..., min_length=1, description="Program to run, or a shell line")
    args: list[str] = Field(default_factory=list, description="Arguments")
    shell: bool = Field(False, description="Run the command through /bin/sh")


class CommandExecutor(Executor[CommandParams]):
    """Runs a program with arguments (no shell unless `shell` is true)."""

    task_type = TaskType.CUSTOM_COMMAND
    title = "Shell command"
    params_model = CommandParams
    summary = "Run a program or a shell command line"
    runs_commands = True

    async def run(self, ctx: RunContext[CommandParams]) -> dict[str, Any] | None:
        p = ctx.params
        if p.shell:
            line = p.command if not p.args else " ".join([p.command, *map(shlex.quote, p.args)])
            argv = ["/bin/sh", "-c", line]
        else:
            argv = [p.command, *p.args]
        return await _run_argv(ctx, argv, p)


_INTERPRETERS = {
    ".py": [python_interpreter()],  # in a packaged build, the system's python3
    ".sh": ["/bin/sh"],
    ".bash": ["bash"],
    ".js": ["node"],
    ".rb": ["ruby"],
    ".pl": ["perl"],
}


class ScriptParams(_ProcessParams):
    script_path: str = Field(
        ..., min_length=1, description="Script to run", json_schema_extra={"widget": "file"}
    )
    script_args: list[str] = Field(default_factory=list, description="Arguments")
    interpreter: str | None = Field(
        None, description="Program that runs the script (default: by its #! line or extension)"
    )


class ScriptExecutor(Executor[ScriptParams]):
    """Runs a script file: by its interpreter, its #! line, or its extension."""

    task_type = TaskType.CUSTOM_SCRIPT
    title = "Script"
    params_model = ScriptParams
    summary = "Run a script file (Python, shell, …)"
    runs_commands = True

    async def run(self, ctx: RunContext[ScriptParams]) -> dict[str, Any] | None:
        p = ctx.params
        path = os.path.expanduser(p.script_path)
        if p.cwd and not os.path.isabs(path):
            path = os.path.join(p.cwd, path)
        if not os.path.isfile(path):
            raise QueueError(
                TaskErrorCode.DATA_FILE_NOT_FOUND, f"script not found: {path}", path=path
            )
        argv = [*self._interpreter(path, p.interpreter), path, *p.script_args]
        return await _run_argv(ctx, argv, p)

    @staticmethod
    def _interpreter(path: str, explicit: str | None) -> list[str]:
        if explicit:
            return shlex.split(explicit)
        with open(path, "rb") as fh:
            first = fh.readline(256)
        if first.startswith(b"#!"):
            return shlex.split(first[2:].decode("utf-8", "replace").strip())
        ext = os.path.splitext(path)[1].lower()
        if ext in _INTERPRETERS:
            return list(_INTERPRETERS[ext])
        if os.access(path, os.X_OK):
            return []
        sh = shutil.which("sh") or "/bin/sh"
        return [sh]
