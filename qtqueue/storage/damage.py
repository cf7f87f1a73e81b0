"""Damage to the store: a file that cannot be the store, and rows that cannot be tasks.

`inspect` looks at the file before SQLite does, so that an emptied, cut short or overwritten
file is named as such (SQLite would open a 0-byte file as a new, empty database and the tasks
would silently vanish from view). `create_store` makes a new store whole or not at all, so a
0-byte `queue.db` never arises from qtqueue itself. `quarantine_rows` moves rows that SQLite
reads but that are not tasks (broken JSON, an unknown status, a wrong type) out of `tasks`
into the side table `quarantine`, raw data kept, so that every other task keeps being served.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from qtqueue.storage.backups import BACKUPS_DIR, list_backups
from qtqueue.storage.migrations import MIGRATIONS, statements
from qtqueue.storage.private import PRIVATE_FILE_MODE, replace_durably

__all__ = ["QUARANTINE_TABLE", "create_store", "inspect", "quarantine_rows"]

SQLITE_MAGIC = b"SQLite format 3\x00"
HEADER_BYTES = 100
QUARANTINE_TABLE = "quarantine"


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return None


def inspect(db_path: Path) -> str | None:
    """What is visibly wrong with the store file at `db_path`, as the end of a sentence that
    starts with its name; None when nothing is. A missing file is a first start unless a
    write-ahead log or backups show that a store was there."""
    wal = Path(f"{db_path}-wal")
    wal_bytes = _size(wal) or 0
    size = _size(db_path)
    if size is None:
        if wal_bytes:
            return f"is missing, but its write-ahead log {wal.name} ({wal_bytes} bytes) remains"
        backups = list_backups(db_path.parent / BACKUPS_DIR)
        if backups:
            return (
                f"is missing, but this data directory held a store ({len(backups)} backups "
                f"in {db_path.parent / BACKUPS_DIR})"
            )
        return None
    if size == 0:
        # With a WAL beside it the file may simply never have been checkpointed.
        return None if wal_bytes else "is empty (0 bytes): the tasks it held are gone from it"
    with open(db_path, "rb") as fh:
        header = fh.read(HEADER_BYTES)
    if len(header) < HEADER_BYTES:
        return f"is truncated: {size} bytes, less than an SQLite header"
    if not header.startswith(SQLITE_MAGIC):
        return "does not start with an SQLite header: it was overwritten, or is not a database"
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        return f"has a damaged header (page size {page_size})"
    pages = int.from_bytes(header[28:32], "big")
    size_is_valid = header[24:28] == header[92:96]
    # While a WAL holds pages not yet copied back, the file may be shorter than it will be.
    if not wal_bytes and size_is_valid and size < pages * page_size:
        return (
            f"is truncated: {size} bytes, but its header counts {pages} pages of "
            f"{page_size} bytes ({pages * page_size} bytes)"
        )
    return None


def create_store(db_path: Path) -> None:
    """Create a new store at `db_path` (which must not exist) at the current schema version:
    built under a temporary name, private (0600), in WAL mode, then renamed into place."""
    new = db_path.with_name(db_path.name + ".new")
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{new}{suffix}").unlink(missing_ok=True)  # left by a start that was cut short
    os.close(os.open(new, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))
    conn = sqlite3.connect(new, isolation_level=None)
    try:
        conn.execute("BEGIN")
        for script in MIGRATIONS:
            for statement in statements(script):
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
        conn.execute("COMMIT")
        conn.execute("PRAGMA journal_mode=WAL")
    finally:
        conn.close()  # the last connection: SQLite checkpoints and removes the WAL
    replace_durably(new, db_path)


def _plain(value: Any) -> Any:
    """A column value as JSON can hold it (a BLOB as hex)."""
    return {"blob_hex": value.hex()} if isinstance(value, bytes) else value


def quarantine_rows(
    conn: sqlite3.Connection,
    columns: Sequence[str],
    bad: Sequence[tuple[Any, str]],
    now: float,
) -> list[tuple[Any, str]]:
    """Move every row of `tasks` whose id is one of `bad`'s (id, reason) pairs, with its
    transitions, into the `quarantine` table (created if missing) as raw JSON, in one
    transaction; returns the (id, reason) pairs of the rows moved. Blocking; run it on the
    store connection's thread."""
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {QUARANTINE_TABLE} (id INTEGER PRIMARY KEY, "
        "task_id, found_at REAL NOT NULL, reason TEXT NOT NULL, raw TEXT NOT NULL)"
    )
    moved: list[tuple[Any, str]] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        for task_id, reason in bad:
            rows = conn.execute(
                f"SELECT rowid, {', '.join(columns)} FROM tasks WHERE id IS ?", (task_id,)
            ).fetchall()
            for rid, *values in rows:
                events = conn.execute(
                    "SELECT at, from_status, to_status, task_type, error_code, duration_s "
                    "FROM task_events WHERE task_rid = ? ORDER BY id",
                    (rid,),
                ).fetchall()
                raw = {
                    "row": {c: _plain(v) for c, v in zip(columns, values, strict=True)},
                    "events": [[_plain(v) for v in e] for e in events],
                }
                label = task_id.hex() if isinstance(task_id, bytes) else task_id
                conn.execute(
                    f"INSERT INTO {QUARANTINE_TABLE} (task_id, found_at, reason, raw) "
                    "VALUES (?, ?, ?, ?)",
                    (label, now, reason, json.dumps(raw)),
                )
                conn.execute("DELETE FROM task_events WHERE task_rid = ?", (rid,))
                conn.execute("DELETE FROM tasks WHERE rowid = ?", (rid,))
                moved.append((task_id, reason))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return moved
