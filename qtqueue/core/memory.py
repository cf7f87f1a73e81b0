"""Keeping Python's cyclic garbage collector out of bulk loads.

Decoding 100,000 stored tasks allocates about a million tracked objects (snapshots, their
dicts and lists). The cyclic collector would walk that growing heap again and again (half the
time of the decoding), and once it is back on, its first young-generation pass walks all of it
at once (a 0.15 s stall). Task snapshots hold no reference cycles, so pausing it loses nothing:
they are freed by reference counting as before.
"""

from __future__ import annotations

import gc
from types import TracebackType


class cyclic_gc_paused:  # lower case: used like a function, `with cyclic_gc_paused():`
    """Context manager: no cyclic collection inside; holders may overlap (a read awaits its
    rows while another one runs), and collection resumes when the last one leaves, if it was
    on before the first came."""

    _holders = 0
    _was_enabled = False

    def __enter__(self) -> None:
        cls = cyclic_gc_paused
        if cls._holders == 0:
            cls._was_enabled = gc.isenabled()
            gc.disable()
        cls._holders += 1

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        cls = cyclic_gc_paused
        cls._holders -= 1
        if cls._holders == 0 and cls._was_enabled:
            gc.enable()


def settle_long_lived() -> None:
    """Move every object alive now out of the collector's sight (`gc.freeze`).

    For what a long-running process has just loaded and will keep (the window's table of task
    snapshots): full collections then never walk it again. Objects frozen are still freed by
    reference counting; only a reference cycle among them would stay until exit.
    """
    gc.freeze()
