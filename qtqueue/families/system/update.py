"""SYSTEM_UPDATE: what the platform's package manager would upgrade (the default, read-only:
`apt-get -s upgrade`, `dnf check-update`, `pacman -Qu`, `brew outdated`, `winget upgrade`),
or, with `apply: true`, the upgrade itself.

Applying changes the machine, so it runs only for a task whose permission is `human_required`
and that a person approved (the approval gate parks such a task until then: by the time `run`
starts, `approved_at` is set). The check is made when the task runs, not when it is added: the
task's permission is a field of the task, not of its params, and the params validation sees only
params; at run time the approved task is the only one that can get there, so one check covers
adding, editing and retrying. Not root: `sudo -n env DEBIAN_FRONTEND=noninteractive ...` (never
a password prompt; sudo drops the environment), else `pkexec`. Output is read in chunks, a
carriage return redrawing the line; a cancel, time-out or error stops the command's process
group with SIGTERM (sudo relays it to the package manager), then SIGKILL.
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
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, field_validator

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Permission, TaskStatus, TaskType
from qtqueue.executors.base import Executor, Params, RunContext
from qtqueue.families.system.table import row_line, table_line

logger = logging.getLogger(__name__)

__all__ = [
    "FIX",
    "UpdateExecutor",
    "UpdateParams",
    "detect_manager",
    "elevation",
    "parse_apt",
    "parse_dnf",
    "parse_pacman",
]

C = TaskErrorCode
Manager = Literal["auto", "apt", "dnf", "pacman", "brew", "winget"]
#: What a permission failure tells the user to do.
FIX = "run with approval and elevation"
#: A package name (apt, dnf, pacman, brew, winget ids): never starts with "-".
_PACKAGE = re.compile(r"[A-Za-z0-9][A-Za-z0-9+._:@/~-]{0,127}")
#: The program each manager is found by, in the order they are looked for.
PROGRAMS = {"apt": "apt-get", "dnf": "dnf", "pacman": "pacman", "brew": "brew", "winget": "winget"}


class UpdateParams(Params):
    """What to look at (and whether to apply it)."""

    apply: bool = Field(False, description="Install the upgrades (needs approval)")
    packages: list[str] = Field(
        default_factory=list, description="Only these packages (empty: everything upgradable)"
    )
    manager: Manager = Field("auto", description="Package manager (auto: detect it)")
    timeout_s: float = Field(600.0, gt=0, le=86400, description="Time limit of each command")

    @field_validator("packages")
    @classmethod
    def _package_names(cls, names: list[str]) -> list[str]:
        # Names only: never an option ("-o ...") slipped to a package manager running as root.
        for name in names:
            if not _PACKAGE.fullmatch(name):
                raise ValueError(f"{name!r} is not a package name")
        return names


@dataclass(frozen=True)
class Change:
    """One package that would change (or did)."""

    package: str
    from_version: str
    to_version: str
    arch: str = ""

    def as_dict(self) -> dict[str, str]:
        """JSON form for the result."""
        return {
            "package": self.package,
            "from": self.from_version,
            "to": self.to_version,
            "arch": self.arch,
        }


# Inst bash [5.2.15-2+b8] (5.2.15-2+b13 Debian:12.15/oldstable [amd64])
_APT = re.compile(r"^Inst (\S+) (?:\[([^\]]*)\] )?\((\S+) [^\[]*?(?:\[([^\]]+)\])?\)")


def parse_apt(text: str) -> list[Change]:
    """The `Inst` lines of `apt-get -s` output (a new package has no "from" version)."""
    out = []
    for line in text.splitlines():
        m = _APT.match(line)
        if m:
            out.append(Change(m[1], m[2] or "", m[3], m[4] or ""))
    return out


def parse_dnf(text: str) -> list[Change]:
    """`dnf check-update` lines: name.arch  version  repo (it gives no installed version)."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and "." in parts[0] and not line.startswith(" "):
            name, _, arch = parts[0].rpartition(".")
            out.append(Change(name, "", parts[1], arch))
        elif line.startswith("Obsoleting"):
            break
    return out


def parse_pacman(text: str) -> list[Change]:
    """`pacman -Qu` lines: name old -> new."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[2] == "->":
            out.append(Change(parts[0], parts[1], parts[3]))
    return out


def detect_manager(wanted: Manager = "auto") -> str:
    """The package manager to use; SYSTEM_COMMAND_NOT_FOUND if there is none."""
    names = list(PROGRAMS) if wanted == "auto" else [wanted]
    for name in names:
        if shutil.which(PROGRAMS[name]):
            return name
    raise QueueError(
        C.SYSTEM_COMMAND_NOT_FOUND,
        f"no package manager found (looked for {', '.join(PROGRAMS[n] for n in names)})",
        looked_for=[PROGRAMS[n] for n in names],
    )


def elevation(euid: int | None = None) -> list[str]:
    """The prefix that runs a command as root: none for root, `sudo -n`, else `pkexec`."""
    if (os.geteuid() if euid is None else euid) == 0:
        return []
    if shutil.which("sudo"):
        return ["sudo", "-n"]
    if shutil.which("pkexec"):
        return ["pkexec"]
    raise QueueError(
        C.SYSTEM_PERMISSION_DENIED,
        f"applying updates needs root and neither sudo nor pkexec is here: {FIX}",
        fix=FIX,
    )


def _list_command(manager: str, packages: list[str]) -> list[str]:
    if manager == "apt":
        if packages:
            return ["apt-get", "-s", "install", "--only-upgrade", *packages]
        return ["apt-get", "-s", "upgrade"]
    if manager == "dnf":
        return ["dnf", "-q", "check-update", *packages]
    if manager == "pacman":
        return ["pacman", "-Qu", *packages]
    if manager == "brew":
        return ["brew", "outdated", "--verbose", *packages]
    return ["winget", "upgrade"]


def _apply_command(manager: str, packages: list[str]) -> list[str]:
    if manager == "apt":
        if packages:
            return ["apt-get", "-y", "install", "--only-upgrade", *packages]
        return ["apt-get", "-y", "upgrade"]
    if manager == "dnf":
        return ["dnf", "-y", "upgrade", *packages]
    if manager == "pacman":  # the chosen ones only (-S --needed), else the full upgrade
        if packages:
            return ["pacman", "-S", "--needed", "--noconfirm", *packages]
        return ["pacman", "-Syu", "--noconfirm"]
    if manager == "brew":
        return ["brew", "upgrade", *packages]
    return ["winget", "upgrade", "--all", "--silent", *packages]


def _parse(manager: str, text: str) -> list[Change]:
    if manager == "apt":
        return parse_apt(text)
    if manager == "dnf":
        return parse_dnf(text)
    if manager == "pacman":
        return parse_pacman(text)
    if manager == "brew":  # name (old) < new
        found = re.findall(r"^(\S+) \(([^)]*)\) < (\S+)", text, re.M)
        return [Change(n, o, v) for n, o, v in found]
    return []


_DENIED = re.compile(
    r"a password is required|are you root|permission denied|not authorized|"
    r"could not open lock file|unable to acquire the dpkg frontend lock.*permission",
    re.I,
)


#: Seconds a package manager gets to stop after SIGTERM (sudo relays it) before SIGKILL.
TERM_GRACE_S = 5.0
#: A line longer than this (no newline, no carriage return) is logged in pieces.
LINE_CAP = 65536


async def _stop(proc: asyncio.subprocess.Process) -> None:
    """End the command's whole process group: SIGTERM first (sudo relays it to the package
    manager it runs as root; a SIGKILL would end sudo alone), SIGKILL after TERM_GRACE_S."""
    kill = getattr(signal, "SIGKILL", signal.SIGTERM)
    for sig in (signal.SIGTERM, kill):
        _signal_group(proc, sig)
        try:
            await asyncio.wait_for(asyncio.shield(proc.wait()), TERM_GRACE_S)
        except TimeoutError:
            continue
        break
    _signal_group(proc, kill)  # the leader is gone; what it started may linger


def _signal_group(proc: asyncio.subprocess.Process, sig: int) -> None:
    """`sig` to the process group `proc` leads (its own session); to `proc` alone where
    there are no process groups (Windows)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        killpg = getattr(os, "killpg", None)
        if killpg is not None:
            killpg(proc.pid, sig)
        elif proc.returncode is None:
            proc.send_signal(sig)


def _lines(pending: str) -> tuple[list[str], str]:
    """Complete lines of `pending` and the rest. A carriage return redraws the line (progress
    bars): only what follows the last one counts; a line past LINE_CAP is cut."""
    *done, rest = pending.split("\n")
    lines = [line.rstrip("\r").rpartition("\r")[2] for line in done]
    rest = rest.rstrip("\r").rpartition("\r")[2] + ("\r" if rest.endswith("\r") else "")
    while len(rest) > LINE_CAP:
        lines.append(rest[:LINE_CAP])
        rest = rest[LINE_CAP:]
    return lines, rest


async def _run(ctx: RunContext[UpdateParams], argv: list[str], ok: set[int]) -> str:
    """Run argv, its output streamed to the log; return it. A failure → its code; on any
    error, cancel or time-out the command's process group is stopped (`_stop`)."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C"}
    ctx.log("$ " + " ".join(argv))
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        stdin=asyncio.subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    ctx.attach_pid(proc.pid)
    lines: list[str] = []

    async def pump() -> None:
        assert proc.stdout is not None
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        pending = ""
        while chunk := await proc.stdout.read(LINE_CAP):
            done, pending = _lines(pending + decoder.decode(chunk))
            for line in done:
                lines.append(line)
                ctx.log(line)
        if pending := (pending + decoder.decode(b"", final=True)).rstrip("\r").rpartition("\r")[2]:
            lines.append(pending)
            ctx.log(pending)

    try:
        await asyncio.wait_for(asyncio.gather(pump(), proc.wait()), ctx.params.timeout_s)
    except TimeoutError:
        await _stop(proc)
        raise QueueError(
            C.SYSTEM_TIMEOUT, f"{argv[0]} took more than {ctx.params.timeout_s:g} s", argv=argv
        ) from None
    except BaseException:  # a cancel, or anything unforeseen: never leave it running
        await _stop(proc)
        raise
    text = "\n".join(lines)
    rc = proc.returncode
    if rc is not None and rc < 0:
        raise QueueError(
            C.SYSTEM_PROCESS_KILLED, f"{argv[0]} was killed by signal {-rc}", exit_code=rc
        )
    if rc not in ok:
        if _DENIED.search(text):
            raise QueueError(
                C.SYSTEM_PERMISSION_DENIED,
                f"{argv[0]} was refused the rights it needs: {FIX}",
                fix=FIX,
                exit_code=rc,
            )
        tail = "\n".join(lines[-5:])
        raise QueueError(
            C.SYSTEM_COMMAND_FAILED, f"{argv[0]} exited with {rc}: {tail}", exit_code=rc
        )
    return text


def _log_table(ctx: RunContext[UpdateParams], title: str, changes: list[Change]) -> None:
    """The changes as the detail pane's table."""
    ctx.log(table_line(title, ["Package", "From", "To", "Arch"]))
    for c in changes:
        ctx.log(row_line([c.package, c.from_version or "(new)", c.to_version, c.arch]))


class UpdateExecutor(Executor[UpdateParams]):
    """Lists the pending upgrades, or (approved, elevated) applies them."""

    task_type = TaskType.SYSTEM_UPDATE
    params_model = UpdateParams
    summary = "List (or, approved, apply) the system's package upgrades"

    async def run(self, ctx: RunContext[UpdateParams]) -> dict[str, Any] | None:
        p = ctx.params
        task = ctx.task
        if p.apply and (task.permission != Permission.HUMAN_REQUIRED or task.approved_at is None):
            raise QueueError(
                C.SYSTEM_PERMISSION_DENIED,
                f"apply: true changes the system: the task's permission must be human_required "
                f"and a person must approve it ({FIX})",
                fix=FIX,
                permission=task.permission.value,
            )
        ctx.phase(TaskStatus.PREPARING)
        manager = detect_manager(p.manager)
        # dnf check-update: 100 = upgrades available; pacman -Qu: 1 = nothing to upgrade
        ok = {"dnf": {0, 100}, "pacman": {0, 1}}.get(manager, {0})
        ctx.progress(10.0, f"asking {manager}")
        text = await _run(ctx, _list_command(manager, p.packages), ok)
        pending = _parse(manager, text)
        ctx.log(f"{len(pending)} package(s) would change")
        _log_table(ctx, "Upgradable packages", pending)
        result: dict[str, Any] = {
            "manager": manager,
            "applied": False,
            "changes": [c.as_dict() for c in pending],
            "count": len(pending),
        }
        if not p.apply:
            ctx.progress(100.0, f"{len(pending)} upgradable")
            return result
        await ctx.checkpoint()
        ctx.phase(TaskStatus.RUNNING)
        ctx.progress(30.0, f"upgrading {len(pending)} package(s)")
        prefix = elevation()
        if prefix:  # sudo and pkexec reset the environment: set it again past them
            prefix += ["env", "DEBIAN_FRONTEND=noninteractive", "LC_ALL=C"]
        argv = prefix + _apply_command(manager, p.packages)
        await _run(ctx, argv, {0})
        after = _parse(manager, await _run(ctx, _list_command(manager, p.packages), ok))
        left = {c.package for c in after}
        done = [c for c in pending if c.package not in left]
        _log_table(ctx, "Upgraded packages", done)
        changed = [c.as_dict() for c in done]
        ctx.progress(100.0, f"{len(changed)} upgraded")
        return {**result, "applied": True, "changed": changed, "still_pending": sorted(left)}
