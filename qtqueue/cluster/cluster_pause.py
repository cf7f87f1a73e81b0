"""Pause and resume of the whole cluster: `qtqueue --redis URL pause --queue`, the window's
Pause queue. No worker starts a new task until it is resumed; the tasks running go on.

It is the per-worker suspend (`control.py`) for every worker at once, not RQ's global
`rq suspend`, whose idle worker still takes one more job (RQ issues #526, #1442):

- The truth is one durable key, `pause_state.CLUSTER_PAUSED_KEY` (no expiry). Every worker reads
  it where it reads its own suspended key (when it starts, and after its channel reconnected)
  and holds while either is set, so a worker started while the cluster is paused takes
  nothing, and one restarted stays paused.
- Every live worker is told at once on its channel (`control.CLUSTER_PAUSE` /
  `CLUSTER_RESUME`) and answers with its state; a reply comes back once it holds the flag,
  so when `pause_cluster` returns no worker that answered starts a new task (one it pops
  meanwhile goes back to the head of its queue, untouched).
- A worker suspended on its own stays suspended when the cluster is resumed; a worker resumed
  on its own while the cluster is paused still takes nothing (`control.resume_worker` says
  so).
- The change is said on the cluster's event channel (`events.py`, kind `queue-paused` /
  `queue-resumed`), so every window on the cluster shows it at once.

The replies are the local engine's (`{"queue_paused": bool}`), with `workers`: each live
worker's name and state ("suspended", "suspending" while it finishes a task, "idle", "busy",
or "no answer" for one that did not answer within `control.REPLY_TIMEOUT_S`: it holds the key
when its channel comes back).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

from redis import Redis
from rq.command import PUBSUB_CHANNEL_TEMPLATE
from rq.worker import Worker

from qtqueue.cluster.control import CLUSTER_PAUSE, CLUSTER_RESUME, REPLY_PREFIX, REPLY_TIMEOUT_S
from qtqueue.cluster.events import publish
from qtqueue.cluster.pause_state import CLUSTER_PAUSED_KEY

logger = logging.getLogger(__name__)


def _tell_every_worker(conn: Redis, command: str) -> list[dict[str, Any]]:
    """Send `command` to every live worker and gather their answers ({"worker", "state"}),
    each live worker's within `REPLY_TIMEOUT_S` of the sending; one that did not answer says
    "no answer"."""
    reply = REPLY_PREFIX + uuid.uuid4().hex
    payload = json.dumps({"command": command, "reply": reply})
    names = sorted(w.name for w in Worker.all(connection=conn))
    listening = [n for n in names if conn.publish(PUBSUB_CHANNEL_TEMPLATE % n, payload)]
    answers: dict[str, str] = {}
    deadline = time.monotonic() + REPLY_TIMEOUT_S
    while len(answers) < len(listening):
        left = deadline - time.monotonic()
        got: Any = conn.blpop([reply], timeout=max(0.01, left)) if left > 0 else None
        if got is None:
            break
        answer = json.loads(got[1])
        answers[str(answer.get("worker"))] = str(answer.get("state"))
    conn.delete(reply)
    late = [n for n in listening if n not in answers]
    if late:
        logger.warning("cluster %s: no answer from %s", command, ", ".join(late))
    return [{"worker": n, "state": answers.get(n, "no answer" if n in listening else "offline")}
            for n in names]  # fmt: skip


def pause_cluster(conn: Redis) -> dict[str, Any]:
    """Pause the whole cluster: no worker starts a new task until `resume_cluster` (running
    tasks go on). {"queue_paused": True, "workers": [{"worker", "state"}]}."""
    conn.set(CLUSTER_PAUSED_KEY, str(time.time()))
    workers = _tell_every_worker(conn, CLUSTER_PAUSE)
    publish(conn, "queue-paused", "")
    logger.info("the cluster is paused")
    return {"queue_paused": True, "workers": workers}


def resume_cluster(conn: Redis) -> dict[str, Any]:
    """Let every worker take tasks again (a worker suspended on its own stays suspended).
    {"queue_paused": False, "workers": [{"worker", "state"}]}."""
    conn.delete(CLUSTER_PAUSED_KEY)
    workers = _tell_every_worker(conn, CLUSTER_RESUME)
    publish(conn, "queue-resumed", "")
    logger.info("the cluster is resumed")
    return {"queue_paused": False, "workers": workers}
