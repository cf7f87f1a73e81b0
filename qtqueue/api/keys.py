"""The HTTP API's key: one per data directory, kept in the OS keyring and nowhere else.

A key is `qtq_` and 43 random URL-safe characters (`secrets.token_urlsafe(32)`), a name (who
its holder is: a request made with it is made by that name — the task's `created_by`, the
audit line) and an optional expiry. All three are one JSON value in the keyring, under the
service `SERVICE` and a username made from the data directory's resolved path; nothing about
the key is written to the data directory, a log or a command line.

`ApiKeys` is the blocking layer (each call may be a D-Bus round trip): `current()` reads the
key, creating one if there is none; `rotate()` replaces it. With no usable keyring (none
installed, keyring's fail or null backend, a locked or unanswering one, a backend that keeps
secrets unencrypted) both raise QueueError API_KEYRING_UNAVAILABLE, whose suggestion names
the fix.

`LiveKey` is what a running HTTP server checks requests against: the key held in memory (no
keyring read per request). The live key of each data directory this process serves is found
by `live_key(data_dir)`, so that a rotation made in this process — the engine's
`rotate_api_key` action, which `qtqueue token rotate` runs there — takes effect at once.

The standard library and `keyring` only: the command line (`qtqueue token`) imports this
module without the engine, pydantic or aiohttp.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.storage.passwords import Passwords, passwords

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_NAME",
    "KEY_PREFIX",
    "SERVICE",
    "ApiKey",
    "ApiKeys",
    "LiveKey",
    "check_name",
    "live_key",
]

#: The keyring service the keys are kept under.
SERVICE = "qtqueue-api"
#: What every key starts with (so that a leaked one is recognisable, e.g. by secret scanners).
KEY_PREFIX = "qtq_"
#: The name of a key made without one.
DEFAULT_NAME = "admin"
#: The longest key name accepted.
MAX_NAME_LENGTH = 64
#: What a key's name may not start with: the `created_by` of a schedule's tasks.
RESERVED_NAME_PREFIX = "schedule:"


@dataclass(frozen=True)
class ApiKey:
    """One data directory's API key."""

    #: The key itself; never shown by repr().
    secret: str = field(repr=False)
    #: Who holds it: the caller a request made with it is recorded as.
    name: str = DEFAULT_NAME
    #: When it was made (UNIX time).
    created_at: float = 0.0
    #: When it stops being accepted (UNIX time), or None for never.
    expires_at: float | None = None

    def expired(self, now: float) -> bool:
        """Whether the key is no longer accepted at `now`."""
        return self.expires_at is not None and now >= self.expires_at

    def to_json(self) -> str:
        """The keyring value."""
        return json.dumps(
            {
                "key": self.secret,
                "name": self.name,
                "created_at": self.created_at,
                "expires_at": self.expires_at,
            }
        )

    @classmethod
    def from_json(cls, raw: str) -> ApiKey | None:
        """The key a keyring value holds, or None when it is not one (damaged, foreign)."""
        try:
            data: Any = json.loads(raw)
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        secret, name = data.get("key"), data.get("name")
        created, expires = data.get("created_at", 0.0), data.get("expires_at")
        if not (isinstance(secret, str) and secret.startswith(KEY_PREFIX) and len(secret) > 20):
            return None
        if not isinstance(name, str) or not isinstance(created, int | float):
            return None
        if expires is not None and not isinstance(expires, int | float):
            return None
        return cls(secret, name, float(created), None if expires is None else float(expires))


def new_secret() -> str:
    """A fresh random key."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def check_name(name: str) -> str:
    """`name` if it can name a key (1–64 printable characters, no surrounding spaces, not
    starting `schedule:`: tasks added with the key record its name as their `created_by`,
    and that prefix names a schedule); QueueError VALIDATION_INVALID_PARAMS if not."""
    if name.lower().startswith(RESERVED_NAME_PREFIX):
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_PARAMS,
            f"a key's name may not start with {RESERVED_NAME_PREFIX!r} (tasks added by a "
            f"schedule are recorded as that); got {name[:80]!r}",
            field="name",
        )
    if not name or name != name.strip() or not name.isprintable() or len(name) > MAX_NAME_LENGTH:
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_PARAMS,
            f"a key's name is 1 to {MAX_NAME_LENGTH} printable characters without surrounding "
            f"spaces (got {name[:80]!r})",
            field="name",
        )
    return name


def unusable_reason(backend: KeyringBackend) -> str | None:
    """Why `backend` cannot keep the key, or None if it can: no backend at all (the fail
    backend, an empty chain), the null backend (it forgets what it is given), or one that
    keeps secrets unencrypted in a file."""
    from keyring.backends import chainer, fail, null

    if isinstance(backend, chainer.ChainerBackend):
        chain = list(backend.backends)
        if not chain:
            return "no keyring backend is available"
        backend = chain[0]  # writes go to the first backend of the chain
    if isinstance(backend, fail.Keyring):
        return "no keyring backend is available"
    if isinstance(backend, null.Keyring):
        return "the keyring is switched off (keyring's null backend is configured)"
    if "plaintext" in type(backend).__name__.lower():
        return f"the keyring backend {type(backend).__name__} keeps secrets unencrypted"
    return None


def _unavailable(why: str) -> QueueError:
    return QueueError(
        TaskErrorCode.API_KEYRING_UNAVAILABLE, f"the OS keyring cannot keep the API key: {why}"
    )


class ApiKeys:
    """The API key of one data directory in the OS keyring. Every method blocks: call them
    from a worker thread in an event loop. `backend` pins a keyring backend (by default the
    one `keyring` is configured with, looked up on each call)."""

    def __init__(self, data_dir: Path, *, backend: KeyringBackend | None = None) -> None:
        self.data_dir = Path(data_dir).resolve()
        #: The keyring username: the data directory's resolved path.
        self.username = f"api-key:{self.data_dir}"
        self._pinned = backend

    def _backend(self) -> Passwords:
        if self._pinned is not None:
            backend = self._pinned
        else:
            import keyring

            backend = keyring.get_keyring()
        reason = unusable_reason(backend)
        if reason is not None:
            raise _unavailable(reason)
        return passwords(backend)

    def load(self) -> ApiKey | None:
        """The stored key, or None if there is none (or what is stored is not a key)."""
        import keyring.errors

        backend = self._backend()
        try:
            raw = backend.get_password(SERVICE, self.username)
        except keyring.errors.KeyringError as exc:
            raise _unavailable(f"{type(exc).__name__}: {exc}".rstrip(": ")) from None
        if raw is None:
            return None
        key = ApiKey.from_json(raw)
        if key is None:
            logger.warning("the keyring's API key for %s is not a key; ignored", self.data_dir)
        return key

    def _store(self, key: ApiKey) -> ApiKey:
        import keyring.errors

        backend = self._backend()
        try:
            backend.set_password(SERVICE, self.username, key.to_json())
        except keyring.errors.KeyringError as exc:
            raise _unavailable(f"{type(exc).__name__}: {exc}".rstrip(": ")) from None
        return key

    def current(self, now: float | None = None) -> ApiKey:
        """The stored key; a new one (named `DEFAULT_NAME`, no expiry) if there is none."""
        key = self.load()
        if key is not None:
            return key
        self._store(ApiKey(new_secret(), DEFAULT_NAME, _now(now)))
        logger.info("a new API key was made for %s", self.data_dir)
        # Read back: if another process (an engine starting, a `token show`) made one at the
        # same moment, the key both go on with is the one the keyring kept.
        stored = self.load()
        if stored is None:
            raise _unavailable("the keyring did not keep the key it was given")
        return stored

    def rotate(
        self, *, name: str | None = None, expires_at: float | None = None, now: float | None = None
    ) -> ApiKey:
        """Replace the key with a new one: named `name` (else the old key's name), expiring at
        `expires_at` (else never). A key served in this process (`live_key`) changes at once."""
        at = _now(now)
        if name is not None:
            check_name(name)
        if expires_at is not None and expires_at <= at:
            raise QueueError(
                TaskErrorCode.VALIDATION_INVALID_PARAMS,
                "a key's expiry must be in the future",
                field="expires_at",
            )
        if name is None:
            old = self.load()
            name = old.name if old is not None else DEFAULT_NAME
        key = self._store(ApiKey(new_secret(), name, at, expires_at))
        live = _LIVE.get(self.data_dir)
        if live is not None:
            live.set(key)
        logger.info("the API key of %s was rotated (now %r)", self.data_dir, key.name)
        return key


def _now(now: float | None) -> float:
    return time.time() if now is None else now


class LiveKey:
    """The key a running server accepts, held in memory; `check` costs no keyring read."""

    def __init__(self, key: ApiKey) -> None:
        # One attribute, replaced whole: a rotation runs in a worker thread while requests
        # are checked on the event loop, and neither may see half of the other's key.
        self._current = (key, key.secret.encode())

    @property
    def key(self) -> ApiKey:
        """The key accepted now."""
        return self._current[0]

    def set(self, key: ApiKey) -> None:
        """Accept `key` from now on, and no other."""
        self._current = (key, key.secret.encode())

    def check(self, authorization: str | None, now: float | None = None) -> ApiKey | None:
        """The key an `Authorization` header value (`Bearer KEY`) carries if it is the
        accepted, unexpired key; else None. The comparison takes the same time whatever the
        header holds."""
        key, secret = self._current
        scheme, _, token = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer":
            token = ""
        given = token.strip().encode("utf-8", "surrogateescape")
        if not secrets.compare_digest(given, secret) or key.expired(_now(now)):
            return None
        return key


#: The live key of each data directory this process serves (held by its servers).
_LIVE: weakref.WeakValueDictionary[Path, LiveKey] = weakref.WeakValueDictionary()


def live_key(keys: ApiKeys) -> LiveKey:
    """The key this process serves for `keys`' data directory: the one already live (shared
    by every server of that directory in this process), else the keyring's (`current()`).
    Blocking when it reads the keyring. The caller holds the result for as long as it serves."""
    live = _LIVE.get(keys.data_dir)
    if live is None:
        live = LiveKey(keys.current())
        _LIVE[keys.data_dir] = live
    return live
