"""`until_set(ended, source)`: an async iterator's items until an event is set — how the APIs'
streamed replies (a followed log, an event stream) end when their server stops or their
client may no longer read them, without waiting for the source's next item."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from typing import TypeVar

logger = logging.getLogger(__name__)

__all__ = ["until_set"]

_T = TypeVar("_T")


async def until_set(ended: asyncio.Event, source: AsyncIterator[_T]) -> AsyncGenerator[_T, None]:
    """Items of `source` until it ends or `ended` is set (then `source` is closed)."""
    stopping = asyncio.create_task(ended.wait())
    try:
        while True:
            step: asyncio.Task[_T] = asyncio.create_task(_next(source))
            await asyncio.wait((step, stopping), return_when=asyncio.FIRST_COMPLETED)
            if not step.done():
                step.cancel()
                with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                    await step
                return
            try:
                item = step.result()
            except StopAsyncIteration:
                return
            yield item
    finally:
        stopping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stopping
        aclose = getattr(source, "aclose", None)
        if aclose is not None:
            await aclose()


async def _next(source: AsyncIterator[_T]) -> _T:
    return await anext(source)
