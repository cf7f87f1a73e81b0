"""The `Family` descriptor: everything one operation family brings, in one value.

A family is one folder (`qtqueue/families/<name>/`, or a plug-in's package) whose
`__init__.py` holds `family = Family(...)`, advertised through the `qtqueue.families`
entry-point group — built-in families exactly like plug-ins. The registry
(`ExecutorRegistry.add_family`) registers its executors under their type names and its error
codes and message rules into the open error catalog; the window loads its optional Qt module
(`qt_module`) through the descriptor, so nothing else ever imports a family.
"""

from __future__ import annotations

import importlib.util
import itertools
import logging
import re
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from typing import Any

from pydantic import BaseModel, SecretBytes, SecretStr

from qtqueue.core.error_catalog import MessageRule
from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.executors.base import Executor, RunContext

logger = logging.getLogger(__name__)

__all__ = ["Family", "UnavailableExecutor", "missing_modules", "secret_settings"]

_FAMILY_NAME = re.compile(r"[a-z][a-z0-9_]*")
#: Words of a setting's name that say its value is a credential ("auth_token", "apiKey",
#: "registry-password"; not "max_tokens"). Family settings are saved as plain JSON in the store
#: and shown in the settings pages, so such a field is refused.
_SECRET_WORDS = frozenset(
    {"password", "passwd", "passphrase", "token", "secret", "credential", "credentials", "apikey"}
)
#: Two words that together name a credential ("api_key", "privateKey").
_SECRET_PAIRS = frozenset({("api", "key"), ("private", "key"), ("access", "key")})
_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


@dataclass(frozen=True, slots=True)
class Family:
    """One operation family. Only `name`, `title` and `executors` are required."""

    name: str
    """Its identifier ("docker"): lower case, digits and '_'; also the owner of its error codes."""
    title: str
    """How people see it ("Docker"), in pickers and settings pages."""
    executors: Callable[[], Iterable[Executor]]
    """Builds one instance of each of its executors (called once per registry, so a family's
    modules are imported only when a registry is filled)."""
    settings_model: type[BaseModel] | None = None
    """Its settings (e.g. `DockerSettings` with `docker_host`), a pydantic model whose fields all
    have defaults; the settings pages and `qtqueue config` are generated from it."""
    errors: Traversable | None = None
    """Its errors.toml (codes with description, suggestion, retryable; message rules), usually
    `importlib.resources.files(__package__) / "errors.toml"`."""
    rules: Sequence[MessageRule] = ()
    """Message rules built in code, tried after those of `errors`."""
    category: str | None = None
    """The category its tasks get when they name none in the one-call helpers
    (`QueueManager`): "docker", "system"; per-category concurrency limits key on it."""
    name_keys: tuple[str, ...] = ()
    """The param keys whose value names a task ("image_name" → "docker push myimage:tag"), in
    order of preference; the first one set in a task's params gives its default name."""
    qt_module: str | None = None
    """A module (`<package>.qt`) the window imports to host the family's own widget; it
    defines `detail_widget(parent) -> QWidget | None` and/or `editors(registry)` (adds the
    family's own form editors, used only in its types' forms and its settings page: see
    `qtqueue.ui.family_widgets.family_editors`). Nothing else imports it."""
    requires: tuple[str, ...] = ()
    """Top-level modules its executors need that are not qtqueue's own dependencies
    ("docker"); when one is missing its types are still listed, but adding or running one
    raises QUEUE_EXTRA_NOT_INSTALLED naming `extra`."""
    extra: str | None = None
    """The qtqueue extra that installs `requires` ("docker" for `qtqueue[docker]`)."""

    def __post_init__(self) -> None:
        if not _FAMILY_NAME.fullmatch(self.name):
            raise ValueError(f"family name {self.name!r}: lower-case letters, digits and '_'")
        if not self.title.strip():
            raise ValueError(f"family {self.name!r} needs a title")

    def missing(self) -> list[str]:
        """The modules of `requires` that cannot be imported here."""
        return missing_modules(self.requires)

    def unavailable_error(self, type_name: str) -> QueueError | None:
        """The error that adding or running `type_name` gives while `requires` is not met, or
        None when everything it needs is installed."""
        missing = self.missing()
        if not missing:
            return None
        extra = self.extra or self.name
        return QueueError(
            TaskErrorCode.QUEUE_EXTRA_NOT_INSTALLED,
            f"{type_name} needs {', '.join(missing)}, which is not installed: "
            f"pip install 'qtqueue[{extra}]'",
            family=self.name,
            extra=extra,
            missing=missing,
        )


def missing_modules(names: Iterable[str]) -> list[str]:
    """Those of `names` (top-level modules) that cannot be imported; nothing is imported."""
    missing = []
    for name in names:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # ValueError: sys.modules[name] is None
            found = False
        if not found:
            missing.append(name)
    return missing


def _is_secret_type(annotation: Any) -> bool:
    if annotation in (SecretStr, SecretBytes):
        return True
    return any(_is_secret_type(arg) for arg in typing.get_args(annotation))


def secret_settings(model: type[BaseModel]) -> list[str]:
    """The fields of a family's settings model that would hold a credential: a `SecretStr` or
    `SecretBytes` field (also inside Optional, list...), or one named like a password, token,
    secret or API key. Settings are saved as plain JSON, so `add_family` refuses them."""
    return [
        name
        for name, field in model.model_fields.items()
        if _is_secret_type(field.annotation) or _names_a_secret(name)
    ]


def _names_a_secret(name: str) -> bool:
    words = [w.lower() for w in _WORD.findall(name)]
    return bool(_SECRET_WORDS.intersection(words)) or any(
        pair in _SECRET_PAIRS for pair in itertools.pairwise(words)
    )


class UnavailableExecutor(Executor):
    """Stands in for an executor whose family lacks a module it needs: listed with its own
    name, summary and params schema, but validating (adding) or running a task raises the
    family's QUEUE_EXTRA_NOT_INSTALLED error."""

    def __init__(self, inner: Executor, family: Family) -> None:
        self.inner = inner
        self.family = family

    @property
    def name(self) -> str:
        return self.inner.name

    def describe(self) -> str:
        return self.inner.describe()

    def schema(self) -> dict[str, Any]:
        return self.inner.schema()

    def _error(self) -> QueueError:
        error = self.family.unavailable_error(self.name)
        if error is None:  # installed since the registry was filled: a restart picks it up
            error = QueueError(
                TaskErrorCode.QUEUE_EXTRA_NOT_INSTALLED,
                f"{self.name}: restart qtqueue to use the newly installed "
                f"'qtqueue[{self.family.extra or self.family.name}]'",
            )
        return error

    def validate(self, params: dict[str, Any]) -> dict[str, Any]:
        raise self._error()

    async def run(self, ctx: RunContext) -> dict[str, Any] | None:
        raise self._error()
