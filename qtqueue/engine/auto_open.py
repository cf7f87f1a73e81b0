"""A queue that opens itself on first use, and calls that reach its loop from anywhere.

`TaskQueue()` (the design documents' way) is used without `async with` or `start()`: each of
its public coroutine methods opens it first if it was never opened (`auto_open`). The engine runs on
one event loop, the one it was opened on; a call made on another loop, or from a plain thread
(a handler running in a worker thread, the main thread while `start_worker()` runs the engine
on a thread of its own), is carried over to that loop (`on_engine_loop`).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine, Generator
from typing import Any, Generic, Protocol, TypeVar

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


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def on_engine_loop(
    loop: asyncio.AbstractEventLoop | None, make: Callable[[], Coroutine[Any, Any, T]]
) -> Awaitable[T]:
    """`make()` run on `loop`, the engine's. On that loop (or before the engine has one) the
    coroutine itself, to await; from another running loop, a future to await there; from a
    plain thread, the call is applied now (this thread waits for it, and its error is raised
    here) and an already-done awaitable returned."""
    running = _running_loop()
    if loop is None or running is loop or not loop.is_running():
        return make()
    future = asyncio.run_coroutine_threadsafe(make(), loop)
    if running is not None:
        return asyncio.wrap_future(future)
    return Done(future.result())


def call_on_engine_loop(loop: asyncio.AbstractEventLoop | None, fn: Callable[[], None]) -> None:
    """Call `fn` now when this thread runs `loop` (or no loop runs it yet), else soon on
    `loop`'s own thread (the engine's state is changed on that thread only)."""
    if loop is None or _running_loop() is loop or not loop.is_running():
        fn()
    else:
        loop.call_soon_threadsafe(fn)


class FirstUse:
    """Opens a queue on its first use, and closes it when the loop it was opened on ends
    (`asyncio.run` returning) if its user has not closed it by then: without that, the
    store's connection thread would keep the interpreter from exiting. A queue closed that
    way opens again on its next use (on the next loop); one its user closed stays closed."""

    def __init__(self, start: Callable[[], Awaitable[None]], close: Step) -> None:
        self._start = start
        self._close = close
        self._opening = False
        self._closed_at_loop_end = False
        #: Kept here: the loop holds it only weakly (see `_close_at_loop_end`).
        self._closer: AsyncGenerator[None, None] | None = None

    async def open(self, state: EngineState) -> None:
        """Open the queue if it was never opened, or closed by its loop's end; a call made
        while it opens waits for it to be open."""
        if state.writer is not None and not (self._opening or self._closed_at_loop_end):
            return
        self._opening, self._closed_at_loop_end = True, False
        try:
            await self._start()  # one at a time: later calls find it open
        finally:
            self._opening = False
        if self._closer is None:
            self._closer = self._close_at_loop_end(state)
            await anext(self._closer)

    async def _close_at_loop_end(self, state: EngineState) -> AsyncGenerator[None, None]:
        # An async generator the loop finalises when it shuts down (`shutdown_asyncgens`).
        try:
            yield
        finally:
            self._closer = None
            if state.started:  # still open: its user did not close it
                self._closed_at_loop_end = True
                await self._close()


class Opening(Protocol):
    """What `auto_open` needs of the queue it wraps."""

    state: EngineState
    first_use: FirstUse


def _opening(method: Callable[..., Coroutine[Any, Any, Any]]) -> Callable[..., Any]:
    @functools.wraps(method)
    async def opening(self: Opening, *args: Any, **kwargs: Any) -> Any:
        await self.first_use.open(self.state)
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
