"""The webhook family: CUSTOM_WEBHOOK: an HTTP request, optionally signed, with retries.

The request goes through aiohttp (a core dependency). A body may be JSON, raw text or a file;
with `signing_keyring_entry` it is signed with HMAC-SHA256 (hex) in `X-Hub-Signature-256:
sha256=<hex>` unless another header is named (`qtqueue.executors.webhooks`, shared with the
engine's task-completion notifications). The response (status, headers, first KiB of the body,
elapsed ms) is the result. See `request.py` for retries and how each failure is named.
"""

from __future__ import annotations

import logging
from importlib import resources

from qtqueue.core.errors import CATALOG
from qtqueue.executors.base import Executor
from qtqueue.executors.family import Family
from qtqueue.families.webhook.settings import WebhookSettings

logger = logging.getLogger(__name__)

__all__ = ["WebhookSettings", "family"]


def _executors() -> list[Executor]:
    """One instance of each of the family's executors."""
    from qtqueue.families.webhook.request import WebhookExecutor

    return [WebhookExecutor()]


#: The family's own error codes and message rules (its NETWORK_*/DATA_* codes are the core's).
ERRORS = resources.files(__name__) / "errors.toml"

#: The Webhooks family, advertised as `webhook` in the `qtqueue.families` entry-point group.
family = Family(
    name="webhook",
    title="Webhooks",
    category="network",
    executors=_executors,
    errors=ERRORS,
    settings_model=WebhookSettings,
    # A call is named by where it goes.
    name_keys=("url",),
    qt_module=f"{__name__}.qt",
)

CATALOG.register_file(family.name, ERRORS)
