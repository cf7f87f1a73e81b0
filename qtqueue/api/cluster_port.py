"""The engine port of a cluster: `RemoteEngine` over a `ClusterBackend`, for the window on a
cluster (`qtqueue --redis URL gui`, `create_main_window(redis=URL)`).

`RemoteEngine` is already the engine port over "something with `call`, `events` and
`follow_log`"; a `ClusterBackend` is such a thing over Redis (its events read from the
cluster's pub/sub channel, `qtqueue.cluster.event_feed`). So the window on a cluster is the
same window attached to another engine, with two differences said here: no engine process
(no engine file, no data directory locked, `engine_pid` 0, `cluster` names the Redis), and
when Redis goes away the port waits for Redis (`redis_again`: a connection tried again with
a backoff up to `RECONNECT_CAP_S`), not for an engine file, then reads everything anew
(ENGINE_BACK).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from qtqueue.api.remote_engine import RemoteEngine
from qtqueue.api.remote_ports import RemoteSettings
from qtqueue.cluster.backend import ClusterBackend
from qtqueue.cluster.connection import RECONNECT_CAP_S, check_url, connect, where
from qtqueue.core.errors import QueueError
from qtqueue.executors import ExecutorRegistry
from qtqueue.settings import Settings

logger = logging.getLogger(__name__)

__all__ = ["ClusterSettings", "cluster_name", "open_cluster", "redis_again"]

#: The first wait before trying Redis again (doubled up to `RECONNECT_CAP_S`).
FIRST_RETRY_S = 0.1


class ClusterSettings(RemoteSettings):
    """The settings port of a cluster: read-only. The settings dialog saves the window's own
    preferences (colours, fonts) locally and hands the engine's fields here: none edited is
    nothing to do; an edited one is CLUSTER_NOT_SUPPORTED, saying where to change it (each
    worker's machine)."""

    async def change(self, edited: Settings) -> None:
        families = any(model.model_fields_set for model in edited.families.values())
        if not edited.engine.model_fields_set and not families:
            return
        await super().change(edited)


def cluster_name(url: str) -> str:
    """How the window names the cluster: `redis://HOST:PORT` (`rediss://` with TLS, the
    socket path for unix://), never a password or the URL's options."""
    scheme = url.split("://", 1)[0]
    return f"{scheme}://{where(url)}"


async def redis_again(url: str) -> None:
    """Return once the cluster's Redis at `url` answers again (tried with a backoff from
    `FIRST_RETRY_S` up to `RECONNECT_CAP_S`)."""
    delay = FIRST_RETRY_S
    while True:
        try:
            conn = await asyncio.to_thread(connect, url)
        except QueueError as exc:
            logger.debug("Redis at %s: not yet (%s)", where(url), exc)
        else:
            await asyncio.to_thread(conn.close)
            logger.info("Redis at %s answers again", where(url))
            return
        await asyncio.sleep(delay)  # a poll: nothing tells this process Redis is back
        delay = min(RECONNECT_CAP_S, delay * 2)


async def open_cluster(url: str, registry: ExecutorRegistry, data_dir: Path) -> RemoteEngine:
    """The engine port of the cluster at `url`, following its changes. `data_dir` is only
    the folder the window names (nothing is opened or locked there). QueueError: the URL's
    (`check_url`), CLUSTER_REDIS_UNAVAILABLE, CLUSTER_REDIS_AUTH_FAILED, CLUSTER_REDIS_TLS."""
    url = check_url(url)
    first = await asyncio.to_thread(connect, url)  # its coded error, before anything starts
    await asyncio.to_thread(first.close)
    engine = RemoteEngine(
        data_dir,
        {},
        registry,
        client=lambda: ClusterBackend(url, registry),
        again=lambda: redis_again(url),
    )
    engine.cluster = cluster_name(url)
    engine.settings = ClusterSettings(engine, registry)
    try:
        await engine.connect()
    except BaseException:
        await engine.close()
        raise
    logger.info("the window follows the cluster at %s", engine.cluster)
    return engine
