"""Signing a webhook's body: HMAC-SHA256 of the exact bytes sent, as hex, in a header.

The default header is GitHub's convention, `X-Hub-Signature-256: sha256=<hex>`, which Debian's
`webhook` daemon checks with its `payload-hmac-sha256` trigger rule. The webhook family's
CUSTOM_WEBHOOK and the engine's task-completion notifications both sign here (the engine
never imports a family).
"""

from __future__ import annotations

import hashlib
import hmac
import logging

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_SIGNATURE_HEADER", "DEFAULT_SIGNATURE_PREFIX", "sign", "signature_headers"]

#: The header that carries the signature unless a task names another.
DEFAULT_SIGNATURE_HEADER = "X-Hub-Signature-256"
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
