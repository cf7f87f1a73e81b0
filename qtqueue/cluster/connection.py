"""The cluster's Redis: its URL (which never holds a password), connecting, and coded errors.

A URL names the server only: `redis://HOST:PORT/DB`, `rediss://HOST:PORT/DB` (TLS) or
`unix:///path/to/redis.sock`. A password in it (`redis://:secret@host`, `?password=`) is
refused with CLUSTER_REDIS_PASSWORD_IN_URL, whose message never repeats it: a command line is
visible to every user of the machine (`ps`), and a URL is easily logged. A server that asks
for a password gets the OS keyring's credential `redis:HOST:PORT` (service "qtqueue"), read
only then.

TLS: `rediss://HOST:PORT/DB?ssl_ca_certs=/path/ca.pem` names the CA that signed the server's
certificate (redis-py's own URL parameter, so every process of the cluster reads it the same
way, RQ's scheduler included); without it, the system's CAs. A client certificate, if the
server asks for one: `&ssl_certfile=…&ssl_keyfile=…`. A CA file that is not there is
VALIDATION_INVALID_FORMAT; a handshake the server's certificate fails is CLUSTER_REDIS_TLS.

A worker's connection retries every command while Redis is away (`Reconnecting`: forever,
with a backoff up to RECONNECT_CAP_S, logging "reconnecting" and "reconnected"); the command
line's connections fail at once instead.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from redis import Redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import AuthenticationError, RedisError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from qtqueue.core.errors import QueueError, TaskErrorCode

logger = logging.getLogger(__name__)

#: The environment variable `qtqueue worker` reads the URL from when --redis is not given.
ENV_REDIS_URL = "QTQUEUE_REDIS_URL"
PASSWORD_IN_URL = "CLUSTER_REDIS_PASSWORD_IN_URL"
REDIS_UNAVAILABLE = "CLUSTER_REDIS_UNAVAILABLE"
REDIS_AUTH_FAILED = "CLUSTER_REDIS_AUTH_FAILED"
NOT_SUPPORTED = "CLUSTER_NOT_SUPPORTED"
REDIS_TLS = "CLUSTER_REDIS_TLS"
#: The URL parameters that name TLS files (redis-py's names).
TLS_FILES = ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile")
#: The longest wait between two tries to reach a Redis that went away (seconds).
RECONNECT_CAP_S = 2.0
T = TypeVar("T")
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
    query = parse_qs(parts.query)
    for name in TLS_FILES:
        for value in query.get(name, []):
            if parts.scheme != "rediss":
                raise QueueError(
                    TaskErrorCode.VALIDATION_INVALID_FORMAT,
                    f"the Redis URL's {name} needs TLS: start it with rediss://",
                )
            if not Path(value).is_file():
                raise QueueError(
                    TaskErrorCode.VALIDATION_INVALID_FORMAT,
                    f"the Redis URL's {name} names no file: {value} (give the path of a PEM "
                    "file, e.g. ?ssl_ca_certs=/etc/ssl/redis-ca.pem)",
                    path=value,
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
    """CLUSTER_REDIS_UNAVAILABLE for the server of `url`, saying why in words (CLUSTER_REDIS_TLS
    for a TLS handshake that failed)."""
    reason = str(exc).split("\n")[0] or type(exc).__name__
    if "SSL" in reason or "certificate" in reason:
        return QueueError(
            REDIS_TLS,
            f"the TLS handshake with the cluster's Redis at {where(url)} failed: {reason}",
            server=where(url),
        )
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


class Reconnecting(Retry):
    """redis-py's retry of a command that met a dropped connection, forever, with a backoff up
    to RECONNECT_CAP_S; says "reconnecting" when Redis goes away and "reconnected" when it
    answers again, and then calls `on_back` (the worker rereads its control keys)."""

    def __init__(self, url: str) -> None:
        super().__init__(ExponentialBackoff(cap=RECONNECT_CAP_S, base=0.1), -1)
        self.server = where(url)
        self.away = False
        self.on_back: Callable[[], None] | None = None

    def __deepcopy__(self, memo: dict[int, Any]) -> Reconnecting:
        """Shared, not copied, by each connection of the pool (redis-py deep-copies a retry
        per connection): one "went away" per outage, and `on_back` stays the worker's."""
        return self

    def call_with_retry(
        self,
        do: Callable[[], T],
        fail: Any,
        is_retryable: Callable[[Exception], bool] | None = None,
        with_failure_count: bool = False,
    ) -> T:
        """Redis-py's retry, saying when Redis went away and when it is back."""

        def told(error: Exception, *count: int) -> Any:
            if not self.away:
                logger.warning("Redis at %s went away (%s): reconnecting", self.server, error)
                self.away = True
            return fail(error, *count)

        result = super().call_with_retry(do, told, is_retryable, with_failure_count)
        if self.away:
            self.away = False
            logger.warning("Redis at %s answers again: reconnected", self.server)
            if self.on_back is not None:
                self.on_back()
        return result
