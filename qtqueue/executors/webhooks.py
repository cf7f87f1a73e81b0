"""What the webhook family's CUSTOM_WEBHOOK and the engine's task-end notifications share:
signing a body, checking a URL, and reading a `Retry-After` header.

A body is signed with HMAC-SHA256 of the exact bytes sent, as hex, in a header. The default
header is GitHub's convention, `X-Hub-Signature-256: sha256=<hex>`, which Debian's
`webhook` daemon checks with its `payload-hmac-sha256` trigger rule. The webhook family's
CUSTOM_WEBHOOK and the engine's task-completion notifications both sign here (the engine
never imports a family).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_SIGNATURE_HEADER",
    "DEFAULT_SIGNATURE_PREFIX",
    "MAX_URL_CHARS",
    "retry_after_s",
    "retry_wait_s",
    "retryable_status",
    "sign",
    "signature_headers",
    "url_problem",
]

#: The header that carries the signature unless a task names another.
DEFAULT_SIGNATURE_HEADER = "X-Hub-Signature-256"
#: The longest URL accepted (browsers and servers commonly refuse longer ones).
MAX_URL_CHARS = 2048
#: What precedes the hex digest in the header's value.
DEFAULT_SIGNATURE_PREFIX = "sha256="


def sign(secret: str | bytes, body: bytes) -> str:
    """The HMAC-SHA256 of `body` keyed by `secret` (UTF-8 when text), as lower-case hex."""
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def signature_headers(
    secret: str | bytes,
    body: bytes,
    header: str = DEFAULT_SIGNATURE_HEADER,
    prefix: str = DEFAULT_SIGNATURE_PREFIX,
) -> dict[str, str]:
    """`{header: prefix + hex}`: the header to send beside `body`."""
    return {header: prefix + sign(secret, body)}


def retryable_status(status: int) -> bool:
    """Whether an HTTP answer is worth trying again: 429 (too many requests) and 5xx."""
    return status == 429 or status >= 500


def retry_wait_s(attempt: int, backoff_s: float, retry_after: float | None, cap_s: float) -> float:
    """How long to wait before the attempt after `attempt` (1-based): what the server's
    Retry-After asked for, else `backoff_s` doubled per attempt; at most `cap_s`."""
    wait = backoff_s * 2 ** (attempt - 1) if retry_after is None else retry_after
    return min(wait, cap_s)


def retry_after_s(value: str | None, now: float | None = None) -> float | None:
    """Seconds a `Retry-After` header asks for: delta-seconds or an HTTP date (RFC 9110
    10.2.3); None when absent or unreadable; never negative."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def url_problem(url: object, what: str = "url") -> str | None:
    """Why `url` cannot be a webhook's URL (None: it can): it must be an http(s) URL without a
    user name or password (it is stored as plain text: a secret belongs in the OS keyring)."""
    if not isinstance(url, str):
        return f"{what}: must be an http:// or https:// URL, not {type(url).__name__}"
    if len(url) > MAX_URL_CHARS:
        return f"{what}: longer than {MAX_URL_CHARS} characters"
    try:
        parts = urlsplit(url.strip())
        has_login = parts.username is not None or parts.password is not None
    except ValueError:
        return f"{what}: not a URL; give one such as https://example.org/hook"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{what}: must be an http:// or https:// URL"
    if has_login:
        # Not echoed back: the message says what is wrong, never the value.
        return (
            f"{what}: must not hold a user name or password (user:password@): it is saved as "
            "plain text; name a keyring entry instead"
        )
    return None
