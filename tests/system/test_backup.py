"""SYSTEM_BACKUP through a real queue: real archives of a real tree (modes, symlinks, one
pointing out of the tree, a name that is not UTF-8), the manifest, verification, keep-last,
incremental backups, cancel, and restores that refuse to write outside their target."""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from backup_env import paused_backup, sparse_tree
from helpers.waiting import eventually
from system_env import LATIN1_NAME, make_tree, run

from qtqueue.core.errors import QueueError
from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.engine.queue import TaskQueue
from qtqueue.families.system.backup import MANIFEST_MEMBER, read_manifest

S = TaskStatus
T = TaskType


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def add_manifest(tar: tarfile.TarFile, manifest: dict[str, Any]) -> None:
    """Append `manifest` to `tar` as a backup's manifest member."""
    blob = json.dumps(manifest).encode()
    info = tarfile.TarInfo(MANIFEST_MEMBER)
    info.size = len(blob)
    tar.addfile(info, io.BytesIO(blob))


async def test_a_backup_round_trips_modes_links_and_non_utf8_names(
    queue: TaskQueue, tmp_path: Path
) -> None:
    src = make_tree(tmp_path, tmp_path / "outside")
    dest = tmp_path / "backups"
    done = await run(
        queue,
        T.SYSTEM_BACKUP,
        {"paths": [str(src)], "destination": str(dest), "exclude": ["*.tmp"]},
    )
    assert done.status is S.COMPLETED, done.error
    result = done.result
    assert result is not None
    archive = Path(result["archive"])
    assert archive.parent == dest and archive.name.endswith(".tar.gz")
    # The manifest, in the archive and beside it, holds each file's real sha256.
    manifest = read_manifest(archive)
    assert json.loads(Path(result["manifest"]).read_text()) == manifest
    files = manifest["files"]
    assert files["src/sub/deep/data.bin"]["sha256"] == sha(src / "sub" / "deep" / "data.bin")
    assert files[f"src/{LATIN1_NAME}"]["sha256"] == sha(src / LATIN1_NAME)
    assert "src/sub/scratch.tmp" not in files
    assert result["verified"] == len(files) == 5
    with tarfile.open(archive) as tar:
        links = {m.name: m.linkname for m in tar if m.issym()}
        assert tar.getmember(MANIFEST_MEMBER).isfile()
    assert links == {
        "src/link-in": "a.txt",
        "src/link-out": os.readlink(src / "link-out"),
        "src/link-abs": str(tmp_path / "outside" / "target.txt"),
    }
    # Restore elsewhere: contents, modes, the inner link and the Latin-1 name come back; the
    # links out of the target are skipped and said so.
    to = tmp_path / "restored"
    back = await run(
        queue,
        T.SYSTEM_BACKUP,
        {"operation": "restore", "archive": str(archive), "restore_to": str(to)},
    )
    assert back.status is S.COMPLETED, back.error
    assert back.result is not None
    got = to / "src"
    for rel in ("a.txt", "run.sh", "secret.key", "sub/deep/data.bin", LATIN1_NAME):
        assert sha(got / rel) == sha(src / rel), rel
        assert stat.S_IMODE((got / rel).stat().st_mode) == stat.S_IMODE((src / rel).stat().st_mode)
    assert b"caf\xe9.txt" in os.listdir(os.fsencode(got))
    assert os.readlink(got / "link-in") == "a.txt"
    assert not (got / "link-out").is_symlink() and not (got / "link-abs").is_symlink()
    assert sorted(s["name"] for s in back.result["skipped"]) == ["src/link-abs", "src/link-out"]
    assert not (got / MANIFEST_MEMBER).exists()
    assert back.result["verified"] == 5  # every restored file against the manifest


async def test_incremental_stores_changes_and_keep_last_spares_what_it_needs(
    queue: TaskQueue, tmp_path: Path
) -> None:
    src = make_tree(tmp_path, tmp_path / "outside")
    dest = tmp_path / "backups"
    params = {"paths": [str(src)], "destination": str(dest), "keep_last": 2, "incremental": True}
    first = await run(queue, T.SYSTEM_BACKUP, params)
    assert first.result is not None and first.result["stored"] == 6
    (src / "a.txt").write_text("alpha, changed\n")
    second = await run(queue, T.SYSTEM_BACKUP, params)
    assert second.status is S.COMPLETED, second.error
    assert second.result is not None
    assert (second.result["stored"], second.result["unchanged"]) == (1, 5)
    with tarfile.open(second.result["archive"]) as tar:
        stored = sorted(m.name for m in tar if m.isfile() and m.name != MANIFEST_MEMBER)
    assert stored == ["src/a.txt"]
    third = await run(queue, T.SYSTEM_BACKUP, params)
    assert third.result is not None and third.result["stored"] == 0
    # Past keep_last, but the third's unchanged files live in the first: it stays.
    assert third.result["removed"] == []
    full = await run(queue, T.SYSTEM_BACKUP, {**params, "incremental": False})
    assert full.result is not None and full.result["stored"] == 6
    # The third is still kept (keep_last 2), and it needs the first and the second: both stay.
    assert full.result["removed"] == []
    again = await run(queue, T.SYSTEM_BACKUP, {**params, "incremental": False})
    assert again.result is not None
    runs = (first, second, third, full, again)
    names = [Path(t.result["archive"]).name for t in runs if t.result]
    assert again.result["removed"] == names[:3]
    assert sorted(p.name for p in dest.iterdir()) == sorted(
        [*names[3:], *(f"{n}.manifest.json" for n in names[3:])]
    )


async def test_a_restore_never_writes_outside_its_target(queue: TaskQueue, tmp_path: Path) -> None:
    evil = tmp_path / "evil.tar"
    names = ("../escaped.txt", str(tmp_path / "absolute.txt"), "ok.txt")
    with tarfile.open(evil, "w") as tar:
        for name in names:
            info = tarfile.TarInfo(name)
            info.size = 3
            tar.addfile(info, io.BytesIO(b"bad"))
        link = tarfile.TarInfo("up")
        link.type, link.linkname = tarfile.SYMTYPE, "../.."
        tar.addfile(link)
        # A crafted archive can carry a manifest as well as a backup's: a restore needs one.
        digest = hashlib.sha256(b"bad").hexdigest()
        listed = {n: {"sha256": digest, "size": 3, "stored_in": "evil.tar"} for n in names}
        add_manifest(tar, {"archive": "evil.tar", "files": listed})
    to = tmp_path / "into"
    done = await run(
        queue,
        T.SYSTEM_BACKUP,
        {"operation": "restore", "archive": str(evil), "restore_to": str(to)},
    )
    assert done.status is S.COMPLETED, done.error
    assert done.result is not None
    assert sorted(s["name"] for s in done.result["skipped"]) == ["../escaped.txt", "up"]
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "absolute.txt").exists()
    # An absolute name loses its leading "/": it lands inside the target.
    assert (to / str(tmp_path / "absolute.txt").lstrip("/")).read_bytes() == b"bad"
    assert sorted(os.listdir(to)) == sorted(["ok.txt", str(tmp_path).strip("/").split("/")[0]])


async def test_a_broken_archive_and_a_missing_source_get_their_codes(
    queue: TaskQueue, tmp_path: Path
) -> None:
    src = make_tree(tmp_path, tmp_path / "outside")
    good = await run(
        queue, T.SYSTEM_BACKUP, {"paths": [str(src)], "destination": str(tmp_path / "b")}
    )
    assert good.result is not None
    data = Path(good.result["archive"]).read_bytes()
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(data[: len(data) // 2])
    bad = await run(
        queue,
        T.SYSTEM_BACKUP,
        {"operation": "restore", "archive": str(broken), "restore_to": str(tmp_path / "r")},
    )
    assert (bad.status, bad.error_code) == (S.FAILED, "DATA_FILE_CORRUPTED")
    gone = await run(
        queue,
        T.SYSTEM_BACKUP,
        {"paths": [str(tmp_path / "nope")], "destination": str(tmp_path / "b")},
    )
    assert (gone.status, gone.error_code) == (S.FAILED, "DATA_FILE_NOT_FOUND")
    assert str(tmp_path / "nope") in (gone.error or "")


async def test_a_backup_without_a_destination_is_refused_when_added(queue: TaskQueue) -> None:
    with pytest.raises(QueueError) as raised:
        await queue.add_task(Task(T.SYSTEM_BACKUP, {"paths": ["/tmp"]}))
    assert raised.value.code.value.startswith("VALIDATION_")


async def test_a_long_backup_cancels_and_leaves_no_partial_archive(
    queue: TaskQueue, tmp_path: Path
) -> None:
    src = tmp_path / "big"
    src.mkdir()
    for i in range(40):
        with open(src / f"f{i:02d}", "wb") as f:
            f.truncate(16 << 20)  # sparse: 640 MiB to read and compress, no disk used
    dest = tmp_path / "b"
    task_id = await queue.add_task(
        Task(T.SYSTEM_BACKUP, {"paths": [str(src)], "destination": str(dest)}, max_retries=0)
    )

    async def started() -> bool:
        t = await queue.get_task(task_id)
        return t.status is S.RUNNING and t.progress > 0

    await eventually(started, 30, "the backup reports bytes")
    await queue.cancel_task(task_id)
    done = await queue.wait_for(task_id, timeout_s=30)
    assert done.status is S.CANCELLED
    assert [p for p in dest.iterdir() if "tar" in p.name] == []


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 256 KiB tmpfs, mounted for the test and unmounted after it."""
    mount = tmp_path / "small"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


async def test_a_full_disk_is_a_disk_space_error_and_leaves_no_partial_archive(
    queue: TaskQueue, tmp_path: Path, small_disk: Path
) -> None:
    src = tmp_path / "data"
    src.mkdir()
    (src / "random.bin").write_bytes(os.urandom(1 << 20))  # incompressible, 4x the disk
    done = await run(
        queue, T.SYSTEM_BACKUP, {"paths": [str(src)], "destination": str(small_disk / "b")}
    )
    assert (done.status, done.error_code) == (S.FAILED, "SYSTEM_DISK_SPACE")
    assert list((small_disk / "b").iterdir()) == []


async def test_a_paused_backup_stops_between_files_and_resumes_to_a_verified_archive(
    queue: TaskQueue, tmp_path: Path
) -> None:
    src = sparse_tree(tmp_path / "big", 24)
    paused = await paused_backup(queue, {"paths": [str(src)], "destination": str(tmp_path / "b")})
    assert 0 < paused.progress < 90
    # the bytes read of all, for the window's speed and ETA
    assert paused.total_bytes and 0 < (paused.done_bytes or 0) < paused.total_bytes
    task_id = paused.id
    await queue.resume_task(task_id)
    done = await queue.wait_for(task_id, timeout_s=60)
    assert done.status is S.COMPLETED, done.error
    assert done.result is not None and done.result["verified"] == 24


async def test_a_destination_inside_the_backed_up_folder_is_left_out(
    queue: TaskQueue, tmp_path: Path
) -> None:
    src = make_tree(tmp_path, tmp_path / "outside")
    params = {"paths": [str(src)], "destination": str(src / "backups"), "keep_last": 0}
    first = await run(queue, T.SYSTEM_BACKUP, params)
    second = await run(queue, T.SYSTEM_BACKUP, params)
    assert second.status is S.COMPLETED, second.error
    assert first.result is not None and second.result is not None
    assert second.result["files"] == first.result["files"] == 6
    with tarfile.open(second.result["archive"]) as tar:
        assert not [m.name for m in tar if m.name.startswith("src/backups")]


async def test_a_restore_whose_file_differs_from_the_manifest_is_corrupted(
    queue: TaskQueue, tmp_path: Path
) -> None:
    src = make_tree(tmp_path, tmp_path / "outside")
    good = await run(
        queue, T.SYSTEM_BACKUP, {"paths": [str(src)], "destination": str(tmp_path / "b")}
    )
    assert good.result is not None
    tampered = tmp_path / "tampered.tar.gz"
    with tarfile.open(good.result["archive"]) as tar, tarfile.open(tampered, "w:gz") as out:
        for member in tar:
            data = tar.extractfile(member) if member.isfile() else None
            body = data.read() if data is not None else b""
            if member.name == "src/a.txt":
                body = b"ALPHA\n"  # same size, other bytes: still a valid archive
            out.addfile(member, io.BytesIO(body) if member.isfile() else None)
    done = await run(
        queue,
        T.SYSTEM_BACKUP,
        {"operation": "restore", "archive": str(tampered), "restore_to": str(tmp_path / "r")},
    )
    assert (done.status, done.error_code) == (S.FAILED, "DATA_FILE_CORRUPTED")
    assert "src/a.txt" in (done.error or "")
