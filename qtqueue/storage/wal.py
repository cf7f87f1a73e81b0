"""The write-ahead log's upkeep for `SqliteTaskStore`: when to checkpoint and when to start
the log over.

SQLite's own automatic checkpoint runs inside the commit that crosses its threshold (10+ ms
latency spikes), so it is off (`wal_autocheckpoint=0`) and `WalKeeper` checkpoints on a
connection and thread of its own, PASSIVE, which never blocks the writer.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger(__name__)

#: WAL growth since the last checkpoint at which a background checkpoint starts (SQLite's
#: own default is 1000 pages, ~4 MB).
CHECKPOINT_WAL_BYTES = 4 * 1024 * 1024
#: Seconds without a commit after which whatever the WAL holds is checkpointed, so that the
#: database file alone is whole again (a copy of it is a complete backup) and the next write
#: starts the WAL over.
CHECKPOINT_IDLE_S = 1.0
#: SQLite truncates the WAL back to this size when it starts it over (after a burst).
WAL_SIZE_LIMIT = 4 * 1024 * 1024
#: While commits never pause, a checkpoint never catches up and the WAL only grows; each time
#: it has grown by this much, the writer waits once for a checkpoint to catch up (a stall of
#: a few tens of milliseconds) so that the next commit starts the WAL over.
WAL_FOLD_BYTES = 32 * 1024 * 1024
#: The same two figures when every commit fsyncs (FULL, EXTRA), where a commit that makes the
#: WAL file longer costs more than one that writes within it: its fdatasync also writes the
#: file's new size (a one-by-one add's commit: ~300-380 us against ~200-250 us here). Once the
#: file is FSYNC_WAL_FOLD_BYTES long, the first commit that lengthens it makes the writer wait
#: for a checkpoint, so the next commit starts the WAL over inside the file it has (before,
#: half of the commits of a steady stream of adds lengthened it: the file is never shorter
#: than WAL_SIZE_LIMIT once started over, so growth was counted from the wrong place).
FSYNC_CHECKPOINT_WAL_BYTES = 1024 * 1024
FSYNC_WAL_FOLD_BYTES = 4 * 1024 * 1024


def checkpoint_sync(path: Path) -> None:
    """One PASSIVE checkpoint of the store at `path`, on a connection of its own."""
    conn = sqlite3.connect(path, timeout=5.0)
    try:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
    finally:
        conn.close()


class WalKeeper:
    """Checkpoint and fold policy of one store's WAL (see the module's docstring).

    `committed()` after each commit, `fold_if_due()` before each, `close()` at the end;
    `on_quiet` is called after the idle checkpoint (the store takes its daily backup then)."""

    def __init__(
        self,
        path: Path,
        *,
        fsyncs: bool,
        loop: asyncio.AbstractEventLoop,
        on_quiet: Callable[[], None],
    ) -> None:
        self.path = path
        self._wal_path = f"{path}-wal"
        self._fsyncs = fsyncs
        self._loop = loop
        self._on_quiet = on_quiet
        self._checkpointer: asyncio.Task[None] | None = None
        self._wal_mark = 0  # the WAL's size when the last checkpoint started
        self._wal_bytes = 0  # its size after the last commit
        self._fold_at = self._fold_bytes()  # WAL size at which the writer waits for a checkpoint
        self._uncheckpointed = False  # commits since the last checkpoint started
        self._last_commit = 0.0  # loop time
        self._idle_timer: asyncio.TimerHandle | None = None

    def committed(self) -> None:
        """Checkpoint policy, after each commit: checkpoint once the WAL has grown by
        CHECKPOINT_WAL_BYTES since the last checkpoint, and once commits pause for
        CHECKPOINT_IDLE_S.

        Growth, not size, is what counts: the WAL file keeps its size when SQLite starts it
        over, and a size test ran checkpoints back to back for as long as writes went on (~700
        per 10,000 tasks, 0.9 s of a second core). While writes never pause, a checkpoint
        cannot finish before the next commit, so the WAL keeps growing; the pause
        (`fold_if_due`) is what lets it start over."""
        self._uncheckpointed = True
        loop = self._loop
        self._last_commit = loop.time()
        if self._idle_timer is None:
            self._idle_timer = loop.call_later(CHECKPOINT_IDLE_S, self._idle)
        if self._checkpointer is not None and not self._fsyncs:
            return  # with fsyncs every commit that lengthens the file must be seen
        wal_bytes = self._wal_size()
        if self._fsyncs and wal_bytes > self._wal_bytes >= FSYNC_WAL_FOLD_BYTES:
            self._fold_at = 0  # lengthened a file long enough: start over before the next
        self._wal_bytes = wal_bytes
        if self._checkpointer is not None:
            return
        if wal_bytes < self._wal_mark:  # truncated when SQLite started it over
            self._wal_mark = wal_bytes
            self._fold_at = min(self._fold_at, self._fold_bytes())
        step = FSYNC_CHECKPOINT_WAL_BYTES if self._fsyncs else CHECKPOINT_WAL_BYTES
        if wal_bytes - self._wal_mark >= step:
            self._checkpoint(wal_bytes)

    async def fold_if_due(self) -> None:
        """Before a commit: if the WAL is due to start over, hold the commit until a
        checkpoint has copied the whole WAL back, so that the commit starts it over (and
        SQLite truncates it to WAL_SIZE_LIMIT)."""
        if self._wal_bytes < self._fold_at:
            return
        self._fold_at = self._wal_bytes + self._fold_bytes()  # once per that much growth
        if self._checkpointer is not None:
            await asyncio.gather(self._checkpointer, return_exceptions=True)
        self._checkpoint(self._wal_bytes)
        assert self._checkpointer is not None
        await asyncio.gather(self._checkpointer, return_exceptions=True)

    def _fold_bytes(self) -> int:
        return FSYNC_WAL_FOLD_BYTES if self._fsyncs else WAL_FOLD_BYTES

    def _idle(self) -> None:
        self._idle_timer = None
        if not self._uncheckpointed:
            return
        loop = self._loop
        quiet = loop.time() - self._last_commit
        if quiet < CHECKPOINT_IDLE_S or self._checkpointer is not None:
            self._idle_timer = loop.call_later(max(CHECKPOINT_IDLE_S - quiet, 0.05), self._idle)
            return
        self._checkpoint(self._wal_size())
        self._on_quiet()

    def _wal_size(self) -> int:
        try:
            return os.stat(self._wal_path).st_size
        except FileNotFoundError:
            return 0

    def _checkpoint(self, wal_bytes: int) -> None:
        self._wal_mark = wal_bytes
        self._uncheckpointed = False
        self._checkpointer = self._loop.create_task(
            asyncio.to_thread(checkpoint_sync, self.path), name="wal checkpoint"
        )
        self._checkpointer.add_done_callback(self._checkpoint_done)

    def _checkpoint_done(self, task: asyncio.Task[None]) -> None:
        self._checkpointer = None
        if not task.cancelled() and task.exception() is not None:
            logger.warning("WAL checkpoint failed: %s", task.exception())

    async def close(self) -> None:
        """Stop the idle timer and wait for a checkpoint in flight."""
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        if self._checkpointer is not None:
            await asyncio.gather(self._checkpointer, return_exceptions=True)
