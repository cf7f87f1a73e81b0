"""The github family's params models (forms, `qtqueue types` and validation come from them),
and what a repository reference means."""

from __future__ import annotations

import logging
import re
from typing import Annotated, Any

from pydantic import AfterValidator, Field, field_validator

from qtqueue.executors.base import Params
from qtqueue.families.github.settings import check_service_url

logger = logging.getLogger(__name__)

__all__ = [
    "CloneParams",
    "CreateRepoParams",
    "ListReposParams",
    "PushParams",
    "is_url",
    "repo_url",
]

#: An account or organisation name as GitHub allows it.
_OWNER = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})"
#: A repository name as GitHub allows it.
_NAME = r"[A-Za-z0-9._-]{1,100}"
_OWNER_NAME = re.compile(rf"({_OWNER})/({_NAME}?)(?:\.git)?")
#: A branch name git accepts (and never an option: no leading '-').
_BRANCH = r"^[^\s~^:?*\[\\-][^\s~^:?*\[\\]*$"
_URL_SCHEMES = ("http://", "https://", "ssh://", "git://", "file://")


def credential_field() -> Any:
    """The `credential` field every GitHub params model has: a keyring entry's name."""
    return Field(
        None,
        description="Name of the OS keyring entry holding the GitHub token (default: the "
        "entry of the GitHub settings, github_token)",
    )


def _checked_api_url(url: str | None) -> str | None:
    return check_service_url(url) if url else None


#: A per-task API URL: http(s), no login in it.
ApiUrl = Annotated[str | None, AfterValidator(_checked_api_url)]


def api_url_field() -> Any:
    """The per-task override of the API URL."""
    return Field(
        None,
        description="GitHub REST API, e.g. https://ghe.example.com/api/v3 (default: the API URL "
        "of the GitHub settings, https://api.github.com)",
    )


def is_url(text: str) -> bool:
    """Whether a repository is given as a URL (or scp-like `git@host:path`), not owner/name."""
    return text.startswith(_URL_SCHEMES) or bool(re.match(r"^[\w.-]+@[\w.-]+:", text))


def repo_url(repository: str, git_url: str) -> str:
    """The URL git clones `repository` from: a URL as it is, owner/name under `git_url`."""
    if is_url(repository):
        return repository
    return f"{git_url.rstrip('/')}/{repository.removesuffix('.git')}.git"


def _no_login_in_url(url: str) -> str:
    if url.startswith(("http://", "https://")):
        check_service_url(url)
    return url


class CreateRepoParams(Params):
    name: str = Field(
        ..., pattern=rf"^{_NAME}$", description="Name of the new repository, e.g. my-project"
    )
    org: str | None = Field(
        None,
        pattern=rf"^{_OWNER}$",
        description="Organisation to create it in (default: the token's own account)",
    )
    description: str = Field("", description="One line shown on the repository's page")
    private: bool = Field(True, description="Only people given access can see it")
    auto_init: bool = Field(False, description="Start it with a README (an initial commit)")
    credential: str | None = credential_field()
    api_url: ApiUrl = api_url_field()


class ListReposParams(Params):
    owner: str | None = Field(
        None,
        pattern=rf"^{_OWNER}$",
        description="User or organisation whose repositories to list (default: every "
        "repository the token can see)",
    )
    organization: bool = Field(
        False, description="The owner is an organisation (its private repositories too)"
    )
    max_repos: int = Field(1000, ge=1, le=100_000, description="Stop after this many")
    credential: str | None = credential_field()
    api_url: ApiUrl = api_url_field()


class CloneParams(Params):
    repository: str = Field(
        ...,
        min_length=1,
        description="owner/name, or a clone URL (https://github.com/owner/name.git)",
    )
    destination: str | None = Field(
        None,
        description="Folder to clone into; it must not exist or be empty (default: the "
        "repository's name in the clone folder of the GitHub settings, else in your home)",
        json_schema_extra={"widget": "folder"},
    )
    branch: str | None = Field(
        None, pattern=_BRANCH, description="Branch to check out (default: the remote's)"
    )
    depth: int | None = Field(None, ge=1, description="Only the last N commits (a shallow clone)")
    credential: str | None = credential_field()

    @field_validator("repository")
    @classmethod
    def _reference(cls, repository: str) -> str:
        repository = repository.strip()
        if repository.startswith("-"):
            raise ValueError("must be owner/name or a clone URL, not an option ('-')")
        if is_url(repository):
            return _no_login_in_url(repository)
        if not _OWNER_NAME.fullmatch(repository):
            raise ValueError("must be owner/name or a clone URL")
        return repository


class PushParams(Params):
    path: str = Field(
        ...,
        min_length=1,
        description="The local repository (its folder)",
        json_schema_extra={"widget": "folder"},
    )
    remote: str = Field(
        "origin", min_length=1, description="Remote name or URL to push to (default: origin)"
    )
    branch: str | None = Field(
        None, pattern=_BRANCH, description="Branch to push (default: the checked-out one)"
    )
    force: bool = Field(
        False,
        description="Overwrite the remote branch, but only if it is still where this "
        "repository last saw it (--force-with-lease)",
    )
    set_upstream: bool = Field(False, description="Make the remote branch the upstream (-u)")
    credential: str | None = credential_field()

    @field_validator("remote")
    @classmethod
    def _remote(cls, remote: str) -> str:
        remote = remote.strip()
        if remote.startswith("-"):  # git would read it as an option (--all, --mirror...)
            raise ValueError("must be a remote's name (origin) or a URL, not an option ('-')")
        if is_url(remote):
            return _no_login_in_url(remote)
        if not re.fullmatch(r"\w[\w.-]*", remote):
            raise ValueError("must be a remote's name (origin) or a URL")
        return remote
