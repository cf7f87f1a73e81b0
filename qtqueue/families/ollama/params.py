"""What every Ollama params model shares: the server and an optional proxy credential."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Field

from qtqueue.families.ollama.settings import check_host

__all__ = ["OllamaHost", "credential_field", "host_field", "valid_host"]


def host_field() -> Any:
    """The `host` field every Ollama params model ends with (after the fields that matter
    more, as forms show them)."""
    return Field(
        None,
        description="Ollama server, e.g. http://gpu-box:11434 (default: the Ollama server of "
        "the settings, http://127.0.0.1:11434 unless changed)",
    )


def credential_field() -> Any:
    """The optional keyring credential of a proxy in front of Ollama."""
    return Field(
        None,
        description="Name of a credential in the OS keyring holding a bearer token, for an "
        "Ollama server behind an authenticating proxy (Ollama itself needs none)",
    )


def valid_host(host: str | None) -> str | None:
    """A task's `host`, checked as the settings' is (None or blank: the settings')."""
    if host is None:
        return None
    return check_host(host) or None


#: A task's `host` param: None, or an http(s) URL without a login (checked as the settings' is).
OllamaHost = Annotated[str | None, AfterValidator(valid_host)]
