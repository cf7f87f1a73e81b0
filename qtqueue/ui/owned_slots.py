"""`owned_slot`: an async Qt slot whose task the object's background set owns.

Light on purpose (qasync and the standard library only): the main window's class uses it
when it is defined, and the window's frame is imported before the engine is.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from qasync import asyncSlot

if TYPE_CHECKING:
    from qtqueue.ui.engine_bridge import BackgroundTasks

logger = logging.getLogger(__name__)

_F = TypeVar("_F", bound=Callable[..., Coroutine[Any, Any, Any]])


class OwnsBackground(Protocol):
    """A QObject whose async slots' tasks are owned by its `background` set."""

    background: BackgroundTasks


def owned_slot(*types: type) -> Callable[[_F], _F]:
    """`qasync.asyncSlot` whose task is owned by the object's `background` set (failures
    logged, cancelled on shutdown). Only for methods of a QObject (qasync #177)."""

    def decorate(fn: _F) -> _F:
        @functools.wraps(fn)
        async def run(self: OwnsBackground, *args: Any) -> Any:
            current = asyncio.current_task()
            if current is not None:
                self.background.adopt(current)
            return await fn(self, *args)

        return asyncSlot(*types)(run)  # type: ignore[no-any-return]

    return decorate
