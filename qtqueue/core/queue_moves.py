"""Where a waiting task can be moved in its queue's order (the engine, CLI, API and window
share these words)."""

from __future__ import annotations

import logging
from enum import StrEnum

logger = logging.getLogger(__name__)


class MovePlace(StrEnum):
    """Where `TaskQueue.move_task` puts a waiting task in its named queue's waiting order."""

    TOP = "top"
    UP = "up"
    DOWN = "down"
    BOTTOM = "bottom"
    #: Just before another waiting task of the same queue (`before` names it).
    BEFORE = "before"
