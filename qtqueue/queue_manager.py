"""The universal queue document's ready-made `queue_manager`:

```
from qtqueue.queue_manager import queue_manager

task_id = await queue_manager.add_push_task(image_name="username/myapp", tag="latest")
stats = await queue_manager.get_queue_status()
```

`queue_manager` is a `QueueManager` over the process's default queue
(`qtqueue.task_queue.get_task_queue()`), created on first use, not at import (PEP 562): one of
the two documented exceptions to "no module-level singletons". Programs that build their own
`TaskQueue` make their own `QueueManager(queue)`.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from qtqueue.engine.manager import QueueManager

if TYPE_CHECKING:
    queue_manager: QueueManager

logger = logging.getLogger(__name__)

__all__ = ["QueueManager", "queue_manager"]

_lock = threading.Lock()
_managers: list[QueueManager] = []  # the one made, while its queue is the default one


def __getattr__(name: str) -> Any:
    """`queue_manager`: made on first use over `get_task_queue()` (anew once that is a new
    queue, after `reset_task_queue()`)."""
    if name != "queue_manager":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from qtqueue.task_queue import get_task_queue

    queue = get_task_queue()
    with _lock:
        if not _managers or _managers[0].queue is not queue:
            _managers[:] = [QueueManager(queue)]
        return _managers[0]
