"""The cluster's Redis: its URL (which never holds a password), connecting, and coded errors.

A URL names the server only: `redis://HOST:PORT/DB`, `rediss://HOST:PORT/DB` (TLS) or
`unix:///path/to/redis.sock`. A password in it (`redis://:secret@host`, `?password=`) is
refused with CLUSTER_REDIS_PASSWORD_IN_URL, whose message never repeats it: a command line is
visible to every user of the machine (`ps`), and a URL is easily logged. A server that asks
for a password gets the OS keyring's credential `redis:HOST:PORT` (service "qtqueue"), read
only then.
"""

from __future__ import annotations

import logging
import os
from typing import Any
from urllib.parse import parse_qs, urlsplit

from redis import Redis
from redis.exceptions import AuthenticationError, RedisError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from qtqueue.core.errors import QueueError, TaskErrorCode

logger = logging.getLogger(__name__)

#: The environment variable `qtqueue worker` reads the URL from when --redis is not given.
ENV_REDIS_URL = "QTQUEUE_REDIS_URL"
PASSWORD_IN_URL = "CLUSTER_REDIS_PASSWORD_IN_URL"
REDIS_UNAVAILABLE = "CLUSTER_REDIS_UNAVAILABLE"
REDIS_AUTH_FAILED = "CLUSTER_REDIS_AUTH_FAILED"
NOT_SUPPORTED = "CLUSTER_NOT_SUPPORTED"
SCHEMES = ("redis", "rediss", "unix")
#: Seconds to wait for the server to accept a connection before saying it cannot be reached.
CONNECT_TIMEOUT_S = 5.0
#: The design document's health check interval (seconds).
HEALTH_CHECK_INTERVAL_S = 30


def where(url: str) -> str:
    """The server a URL names, for messages: "HOST:PORT" or the socket path (never a
    password, never the rest of the URL)."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return parts.path or "?"
    try:
        port = parts.port or 6379
    except ValueError:
        port = 6379
    return f"{parts.hostname or 'localhost'}:{port}"


def check_url(url: str) -> str:
    """`url` if it can name a cluster's Redis; QueueError if not: VALIDATION_INVALID_FORMAT
    (not a redis://, rediss:// or unix:// URL, a bad port), CLUSTER_REDIS_PASSWORD_IN_URL (a
    password in it; the message names the server only)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in SCHEMES:
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_FORMAT,
            "the Redis URL must start with redis://, rediss:// (TLS) or unix:// "
            "(e.g. redis://127.0.0.1:6379/0)",
            scheme=parts.scheme,
        )
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_FORMAT,
            "the Redis URL's port must be a number from 1 to 65535",
        ) from None
    if parts.password or "password" in parse_qs(parts.query):
        raise QueueError(
            PASSWORD_IN_URL,
            f"the Redis URL for {where(url)} holds a password: give it without one "
            f"(redis://{where(url)}/0) and store the password in the keyring as "
            f"'redis:{where(url)}'",
            server=where(url),
        )
    return url.strip()


def keyring_password(url: str) -> str | None:
    """The keyring's credential `redis:HOST:PORT` for the server, or None (none stored, or no
    usable keyring)."""
    from qtqueue.engine.credentials import KeyringVault

    try:
        return KeyringVault().get(f"redis:{where(url)}")
    except QueueError as exc:
        logger.info("no Redis password from the keyring: %s", exc)
        return None


def unavailable(url: str, exc: BaseException) -> QueueError:
    """CLUSTER_REDIS_UNAVAILABLE for the server of `url`, saying why in words."""
    reason = str(exc).split("\n")[0] or type(exc).__name__
    return QueueError(
        REDIS_UNAVAILABLE,
        f"cannot reach the cluster's Redis at {where(url)}: {reason}",
        server=where(url),
    )


def connect(url: str, **kwargs: Any) -> Redis:
    """A checked connection to the cluster's Redis at `url` (pinged once). QueueError:
    the URL's (see `check_url`), CLUSTER_REDIS_UNAVAILABLE, CLUSTER_REDIS_AUTH_FAILED."""
    url = check_url(url)
    options: dict[str, Any] = {
        "socket_connect_timeout": CONNECT_TIMEOUT_S,
        "health_check_interval": HEALTH_CHECK_INTERVAL_S,
        **kwargs,
    }
    conn: Redis = Redis.from_url(url, **options)
    try:
        conn.ping()
        return conn
    except AuthenticationError:
        pass
    except ResponseError as exc:
        if "NOAUTH" not in str(exc):
            raise unavailable(url, exc) from None
    except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
        raise unavailable(url, exc) from None
    except RedisError as exc:
        raise unavailable(url, exc) from None
    conn.close()
    password = keyring_password(url)
    if password is None:
        raise QueueError(
            REDIS_AUTH_FAILED,
            f"the cluster's Redis at {where(url)} wants a password, and the keyring holds "
            f"no credential 'redis:{where(url)}'",
            server=where(url),
        )
    conn = Redis.from_url(url, password=password, **options)
    try:
        conn.ping()
    except (AuthenticationError, ResponseError):
        raise QueueError(
            REDIS_AUTH_FAILED,
            f"the cluster's Redis at {where(url)} refused the password of the keyring's "
            f"credential 'redis:{where(url)}'",
            server=where(url),
        ) from None
    except (RedisError, OSError) as exc:
        raise unavailable(url, exc) from None
    return conn


def url_from(option: str | None) -> str | None:
    """The Redis URL: the option's, else $QTQUEUE_REDIS_URL, else None."""
    return option or os.environ.get(ENV_REDIS_URL) or None
