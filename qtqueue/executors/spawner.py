"""The spawner: the parent of every command a queue runs, so that no outcome dies with the engine.

A small process of its own (its own session, nothing but the standard library) started by the
engine and reached over a Unix socket in the data directory. The engine asks it to start each
command, handing it the command's output pipes (stdout, and stderr apart); the spawner starts
the command, reaps it, and reports its wait status. It keeps each status, and a read end of each
running command's output pipes, until the engine acknowledges the status (after committing it).
So when the engine crashes, a command that is still running keeps running (its output waits in
its pipes), a command that ends meanwhile has its real exit status kept, and the next engine to
connect is handed both: it adopts the running ones and records the finished ones. And a task the
store says was running but the spawner never heard of had not started its command. The spawner
exits once no engine is connected and no command runs, and the last engine closed cleanly or
LINGER_S have passed.

Protocol: one JSON object per line each way; file descriptors travel with SCM_RIGHTS.
  engine -> spawner  {"op": "spawn", "task": ID, "argv": [...], "executable": PATH|null,
                      "cwd": DIR|null, "env": {...}|null, "env_add": {...}|null,
                      "stdin": "fd"|"null", "stderr": "fd"|"stdout"}
                      (env null: the spawner's own; env_add set over it)
                      fds: stdout write end, a read end to keep, [stderr write end, a read
                      end to keep: with "stderr": "fd"], [stdin read end]
                     {"op": "ack", "task": ID}            the status of ID is durable: forget it
                     {"op": "hello"}                      what runs and what ended?
                     {"op": "bye"}                        closing cleanly: exit once idle
  spawner -> engine  {"spawned": ID, "pid": PID} | {"spawned": ID, "errno": N, "error": TEXT}
                     {"exit": ID, "pid": PID, "status": WAIT_STATUS}
                     {"kept": N}                          (before a hello) N of its descriptors
                      fds: N of the kept read ends the hello names (at most MAX_HELLO_FDS in
                      one message: SCM_RIGHTS carries no more than 253)
                     {"hello": {"running": [[ID, PID], ...], "ended": [[ID, PID, STATUS], ...],
                                "fds": [N, ...]}}
                      the kept read ends (sent before it) are those of each running, then each
                      ended command, in order: N of them for each (1: its output; 2: its
                      stdout, then its stderr)
A spawner from before "stderr" and "fds" (stdout and stderr in one pipe) answers a hello with
no "fds": the engine then sends no "stderr" (see spawn_client.SpawnerClient.splits_stderr).
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from typing import Any

#: Bytes of one message at most; a spawn request carries a command line and its environment.
MAX_MESSAGE = 4 * 1024 * 1024
MAX_FDS = 10
#: Descriptors one message may carry at most (the kept read ends a hello hands back are sent
#: in messages of this many).
MAX_HELLO_FDS = 250
#: Seconds a new spawner waits for the engine that started it to connect.
FIRST_CONNECT_S = 30.0
#: Seconds a spawner whose engine vanished (a crash) waits for the next one with nothing running.
LINGER_S = 600.0


class _Command:
    __slots__ = ("keep_fds", "pid", "task_id")

    def __init__(self, task_id: str, pid: int, keep_fds: list[int]) -> None:
        self.task_id = task_id
        self.pid = pid
        self.keep_fds = keep_fds


class Spawner:
    def __init__(self, listener: socket.socket) -> None:
        self.listener = listener
        self.conn: socket.socket | None = None
        self.greeted = False  # an engine has connected once
        self.bye = False  # the last engine closed cleanly
        self.alone_since = time.monotonic()
        self.inbox = b""
        self.running: dict[int, _Command] = {}  # by pid
        # task id -> (pid, status, kept read ends)
        self.ended: dict[str, tuple[int, int, list[int]]] = {}
        self.added_env: dict[str, str] = {}  # what the last command had set over os.environ
        self.selector = selectors.DefaultSelector()
        self.wake_r, wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(wake_w, False)
        os.set_inheritable(self.wake_r, False)
        os.set_inheritable(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        # The engine's terminal may go; the commands' outcomes must not.
        for sig in (signal.SIGHUP, signal.SIGINT, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_IGN)
        self.selector.register(self.wake_r, selectors.EVENT_READ, "wake")
        self.selector.register(listener, selectors.EVENT_READ, "listen")

    def done(self) -> bool:
        """No engine, no command: and the last engine said goodbye, or none came back in
        LINGER_S (after a crash, whether a command had started is known only while we live)."""
        if not self.greeted or self.conn is not None or self.running:
            return False
        return self.bye or time.monotonic() - self.alone_since >= LINGER_S

    def timeout(self) -> float | None:
        if not self.greeted:
            return FIRST_CONNECT_S
        if self.conn is None and not self.running:
            return max(0.0, LINGER_S - (time.monotonic() - self.alone_since))
        return None

    def serve(self) -> None:
        while not self.done():
            events = self.selector.select(self.timeout())
            if not events and not self.greeted:
                return  # the engine that started us is gone before it connected
            for key, _ in events:
                if key.data == "wake":
                    with contextlib.suppress(BlockingIOError):
                        os.read(self.wake_r, 4096)
                    self.reap()
                elif key.data == "listen":
                    self.accept()
                else:
                    self.receive()
            self.reap()

    def accept(self) -> None:
        conn, _ = self.listener.accept()
        if self.conn is not None:  # one engine at a time (it holds the data directory's lock)
            conn.close()
            return
        conn.setblocking(True)
        self.conn = conn
        self.greeted = True
        self.bye = False
        self.inbox = b""
        self.selector.register(conn, selectors.EVENT_READ, "conn")

    def drop(self) -> None:
        if self.conn is not None:
            self.selector.unregister(self.conn)
            self.conn.close()
            self.conn = None
            self.alone_since = time.monotonic()
            if self.bye:
                # A clean close has stopped (or waited for) every command it started: one
                # still here escaped it (its start was cancelled mid-way, say). Nobody will
                # follow it, so it is stopped now rather than left behind.
                for command in self.running.values():
                    with contextlib.suppress(OSError):
                        os.killpg(command.pid, signal.SIGKILL)

    def send(self, message: dict[str, Any], fds: list[int] | None = None) -> None:
        if self.conn is None:
            return
        data = json.dumps(message).encode() + b"\n"
        # A failed send means the engine is going: what it said before it went (a goodbye)
        # is still to be read, and the end of the stream drops the connection then.
        with contextlib.suppress(OSError):
            if fds:
                socket.send_fds(self.conn, [data], fds)
            else:
                self.conn.sendall(data)

    def receive(self) -> None:
        assert self.conn is not None
        try:
            data, fds, _, _ = socket.recv_fds(self.conn, 65536, MAX_FDS)
        except OSError:
            data, fds = b"", []
        if not data:
            for fd in fds:
                os.close(fd)
            self.drop()
            return
        self.inbox += data
        if len(self.inbox) > MAX_MESSAGE:
            self.drop()
            return
        fd_queue = list(fds)
        while b"\n" in self.inbox:
            line, self.inbox = self.inbox.split(b"\n", 1)
            try:
                request = json.loads(line)
                self.handle(request, fd_queue)
            except (ValueError, KeyError, TypeError):
                continue
        for fd in fd_queue:
            os.close(fd)

    def handle(self, request: dict[str, Any], fds: list[int]) -> None:
        op = request["op"]
        if op == "spawn":
            count = 2 + 2 * (request.get("stderr") == "fd") + (request.get("stdin") == "fd")
            taken, fds[:count] = fds[:count], []
            self.spawn(request, taken)
        elif op == "ack":
            acked = self.ended.pop(str(request["task"]), None)
            if acked is not None:
                for fd in acked[2]:
                    os.close(fd)
        elif op == "bye":
            self.bye = True
        elif op == "hello":
            running = sorted(self.running.values(), key=lambda c: c.pid)
            ended = sorted(self.ended.items())
            kept = [fd for c in running for fd in c.keep_fds]
            kept += [fd for _, (_, _, fds_kept) in ended for fd in fds_kept]
            for start in range(0, len(kept), MAX_HELLO_FDS):
                batch = kept[start : start + MAX_HELLO_FDS]
                self.send({"kept": len(batch)}, batch)
            self.send(
                {
                    "hello": {
                        "running": [[c.task_id, c.pid] for c in running],
                        "ended": [[t, pid, st] for t, (pid, st, _) in ended],
                        "fds": [len(c.keep_fds) for c in running]
                        + [len(fds_kept) for _, (_, _, fds_kept) in ended],
                    }
                }
            )

    def spawn(self, request: dict[str, Any], fds: list[int]) -> None:
        task_id = str(request["task"])
        stdout_fd, keep_fds = fds[0], [fds[1]]
        stderr_fd: int = subprocess.STDOUT
        if request.get("stderr") == "fd":
            stderr_fd = fds[2]
            keep_fds.append(fds[3])
        rest = fds[2 * len(keep_fds) :]  # the stdin read end, if any
        stdin_fd = rest[0] if rest else subprocess.DEVNULL
        for fd in keep_fds:
            os.set_inheritable(fd, False)
        env = request.get("env")
        added = request.get("env_add") or {}
        if env is not None:
            env = {**env, **added}
        else:
            # The spawner's own environment is the child's: set the added variables in it (it
            # starts one command at a time), cheaper than a whole environment per command.
            for key in self.added_env.keys() - added.keys():
                os.environ.pop(key, None)
            os.environ.update(added)
            self.added_env = dict(added)
        try:
            proc = subprocess.Popen(
                request["argv"],
                executable=request.get("executable"),
                stdin=stdin_fd,
                stdout=stdout_fd,
                stderr=stderr_fd,
                cwd=request.get("cwd"),
                env=env,
                process_group=0,
                close_fds=True,
            )
        except OSError as exc:
            _close(keep_fds)
            self.send({"spawned": task_id, "errno": exc.errno or 0, "error": str(exc)})
            return
        except (ValueError, TypeError) as exc:
            _close(keep_fds)
            self.send({"spawned": task_id, "errno": 0, "error": str(exc)})
            return
        finally:
            _close([stdout_fd, *([stderr_fd] if stderr_fd >= 0 else []), *rest])
        proc.returncode = 0  # reaped by reap(), never by Popen
        self.running[proc.pid] = _Command(task_id, proc.pid, keep_fds)
        self.send({"spawned": task_id, "pid": proc.pid})

    def reap(self) -> None:
        while self.running:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            command = self.running.pop(pid, None)
            if command is None:
                continue
            # The read end stays until the status is acknowledged: output the engine has not
            # read yet is still in the pipe for the next engine to record.
            self.ended[command.task_id] = (pid, status, command.keep_fds)
            self.send({"exit": command.task_id, "pid": pid, "status": status})


def _close(fds: list[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


def main(argv: list[str]) -> int:
    """`python -m qtqueue.executors.spawner SOCKET READY_FD`: serve on SOCKET (a path that
    must not exist), write one byte to READY_FD once it listens."""
    path, ready_fd = argv[0], int(argv[1])
    os.umask(0o077)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(4)
    listener.set_inheritable(False)
    ours = os.stat(path).st_ino
    spawner = Spawner(listener)
    os.write(ready_fd, b"1")
    os.close(ready_fd)
    try:
        spawner.serve()
    finally:
        # Unless a newer spawner has taken the path meanwhile (we were already leaving).
        with contextlib.suppress(OSError):
            if os.stat(path).st_ino == ours:
                os.unlink(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
