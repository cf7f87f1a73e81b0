"""SYSTEM_BACKUP's integrity through a real queue: a damaged archive never restores
"successfully" with files missing, archives of another name are never pruned or used as a base,
incremental backups restore whole, archives are private, and odd trees (same folder names, a file
vanishing, a socket, a destination reached through a link) back up as a user expects."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from backup_env import paused_backup, sparse_tree
from system_env import run

from qtqueue.core.errors import QueueError
from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.engine.queue import TaskQueue
from qtqueue.families.system import backup
from qtqueue.families.system.backup_archive import MANIFEST_MEMBER, Cancel

S = TaskStatus
T = TaskType


def _files(root: Path, n: int, size: int = 10_000) -> Path:
    root.mkdir(parents=True)
    for i in range(n):
        (root / f"f{i}").write_bytes(os.urandom(size))
    return root


async def _restore(queue: TaskQueue, archive: str | Path, to: Path, **more: Any) -> Task:
    params = {"operation": "restore", "archive": str(archive), "restore_to": str(to), **more}
    return await run(queue, T.SYSTEM_BACKUP, params)


def _later(path: Path, seconds: float) -> None:
    """Move `path`'s modification time on, as an edit made later would."""
    t = time.time() + seconds
    os.utime(path, (t, t))


async def test_a_damaged_tar_header_fails_the_restore_instead_of_dropping_files(
    queue: TaskQueue, tmp_path: Path
) -> None:
    src = _files(tmp_path / "src", 5)
    params = {"paths": [str(src)], "destination": str(tmp_path / "b"), "compression": "none"}
    made = await run(queue, T.SYSTEM_BACKUP, params)
    assert made.result is not None
    archive = Path(made.result["archive"])
    with tarfile.open(archive) as tar:
        third = tar.getmember("src/f2")
    data = bytearray(archive.read_bytes())
    data[third.offset + 148 : third.offset + 156] = b"0000000\0"  # its header checksum
    archive.write_bytes(bytes(data))
    # tarfile reads a bad header as the end of the archive: f2, f3, f4 and the manifest vanish.
    done = await _restore(queue, archive, tmp_path / "r")
    assert (done.status, done.error_code) == (S.FAILED, "DATA_FILE_CORRUPTED"), done.result
    # The backup's own verification reads it back the same way: it must notice too.
    stored = json.loads(Path(made.result["manifest"]).read_text())["files"]
    with pytest.raises(QueueError) as raised:
        backup._verify(archive, archive.name, stored, Cancel())
    assert raised.value.code.value == "DATA_FILE_CORRUPTED"


@pytest.mark.parametrize("compression", ["gzip", "xz"])
async def test_a_damaged_compressed_archive_is_corrupted_not_unknown(
    queue: TaskQueue, tmp_path: Path, compression: str
) -> None:
    src = _files(tmp_path / "src", 5, 300_000)
    params = {"paths": [str(src)], "destination": str(tmp_path / "b"), "compression": compression}
    made = await run(queue, T.SYSTEM_BACKUP, params)
    assert made.result is not None
    archive = Path(made.result["archive"])
    data = bytearray(archive.read_bytes())
    for off in (len(data) // 3, len(data) // 2):
        data[off : off + 64] = os.urandom(64)
    archive.write_bytes(bytes(data))
    done = await _restore(queue, archive, tmp_path / "r")
    assert (done.status, done.error_code) == (S.FAILED, "DATA_FILE_CORRUPTED"), done.error


async def test_keep_last_and_incremental_never_touch_a_name_that_starts_with_theirs(
    queue: TaskQueue, tmp_path: Path
) -> None:
    src = _files(tmp_path / "src", 2)
    dest = tmp_path / "backups"
    base = {"paths": [str(src)], "destination": str(dest)}
    daily = [
        await run(queue, T.SYSTEM_BACKUP, {**base, "name": "backup-daily", "keep_last": 5})
        for _ in range(3)
    ]
    names = sorted(Path(t.result["archive"]).name for t in daily if t.result)
    plain = await run(
        queue, T.SYSTEM_BACKUP, {**base, "name": "backup", "keep_last": 1, "incremental": True}
    )
    assert plain.status is S.COMPLETED, plain.error
    assert plain.result is not None
    assert plain.result["removed"] == []
    assert plain.result["stored"] == 2  # its first backup: nothing of backup-daily's reused
    assert sorted(p.name for p in dest.glob("backup-daily-*.tar.gz")) == names


async def test_archives_are_private_and_a_restore_gives_folders_their_modes(
    queue: TaskQueue, tmp_path: Path
) -> None:
    ssh = tmp_path / "ssh"
    ssh.mkdir(mode=0o700)
    ssh.chmod(0o700)
    (ssh / "id_ed25519").write_text("PRIVATE KEY")
    (ssh / "id_ed25519").chmod(0o600)
    old = os.umask(0o022)
    try:
        made = await run(
            queue, T.SYSTEM_BACKUP, {"paths": [str(ssh)], "destination": str(tmp_path / "b")}
        )
    finally:
        os.umask(old)
    assert made.result is not None
    for path in (made.result["archive"], made.result["manifest"]):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
    done = await _restore(queue, made.result["archive"], tmp_path / "r")
    assert done.status is S.COMPLETED, done.error
    assert stat.S_IMODE((tmp_path / "r" / "ssh").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "r" / "ssh" / "id_ed25519").stat().st_mode) == 0o600


async def test_an_incremental_restores_whole_and_keep_last_keeps_its_chain(
    queue: TaskQueue, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for n in "abc":
        (src / f"{n}.txt").write_text(n)
    dest = tmp_path / "inc"
    params = {"paths": [str(src)], "destination": str(dest), "incremental": True, "keep_last": 2}
    first = await run(queue, T.SYSTEM_BACKUP, params)
    (src / "b.txt").write_text("B2")
    _later(src / "b.txt", 5)
    second = await run(queue, T.SYSTEM_BACKUP, params)
    assert second.result is not None and second.result["stored"] == 1
    to = tmp_path / "restored"
    done = await _restore(queue, second.result["archive"], to)
    assert done.status is S.COMPLETED, done.error
    assert done.result is not None and done.result["verified"] == 3
    got = {p.name: p.read_text() for p in (to / "src").iterdir()}
    assert got == {"a.txt": "a", "b.txt": "B2", "c.txt": "c"}
    # A third stores a and c: keep_last 2 keeps the second, which needs a and c of the first.
    for n in "ac":
        (src / f"{n}.txt").write_text(n.upper() + "3")
        _later(src / f"{n}.txt", 9)
    third = await run(queue, T.SYSTEM_BACKUP, params)
    assert third.result is not None and third.result["removed"] == []
    assert first.result is not None and Path(first.result["archive"]).exists()
    again = await _restore(queue, second.result["archive"], tmp_path / "again")
    assert again.status is S.COMPLETED, again.error
    # An earlier archive gone: the restore says which one, instead of completing without it.
    Path(first.result["archive"]).unlink()
    gone = await _restore(queue, second.result["archive"], tmp_path / "gone")
    assert (gone.status, gone.error_code) == (S.FAILED, "DATA_FILE_NOT_FOUND")
    assert Path(first.result["archive"]).name in (gone.error or "")


async def test_a_failed_verification_leaves_no_archive_or_manifest(
    queue: TaskQueue, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fault injection: the written archive's bytes are damaged on disk (as a failing disk
    would) just before the real verification reads them back."""
    real = backup._verify

    def damaged_then_verified(archive: Path, *args: Any) -> int:
        data = bytearray(archive.read_bytes())
        at = data.index((src / "f0").read_bytes()) + 100  # inside f0's content
        data[at : at + 10] = bytes(b ^ 0xFF for b in data[at : at + 10])
        archive.write_bytes(bytes(data))
        return real(archive, *args)

    monkeypatch.setattr(backup, "_verify", damaged_then_verified)
    src = _files(tmp_path / "src", 3)
    dest = tmp_path / "b"
    params = {"paths": [str(src)], "destination": str(dest), "compression": "none"}
    done = await run(queue, T.SYSTEM_BACKUP, params)
    assert (done.status, done.error_code) == (S.FAILED, "DATA_FILE_CORRUPTED")
    assert list(dest.iterdir()) == []


async def test_two_folders_with_the_same_name_both_come_back(
    queue: TaskQueue, tmp_path: Path
) -> None:
    for side in ("etc", "home"):
        (tmp_path / side / "config").mkdir(parents=True)
        (tmp_path / side / "config" / "settings.ini").write_text(f"from {side}\n")
    paths = [str(tmp_path / "etc" / "config"), str(tmp_path / "home" / "config")]
    made = await run(queue, T.SYSTEM_BACKUP, {"paths": paths, "destination": str(tmp_path / "b")})
    assert made.status is S.COMPLETED, made.error
    assert made.result is not None and made.result["files"] == 2
    done = await _restore(queue, made.result["archive"], tmp_path / "r")
    assert done.status is S.COMPLETED, done.error
    assert (tmp_path / "r" / "config" / "settings.ini").read_text() == "from etc\n"
    assert (tmp_path / "r" / "config-2" / "settings.ini").read_text() == "from home\n"


async def test_a_file_vanishing_during_a_backup_is_skipped_and_listed(
    queue: TaskQueue, tmp_path: Path
) -> None:
    src = sparse_tree(tmp_path / "big", 16)
    paused = await paused_backup(queue, {"paths": [str(src)], "destination": str(tmp_path / "b")})
    (src / "f15").unlink()  # a cache or temporary file removed while the backup runs
    await queue.resume_task(paused.id)
    done = await queue.wait_for(paused.id, timeout_s=60)
    assert done.status is S.COMPLETED, done.error
    assert done.result is not None
    assert done.result["skipped"] == [{"path": "big/f15", "reason": "vanished during the backup"}]
    assert done.result["files"] == done.result["verified"] == 15


async def test_a_destination_through_a_link_is_left_out_and_a_linked_path_is_followed(
    queue: TaskQueue, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "doc.txt").write_text("d")
    (tmp_path / "h").symlink_to(home)
    params = {"paths": [str(home)], "destination": str(tmp_path / "h" / "backups")}
    await run(queue, T.SYSTEM_BACKUP, params)
    second = await run(queue, T.SYSTEM_BACKUP, params)
    assert second.result is not None
    with tarfile.open(second.result["archive"]) as tar:
        assert sorted(m.name for m in tar) == sorted(["home", "home/doc.txt", MANIFEST_MEMBER])
    # ~/Documents -> another disk: its files are backed up, not just the link.
    (tmp_path / "disk" / "docs").mkdir(parents=True)
    (tmp_path / "disk" / "docs" / "cv.txt").write_text("cv")
    (tmp_path / "Documents").symlink_to(tmp_path / "disk" / "docs")
    linked = await run(
        queue,
        T.SYSTEM_BACKUP,
        {"paths": [str(tmp_path / "Documents")], "destination": str(tmp_path / "b2")},
    )
    assert linked.result is not None and linked.result["files"] == 1
    assert linked.result["verified"] == 1
    log = await queue.read_log(linked.id)
    assert f"{tmp_path / 'Documents'} is a link: followed to {tmp_path / 'disk' / 'docs'}" in log


async def test_exclude_patterns_with_a_slash_leave_folders_out(
    queue: TaskQueue, tmp_path: Path
) -> None:
    src = tmp_path / "proj"
    (src / "build" / "out").mkdir(parents=True)
    (src / "build" / "out" / "big.o").write_text("x")
    (src / "main.c").write_text("int main;")
    for pattern, left in (
        ("proj/build", ["proj", "proj/main.c"]),
        ("build/out", ["proj", "proj/build", "proj/main.c"]),
        ("build/*", ["proj", "proj/build", "proj/main.c"]),
    ):
        dest = tmp_path / f"b-{pattern.replace('/', '_').replace('*', 'x')}"
        params = {"paths": [str(src)], "destination": str(dest), "exclude": [pattern]}
        made = await run(queue, T.SYSTEM_BACKUP, params)
        assert made.result is not None, made.error
        with tarfile.open(made.result["archive"]) as tar:
            names = sorted(m.name for m in tar if m.name != MANIFEST_MEMBER)
        assert names == left, pattern


async def test_sockets_and_fifos_are_skipped_and_listed(queue: TaskQueue, tmp_path: Path) -> None:
    src = _files(tmp_path / "src", 2)
    os.mkfifo(src / "pipe")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(src / "app.sock"))
        paths = [str(src), str(src / "pipe")]  # named itself too
        done = await run(
            queue, T.SYSTEM_BACKUP, {"paths": paths, "destination": str(tmp_path / "b")}
        )
    assert done.status is S.COMPLETED, done.error
    assert done.result is not None and done.result["files"] == 2
    assert done.result["skipped"] == [
        {"path": "src/app.sock", "reason": "a socket: not archived"},
        {"path": "src/pipe", "reason": "a FIFO: not archived"},
        {"path": "pipe", "reason": "a FIFO: not archived"},
    ]


@pytest.fixture
def locked_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder nothing may be created in: immutable (chattr +i) as root, else mode 0500."""
    folder = tmp_path / "locked"
    folder.mkdir()
    if os.geteuid() == 0:
        made = subprocess.run(["chattr", "+i", str(folder)], capture_output=True)
        if shutil.which("chattr") is None or made.returncode != 0:
            pytest.skip(f"cannot make a folder immutable here: {made.stderr.decode().strip()}")
        try:
            yield folder
        finally:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
    else:
        folder.chmod(0o500)
        try:
            yield folder
        finally:
            folder.chmod(0o700)


async def test_a_permission_error_says_how_to_fix_it(
    queue: TaskQueue, tmp_path: Path, locked_folder: Path
) -> None:
    src = _files(tmp_path / "src", 1)
    done = await run(
        queue, T.SYSTEM_BACKUP, {"paths": [str(src)], "destination": str(locked_folder)}
    )
    assert (done.status, done.error_code) == (S.FAILED, "SYSTEM_PERMISSION_DENIED")
    assert done.error_details.get("fix") == "run with approval and elevation"


async def test_an_incremental_whose_manifest_copy_is_gone_reads_the_one_inside(
    queue: TaskQueue, tmp_path: Path
) -> None:
    src = _files(tmp_path / "src", 3)
    params = {"paths": [str(src)], "destination": str(tmp_path / "b"), "incremental": True}
    first = await run(queue, T.SYSTEM_BACKUP, params)
    assert first.result is not None
    Path(first.result["manifest"]).unlink()  # a user tidying the folder
    second = await run(queue, T.SYSTEM_BACKUP, params)
    assert second.status is S.COMPLETED, second.error
    assert second.result is not None
    assert (second.result["stored"], second.result["unchanged"]) == (0, 3)
