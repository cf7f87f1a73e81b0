"""The webhook family's settings: how the engine posts a task's summary to its
`notify_webhook` when it ends (engine/notify.py reads these keys; its NOTIFY_DEFAULTS are
these defaults)."""

from __future__ import annotations

import logging

from pydantic import BaseModel, ConfigDict, Field

logger = logging.getLogger(__name__)

__all__ = ["WebhookSettings"]


class WebhookSettings(BaseModel):
    """Settings of task-end notifications; the settings page and `qtqueue config` are
    generated from it."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    webhook_notify_keyring_entry: str = Field(
        default="",
        title="Notification signing entry",
        description="Name of a keyring entry holding the HMAC secret that signs each task-end "
        "notification (X-Hub-Signature-256: sha256=<hex>); empty: not signed",
    )
    webhook_notify_attempts: int = Field(
        default=5,
        ge=1,
        le=20,
        title="Notification attempts",
        description="Tries in all for one notification (connection errors, time-outs, 429 and "
        "5xx are retried)",
    )
    webhook_notify_backoff_s: float = Field(
        default=2.0,
        ge=0,
        le=300,
        title="Notification backoff (s)",
        description="Wait before the 2nd try, doubled after each (a Retry-After wins)",
    )
    webhook_notify_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=300,
        title="Notification time limit (s)",
        description="Seconds one try may take",
    )
