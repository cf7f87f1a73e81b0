"""Task logs: bounded files keeping the newest output, with secrets redacted."""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest
from helpers.processes import log_text
from helpers.queues import QueueFactory

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.log_streams import mark_stderr, split_streams
from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.engine.logs import REDACTED, BoundedLog, read_log
from qtqueue.engine.queue import TaskQueue
from qtqueue.executors.base import Executor, Params, RunContext

S = TaskStatus
CAP = 64 * 1024
SECRET = "s3cr3t-T0KEN-value"


# --- Bounded logs -----------------------------------------------------------------------------


async def test_a_long_output_keeps_its_newest_part_within_the_cap(
    make_queue: QueueFactory,
) -> None:
    queue = await make_queue(log_cap_bytes=CAP)
    lines = 20_000  # about 220 KB, more than three times the cap
    script = f"for i in range({lines}): print(f'line {{i:05d}} ')"
    task_id = await queue.add_task(
        Task(TaskType.CUSTOM_COMMAND, {"command": sys.executable, "args": ["-c", script]})
    )
    assert (await queue.wait_for(task_id, timeout_s=20)).status is S.COMPLETED
    text = await queue.read_log(task_id)
    assert text.endswith(f"line {lines - 1:05d} \n")
    assert "line 00000" not in text
    assert len(text.encode()) <= CAP
    kept = text.splitlines()[1:]  # the first kept line may be cut
    first = int(kept[0].split()[1])
    assert kept == [f"line {i:05d} " for i in range(first, lines)]  # a contiguous tail


def _writes(seed: int) -> list[bytes]:
    """Writes of mixed sizes, some beyond half the cap or the whole cap, each of them
    distinguishable (so a gap in what is kept shows)."""
    rng = random.Random(seed)
    sizes = [rng.choice([1, 7, 100, 1500, 2047, 2048, 2500, 4096, 9000]) for _ in range(60)]
    out = []
    for n, size in enumerate(sizes):
        out.append(b"".join(b"%06d;" % (n * 100_000 + i) for i in range(size // 7 + 1))[:size])
    return out


@pytest.mark.parametrize("seed", range(5))
def test_a_bounded_log_never_holds_more_than_its_cap_and_keeps_the_newest_bytes(
    tmp_path: Path, seed: int
) -> None:
    path = tmp_path / "t.log"
    log = BoundedLog(path, cap_bytes=4096)
    for chunk in _writes(seed):
        log.write(chunk)
        data = read_log(path)
        assert len(data) <= 4096
        assert data.endswith(chunk[-2048:])
    log.close()


def test_what_a_bounded_log_keeps_is_a_contiguous_tail_of_the_output(tmp_path: Path) -> None:
    path = tmp_path / "t.log"
    log = BoundedLog(path, cap_bytes=4096)
    written = b""
    for chunk in (b"a" * 2000, b"b" * 3000):  # the second one is more than half the cap
        log.write(chunk)
        written += chunk
    log.close()
    assert written.endswith(read_log(path))


# --- Secrets ----------------------------------------------------------------------------------


class TinyKeyring:
    """Stands in for the OS keyring (tested with the real one later): fixed secrets by name."""

    def __init__(self, secrets: dict[str, str]) -> None:
        self.secrets = secrets
        self.asked: list[str] = []

    async def get(self, name: str) -> str:
        self.asked.append(name)
        if name not in self.secrets:
            raise QueueError(TaskErrorCode.CREDENTIAL_NOT_FOUND, f"no credential {name!r}")
        return self.secrets[name]


class LeakyParams(Params):
    credential: str = "api_token"


class LeakyExecutor(Executor):
    """Logs its secret in every way an executor can, then fails mentioning it."""

    task_type: ClassVar[str] = "leaky"
    params_model = LeakyParams

    async def run(self, ctx: RunContext) -> dict[str, Any] | None:
        secret = await ctx.credential(ctx.params.credential)
        ctx.log(f"using token {secret} to log in")
        ctx.log_bytes(f"raw bytes: Authorization: Bearer {secret}\n".encode())
        ctx.log(f"twice: {secret}{secret}")
        return {"logged_in": True}


async def test_credential_values_are_redacted_from_the_log(make_queue: QueueFactory) -> None:
    keyring = TinyKeyring({"api_token": SECRET})
    queue = await make_queue(credentials=keyring)
    queue.register_executor(LeakyExecutor())
    task_id = await queue.add_task(Task("leaky"))
    done = await queue.wait_for(task_id, timeout_s=10)
    assert done.status is S.COMPLETED
    assert keyring.asked == ["api_token"]
    text = log_text(queue.log_path(task_id))
    assert SECRET not in text
    assert f"using token {REDACTED} to log in" in text
    assert f"Bearer {REDACTED}" in text
    assert f"twice: {REDACTED}{REDACTED}" in text


async def test_a_missing_credential_fails_the_task_with_its_code(
    make_queue: QueueFactory,
) -> None:
    queue = await make_queue(credentials=TinyKeyring({}))
    queue.register_executor(LeakyExecutor())
    done = await queue.wait_for(await queue.add_task(Task("leaky")), timeout_s=10)
    assert done.status is S.FAILED
    assert done.error_code == "CREDENTIAL_NOT_FOUND"


class SplitLeakExecutor(Executor):
    """Writes its secret in two pieces, as a command's output may arrive across two reads."""

    task_type: ClassVar[str] = "split_leak"
    params_model = Params

    async def run(self, ctx: RunContext) -> dict[str, Any] | None:
        secret = await ctx.credential("api_token")
        half = len(secret) // 2
        ctx.log_bytes(f"token={secret[:half]}".encode())
        ctx.log_bytes(f"{secret[half:]}\n".encode())
        return None


async def test_a_secret_split_across_two_writes_is_still_redacted(
    make_queue: QueueFactory,
) -> None:
    queue = await make_queue(credentials=TinyKeyring({"api_token": SECRET}))
    queue.register_executor(SplitLeakExecutor())
    task_id = await queue.add_task(Task("split_leak"))
    await queue.wait_for(task_id, timeout_s=10)
    assert SECRET not in log_text(queue.log_path(task_id))


def test_output_with_a_known_secret_reaches_the_file_at_once_unless_it_may_begin_one(
    tmp_path: Path,
) -> None:
    """A task holding a credential keeps a live log: only a tail that could be the start of
    the secret waits for the next write."""
    log = BoundedLog(tmp_path / "t.log")
    log.add_secret(b"suite-token-5f1c2a9e")
    log.write(b"step one\n")
    assert log_text(log.path) == "step one\n"
    log.write(b"token=suite-tok")
    assert log_text(log.path) == "step one\ntoken="
    log.write(b"en-5f1c2a9e done\n")
    assert log_text(log.path) == f"step one\ntoken={REDACTED} done\n"
    log.write(b"ends with s")  # 's' may begin the secret: held until the log closes
    assert log_text(log.path).endswith("done\nends with ")
    log.close()
    assert log_text(log.path).endswith("done\nends with s")


def test_a_write_after_the_log_closed_is_kept_and_leaves_no_file_open(tmp_path: Path) -> None:
    """A worker thread's last line can come after its attempt ended: it reaches the log, and
    no file handle stays open for nobody to close (a leak the garbage collector found)."""
    log = BoundedLog(tmp_path / "t.log")
    log.add_secret(b"suite-token-5f1c2a9e")
    log.write(b"working\n")
    log.close()
    log.write(b"last progress: suite-tok")
    assert log_text(log.path) == "working\nlast progress: suite-tok"
    fds = Path("/proc/self/fd")
    if fds.is_dir():
        open_paths = {os.path.realpath(fds / fd) for fd in os.listdir(fds)}
        assert os.path.realpath(log.path) not in open_paths


# --- Following a log --------------------------------------------------------------------------


async def test_follow_log_yields_the_output_until_the_task_ends(queue: TaskQueue) -> None:
    task_id = await queue.add_task(
        Task(TaskType.CUSTOM_COMMAND, {"command": "echo one; echo two", "shell": True})
    )
    chunks = [chunk async for chunk in queue.follow_log(task_id)]
    assert "".join(chunks) == "one\ntwo\n"
    assert (await queue.get_task(task_id)).status is S.COMPLETED


def test_a_secret_split_across_two_stderr_chunks_is_redacted_and_stays_marked(
    tmp_path: Path,
) -> None:
    """Each stderr chunk is marked on its own; the secret is looked for across them, and a
    held piece of stderr does not hold stdout back."""
    log = BoundedLog(tmp_path / "t.log")
    log.add_secret(b"suite-token-5f1c2a9e")
    log.write(mark_stderr(b"auth failed for suite-tok"))
    log.write(b"stdout goes on\n")
    log.write(mark_stderr(b"en-5f1c2a9e\n"))
    log.close()
    stored = read_log(log.path)
    assert b"suite-tok" not in stored
    assert split_streams(stored) == [
        (True, b"auth failed for "),
        (False, b"stdout goes on\n"),
        (True, f"{REDACTED}\n".encode()),
    ]
