"""A real cluster for the tests: Debian's `redis-server` on a free 127.0.0.1 port (no
persistence), stopped by its pid, and real `qtqueue worker --burst` processes."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from helpers.cli import qtqueue_env
from helpers.waiting import wait_until
from redis import Redis

from qtqueue.core.log_streams import strip_marks

REDIS_SERVER = "/usr/bin/redis-server"
#: How long a burst worker may take in a test before it counts as hung.
WORKER_TIMEOUT_S = 60


@dataclass
class RedisServer:
    """A running redis-server: its URL, port, pid and a client connection."""

    url: str
    port: int
    pid: int
    client: Redis


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def redis_server(where: Path, password: str | None = None) -> Iterator[RedisServer]:
    """`redis-server --port P --bind 127.0.0.1 --save '' --appendonly no` in `where`, until
    the block ends (then terminated by its pid); with `password`, `--requirepass` it (given
    on stdin as a config line, never in argv)."""
    if shutil.which(REDIS_SERVER) is None:
        raise AssertionError("Debian's redis-server is not installed: `make test` installs it")
    where.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = where / "redis.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [REDIS_SERVER, "-", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(where)],
            stdin=subprocess.PIPE, stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
    assert proc.stdin is not None
    if password is not None:
        proc.stdin.write(f'requirepass "{password}"\n'.encode())
    proc.stdin.close()
    client = Redis(host="127.0.0.1", port=port, socket_connect_timeout=2, password=password)

    def answers() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"redis-server exited {proc.returncode}: {log.read_text()}")
        try:
            return bool(client.ping())
        except OSError:
            return False
        except Exception:  # redis-py's ConnectionError while it starts
            return False

    try:
        wait_until(answers, what="redis-server answering")
        yield RedisServer(f"redis://127.0.0.1:{port}/0", port, proc.pid, client)
    finally:
        client.close()
        proc.terminate()
        proc.wait(timeout=10)


def worker_command(url: str, data_dir: Path, *args: str) -> list[str]:
    """`python -m qtqueue --data-dir DATA worker --redis URL --burst ARGS…`."""
    return [sys.executable, "-m", "qtqueue", "--data-dir", str(data_dir), "worker",
            "--redis", url, "--burst", *args]  # fmt: skip


def commands_at_once(
    tmp_path: Path, *argvs: Sequence[str]
) -> list[subprocess.CompletedProcess[str]]:
    """`python -m qtqueue --data-dir TMP/q ARGV…` for each argv, all started at once, each run
    to its end (in the order given)."""
    env = qtqueue_env(tmp_path)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "qtqueue", "--data-dir", str(tmp_path / "q"), *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for argv in argvs
    ]
    done = []
    for proc in procs:
        out, err = proc.communicate(timeout=WORKER_TIMEOUT_S)
        done.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return done


def run_workers(
    url: str, tmp_path: Path, count: int = 1, args: Sequence[str] = ()
) -> list[subprocess.CompletedProcess[str]]:
    """`count` burst workers started at once (named w0, w1, …), each run to its end."""
    return commands_at_once(
        tmp_path,
        *(["worker", "--redis", url, "--burst", "--name", f"w{i}", *args] for i in range(count)),
    )


@contextmanager
def burst_worker_with_a_sleeping_task(
    url: str, tmp_path: Path, pid_file: Path
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """A burst worker in the background, entered once its task has written the pid of the
    `sleep` it started to `pid_file`: (the worker, that pid). On exit the worker must have
    ended with status 0 within WORKER_TIMEOUT_S (else it is killed and the test fails)."""
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        worker = subprocess.Popen(
            worker_command(url, tmp_path / "q"),
            stdout=log, stderr=subprocess.STDOUT, env=qtqueue_env(tmp_path),
        )  # fmt: skip
    try:
        wait_until(lambda: pid_file.exists() and pid_file.read_text().strip(), what="the sleep")
        yield worker, int(pid_file.read_text())
        assert worker.wait(timeout=WORKER_TIMEOUT_S) == 0, log_path.read_text()
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


def log_lines(client: Redis, task_id: str) -> list[str]:
    """The lines of a task's log stream, as a person reads them (without the stderr marks)."""
    entries = client.xrange(f"qtqueue:log:{task_id}")
    return [strip_marks(fields[b"line"].decode()) for _, fields in entries]
