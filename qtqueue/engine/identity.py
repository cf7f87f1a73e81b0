"""`InProcess`: what the engine port (`qtqueue.api.port.EnginePort`) asks of an engine about
where it runs, answered for the engine of this process (`TaskQueue` mixes it in)."""

from __future__ import annotations

import logging
import os

logger = logging.getLogger(__name__)

__all__ = ["InProcess"]


class InProcess:
    """The engine runs in this process (an attached window's port says otherwise)."""

    #: This process runs the engine.
    owns_engine = True

    @property
    def engine_pid(self) -> int:
        """This process's id."""
        return os.getpid()
