"""`SingleFlight`: one read at a time; the asks that come while it runs become one more read
after it, whatever way it ends."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import pytest

from qtqueue.ui.single_flight import SingleFlight


class Reads:
    """Reads that each wait until the test lets them end; what the helper started and asked."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[None]] = set()
        self.started = 0
        self.agains = 0
        self.release: asyncio.Future[None] | None = None
        self.began = asyncio.Event()

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        self.tasks.add(asyncio.get_running_loop().create_task(coro, name=name))

    def again(self) -> None:
        self.agains += 1

    async def read(self) -> None:
        self.started += 1
        self.release = asyncio.get_running_loop().create_future()
        self.began.set()
        await self.release

    async def begun(self) -> asyncio.Future[None]:
        """Wait until a read has begun; the future that ends it."""
        await self.began.wait()
        self.began.clear()
        assert self.release is not None
        return self.release

    async def settled(self) -> None:
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks.clear()


async def test_asks_while_a_read_runs_start_nothing_and_become_one_more_after_it() -> None:
    reads = Reads()
    flight = SingleFlight(reads.spawn, reads.again)

    assert flight.start(reads.read, "read")
    release = await reads.begun()
    assert flight.running and reads.started == 1
    assert [flight.start(reads.read, "read") for _ in range(3)] == [False] * 3
    assert reads.started == 1 and reads.agains == 0

    release.set_result(None)
    await reads.settled()
    assert not flight.running and reads.agains == 1  # three asks, one more read

    assert flight.start(reads.read, "read")  # free again: the next ask starts at once
    (await reads.begun()).set_result(None)
    await reads.settled()
    assert reads.started == 2 and reads.agains == 1  # nothing asked meanwhile: no extra


async def test_a_failed_read_frees_the_flight_and_still_calls_again() -> None:
    reads = Reads()
    flight = SingleFlight(reads.spawn, reads.again)

    async def failing() -> None:
        await reads.read()
        raise RuntimeError("the engine went away")

    flight.start(failing, "read")
    release = await reads.begun()
    flight.start(failing, "read")
    release.set_result(None)
    with pytest.raises(RuntimeError):
        await asyncio.gather(*reads.tasks)
    assert not flight.running and reads.agains == 1
