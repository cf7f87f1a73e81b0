"""One engine per data directory: the directory made private to its user, its lock file, and
the name of the store inside it."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.storage.private import PRIVATE_FILE_MODE, make_data_dir_private, permission_denied

logger = logging.getLogger(__name__)

LOCK_NAME = "engine.lock"
#: The store's file in a data directory (the facade opens it, backups copy it).
DB_NAME = "queue.db"


class DataDirLock:
    """The data directory's lock, held while a queue has it open."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        # Not thread-local: it is taken in a worker thread (so waiting never blocks the loop)
        # and released on the loop's thread. Imported here: filelock hooks into every fork of
        # the process (~0.5 ms each), and a cluster worker that imports the engine forks per job.
        from filelock import FileLock

        self._lock = FileLock(str(data_dir / LOCK_NAME), mode=PRIVATE_FILE_MODE, thread_local=False)

    async def take(self, timeout_s: float) -> None:
        """Make the directory private to its user and take it, waiting up to `timeout_s`:
        QUEUE_ENGINE_LOCKED if another engine holds it, SYSTEM_PERMISSION_DENIED if it is
        another user's."""
        from filelock import Timeout

        try:
            # Private to its user (0700, files 0600): the store and logs hold commands,
            # parameters and output. Another user's data directory is refused here.
            make_data_dir_private(self.data_dir)
            await asyncio.to_thread(self._lock.acquire, timeout=timeout_s)
        except PermissionError as exc:
            raise permission_denied(self.data_dir, exc) from None
        except Timeout:
            raise QueueError(
                TaskErrorCode.QUEUE_ENGINE_LOCKED,
                f"another qtqueue engine is using {self.data_dir}",
                data_dir=str(self.data_dir),
            ) from None

    def release(self) -> None:
        """Give the directory back."""
        self._lock.release()
