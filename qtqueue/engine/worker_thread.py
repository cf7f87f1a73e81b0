"""The engine on a thread of its own: what `start_worker()` / `stop_worker()` do for plain,
synchronous programs (the SQLite-queue document's `task_queue.start_worker()` in a `main.py`
that runs no event loop).

Outside a running loop, `start` runs the queue's `start()` on a new thread with its own event
loop and returns once the queue is open; the engine then works there until `stop`, which
closes the queue (by its shutdown policy) and joins the thread. Inside a running loop there is
no thread: `start` schedules `start()` on that loop and hands back the `asyncio.Task`, and
`stop` schedules `close()`. A worker still running when the interpreter exits is stopped then.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from qtqueue.engine.auto_open import running_loop

logger = logging.getLogger(__name__)

Step = Callable[[], Coroutine[Any, Any, None]]


class EngineThread:
    """Runs `open_queue()` … `close_queue()` on a thread with its own loop (see the module)."""

    def __init__(self, open_queue: Step, close_queue: Step, name: str = "qtqueue-engine") -> None:
        self._open = open_queue
        self._close = close_queue
        self._name = name
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._closed: concurrent.futures.Future[None] | None = None
        #: start()/close() scheduled on a running loop, kept until done (their errors logged).
        self._scheduled: set[asyncio.Task[None]] = set()
        #: One start or stop at a time, whichever threads call them.
        self._guard = threading.Lock()

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The loop of the engine's thread while it runs (None: no thread)."""
        return self._loop

    @property
    def running(self) -> bool:
        """Whether the engine runs on this object's thread now."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> asyncio.Task[None] | None:
        """Open the queue: on a new thread (returns once it is open, raising what opening
        raised), or, inside a running loop, as a task on it (returned)."""
        if running_loop() is not None:
            return self._schedule(self._open())
        with self._guard:
            self._start_thread()
        return None

    def _start_thread(self) -> None:
        if self.running:
            return
        opened: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._closed = concurrent.futures.Future()
        self._thread = threading.Thread(
            target=asyncio.run, args=(self._serve(opened),), name=self._name, daemon=True
        )
        self._thread.start()
        try:
            opened.result()
        except BaseException:
            self._thread.join()
            self._thread = None
            raise
        atexit.register(self.stop)
        return None

    def stop(self) -> asyncio.Task[None] | None:
        """Close the queue and join its thread (raising what closing raised); inside a running
        loop with no thread, schedule `close()` there and return that task."""
        if running_loop() is not None and self._thread is None:
            return self._schedule(self._close())
        with self._guard:
            self._stop_thread()
        return None

    def _stop_thread(self) -> None:
        thread, loop, stop, closed = self._thread, self._loop, self._stop, self._closed
        if thread is None or loop is None or stop is None or closed is None:
            return
        atexit.unregister(self.stop)
        loop.call_soon_threadsafe(stop.set)
        thread.join()
        self._thread = self._loop = self._stop = None
        closed.result()
        return None

    async def _serve(self, opened: concurrent.futures.Future[None]) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            await self._open()
        except BaseException as exc:
            opened.set_exception(exc)
            return
        opened.set_result(None)
        await self._stop.wait()
        assert self._closed is not None
        try:
            await self._close()
        except BaseException as exc:
            self._closed.set_exception(exc)
        else:
            self._closed.set_result(None)

    def _schedule(self, step: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(step, name=self._name)
        self._scheduled.add(task)
        task.add_done_callback(self._forget)
        return task

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._scheduled.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("the engine failed to start or stop", exc_info=task.exception())


class WorkerControls:
    """`start_worker()` / `stop_worker()` of a `TaskQueue`, over its `worker`."""

    worker: EngineThread

    def start_worker(self) -> asyncio.Task[None] | None:
        """Outside a running loop, run the engine on a thread of its own and return once the
        queue is open; inside one, schedule `start()` and return its task."""
        return self.worker.start()

    def stop_worker(self) -> asyncio.Task[None] | None:
        """Close what `start_worker` opened (and join its thread); in a loop, schedule it."""
        return self.worker.stop()
