"""Per-task log files, bounded in size, keeping the newest output.

A log is two files: `<id>.log` (being written) and `<id>.log.1` (the previous half). When the
current file passes half the cap it becomes `.1` (dropping the older one), so the two together
never exceed the cap and always hold the most recent output.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Any, BinaryIO

from qtqueue.core.log_streams import has_marks, mark_stderr, split_streams
from qtqueue.storage.private import PRIVATE_DIR_MODE, create_private, write_private

logger = logging.getLogger(__name__)

DEFAULT_LOG_CAP_BYTES = 10 * 1024 * 1024
REDACTED = "********"
REDACTED_BYTES = REDACTED.encode()


class BoundedLog:
    """Appends to a task's log file; opened lazily, closed by `close()`.

    Secrets (bytes) are replaced by REDACTED before anything reaches the file, also when a
    secret arrives split across two writes: while secrets are known, a write's tail that could
    be the start of one (a prefix of a secret) is held back until the next write (or `close`)
    shows how it continues. Anything else reaches the file at once, so a task with a
    credential still has a live log.

    Output marked as stderr (`qtqueue.core.log_streams`) is redacted per stream: a secret
    split across two stderr chunks (each marked on its own) is still found, and a held-back
    piece of one stream waits for that stream's next write (or `close`).
    """

    def __init__(self, path: Path | str, cap_bytes: int = DEFAULT_LOG_CAP_BYTES) -> None:
        # Kept as text until a write needs the file: most short tasks never log, and building
        # a Path per task showed in the engine's per-task cost.
        self._path_text = str(path)
        self._path: Path | None = path if isinstance(path, Path) else None
        self.half = max(1024, cap_bytes // 2)
        self._fh: BinaryIO | None = None
        self._size = 0
        self.secrets: list[bytes] = []
        self._held = b""
        self._held_err = b""
        self._closed = False

    @property
    def path(self) -> Path:
        """The log file being written (`<id>.log`)."""
        if self._path is None:
            self._path = Path(self._path_text)
        return self._path

    @property
    def path_text(self) -> str:
        return self._path_text

    def add_secret(self, secret: bytes) -> None:
        """Redact `secret` from everything written from now on."""
        if secret and secret not in self.secrets:
            self.secrets.append(secret)

    def write(self, data: bytes) -> None:
        if self.secrets:
            if self._held_err or has_marks(data):
                data = self._redact_streams(data)
            else:
                data, self._held = self._redact(self._held + data)
        self._append(data)
        if self._closed:
            # A write after the attempt ended (a worker thread's last progress line): it is
            # kept, and the file is not left open for nobody to close.
            self._close_file()

    def _redact(self, data: bytes) -> tuple[bytes, bytes]:
        """`data` with the secrets masked, less the tail that may begin one (returned second)."""
        for secret in self.secrets:
            data = data.replace(secret, REDACTED_BYTES)
        keep = 0 if self._closed else secret_prefix_tail(data, self.secrets)
        return (data[:-keep], data[-keep:]) if keep else (data, b"")

    def _redact_streams(self, data: bytes) -> bytes:
        out: list[bytes] = []
        for err, run in split_streams(data, cut=False):
            if err:
                clean, self._held_err = self._redact(self._held_err + run)
                out.append(mark_stderr(clean))
            else:
                clean, self._held = self._redact(self._held + run)
                out.append(clean)
        return b"".join(out)

    def _append(self, data: bytes) -> None:
        if not data:
            return
        if self._fh is None:
            self._open()
        if len(data) >= self.half:
            # At least a whole half: everything older falls out of the cap, so the log
            # becomes the newest cap-worth of this write alone (a contiguous tail).
            self._replace_with(data[-2 * self.half :])
            return
        if self._size + len(data) > self.half:
            self._rotate()
        assert self._fh is not None
        self._fh.write(data)
        self._size += len(data)

    def _replace_with(self, data: bytes) -> None:
        self._close_file()
        older = self.path.with_name(self.path.name + ".1")
        if len(data) > self.half:
            write_private(older, data[: -self.half])
        else:
            with contextlib.suppress(FileNotFoundError):
                older.unlink()
        write_private(self.path, data[-self.half :])
        self._open()

    def _open(self) -> None:
        self.path.parent.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
        # 0600: a command's output is its user's alone (see qtqueue.storage.private).
        self._fh = os.fdopen(create_private(self.path), "ab", buffering=0)
        self._size = self.path.stat().st_size

    def _rotate(self) -> None:
        self._close_file()
        if self.path.exists():
            os.replace(self.path, self.path.with_name(self.path.name + ".1"))
        self._open()

    def _close_file(self) -> None:
        if self._fh is not None:
            with contextlib.suppress(OSError):
                self._fh.close()
            self._fh = None

    def close(self) -> None:
        """Write what was held back and close the file. A later write is still appended, and
        the file closed again at once."""
        self._closed = True
        held = self._held + mark_stderr(self._held_err)
        self._held = self._held_err = b""
        if held:
            self._append(held)
        self._close_file()


def secret_prefix_tail(data: bytes, secrets: list[bytes]) -> int:
    """The length of the longest end of `data` that is the beginning of a secret (but not a
    whole one, which was replaced already): the bytes to hold until the next write."""
    longest = 0
    for secret in secrets:
        for n in range(min(len(secret) - 1, len(data)), longest, -1):
            if data.endswith(secret[:n]):
                longest = n
                break
    return longest


def redact(value: Any, secrets: list[bytes]) -> Any:
    """`value` (text, or JSON-like lists and dicts of it) with every secret masked."""
    if not secrets:
        return value
    if isinstance(value, str):
        for secret in secrets:
            text = secret.decode("utf-8", "replace")
            if text and text in value:
                value = value.replace(text, REDACTED)
        return value
    if isinstance(value, dict):
        return {redact(k, secrets): redact(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v, secrets) for v in value]
    return value


class LogTail:
    """Reads a growing bounded log incrementally: each call returns only the bytes written
    since the last one, following a rotation (the file it was reading becomes `.1`).
    Blocking file IO: call `read_new` in a worker thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._ino: int | None = None
        self._offset = 0

    def read_new(self) -> bytes:
        if self._ino is None:
            older = self.path.with_name(self.path.name + ".1")
            head = older.read_bytes() if older.exists() else b""
            return head + self._read_current(start_over=True)
        return self._read_current(start_over=False)

    def _read_current(self, start_over: bool) -> bytes:
        out = b""
        try:
            fh = open(self.path, "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            return b""
        with fh:
            st = os.fstat(fh.fileno())
            if not start_over and st.st_ino != self._ino:
                # Rotated: finish the file we were reading (now .1), then start this one.
                older = self.path.with_name(self.path.name + ".1")
                with contextlib.suppress(FileNotFoundError), open(older, "rb") as old:
                    if os.fstat(old.fileno()).st_ino == self._ino:
                        old.seek(self._offset)
                        out = old.read()
                self._offset = 0
            elif st.st_size < self._offset:
                self._offset = 0  # replaced by a smaller file: read it from the start
            self._ino = st.st_ino
            fh.seek(self._offset)
            out += fh.read()
            self._offset = fh.tell()
        return out


def log_files(path: Path) -> list[Path]:
    """The files of one log, oldest first (only those that exist)."""
    return [p for p in (path.with_name(path.name + ".1"), path) if p.exists()]


def read_log(path: Path, tail_bytes: int | None = None) -> bytes:
    """The whole retained log, or its last `tail_bytes`."""
    data = b"".join(p.read_bytes() for p in log_files(path))
    if tail_bytes is not None and len(data) > tail_bytes:
        data = data[-tail_bytes:]
    return data


def remove_log(path: Path) -> None:
    for p in log_files(path):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
