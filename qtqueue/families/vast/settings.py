"""The vast family's settings: which API, which keyring entry, the cost guard, the waits."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_API_URL", "DEFAULT_KEYRING_NAME", "VastSettings"]

#: Vast.ai's REST API (the official CLI's default server).
DEFAULT_API_URL = "https://console.vast.ai"
#: The name of the API key in qtqueue's credentials (the OS keyring) unless a task names another.
DEFAULT_KEYRING_NAME = "vast_api_key"


class VastSettings(BaseModel):
    """Settings every Vast.ai task reads at run time (`RunContext.family_settings`); the settings
    page and `qtqueue config` are generated from it. The names start with `vast_` because every
    family's settings share one mapping. The API key itself is never a setting: it stays in the
    OS keyring under `vast_keyring_name`."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    vast_api_url: str = Field(
        default=DEFAULT_API_URL,
        title="Vast.ai API URL",
        description="The Vast.ai server (https://console.vast.ai); the API lives under /api/v0",
    )
    vast_keyring_name: str = Field(
        default=DEFAULT_KEYRING_NAME,
        min_length=1,
        title="API key entry",
        description="Which entry of qtqueue's Credentials (the OS keyring) holds the Vast.ai API "
        "key, unless a task names another",
    )
    vast_max_price_per_hour: float = Field(
        default=2.0,
        gt=0,
        title="Highest price ($/hour)",
        description="Cost guard: VAST_CREATE refuses an offer dearer than this per hour unless "
        "the task sets its own max_price_per_hour",
    )
    vast_require_approval: bool = Field(
        default=True,
        title="Ask before renting",
        description="VAST_CREATE asks a person to approve the offer and its price before it "
        "rents anything",
    )
    vast_approval_timeout_s: float = Field(
        default=900.0,
        gt=0,
        title="Approval wait (s)",
        description="How long VAST_CREATE waits for that approval; unanswered, it ends without "
        "renting",
    )
    vast_poll_interval_s: float = Field(
        default=5.0,
        ge=0.01,
        le=60.0,
        title="Poll interval (s)",
        description="Seconds between two looks at an instance that is starting or going away",
    )
    vast_request_timeout_s: float = Field(
        default=30.0,
        gt=0,
        le=600.0,
        title="Request timeout (s)",
        description="How long one API request may take before the task fails with NETWORK_TIMEOUT",
    )
    vast_start_timeout_s: float = Field(
        default=1800.0,
        gt=0,
        title="Start timeout (s)",
        description="How long VAST_CREATE waits for a new instance to run (loading its image "
        "included) before it destroys it and fails",
    )

    @field_validator("vast_api_url")
    @classmethod
    def _api_url(cls, url: str) -> str:
        url = url.strip().rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http(s) URL such as https://console.vast.ai")
        if parts.username is not None or parts.password is not None or parts.query:
            # Not echoed back: the key belongs in the OS keyring, never in saved settings.
            raise ValueError(
                "must not hold a user, password or query (an API key?): settings are saved as "
                "plain text; keep the key in qtqueue's Credentials"
            )
        return url
