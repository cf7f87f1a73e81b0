"""What the HTTP API's authentication tests share: a self-signed certificate, a `qtqueue run
--http` engine in a subprocess, and the places a key must never be found."""

from __future__ import annotations

import selectors
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from helpers.cli import stop_engine

START_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Certificate:
    """A self-signed certificate for 127.0.0.1 and localhost, and its private key (PEM)."""

    cert: Path
    key: Path


def self_signed(folder: Path) -> Certificate:
    """Make one with the openssl command line (skips, saying why, without it)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: apt-get install openssl")
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return Certificate(cert, key)


def _first_line(proc: subprocess.Popen[bytes], log: Path, timeout_s: float) -> str:
    """The first line the process prints on stdout; fails with its log if it exits first."""
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout_s):
            pytest.fail(f"the engine printed nothing within {timeout_s} s:\n{log.read_text()}")
    line = proc.stdout.readline().decode().strip()
    if not line:
        proc.wait(timeout=timeout_s)
        pytest.fail(f"the engine exited with {proc.returncode}:\n{log.read_text()}")
    return line


@dataclass
class HttpEngine:
    """A running `qtqueue run --http` and the URL it printed first."""

    proc: subprocess.Popen[bytes]
    url: str
    log: Path


@contextmanager
def http_engine(
    data_dir: Path,
    env: Mapping[str, str],
    log: Path,
    *,
    args: Sequence[str] = (),
    http: str | None = "127.0.0.1:0",
) -> Iterator[HttpEngine]:
    """`python -m qtqueue --data-dir DATA_DIR run --http HTTP ARGS…` (no --http when `http`
    is None: the saved settings say where), entered once it has printed its URL; stopped (by
    its pid) on exit."""
    serve = ["--http", http] if http is not None else []
    with open(log, "wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "qtqueue", "--data-dir", str(data_dir), "run",
             *serve, *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr, env=dict(env),
        )  # fmt: skip
    try:
        url = _first_line(proc, log, START_TIMEOUT_S)
        yield HttpEngine(proc, url, log)
    finally:
        stop_engine(proc)
        if proc.stdout is not None:
            proc.stdout.close()


def files_holding(folder: Path, secret: str) -> list[Path]:
    """The files under `folder` whose bytes contain `secret` (SQLite, WAL, logs, JSON…)."""
    needle = secret.encode()
    return [p for p in folder.rglob("*") if p.is_file() and needle in p.read_bytes()]


def command_line(pid: int) -> str:
    """A live process's argv, as other users of the machine can read it."""
    return " ".join(psutil.Process(pid).cmdline())


def bearer(data_dir: Path) -> dict[str, str]:
    """The header that opens the HTTP API of `data_dir` (its key, made if need be), for tests
    of the routes behind the door (they need the `secret_service` fixture)."""
    from qtqueue.api.keys import ApiKeys

    return {"Authorization": f"Bearer {ApiKeys(data_dir).current().secret}"}
