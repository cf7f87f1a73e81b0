"""Waiting on a condition, never on a fixed sleep: one async and one blocking version.

Both re-check an observable condition every POLL_S and fail, saying what was awaited, after
`timeout_s`. Neither may be used to show that something did NOT happen: a negative claim is
checked after a deterministic point (`await queue.settled()`) or on a virtual clock."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any

POLL_S = 0.02

Predicate = Callable[[], Any | Awaitable[Any]]


async def _check(predicate: Predicate) -> Any:
    value = predicate()
    if inspect.isawaitable(value):
        value = await value
    return value


async def eventually(predicate: Predicate, timeout_s: float = 10.0, what: str = "") -> Any:
    """Return predicate()'s first truthy value (awaited if it is awaitable), re-checking every
    POLL_S; fail after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = await _check(predicate)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout_s} s: {what or predicate}")
        await asyncio.sleep(POLL_S)  # between checks of a real condition, not a wait for time


def wait_until(
    condition: Callable[[], Any], timeout_s: float = 10.0, what: str = "", poll_s: float = POLL_S
) -> Any:
    """Return condition()'s first truthy value, blocking between checks; fail after timeout_s.

    For code outside an event loop (subprocesses, daemons). `condition` may itself fail the
    test at once (e.g. when the process it waits on has died)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout_s} s: {what or condition}")
        time.sleep(poll_s)  # allowed: the pause between two checks of a real condition
