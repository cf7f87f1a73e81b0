"""Types of the engine fixtures in tests/conftest.py, for the tests that annotate them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from qtqueue.engine.queue import TaskQueue

#: `make_queue(**kwargs)`: the fixture that opens (and later closes) a started TaskQueue.
QueueFactory = Callable[..., Awaitable[TaskQueue]]
