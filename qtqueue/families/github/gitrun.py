"""Real git for clones and pushes: its progress read as it comes, the token handed over through
an askpass program (gitauth.py), the process tree paused, resumed and stopped with the task.

The token never reaches git's command line, its environment, a URL, the log, a result or an
exception: git asks for it through `GIT_ASKPASS` (see gitauth.py); no credential helper may
run (`-c credential.helper=`), so none can store it, and git may never prompt on a terminal
(`GIT_TERMINAL_PROMPT=0`).

git runs with LC_ALL=C (its messages are matched by git_messages.toml) in its own process
group: pause stops the whole tree (SIGSTOP), resume continues it, cancel terminates it (SIGTERM,
SIGKILL after a grace period). Its progress lines become the task's percentage and step; the
log keeps each phase's last line (`[git] Receiving objects: 100% (402/402), 7.65 MiB | ...`)
and every other line git prints.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import logging
import os
import re
import shutil
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from qtqueue.core.error_catalog import MessageRule, parse_catalog
from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.executors.base import RunContext
from qtqueue.executors.process import ProcessTree
from qtqueue.families.github.gitauth import GitAuth
from qtqueue.families.github.progress import (
    GIT_LOG_PREFIX,
    GitPhase,
    TransferProgress,
    parse_progress_line,
)

logger = logging.getLogger(__name__)

__all__ = ["GitOutcome", "git_error", "git_output", "git_program", "run_git"]

_C = TaskErrorCode
_RULES: tuple[MessageRule, ...] = parse_catalog(
    (resources.files(__package__) / "git_messages.toml").read_text(encoding="utf-8"),
    "github/git_messages.toml",
).rules
#: Seconds between SIGTERM and SIGKILL when a git run is cancelled.
GRACE_S = 5.0
#: Report progress at most this often within one phase.
PROGRESS_INTERVAL_S = 0.25
#: Lines of git's output kept for the error message.
_TAIL_LINES = 40
_LINES = re.compile(r"\r\n|\r|\n")


@dataclass
class GitOutcome:
    """What a finished git run printed."""

    lines: list[str] = field(default_factory=list)
    """Its lines other than progress."""
    phases: dict[str, GitPhase] = field(default_factory=dict)
    """Each progress phase's last state, by name."""


def git_program() -> str:
    """The git executable, or SYSTEM_COMMAND_NOT_FOUND."""
    found = shutil.which("git")
    if found is None:
        raise QueueError(
            _C.SYSTEM_COMMAND_NOT_FOUND,
            "git is not installed (no 'git' on the engine's PATH)",
            command="git",
        )
    return found


def _git_env(auth: GitAuth | None) -> dict[str, str]:
    env = {
        **os.environ,
        "LC_ALL": "C",
        "GIT_TERMINAL_PROMPT": "0",  # never wait for a password nobody will type
        "GCM_INTERACTIVE": "never",
    }
    for name in [n for n in env if n.startswith("QTQUEUE_GIT_")]:
        del env[name]  # only this run's login (`auth`) may be there
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
    if auth is not None:
        env.update(auth.env())
    return env


async def _start(
    args: Sequence[str], *, cwd: Path | None, auth: GitAuth | None, merged: bool
) -> asyncio.subprocess.Process:
    """git started in its own process group; stdout piped, stderr into it (`merged`) or apart."""
    # No credential helper runs, so none can store the token git was given.
    return await asyncio.create_subprocess_exec(
        *[git_program(), "-c", "credential.helper=", *args],
        cwd=cwd,
        env=_git_env(auth),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT if merged else asyncio.subprocess.PIPE,
        process_group=0,
    )


def git_error(verb: str, returncode: int, lines: Sequence[str], fallback: str) -> QueueError:
    """The coded error of a failed `git verb` from what it printed (git_messages.toml)."""
    text = "\n".join(lines)
    code, said = fallback, ""
    for rule in _RULES:
        found = rule.pattern.search(text)
        if found is not None:
            code = rule.code
            said = next((ln for ln in lines if rule.pattern.search(ln)), "")
            break
    if not said:
        said = next(
            (ln for ln in reversed(lines) if ln.startswith(("fatal:", "error:"))),
            lines[-1] if lines else f"exit status {returncode}",
        )
    said = said.strip().removeprefix("fatal: ").removeprefix("error: ")
    return QueueError(
        code, f"git {verb}: {said[:300]}", exit_code=returncode, output_tail=list(lines[-5:])
    )


class _Output:
    """git's output, line by line: progress to the task, other lines (and each phase's last
    state) to the log."""

    def __init__(self, ctx: RunContext, phases: Mapping[str, tuple[float, float]]) -> None:
        self.ctx = ctx
        self.transfer = TransferProgress(phases)
        self.outcome = GitOutcome()
        self._partial = ""
        self._current: str | None = None
        self._unlogged: str | None = None
        self._reported_at = 0.0

    def feed(self, chunk: str) -> None:
        pieces = _LINES.split(self._partial + chunk)
        self._partial = pieces.pop()
        for line in pieces:
            self._line(line.rstrip())

    def close(self) -> None:
        if self._partial.strip():
            self._line(self._partial.rstrip())
        self._partial = ""
        self._flush_phase()

    def _flush_phase(self) -> None:
        if self._unlogged is not None:
            self.ctx.log(GIT_LOG_PREFIX + self._unlogged)
            self._unlogged = None

    def _line(self, line: str) -> None:
        if not line:
            return
        phase = parse_progress_line(line)
        if phase is None:
            self.outcome.lines.append(line)
            del self.outcome.lines[:-_TAIL_LINES]
            self.ctx.log(GIT_LOG_PREFIX + line)
            return
        key = ("remote: " if phase.remote else "") + phase.phase
        changed = key != self._current
        if changed:
            self._flush_phase()
            self._current = key
        self.outcome.phases[key] = phase
        percent = self.transfer.update(phase)
        if phase.finished:
            self.ctx.log(GIT_LOG_PREFIX + line.strip())
            self._unlogged = None
        else:
            self._unlogged = line.strip()
        now = time.monotonic()
        if changed or phase.finished or now - self._reported_at >= PROGRESS_INTERVAL_S:
            self._reported_at = now
            self.ctx.progress(percent, phase.describe())


async def _terminate(tree: ProcessTree, proc: asyncio.subprocess.Process) -> None:
    """SIGTERM the tree (waking it if suspended), SIGKILL what is left after GRACE_S."""
    tree.signal_tree(signal.SIGTERM)
    tree.signal_tree(signal.SIGCONT)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(proc.wait()), GRACE_S)
    tree.signal_tree(signal.SIGKILL)
    await asyncio.shield(proc.wait())


def _nothing() -> None:
    """A suspend hook once git has ended: nothing of it is left to stop."""


async def run_git(
    ctx: RunContext,
    verb: str,
    args: Sequence[str],
    *,
    auth: GitAuth | None,
    phases: Mapping[str, tuple[float, float]],
    cwd: Path | None = None,
    fallback: str = _C.GITHUB_API_ERROR,
) -> GitOutcome:
    """Run `git verb args` to its end (see the module docstring); a failure raises the code
    git_messages.toml gives what git printed, else `fallback`."""
    proc = await _start([verb, *args], cwd=cwd, auth=auth, merged=True)
    tree = ProcessTree(proc.pid, proc.wait)
    ctx.attach_pid(proc.pid)
    ctx.set_suspend_hooks(tree.suspend, tree.resume)
    output = _Output(ctx, phases)
    decoder = codecs.getincrementaldecoder("utf-8")("replace")  # a character cut by a read
    assert proc.stdout is not None
    try:
        while chunk := await proc.stdout.read(65536):
            output.feed(decoder.decode(chunk))
        output.feed(decoder.decode(b"", final=True))
        returncode = await proc.wait()
    except BaseException:
        await _terminate(tree, proc)
        raise
    finally:
        ctx.set_suspend_hooks(_nothing, _nothing)
        output.close()
    if returncode != 0:
        raise git_error(verb, returncode, output.outcome.lines, fallback)
    return output.outcome


async def git_output(ctx: RunContext, args: Sequence[str], *, cwd: Path) -> str | None:
    """The stdout of a quick local git command (rev-parse, symbolic-ref) in `cwd`; None when it
    fails (what it printed goes to the log)."""
    proc = await _start(args, cwd=cwd, auth=None, merged=False)
    try:
        out, err = await proc.communicate()
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await asyncio.shield(proc.wait())
        raise
    if proc.returncode != 0:
        for line in err.decode("utf-8", "replace").splitlines():
            ctx.log(GIT_LOG_PREFIX + line)
        return None
    return out.decode("utf-8", "replace").strip()
