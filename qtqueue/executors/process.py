"""Running a command as a task: its own process group, streamed output, suspend and terminate.

The child is waited for with a pidfd on the event loop where the OS has them (Linux >= 5.3), so
no thread is started per child; elsewhere a worker thread waits. stdout and stderr have a pipe
each, both read on the event loop: what came from stderr is marked in the log
(`qtqueue.core.log_streams`), the order between the two is the order they were read in, and
within each it is exact. (A spawner from before this split merges them into one pipe: the log
is then unmarked, as it was.)
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import IO

import psutil

from qtqueue.core.errors import QueueError, TaskErrorCode, classify_exit, describe_exit
from qtqueue.core.log_streams import mark_stderr
from qtqueue.executors.base import InputSink, RunContext
from qtqueue.executors.env import engine_env
from qtqueue.executors.spawn_client import SpawnerClient, SpawnerGone

logger = logging.getLogger(__name__)

#: "42%", "42.5 %" — the last one on a line wins.
DEFAULT_PROGRESS_PATTERN = r"(\d{1,3}(?:\.\d+)?)\s?%"
#: Lines that name a step: "Step 3/7: …", "stage: …", "==> …", "[2/5] …".
DEFAULT_STEP_PATTERN = r"^\s*(?:(?:step|stage|phase)\b.*|==>\s*.+|\[\d+/\d+\].*)$"
#: Seconds between SIGTERM and SIGKILL when a command is cancelled.
DEFAULT_GRACE_S = 5.0
_TAIL_BYTES = 4096


class OutputParser:
    """Splits output into lines and finds progress and step in them."""

    def __init__(self, ctx: RunContext, progress_pattern: str | None, step_pattern: str | None):
        self.ctx = ctx
        self.progress_re = re.compile(progress_pattern) if progress_pattern else None
        self.step_re = re.compile(step_pattern, re.IGNORECASE) if step_pattern else None
        self._partial = ["", ""]  # the unfinished last line of stdout, of stderr
        self._tails = (bytearray(), bytearray())  # the last output of each

    @property
    def tail(self) -> bytes:
        """The last output, stderr's after stdout's: a failing command's last words are
        mostly on stderr, whichever pipe the engine happened to read last."""
        return bytes(self._tails[0] + self._tails[1])

    def feed(self, chunk: bytes, stderr: bool = False) -> None:
        """Take a chunk read from stdout (or, with `stderr`, stderr: marked in the log)."""
        self.ctx.log_bytes(mark_stderr(chunk) if stderr else chunk)
        tail = self._tails[stderr]
        tail += chunk
        if len(tail) > _TAIL_BYTES:
            del tail[: len(tail) - _TAIL_BYTES]
        if self.progress_re is None and self.step_re is None:
            return
        text = self._partial[stderr] + chunk.decode("utf-8", "replace")
        lines = re.split(r"\r\n|\r|\n", text)
        self._partial[stderr] = lines.pop()
        if len(self._partial[stderr]) > 8192:  # a runaway line without newline: look at it
            lines.append(self._partial[stderr])
            self._partial[stderr] = ""
        self._scan(lines)

    def close(self) -> None:
        rest = [p for p in self._partial if p]
        if rest:
            self._scan(rest)
        self._partial = ["", ""]

    def _scan(self, lines: list[str]) -> None:
        percent: float | None = None
        step: str | None = None
        for line in lines:
            if self.progress_re is not None:
                for found in reversed(self.progress_re.findall(line)):
                    try:
                        value = float(found if isinstance(found, str) else found[0])
                    except ValueError:
                        continue
                    if 0 <= value <= 100:
                        percent = value
                        break
            if self.step_re is not None and self.step_re.search(line):
                step = line.strip()[:200]
        if percent is not None:
            self.ctx.progress(percent, step)
        elif step is not None:
            self.ctx.progress(-1, step)


class ProcessTree:
    """A started command: its process group, signals for the whole tree, and its end."""

    def __init__(self, pid: int, wait: Callable[[], Awaitable[int]]) -> None:
        self.pid = pid
        self.pgid = pid  # started with process_group=0: the group is its own pid
        self.wait = wait
        """The returncode once it has ended (Popen's: minus the signal that killed it)."""

    def _members(self) -> list[psutil.Process]:
        """The command and every descendant, including ones that left the group."""
        try:
            root = psutil.Process(self.pid)
            return [root, *root.children(recursive=True)]
        except psutil.Error:
            return []

    def signal_tree(self, sig: int) -> None:
        """Send `sig` to the process group and to descendants that left it."""
        members = self._members()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pgid, sig)
        for p in members:
            with contextlib.suppress(psutil.Error, ProcessLookupError):
                if os.getpgid(p.pid) != self.pgid:
                    p.send_signal(sig)

    def suspend(self) -> None:
        self.signal_tree(signal.SIGSTOP)

    def resume(self) -> None:
        self.signal_tree(signal.SIGCONT)


@functools.lru_cache(maxsize=256)
def _which(name: str, path: str) -> str | None:
    return shutil.which(name, path=path)


def _resolve(program: str, env: Mapping[str, str] | None) -> str | None:
    """The executable Popen would find for `program`, looked up once per PATH (Popen walks
    PATH in Python on every call). None: let Popen search (and report a miss) itself."""
    if os.sep in program:
        return None
    found = _which(program, (env if env is not None else os.environ).get("PATH", os.defpath))
    if found is None:
        _which.cache_clear()  # never remember a miss: the program may be installed later
    return found


_devnull_fd: int | None = None


def _devnull() -> int:
    """One /dev/null descriptor, opened once, for the stdin of every command (Popen's
    DEVNULL opens and closes one per command). Close-on-exec: a command keeps only its own
    copy, as its stdin."""
    global _devnull_fd
    if _devnull_fd is None:
        _devnull_fd = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    return _devnull_fd


async def _wait_exit(proc: subprocess.Popen[bytes]) -> int:
    """The exit status, waited for without a thread where pidfds exist."""
    if hasattr(os, "pidfd_open"):
        try:
            fd = os.pidfd_open(proc.pid)
        except OSError:
            fd = -1
        if fd >= 0:
            loop = asyncio.get_running_loop()
            done: asyncio.Future[None] = loop.create_future()

            def ready() -> None:
                if not done.done():
                    done.set_result(None)

            loop.add_reader(fd, ready)
            try:
                await done
            finally:
                loop.remove_reader(fd)
                os.close(fd)
            return proc.wait()
    return await asyncio.to_thread(proc.wait)


async def run_command(
    ctx: RunContext,
    argv: Sequence[str],
    *,
    cwd: str | None = None,
    env: Mapping[str, str] | None = None,
    progress_pattern: str | None = DEFAULT_PROGRESS_PATTERN,
    step_pattern: str | None = DEFAULT_STEP_PATTERN,
    grace_s: float = DEFAULT_GRACE_S,
    interactive: bool = False,
) -> int:
    """Run `argv` to completion, streaming output into the task's log. Returns exit status 0.

    Its environment is the engine's, then `env`, then `engine_env(ctx)` ($QTQUEUE_TASK_ID,
    $QTQUEUE_DATA_DIR). Its stdin is /dev/null, so a program that reads it never hangs; with
    `interactive` it is a pipe that `TaskQueue.send_input` writes to (through
    `ctx.set_input_sink`).

    Where the engine has a spawner (see spawner.py) the command is its child, so its outcome
    survives an engine crash; otherwise it is the engine's own.

    A non-zero exit raises QueueError with the code the classifier gives (127 -> command not
    found, 137 -> killed, "No space left on device" in the output -> disk space, ...).
    Cancellation terminates the tree (SIGTERM, SIGKILL after `grace_s`) and re-raises.
    """
    # The task's own variables over the engine's environment (None: the engine's as it is),
    # then the engine's two; the spawner adds those itself, so a command's spawn request does
    # not carry the whole environment.
    full_env: dict[str, str] | None = None
    if env:
        full_env = dict(os.environ)
        full_env.update({str(k): str(v) for k, v in env.items()})
    added = engine_env(ctx)
    if cwd is not None and not os.path.isdir(cwd):
        raise QueueError(
            TaskErrorCode.DATA_FILE_NOT_FOUND, f"working directory {cwd} does not exist", cwd=cwd
        )
    spawner = ctx.spawner
    if spawner is not None and spawner.closed:
        spawner = None
    out = os.pipe()
    # A spawner from before the split (still serving after an upgrade) takes one pipe for
    # both streams: the output is then unmarked, as it was.
    err = os.pipe() if spawner is None or spawner.splits_stderr else None
    stdin: IO[bytes] | None = None
    try:
        try:
            started = None
            if spawner is not None:
                try:
                    started = await _spawn_through(
                        spawner, ctx.task.id, argv, (full_env, added), cwd, out, err, interactive
                    )
                except SpawnerGone as exc:
                    ctx.log(f"[qtqueue] the spawner is gone ({exc}); the engine starts it")
            if started is None and err is None:
                err = os.pipe()
            tree, stdin = started or _spawn_here(
                argv,
                {**(full_env or os.environ), **added},
                cwd,
                (out[1], err[1] if err is not None else out[1]),
                interactive,
            )
        except FileNotFoundError as exc:
            raise QueueError(
                TaskErrorCode.SYSTEM_COMMAND_NOT_FOUND,
                f"command not found: {argv[0]}",
                command=argv[0],
            ) from exc
        except PermissionError as exc:
            raise QueueError(
                TaskErrorCode.SYSTEM_PERMISSION_DENIED,
                f"not allowed to run {argv[0]}: {exc.strerror}",
                command=argv[0],
            ) from exc
        finally:
            os.close(out[1])
            if err is not None:
                os.close(err[1])
    except BaseException:
        os.close(out[0])
        if err is not None:
            os.close(err[0])
        raise
    return await follow_command(
        ctx,
        tree,
        out[0],
        os.path.basename(argv[0]),
        err_fd=err[0] if err is not None else None,
        progress_pattern=progress_pattern,
        step_pattern=step_pattern,
        grace_s=grace_s,
        stdin=stdin,
    )


def _spawn_here(
    argv: Sequence[str],
    env: Mapping[str, str] | None,
    cwd: str | None,
    write_fds: tuple[int, int],
    interactive: bool,
) -> tuple[ProcessTree, IO[bytes] | None]:
    """Start the command as the engine's own child; `write_fds`: its stdout and stderr."""
    proc = subprocess.Popen(
        list(argv),
        executable=_resolve(argv[0], env),
        stdin=subprocess.PIPE if interactive else _devnull(),
        stdout=write_fds[0],
        stderr=write_fds[1],
        cwd=cwd,
        env=env,
        process_group=0,
        close_fds=True,
    )
    return ProcessTree(proc.pid, functools.partial(_wait_exit, proc)), proc.stdin


async def _spawn_through(
    spawner: SpawnerClient,
    task_id: str,
    argv: Sequence[str],
    envs: tuple[Mapping[str, str] | None, Mapping[str, str]],
    cwd: str | None,
    out: tuple[int, int],
    err: tuple[int, int] | None,
    interactive: bool,
) -> tuple[ProcessTree, IO[bytes] | None]:
    """Start the command as the spawner's child; the spawner keeps a read end of each output
    pipe (`out`, `err`: read and write ends; no `err`: stderr goes to stdout's pipe).
    `envs`: its environment (None: the spawner's) and the variables set over it."""
    env, env_add = envs
    keep_fd = os.dup(out[0])
    keep_err_fd = os.dup(err[0]) if err is not None else None
    stdin_r, stdin_w = os.pipe() if interactive else (None, None)
    try:
        pid = await spawner.spawn(
            task_id,
            argv,
            executable=_resolve(argv[0], env),
            cwd=cwd,
            env=env,
            stdout_fd=out[1],
            keep_fd=keep_fd,
            stdin_fd=stdin_r,
            env_add=env_add,
            stderr_fds=None if err is None or keep_err_fd is None else (err[1], keep_err_fd),
        )
    except BaseException:
        if stdin_w is not None:
            os.close(stdin_w)
        raise
    finally:
        os.close(keep_fd)
        if keep_err_fd is not None:
            os.close(keep_err_fd)
        if stdin_r is not None:
            os.close(stdin_r)
    stdin = open(stdin_w, "wb") if stdin_w is not None else None  # noqa: SIM115
    return ProcessTree(pid, spawned_waiter(spawner, task_id)), stdin


def spawned_waiter(spawner: SpawnerClient, task_id: str) -> Callable[[], Awaitable[int]]:
    """What ProcessTree.wait is for a command the spawner started for `task_id`."""
    status = spawner.exit_status(task_id)

    async def wait() -> int:
        return os.waitstatus_to_exitcode(await asyncio.shield(status))

    return wait


async def follow_command(
    ctx: RunContext,
    tree: ProcessTree,
    read_fd: int,
    name: str,
    *,
    progress_pattern: str | None = DEFAULT_PROGRESS_PATTERN,
    step_pattern: str | None = DEFAULT_STEP_PATTERN,
    grace_s: float = DEFAULT_GRACE_S,
    stdin: IO[bytes] | None = None,
    err_fd: int | None = None,
) -> int:
    """Follow a started command to its end: its output (from `read_fd`, and its stderr from
    `err_fd` where it has a pipe of its own; this closes both) into the log, progress and
    step from it, pause/resume and input hooks, and its outcome (see run_command). Also how
    a command a crashed engine left running is adopted."""
    ctx.attach_pid(tree.pid)
    ctx.set_suspend_hooks(tree.suspend, tree.resume)
    if stdin is not None:
        ctx.set_input_sink(_input_writer(stdin))
    parser = OutputParser(ctx, progress_pattern, step_pattern)
    pipes = [_Pipe(read_fd, parser, False)]
    if err_fd is not None:
        pipes.append(_Pipe(err_fd, parser, True))
    try:
        try:
            returncode = await tree.wait()
        except asyncio.CancelledError:
            await _terminate(tree, grace_s)
            raise
        except SpawnerGone as exc:
            # Nothing can tell how it ends any more: stop it, and say it was cut short.
            tree.signal_tree(signal.SIGKILL)
            raise QueueError(
                TaskErrorCode.QUEUE_TASK_INTERRUPTED,
                f"cut short: the spawner that followed {name} stopped ({exc}); "
                f"its process was stopped",
                pid=tree.pid,
            ) from exc
        # The command is gone; take what it left in the pipes, but do not wait for
        # background children that still hold them open.
        for pipe in pipes:
            pipe.drain()
    finally:
        for pipe in pipes:
            pipe.close()
        parser.close()
        if stdin is not None:
            ctx.set_input_sink(None)
            with contextlib.suppress(OSError):
                stdin.close()
    if returncode != 0:
        raise exit_error(name, returncode, parser.tail.decode("utf-8", "replace"))
    return returncode


class _Pipe:
    """One output pipe of a command, read on the event loop into `parser` until its end."""

    def __init__(self, fd: int, parser: OutputParser, stderr: bool) -> None:
        self.fd = fd
        self.parser = parser
        self.stderr = stderr
        self.loop = asyncio.get_running_loop()
        self.open = True
        os.set_blocking(fd, False)
        self.loop.add_reader(fd, self._readable)

    def drain(self) -> bool:
        """Read what the pipe holds; False at end of file."""
        while self.open:
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                return True
            except OSError:
                return False
            if not chunk:
                return False
            self.parser.feed(chunk, self.stderr)
        return False

    def _readable(self) -> None:
        if not self.drain() and self.open:
            self.loop.remove_reader(self.fd)
            self.open = False

    def close(self) -> None:
        if self.open:
            self.loop.remove_reader(self.fd)
            self.open = False
        os.close(self.fd)


def exit_error(name: str, returncode: int, tail: str) -> QueueError:
    """The coded error of a command `name` that ended with `returncode` after printing `tail`."""
    code = classify_exit(returncode, tail)
    last = [ln for ln in tail.splitlines() if ln.strip()][-3:]
    return QueueError(
        code,
        f"{name} {describe_exit(returncode)}" + (f": {last[-1].strip()[:300]}" if last else ""),
        exit_code=returncode,
        output_tail=last,
    )


def _input_writer(stdin: IO[bytes]) -> InputSink:
    """Writes to a command's stdin pipe in a worker thread (a full pipe blocks only that
    thread), one write at a time."""
    lock = asyncio.Lock()

    def write(data: bytes, eof: bool) -> None:
        try:
            if data:
                stdin.write(data)
                stdin.flush()
            if eof:
                stdin.close()
        except (BrokenPipeError, ValueError):  # it closed its end, or we closed ours
            raise QueueError(
                TaskErrorCode.QUEUE_INVALID_STATE, "the command no longer reads its input"
            ) from None

    async def sink(data: bytes, eof: bool) -> None:
        async with lock:
            await asyncio.to_thread(write, data, eof)

    return sink


async def _terminate(tree: ProcessTree, grace_s: float) -> None:
    """SIGTERM the tree (waking it if suspended), then SIGKILL whatever is left after grace_s."""
    tree.signal_tree(signal.SIGTERM)
    tree.signal_tree(signal.SIGCONT)
    with contextlib.suppress(TimeoutError, asyncio.CancelledError):
        await asyncio.shield(asyncio.wait_for(tree.wait(), grace_s))
    tree.signal_tree(signal.SIGKILL)
    with contextlib.suppress(Exception):
        await asyncio.shield(tree.wait())


def kill_orphan(pid: int, started_at: float | None) -> bool:
    """Kill the process group of a command left behind by a crashed engine.

    Only if the process still exists and was created no later than the task started (so a
    reused pid is never hit). Returns whether something was killed.
    """
    try:
        p = psutil.Process(pid)
        if p.status() == psutil.STATUS_ZOMBIE:
            return False  # it has ended; only its parent has not reaped it
        if started_at is not None and p.create_time() > started_at + 1.0:
            return False
        pgid = os.getpgid(pid)
    except (psutil.Error, ProcessLookupError):
        return False
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if pgid == pid:
            os.killpg(pgid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
    return True
