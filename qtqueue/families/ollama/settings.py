"""The ollama family's settings: which Ollama server tasks talk to, and how long they wait."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_OLLAMA_HOST", "OllamaSettings", "check_host"]

#: Where `ollama serve` listens unless told otherwise.
DEFAULT_OLLAMA_HOST = "http://127.0.0.1:11434"


def check_host(host: str) -> str:
    """`host` stripped, if it is an http(s) URL without a user name or password (settings and
    params are stored as plain text: a proxy's token belongs in the OS keyring)."""
    host = host.strip().rstrip("/")
    if not host:
        return host
    try:
        parts = urlsplit(host)
        has_login = parts.username is not None or parts.password is not None
    except ValueError:
        raise ValueError("must be a URL such as http://127.0.0.1:11434") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL such as http://127.0.0.1:11434")
    if has_login:
        # Not echoed back: the message says what is wrong, never the value.
        raise ValueError(
            "must not hold a user name or password (user:password@): it is saved as plain "
            "text; name a credential of the OS keyring instead"
        )
    return host


class OllamaSettings(BaseModel):
    """Settings every Ollama task reads at run time (`RunContext.family_settings`); the
    settings page and `qtqueue config` are generated from it. An unknown field is an error,
    and every value is checked on change."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    ollama_host: str = Field(
        default=DEFAULT_OLLAMA_HOST,
        title="Ollama server",
        description="The Ollama server of tasks that name none, e.g. http://gpu-box:11434",
    )
    ollama_connect_timeout_s: float = Field(
        default=5.0,
        gt=0,
        le=300,
        title="Connect timeout (s)",
        description="Seconds to wait for the server to accept a connection: a dead server "
        "fails fast with OLLAMA_SERVICE_UNAVAILABLE",
    )
    ollama_read_timeout_s: float = Field(
        default=300.0,
        gt=0,
        le=86400,
        title="Read timeout (s)",
        description="Seconds the server may stay silent during a request (loading a large "
        "model takes a while) before the task fails with OLLAMA_SERVICE_UNAVAILABLE",
    )

    @field_validator("ollama_host")
    @classmethod
    def _server_url(cls, host: str) -> str:
        return check_host(host) or DEFAULT_OLLAMA_HOST
