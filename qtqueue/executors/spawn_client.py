"""The engine's side of the spawner (see spawner.py): start commands through it, hear their ends.

`SpawnerClient.connect(data_dir)` reaches the data directory's spawner, or starts one, and
says what a previous engine left with it: commands still running (with a read end of their
output pipes, so they can be followed) and commands that ended (with their wait status).

A spawner from before stdout and stderr had pipes of their own (one started by the previous
version, still serving after an upgrade) says so by the hello it answers (no `fds`): then
`splits_stderr` is False, and commands get one pipe for both, as that spawner expects.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qtqueue.config import FROZEN, SPAWNER_ARGUMENT

logger = logging.getLogger(__name__)

SOCKET_NAME = "spawner.sock"
#: Seconds to wait for a new spawner to listen.
START_TIMEOUT_S = 10.0


def _spawner_command() -> list[str]:
    """How the spawner starts: spawner.py run as a file, not a module of the package (it needs
    only the standard library). A packaged build ships spawner.py as a file too, and its
    executable (qtqueue, not Python) runs it when told so (qtqueue/__main__.py)."""
    script = str(Path(__file__).with_name("spawner.py"))
    if FROZEN:
        return [sys.executable, SPAWNER_ARGUMENT, script]
    return [sys.executable, "-I", "-S", script]


class SpawnerGone(ConnectionError):
    """The spawner's connection broke: commands started through it cannot be followed."""


@dataclass(slots=True)
class Running:
    """A command a previous engine started that still runs."""

    task_id: str
    pid: int
    output_fd: int
    """A read end of its output pipe, now owned by whoever took this record."""
    error_fd: int | None = None
    """A read end of its stderr pipe (None: stderr went to the output pipe), owned likewise."""


@dataclass(slots=True)
class Ended:
    """A command a previous engine started that ended without that engine recording it."""

    task_id: str
    pid: int
    wait_status: int
    output_fd: int
    """A read end of its output pipe (what it wrote that nobody read yet), owned likewise."""
    error_fd: int | None = None
    """A read end of its stderr pipe (None: stderr went to the output pipe), owned likewise."""

    @property
    def returncode(self) -> int:
        """As Popen says it: the exit status, or minus the signal that killed it."""
        return os.waitstatus_to_exitcode(self.wait_status)


@dataclass(slots=True)
class Leftovers:
    """What a previous engine left with the spawner, by task id."""

    running: dict[str, Running] = field(default_factory=dict)
    ended: dict[str, Ended] = field(default_factory=dict)
    known: bool = False
    """The spawner outlived the previous engine: a command it has no record of never started."""

    def close(self) -> None:
        """Close the output pipes nobody took."""
        fds = [(r.output_fd, r.error_fd) for r in self.running.values()]
        fds += [(e.output_fd, e.error_fd) for e in self.ended.values()]
        for pair in fds:
            for fd in pair:
                if fd is not None:
                    with contextlib.suppress(OSError):
                        os.close(fd)
        self.running.clear()
        self.ended.clear()


class SpawnerClient:
    """One engine's connection to its data directory's spawner."""

    def __init__(self, sock: socket.socket, loop: asyncio.AbstractEventLoop) -> None:
        self._sock = sock
        self._loop = loop
        self._inbox = b""
        self._fds: deque[int] = deque()
        self._spawns: deque[asyncio.Future[int]] = deque()
        self._hello: asyncio.Future[tuple[dict[str, Any], list[int]]] | None = None
        self._exits: dict[str, asyncio.Future[int]] = {}
        self._early: dict[str, int] = {}
        #: Commands the spawner may still hold, by task (started here, or left over from an
        #: earlier engine): only those are acknowledged (a task that ran no command costs no
        #: message, and no wait for the spawner to read it).
        self._held: Counter[str] = Counter()
        self.closed = False
        self.splits_stderr = False
        """The spawner takes a stderr pipe of its own (its hello said so)."""
        sock.setblocking(False)
        loop.add_reader(sock.fileno(), self._readable)

    # ------------------------------------------------------------------ connecting

    @classmethod
    async def connect(cls, data_dir: Path) -> tuple[SpawnerClient, Leftovers]:
        """The spawner of `data_dir` (started if none listens) and what it kept for us."""
        loop = asyncio.get_running_loop()
        path = data_dir / SOCKET_NAME
        sock = await cls._dial(path)
        known = sock is not None
        if sock is None:
            await cls._start(path)
            sock = await cls._dial(path)
            if sock is None:
                raise SpawnerGone(f"the spawner at {path} did not answer")
        client = cls(sock, loop)
        leftovers = await client._greet()
        leftovers.known = known
        return client, leftovers

    @staticmethod
    async def _dial(path: Path) -> socket.socket | None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(str(path))
        except OSError:
            sock.close()
            return None
        return sock

    @staticmethod
    async def _start(path: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # a dead spawner's socket
        ready_r, ready_w = os.pipe()
        try:
            proc = subprocess.Popen(
                [*_spawner_command(), str(path), str(ready_w)],
                pass_fds=(ready_w,),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                close_fds=True,
            )
        finally:
            os.close(ready_w)
        try:
            ready = await asyncio.wait_for(asyncio.to_thread(os.read, ready_r, 1), START_TIMEOUT_S)
        finally:
            os.close(ready_r)
        # The spawner outlives us by design; it is not our child to wait for.
        proc.returncode = 0
        if ready != b"1":
            raise SpawnerGone(f"the spawner for {path} did not start")

    async def _greet(self) -> Leftovers:
        self._hello = self._loop.create_future()
        self._send({"op": "hello"})
        message, fds = await asyncio.wait_for(self._hello, START_TIMEOUT_S)
        left = Leftovers()
        running, ended = message["running"], message["ended"]
        self.splits_stderr = "fds" in message
        per_command = iter(_kept_fds(message, fds))
        for (task_id, pid), kept in zip(running, per_command, strict=False):
            left.running[str(task_id)] = Running(str(task_id), int(pid), *kept)
        for (task_id, pid, status), kept in zip(ended, per_command, strict=False):
            left.ended[str(task_id)] = Ended(str(task_id), int(pid), int(status), *kept)
        self._held.update([*left.running, *left.ended])
        return left

    # ------------------------------------------------------------------ using it

    async def spawn(
        self,
        task_id: str,
        argv: Sequence[str],
        *,
        executable: str | None,
        cwd: str | None,
        env: Mapping[str, str] | None,
        stdout_fd: int,
        keep_fd: int,
        stdin_fd: int | None,
        env_add: Mapping[str, str] | None = None,
        stderr_fds: tuple[int, int] | None = None,
    ) -> int:
        """Start a command in its own process group with `stdout_fd` as its stdout (and its
        stderr, unless `stderr_fds` gives a write end and a read end to keep for it, which
        needs `splits_stderr`); the spawner keeps `keep_fd` (the read end) while it runs. Its
        environment is `env` (None: the spawner's own) with `env_add` over it. Returns its
        pid; raises OSError as Popen would (FileNotFoundError, PermissionError, …)."""
        if stderr_fds is not None and not self.splits_stderr:
            raise ValueError("this spawner predates stderr pipes: pass no stderr_fds")
        fds = [stdout_fd, keep_fd, *(stderr_fds or ())]
        fds += [stdin_fd] if stdin_fd is not None else []
        fut: asyncio.Future[int] = self._loop.create_future()
        self._spawns.append(fut)
        self._held[task_id] += 1
        self._send(
            {
                "op": "spawn",
                "task": task_id,
                "argv": list(argv),
                "executable": executable,
                "cwd": cwd,
                "env": dict(env) if env is not None else None,
                "env_add": dict(env_add) if env_add else None,
                "stdin": "fd" if stdin_fd is not None else "null",
                "stderr": "fd" if stderr_fds is not None else "stdout",
            },
            fds,
        )
        return await fut

    def exit_status(self, task_id: str) -> asyncio.Future[int]:
        """The wait status of the command started for `task_id`, when it ends."""
        fut = self._exits.get(task_id)
        if fut is None:
            fut = self._exits[task_id] = self._loop.create_future()
            if self.closed:
                fut.set_exception(SpawnerGone("the spawner's connection is closed"))
            elif task_id in self._early:
                fut.set_result(self._early.pop(task_id))
        return fut

    def forget(self, task_id: str) -> None:
        """The outcome of `task_id`'s command is durable: the spawner may drop it."""
        self._exits.pop(task_id, None)
        self._early.pop(task_id, None)
        held = self._held.pop(task_id, 0)
        if held > 1:
            self._held[task_id] = held - 1
        if held and not self.closed:
            self._send({"op": "ack", "task": task_id})

    def close(self) -> None:
        """Say goodbye (the spawner exits once its commands have ended) and disconnect."""
        self._shut("the spawner's connection was closed", goodbye=True)

    def _shut(self, why: str, *, goodbye: bool) -> None:
        if self.closed:
            return
        if goodbye:
            with contextlib.suppress(OSError):
                self._sock.setblocking(True)
                self._sock.sendall(b'{"op": "bye"}\n')
        self.closed = True
        if not self._loop.is_closed():
            self._loop.remove_reader(self._sock.fileno())
        self._sock.close()
        self._fail_all(SpawnerGone(why))

    # ------------------------------------------------------------------ the wire

    def _send(self, message: dict[str, Any], fds: Sequence[int] = ()) -> None:
        if self.closed:
            raise SpawnerGone("the spawner's connection is closed")
        data = json.dumps(message).encode() + b"\n"
        # Small messages on a local socket: a short blocking send never stalls the loop long.
        self._sock.setblocking(True)
        try:
            if fds:
                socket.send_fds(self._sock, [data], list(fds))
            else:
                self._sock.sendall(data)
        except OSError as exc:
            self._lost(exc)
            raise SpawnerGone(f"the spawner went away: {exc}") from exc
        finally:
            if not self.closed:
                self._sock.setblocking(False)

    def _readable(self) -> None:
        try:
            data, fds, _, _ = socket.recv_fds(self._sock, 65536, 253)
        except BlockingIOError:
            return
        except OSError as exc:
            self._lost(exc)
            return
        if not data:
            self._lost(None)
            return
        self._fds.extend(fds)
        self._inbox += data
        while b"\n" in self._inbox:
            line, self._inbox = self._inbox.split(b"\n", 1)
            self._dispatch(json.loads(line))

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "spawned" in message:
            fut = self._spawns.popleft()
            if fut.done() and "pid" in message:
                # Its run was cancelled while the spawner started it: stop it now.
                with contextlib.suppress(OSError):
                    os.killpg(int(message["pid"]), signal.SIGKILL)
            elif fut.done():
                pass
            elif "pid" in message:
                fut.set_result(int(message["pid"]))
            else:
                errno = int(message.get("errno") or 0)
                text = str(message.get("error", "could not start"))
                fut.set_exception(OSError(errno, text) if errno else OSError(text))
        elif "exit" in message:
            task_id, status = str(message["exit"]), int(message["status"])
            waiting = self._exits.get(task_id)
            if waiting is None:
                self._early[task_id] = status
            elif not waiting.done():
                waiting.set_result(status)
        # {"kept": N}: descriptors for the hello that follows, queued on arrival already.
        elif "hello" in message and self._hello is not None:
            hello = message["hello"]
            count = (
                sum(hello["fds"]) if "fds" in hello else len(hello["running"]) + len(hello["ended"])
            )
            fds = [self._fds.popleft() for _ in range(count)]
            self._hello.set_result((message["hello"], fds))

    def _lost(self, exc: BaseException | None) -> None:
        if not self.closed:
            logger.error("the connection to the spawner broke: %s", exc or "closed")
            self._shut(f"the spawner went away ({exc or 'its connection closed'})", goodbye=False)

    def _fail_all(self, exc: BaseException) -> None:
        for fut in [*self._spawns, *self._exits.values()]:
            if not fut.done():
                fut.set_exception(exc)
                fut.exception()
        self._spawns.clear()
        if self._hello is not None and not self._hello.done():
            self._hello.set_exception(exc)
            self._hello.exception()


def _kept_fds(hello: dict[str, Any], fds: list[int]) -> list[tuple[int, int | None]]:
    """The kept read ends of each command a hello names, in its order: (output, stderr or
    None). A spawner from before stderr pipes sends one each and no `fds`."""
    counts = hello.get("fds") or [1] * len(fds)
    out: list[tuple[int, int | None]] = []
    pos = 0
    for n in counts:
        kept = fds[pos : pos + n]
        pos += n
        out.append((kept[0], kept[1] if n > 1 else None))
    return out
