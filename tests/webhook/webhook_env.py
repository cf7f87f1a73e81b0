"""Debian's `webhook` daemon (/usr/bin/webhook, `make test` installs it) as an independent
receiver: a hooks.json whose hook runs a command writing a file when the POST carries a
valid `payload-hmac-sha256` signature in X-Hub-Signature-256, and answers 403 otherwise.
Started on a free 127.0.0.1 port, awaited by polling a connect, stopped by its pid."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from helpers.waiting import wait_until

WEBHOOK = "/usr/bin/webhook"


@dataclass
class Daemon:
    """A running webhook daemon: `url` of its hook, `out` the file its command writes."""

    url: str
    out: Path
    pid: int


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _listening(port: int, proc: subprocess.Popen[bytes], log: Path) -> bool:
    if proc.poll() is not None:
        raise AssertionError(f"webhook exited {proc.returncode}: {log.read_text()}")
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def webhook_daemon(where: Path, secret: str) -> Iterator[Daemon]:
    """Debian's webhook daemon with one hook, `deliver`: on a POST signed with `secret` it
    runs `sh -c` writing the payload's `message` to `out`, and answers with the command's
    output (include-command-output-in-response: the file is written when the answer comes)."""
    if shutil.which(WEBHOOK) is None:
        raise AssertionError("Debian's webhook is not installed: `make test` installs it")
    out = where / "delivered.txt"
    hooks = [
        {
            "id": "deliver",
            "execute-command": "/bin/sh",
            "pass-arguments-to-command": [
                {"source": "string", "name": "-c"},
                {"source": "string", "name": 'printf %s "$1" > "$2"; echo wrote'},
                {"source": "string", "name": "sh"},
                {"source": "payload", "name": "message"},
                {"source": "string", "name": str(out)},
            ],
            "include-command-output-in-response": True,
            "trigger-rule-mismatch-http-response-code": 403,
            "trigger-rule": {
                "match": {
                    "type": "payload-hmac-sha256",
                    "secret": secret,
                    "parameter": {"source": "header", "name": "X-Hub-Signature-256"},
                }
            },
        }
    ]
    (where / "hooks.json").write_text(json.dumps(hooks))
    port = free_port()
    log = where / "webhook.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [WEBHOOK, "-hooks", str(where / "hooks.json"), "-ip", "127.0.0.1",
             "-port", str(port), "-verbose"],
            stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_until(lambda: _listening(port, proc, log), what="webhook listening")
        yield Daemon(f"http://127.0.0.1:{port}/hooks/deliver", out, proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
