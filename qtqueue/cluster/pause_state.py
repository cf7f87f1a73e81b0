"""Whether the whole cluster is paused: one durable Redis key (`CLUSTER_PAUSED_KEY`, no
expiry) that `cluster_pause.py` sets and clears and every worker reads beside its own
suspended key (`control.WorkerControl`). A leaf module, so that every reader of the cluster's
state (the overview, the statistics, the metrics) can ask without importing the control
channel.
"""

from __future__ import annotations

import logging

from redis import Redis
from rq.suspension import is_suspended

logger = logging.getLogger(__name__)

#: The durable key that says the whole cluster is paused: every worker holds as if suspended
#: while it exists.
CLUSTER_PAUSED_KEY = "qtqueue:control:cluster-paused"


def is_paused(conn: Redis) -> bool:
    """Whether the whole cluster is paused: qtqueue's pause (`cluster_pause.py`), or RQ's
    own global suspend set by hand (`rq suspend`)."""
    return bool(conn.exists(CLUSTER_PAUSED_KEY)) or bool(is_suspended(conn))
