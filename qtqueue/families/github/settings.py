"""The github family's settings: which GitHub (or GitHub Enterprise) tasks talk to, which
keyring entry holds the token, how long a request may take and where clones go."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_API_URL", "GitHubSettings", "check_service_url", "git_url_of", "web_url_of"]

#: github.com's REST API.
DEFAULT_API_URL = "https://api.github.com"


class GitHubSettings(BaseModel):
    """Settings every GitHub task reads at run time (`RunContext.family_settings`); the settings
    page and `qtqueue config` are generated from it. The token itself is never a setting: only
    the name of the OS keyring entry that holds it."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    github_api_url: str = Field(
        default=DEFAULT_API_URL,
        title="GitHub API URL",
        description="The REST API of tasks that name none: https://api.github.com, or "
        "https://HOST/api/v3 for GitHub Enterprise Server",
    )
    github_git_url: str = Field(
        default="",
        title="Git URL",
        description="Where an owner/name repository is cloned from and pushed to, "
        "e.g. https://github.com (empty: the web address of the API URL); the only host git "
        "is given the token for",
    )
    github_keyring_entry: str = Field(
        default="github_token",
        title="Token (keyring entry)",
        description="Name of the OS keyring entry (qtqueue's Credentials) that holds the GitHub "
        "token; the token itself is only ever in the keyring. A missing entry means anonymous "
        "access",
    )
    github_username: str = Field(
        default="x-access-token",
        title="Git user name",
        description="The user name git sends with the token over HTTPS (GitHub accepts any; "
        "x-access-token suits app and fine-grained tokens)",
    )
    github_timeout_s: float = Field(
        default=30.0,
        gt=0,
        le=600,
        title="Request timeout (s)",
        description="Longest wait for one API request (seconds)",
    )
    github_clone_root: str = Field(
        default="",
        title="Clone folder",
        description="Folder a clone goes into when its task names no destination "
        "(empty: your home folder)",
        json_schema_extra={"widget": "folder"},
    )

    @field_validator("github_api_url", "github_git_url")
    @classmethod
    def _service_url(cls, url: str) -> str:
        return check_service_url(url.strip()) if url.strip() else ""

    @field_validator("github_api_url")
    @classmethod
    def _api_url_given(cls, url: str) -> str:
        return url or DEFAULT_API_URL


def check_service_url(url: str) -> str:
    """`url` without a trailing '/', if it is an http(s) URL without credentials; else
    ValueError saying why (never echoing a credential back)."""
    try:
        parts = urlsplit(url)
        has_login = parts.username is not None or parts.password is not None
    except ValueError:
        raise ValueError("must be an http:// or https:// URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL")
    if has_login:
        raise ValueError(
            "must not hold a user name or token (user:token@): URLs are saved as plain text; "
            "keep the token in the OS keyring (qtqueue's Credentials)"
        )
    return url.rstrip("/")


def web_url_of(api_url: str) -> str:
    """The web (and git) address of a GitHub API: https://api.github.com -> https://github.com,
    https://HOST/api/v3 -> https://HOST; any other API URL is its own."""
    parts = urlsplit(api_url)
    host = parts.netloc
    if host == "api.github.com":
        return f"{parts.scheme}://github.com"
    path = parts.path.rstrip("/")
    if path.endswith("/api/v3"):
        path = path[: -len("/api/v3")]
    return f"{parts.scheme}://{host}{path}"


def git_url_of(settings: GitHubSettings) -> str:
    """Where owner/name repositories are cloned from and pushed to, and the only host git sends
    the token to: the settings' git URL, else the web address of their API URL."""
    return settings.github_git_url or web_url_of(settings.github_api_url)
