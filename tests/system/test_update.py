"""SYSTEM_UPDATE through a real queue with Debian's real apt-get: the simulated upgrade listed
(`apt-get -s upgrade`, offline against the local package lists), its parse on real captured
output, apply refused without approval, and an approved apply that changes nothing (a package
that is already the newest)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from helpers.processes import gone
from helpers.waiting import eventually
from system_env import DONE_S, run

from qtqueue.core.errors import QueueError
from qtqueue.core.task import Permission, Task, TaskStatus, TaskType
from qtqueue.engine.queue import TaskQueue
from qtqueue.families.system.update import FIX, elevation, parse_apt

S = TaskStatus
T = TaskType
DATA = Path(__file__).parent / "data"

pytestmark = pytest.mark.skipif(shutil.which("apt-get") is None, reason="needs Debian's apt-get")


@pytest.fixture(scope="module")
def apt_upgrade() -> str:
    """What `apt-get -s upgrade` says here, run once for the module."""
    return subprocess.run(
        ["apt-get", "-s", "upgrade"], capture_output=True, text=True, check=True, timeout=120
    ).stdout


def upgraded_count(text: str) -> int:
    """apt's own summary: "N upgraded, M newly installed, ..."."""
    m = re.search(r"^(\d+) upgraded, (\d+) newly installed", text, re.M)
    assert m, text[-500:]
    return int(m[1]) + int(m[2])


def test_the_parse_of_a_captured_real_upgrade_matches_apts_summary() -> None:
    text = (DATA / "apt-get-s-upgrade.txt").read_text()
    changes = parse_apt(text)
    assert len(changes) == upgraded_count(text) > 100
    bash = next(c for c in changes if c.package == "bash")
    assert (bash.from_version, bash.to_version, bash.arch) == (
        "5.2.15-2+b8",
        "5.2.15-2+b13",
        "amd64",
    )
    # A line with two origins and a trailing "[]" still parses.
    gcrypt = next(c for c in changes if c.package == "libgcrypt20-dev")
    assert (gcrypt.from_version, gcrypt.to_version) == ("1.10.1-3", "1.10.1-3+deb12u1")
    reinstall = parse_apt((DATA / "apt-get-s-reinstall.txt").read_text())
    assert [(c.package, c.from_version, c.to_version) for c in reinstall] == [
        ("bash", "5.2.15-2+b8", "5.2.15-2+b13"),
        ("coreutils", "9.1-1", "9.1-1"),
    ]


async def test_the_default_lists_what_apt_would_upgrade_here(
    queue: TaskQueue, apt_upgrade: str
) -> None:
    done = await run(queue, T.SYSTEM_UPDATE, {})
    assert done.status is S.COMPLETED, done.error
    assert done.result is not None
    real = apt_upgrade
    assert done.result["manager"] == "apt" and done.result["applied"] is False
    assert done.result["count"] == len(done.result["changes"]) == upgraded_count(real)
    for change in done.result["changes"]:
        assert change["package"] and change["to"]
        assert f"Inst {change['package']} " in real
    assert "$ apt-get -s upgrade" in await queue.read_log(done.id)


async def test_apply_without_approval_is_refused_before_apt_runs(queue: TaskQueue) -> None:
    done = await run(queue, T.SYSTEM_UPDATE, {"apply": True})
    assert (done.status, done.error_code) == (S.FAILED, "SYSTEM_PERMISSION_DENIED")
    assert done.error_details["fix"] == FIX
    assert FIX in (done.error or "")
    assert "apt-get" not in await queue.read_log(done.id)


async def approved_apply(queue: TaskQueue, params: dict[str, Any]) -> Task:
    """An update that applies `params`: added human_required, seen waiting for approval,
    approved, and run to its end."""
    task_id = await queue.add_task(
        Task(T.SYSTEM_UPDATE, params, permission=Permission.HUMAN_REQUIRED, max_retries=0)
    )

    async def parked() -> bool:
        return (await queue.get_task(task_id)).wait_reason == "awaiting approval"

    await eventually(parked, 10, "the update waits for approval")
    await queue.approve_task(task_id)
    return await queue.wait_for(task_id, timeout_s=DONE_S)


async def test_an_approved_apply_runs_apt_and_reports_what_changed(
    queue: TaskQueue, apt_upgrade: str
) -> None:
    pending = {c.package for c in parse_apt(apt_upgrade)}
    package = next(p for p in ("coreutils", "grep", "sed", "tar") if p not in pending)
    done = await approved_apply(queue, {"apply": True, "packages": [package]})
    assert done.status is S.COMPLETED, done.error
    assert done.result is not None
    assert (done.result["applied"], done.result["changed"]) == (True, [])
    log = await queue.read_log(done.id)
    assert f"$ apt-get -y install --only-upgrade {package}" in log
    assert "is already the newest version" in log


async def test_an_absent_package_manager_is_a_missing_command(queue: TaskQueue) -> None:
    absent = next(m for m in ("dnf", "pacman", "brew", "winget") if shutil.which(m) is None)
    done = await run(queue, T.SYSTEM_UPDATE, {"manager": absent})
    assert (done.status, done.error_code) == (S.FAILED, "SYSTEM_COMMAND_NOT_FOUND")


def test_a_user_without_sudo_or_pkexec_is_told_to_elevate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert elevation(0) == []
    monkeypatch.setenv("PATH", str(tmp_path))  # neither sudo nor pkexec on it
    with pytest.raises(QueueError) as raised:
        elevation(1000)
    assert raised.value.code == "SYSTEM_PERMISSION_DENIED"
    assert raised.value.details == {"fix": FIX}
    (tmp_path / "sudo").symlink_to(shutil.which("true") or "/bin/true")
    assert elevation(1000) == ["sudo", "-n"]


async def test_a_command_past_its_time_limit_is_a_system_timeout(queue: TaskQueue) -> None:
    done = await run(queue, T.SYSTEM_UPDATE, {"timeout_s": 0.01})
    assert (done.status, done.error_code) == (S.FAILED, "SYSTEM_TIMEOUT")
    assert "took more than 0.01 s" in (done.error or "")


async def test_cancel_stops_the_running_package_manager(queue: TaskQueue) -> None:
    task_id = await queue.add_task(Task(T.SYSTEM_UPDATE, {}, max_retries=0))

    async def apt_running() -> int | None:
        return (await queue.get_task(task_id)).pid

    pid = await eventually(apt_running, 30, "apt-get starts")
    await queue.cancel_task(task_id)
    done = await queue.wait_for(task_id, timeout_s=DONE_S)
    assert done.status is S.CANCELLED
    await eventually(lambda: gone(pid), 10, "apt-get is gone")


@pytest.mark.parametrize("name", ["-oAPT::Get::Assume-Yes=true", "--reinstall", "a b", ""])
async def test_a_package_that_is_not_a_name_is_refused_when_added(
    queue: TaskQueue, name: str
) -> None:
    with pytest.raises(QueueError) as raised:
        await queue.add_task(Task(T.SYSTEM_UPDATE, {"packages": [name]}))
    assert raised.value.code.value.startswith("VALIDATION_")


def stand_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, script: str) -> Path:
    """A stand-in `name` first on PATH (a shell script), for what the real one cannot be made
    to do here (a redrawn progress bar, hanging, an Arch system)."""
    folder = tmp_path / "bin"
    folder.mkdir(exist_ok=True)
    program = folder / name
    program.write_text("#!/bin/sh\n" + script)
    program.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return program


async def test_a_progress_bar_redrawn_past_64_kib_is_read_with_a_stand_in_apt_get(
    queue: TaskQueue, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stand_in(tmp_path, monkeypatch, "apt-get", (
        "i=0; while [ $i -lt 4000 ]; do printf '\\r[#####         ] %d%% reading' $i; "
        "i=$((i+1)); done\n"
        "printf '\\nInst foo [1.0] (2.0 Debian:12/stable [amd64])\\n'\n"
    ))  # fmt: skip
    done = await run(queue, T.SYSTEM_UPDATE, {"manager": "apt"})
    assert done.status is S.COMPLETED, done.error
    assert done.result is not None and done.result["count"] == 1
    log = await queue.read_log(done.id)
    assert "] 3999% reading" in log and "] 3998% reading" not in log  # the last redraw only


async def test_a_time_out_stops_the_whole_process_group_sigterm_first_with_a_stand_in_apt_get(
    queue: TaskQueue, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker, child = tmp_path / "got-term", tmp_path / "child.pid"
    stand_in(tmp_path, monkeypatch, "apt-get", (
        f"trap 'echo term > {marker}; exit 143' TERM\n"
        f"sleep 300 & echo $! > {child}.tmp && mv {child}.tmp {child}\n"
        "wait\n"
    ))  # fmt: skip
    done = await run(queue, T.SYSTEM_UPDATE, {"manager": "apt", "timeout_s": 1})
    assert (done.status, done.error_code) == (S.FAILED, "SYSTEM_TIMEOUT")
    assert marker.read_text() == "term\n"  # sudo relays a SIGTERM; a SIGKILL ends sudo alone
    pid = int(child.read_text())
    await eventually(lambda: gone(pid), 10, "what the package manager started is gone too")


async def test_a_package_manager_killed_by_a_signal_is_process_killed_with_a_stand_in_apt_get(
    queue: TaskQueue, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As when the OOM killer takes apt-get: the task says it was killed, by which signal."""
    stand_in(tmp_path, monkeypatch, "apt-get", "echo Reading package lists...\nkill -KILL $$\n")
    done = await run(queue, T.SYSTEM_UPDATE, {"manager": "apt"})
    assert (done.status, done.error_code) == (S.FAILED, "SYSTEM_PROCESS_KILLED")
    assert done.error is not None and "killed by signal 9" in done.error


async def test_pacman_with_nothing_to_upgrade_exits_1_and_that_is_no_failure(
    queue: TaskQueue, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stand_in(tmp_path, monkeypatch, "pacman", "exit 1\n")  # pacman -Qu on an up-to-date Arch
    done = await run(queue, T.SYSTEM_UPDATE, {"manager": "pacman"})
    assert done.status is S.COMPLETED, done.error
    assert done.result is not None and done.result["count"] == 0


async def test_an_approved_pacman_apply_upgrades_only_the_chosen_packages(
    queue: TaskQueue, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = tmp_path / "calls"
    stand_in(tmp_path, monkeypatch, "pacman", (
        f'echo "$*" >> {calls}\n'
        'if [ "$1" = -Qu ] && [ ! -e ' + f"{tmp_path}/upgraded" + ' ]; then\n'
        '  echo "foo 1.0-1 -> 2.0-1"; exit 0; fi\n'
        f'if [ "$1" = -S ]; then touch {tmp_path}/upgraded; exit 0; fi\n'
        'exit 1\n'
    ))  # fmt: skip
    done = await approved_apply(queue, {"apply": True, "packages": ["foo"], "manager": "pacman"})
    assert done.status is S.COMPLETED, done.error
    assert done.result is not None
    assert [c["package"] for c in done.result["changed"]] == ["foo"]
    assert "-S --needed --noconfirm foo" in calls.read_text().splitlines()
    assert "-Syu" not in calls.read_text()


async def test_an_apply_through_sudo_keeps_debian_frontend_with_stand_in_sudo_and_apt_get(
    queue: TaskQueue, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """sudo's env_reset drops DEBIAN_FRONTEND: a dpkg prompt would then hang the upgrade. The
    stand-in sudo resets the environment as sudo does; the user is not root here."""
    seen = tmp_path / "seen"
    stand_in(tmp_path, monkeypatch, "sudo", (
        f'echo "sudo $*" >> {seen}\n'
        '[ "$1" = -n ] && shift\n'
        'exec env -i PATH="$PATH" "$@"\n'
    ))  # fmt: skip
    stand_in(tmp_path, monkeypatch, "apt-get", (
        f'if [ "$1" = -y ]; then echo "frontend=$DEBIAN_FRONTEND" >> {seen}; fi\n'
        "exit 0\n"
    ))  # fmt: skip
    monkeypatch.setattr(os, "geteuid", lambda: 1000)  # a desktop user, who needs sudo
    done = await approved_apply(queue, {"apply": True, "packages": ["foo"], "manager": "apt"})
    assert done.status is S.COMPLETED, done.error
    assert seen.read_text().splitlines() == [
        "sudo -n env DEBIAN_FRONTEND=noninteractive LC_ALL=C apt-get -y install --only-upgrade foo",
        "frontend=noninteractive",
    ]
