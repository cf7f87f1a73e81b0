"""A queue that opens itself on first use, and calls that reach its loop from anywhere.

`TaskQueue()` (the design documents' way) is used without `async with` or `start()`: each of
its public coroutine methods opens it first if it was never opened (`auto_open`). The engine runs on
one event loop, the one it was opened on; a call made on another loop, or from a plain thread
(a handler running in a worker thread, the main thread while `start_worker()` runs the engine
on a thread of its own), is carried over to that loop (`on_engine_loop`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import inspect
import logging
import threading
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine, Generator
from typing import Any, Generic, Protocol, TypeVar

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.engine.state import EngineState

logger = logging.getLogger(__name__)

T = TypeVar("T")
Step = Callable[[], Coroutine[Any, Any, None]]
Q = TypeVar("Q", bound=type)

#: Public coroutine methods that must not open the queue themselves.
NOT_OPENING = frozenset({"start", "close"})


class Done(Generic[T]):
    """An awaitable that is already done: what a call applied from a plain thread returns,
    so that `queue.update_progress(...)` and `await queue.update_progress(...)` both work."""

    def __init__(self, value: T) -> None:
        self.value = value

    def __await__(self) -> Generator[Any, None, T]:
        yield from ()
        return self.value


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The loop running in this thread, or None."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


#: Calls carried over to each engine loop and not answered yet, and the loops whose end has
#: begun: a call carried to a loop that ends before it runs is failed, never left waiting.
_carried: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, set[concurrent.futures.Future[Any]]]
_carried = weakref.WeakKeyDictionary()
_ending: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()


def fail_carried(loop: asyncio.AbstractEventLoop) -> None:
    """`loop` is ending: every call carried to it that has not finished fails with
    QUEUE_ENGINE_UNAVAILABLE (its caller hears so instead of waiting for ever), and calls made
    from now on are not carried to it."""
    _ending.add(loop)
    for future in list(_carried.pop(loop, ())):
        if not future.done():
            future.set_exception(
                QueueError(
                    TaskErrorCode.QUEUE_ENGINE_UNAVAILABLE,
                    "the event loop the queue ran on ended before this call could run there",
                )
            )


def on_engine_loop(
    loop: asyncio.AbstractEventLoop | None, make: Callable[[], Coroutine[Any, Any, T]]
) -> Awaitable[T]:
    """`make()` run on `loop`, the engine's. On that loop (or before the engine has one) the
    coroutine itself, to await; from another running loop, a future to await there; from a
    plain thread, the call is applied now (this thread waits for it, and its error is raised
    here) and an already-done awaitable returned. A call carried to a loop that ends first
    fails with QUEUE_ENGINE_UNAVAILABLE."""
    running = running_loop()
    if loop is None or running is loop or not loop.is_running() or loop in _ending:
        return make()
    future = asyncio.run_coroutine_threadsafe(make(), loop)
    pending = _carried.setdefault(loop, set())
    pending.add(future)
    future.add_done_callback(pending.discard)
    if running is not None:
        return asyncio.wrap_future(future)
    return Done(future.result())


def call_on_engine_loop(loop: asyncio.AbstractEventLoop | None, fn: Callable[[], None]) -> None:
    """Call `fn` now when this thread runs `loop` (or no loop runs it yet), else soon on
    `loop`'s own thread (the engine's state is changed on that thread only)."""
    if loop is None or running_loop() is loop or not loop.is_running():
        fn()
    else:
        loop.call_soon_threadsafe(fn)


class FirstUse:
    """Opens a queue on its first use, and closes it when the loop it was opened on ends
    (`asyncio.run` returning) if its user has not closed it by then: without that, the
    store's connection thread would keep the interpreter from exiting. A queue closed that
    way opens again on its next use (on the next loop); one its user closed stays closed."""

    def __init__(
        self,
        start: Callable[[], Awaitable[None]],
        close: Step,
        worker_loop: Callable[[], asyncio.AbstractEventLoop | None] = lambda: None,
    ) -> None:
        self._start = start
        self._close = close
        #: The loop of the engine's own thread (`start_worker`), if it runs on one.
        self._worker_loop = worker_loop
        #: Clear while a loop's end closes the queue: a call from another loop waits for it.
        self._ended = threading.Event()
        self._ended.set()
        self._opening = False
        self._closed_at_loop_end = False
        #: One opening at a time, whatever loop or thread it comes from.
        self._guard = threading.Lock()
        #: Kept here: the loop holds it only weakly (see `_close_at_loop_end`).
        self._closer: AsyncGenerator[None, None] | None = None
        #: The loop a first use opened the queue on, until the close at its end is over.
        self._owner: asyncio.AbstractEventLoop | None = None

    async def open(self, state: EngineState) -> None:
        """Open the queue if it was never opened, or closed by its loop's end; a call made
        while it opens (on any loop, from any thread) waits for it to be open; one made while
        the loop it ran on ends waits for that close and opens it again on its own loop."""
        if state.loop is not None and state.loop in _ending:
            await asyncio.to_thread(self._ended.wait)
        if state.started and not self._opening:
            self._closed_at_loop_end = False  # opened again since (start_worker, start())
            return
        if state.writer is not None and not (self._opening or self._closed_at_loop_end):
            return  # closed by its user: the call says so
        if not self._guard.acquire(blocking=False):  # another call is opening it
            await asyncio.to_thread(self._guard.acquire)
        try:
            if state.started:
                self._closed_at_loop_end = False
                return
            self._opening, self._closed_at_loop_end = True, False
            try:
                await self._start()
            finally:
                self._opening = False
        finally:
            self._guard.release()
        # Only the loop the queue runs on closes it when it ends.
        if self._closer is None and state.loop is asyncio.get_running_loop():
            self._owner = state.loop
            self._closer = self._close_at_loop_end(state)
            await anext(self._closer)

    async def _close_at_loop_end(self, state: EngineState) -> AsyncGenerator[None, None]:
        # An async generator the loop finalises when it shuts down (`shutdown_asyncgens`).
        loop = asyncio.get_running_loop()
        try:
            yield
        finally:
            self._closer = None
            self._ended.clear()
            try:
                fail_carried(loop)
                if state.started and state.loop is loop:  # still open: not closed by its user
                    self._closed_at_loop_end = True
                    await self._close()
            finally:
                if self._owner is loop:
                    self._owner = None
                self._ended.set()

    def check_caller(self, state: EngineState) -> None:
        """Refuse a call made on another running loop while the queue runs on the loop its
        first use opened it on (not the engine's own thread, not a loop whose code opened it
        with `start()`): that loop, another thread's `asyncio.run`, may end, and close the
        queue with it, at any moment."""
        running, owner = running_loop(), self._owner
        if (
            running is not None
            and owner is not None  # opened by a first use on a loop, not by start()
            and running is not owner
            and owner is not self._worker_loop()
        ):
            raise QueueError(
                TaskErrorCode.QUEUE_ENGINE_UNAVAILABLE,
                "this queue runs on another thread's event loop, which may end at any time; "
                "call queue.start_worker() first so that the engine runs on a thread of its "
                "own, or use the queue from one event loop",
            )


class Opening(Protocol):
    """What `auto_open` needs of the queue it wraps."""

    state: EngineState
    first_use: FirstUse


def _opening(method: Callable[..., Coroutine[Any, Any, Any]]) -> Callable[..., Any]:
    @functools.wraps(method)
    async def opening(self: Opening, *args: Any, **kwargs: Any) -> Any:
        await self.first_use.open(self.state)
        self.first_use.check_caller(self.state)
        return await on_engine_loop(self.state.loop, lambda: method(self, *args, **kwargs))

    return opening


def auto_open(cls: Q) -> Q:
    """Class decorator: every public coroutine method of `cls` and its bases (but
    `NOT_OPENING`) opens the queue first if it was never opened (a queue closed by its user
    stays closed: QUEUE_ENGINE_UNAVAILABLE), and runs on the engine's loop (see
    `on_engine_loop`) when called from another one."""
    for name, member in inspect.getmembers(cls, inspect.iscoroutinefunction):
        if not name.startswith("_") and name not in NOT_OPENING:
            setattr(cls, name, _opening(member))
    return cls
