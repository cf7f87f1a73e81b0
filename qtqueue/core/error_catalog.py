"""The open error catalog: `ErrorInfo` per code, message rules, and their TOML form.

`parse_catalog` reads an errors.toml (format: `qtqueue/core/errors.toml`); an `ErrorCatalog`
holds what the core and each family registered. No IO beyond what a caller hands in.
"""

from __future__ import annotations

import logging
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from typing import Any

from qtqueue.core.error_codes import Code, TaskErrorCode, as_code

logger = logging.getLogger(__name__)

__all__ = [
    "CODE_SYNTAX",
    "CORE_OWNER",
    "ErrorCatalog",
    "ErrorInfo",
    "MessageRule",
    "ParsedCatalog",
    "parse_catalog",
]

#: The owner name under which the core's own codes and rules are registered.
CORE_OWNER = "core"

CODE_SYNTAX = re.compile(r"[A-Z][A-Z0-9_]*")
"""What an error code looks like: upper-case letters, digits and '_', starting with a letter."""


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """What a code means to a user.

    `description` is one sentence saying what went wrong; `suggestion` is one or two sentences
    saying what to do about it; both end with a period. `retryable` is True when an automatic
    retry can help without anyone changing anything (a network blip, a timeout, a busy or
    restarting service) and False when something must change first (parameters, credentials,
    permissions, a missing file, the task's state). It is shown with the error; it does not
    limit the retries a task asks for (`Task.max_retries`), which `final` does.

    `final` is True when no retry can ever fix the failure, because the task itself or a
    person's decision is the cause (its parameters, its type, a missing credential, a failed
    dependency, a rejection): such failures are not retried even when the task asks for
    retries (`max_retries`), while every other failure is.
    """

    code: Code
    description: str
    suggestion: str
    retryable: bool
    final: bool = False


@dataclass(frozen=True, slots=True)
class MessageRule:
    """One row of a message table: if `pattern` matches, the code is the first `context`
    code whose pattern also matches somewhere in the text, else `code`. A rule with an `id` can
    be given more contexts by a family (a `[[refine]]` table in its errors.toml)."""

    pattern: re.Pattern[str]
    code: Code
    context: tuple[tuple[re.Pattern[str], Code], ...] = ()
    id: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedCatalog:
    """What one errors.toml holds: codes, rules (in order) and refinements of others' rules."""

    infos: tuple[ErrorInfo, ...]
    rules: tuple[MessageRule, ...]
    refinements: tuple[tuple[str, re.Pattern[str], Code], ...]


def _rx(pattern: str, where: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"{where}: bad pattern {pattern!r}: {exc}") from None


def _checked_code(value: object, where: str) -> Code:
    if not isinstance(value, str) or not CODE_SYNTAX.fullmatch(value):
        raise ValueError(f"{where}: {value!r} is not an error code (A-Z, 0-9, '_')")
    return as_code(value)


def _text(entry: Mapping[str, Any], key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where}: {key!r} must be a non-empty string")
    return value


def parse_catalog(text: str, source: str = "errors.toml") -> ParsedCatalog:
    """Parse an errors.toml (see `core/errors.toml` for the format); raises ValueError, naming
    `source` and the entry, for anything malformed."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{source}: {exc}") from None
    infos = []
    for name, entry in dict(data.get("codes", {})).items():
        where = f"{source} [codes.{name}]"
        infos.append(
            ErrorInfo(
                _checked_code(name, where),
                _text(entry, "description", where),
                _text(entry, "suggestion", where),
                bool(entry.get("retryable", False)),
                bool(entry.get("final", False)),
            )
        )
    rules = []
    for i, entry in enumerate(data.get("rules", [])):
        where = f"{source} rules[{i}]"
        context = tuple(
            (_rx(_text(c, "pattern", where), where), _checked_code(c.get("code"), where))
            for c in entry.get("context", [])
        )
        rules.append(
            MessageRule(
                _rx(_text(entry, "pattern", where), where),
                _checked_code(entry.get("code"), where),
                context,
                entry.get("id"),
            )
        )
    refinements = []
    for i, entry in enumerate(data.get("refine", [])):
        where = f"{source} refine[{i}]"
        refinements.append(
            (
                _text(entry, "rule", where),
                _rx(_text(entry, "pattern", where), where),
                _checked_code(entry.get("code"), where),
            )
        )
    return ParsedCatalog(tuple(infos), tuple(rules), tuple(refinements))


def code_rules_owner(family: str) -> str:
    """The owner name under which a family's message rules built in code (`Family.rules`)
    are registered, next to its errors.toml's (`family`); `unregister(family)` drops both."""
    return f"{family}:code"


class ErrorCatalog(Mapping[str, ErrorInfo]):
    """Every registered code with its `ErrorInfo`, and the message rules, by owner.

    Read-only as a mapping (keys are code strings; a `TaskErrorCode` works as a key). Owners
    (the core, then one per family) add their codes and rules with `register`; a code another
    owner already registered raises ValueError, and registering an owner again is a no-op, so
    that any number of registries in one process can load the same families. Families' rules
    are consulted before the core's, in registration order.
    """

    def __init__(self) -> None:
        self._infos: dict[str, ErrorInfo] = {}
        self._owner_of: dict[str, str] = {}
        self._rules: dict[str, tuple[MessageRule, ...]] = {}
        self._refine: dict[str, list[tuple[str, re.Pattern[str], Code]]] = {}

    def __getitem__(self, code: str) -> ErrorInfo:
        return self._infos[str(code).strip().upper()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._infos)

    def __len__(self) -> int:
        return len(self._infos)

    def owners(self) -> tuple[str, ...]:
        """Who registered codes, in order: the core first."""
        return tuple(self._rules)

    def owner_of(self, code: str) -> str | None:
        """The owner that registered `code`, or None."""
        return self._owner_of.get(str(code).strip().upper())

    def parse(self, code: str) -> Code | None:
        """`code` (any case) as a registered code or a `TaskErrorCode` constant, else None."""
        if isinstance(code, TaskErrorCode):
            return code
        key = str(code).strip().upper()
        if key in self._infos:
            return self._infos[key].code
        try:
            return TaskErrorCode(key)
        except ValueError:
            return None

    def info(self, code: str) -> ErrorInfo:
        """The `ErrorInfo` for `code` (any case); UNKNOWN_ERROR's for a code nobody registered.
        Never raises."""
        found = self._infos.get(str(code).strip().upper())
        return found if found is not None else self._infos[TaskErrorCode.UNKNOWN_ERROR]

    def register(
        self,
        owner: str,
        infos: Iterable[ErrorInfo],
        rules: Sequence[MessageRule] = (),
        refinements: Sequence[tuple[str, re.Pattern[str], Code]] = (),
    ) -> None:
        """Add `owner`'s codes, message rules and refinements of rules with an id."""
        if owner in self._rules:
            return
        infos = tuple(infos)
        for info in infos:
            other = self._owner_of.get(info.code)
            if other is not None:
                raise ValueError(
                    f"error code {info.code} of {owner!r} is already registered by {other!r}"
                )
        for info in infos:
            self._infos[info.code] = info
            self._owner_of[info.code] = owner
        self._rules[owner] = tuple(rules)
        for rule_id, pattern, code in refinements:
            self._refine.setdefault(rule_id, []).append((owner, pattern, code))

    def register_file(self, owner: str, source: Traversable) -> None:
        """`register` what the errors.toml at `source` (a path or package resource) holds."""
        if owner in self._rules:
            return
        parsed = parse_catalog(source.read_text(encoding="utf-8"), f"{owner}: {source.name}")
        self.register(owner, parsed.infos, parsed.rules, parsed.refinements)

    def unregister(self, owner: str) -> None:
        """Forget everything `owner` registered (for a family that is unloaded, and tests),
        the rules built in its code (`code_rules_owner(owner)`) included."""
        if owner == CORE_OWNER:
            raise ValueError("the core's codes cannot be unregistered")
        owners = {owner, code_rules_owner(owner)}
        for name in owners:
            self._rules.pop(name, None)
        for code in [c for c, o in self._owner_of.items() if o in owners]:
            del self._owner_of[code], self._infos[code]
        for rule_id, items in list(self._refine.items()):
            self._refine[rule_id] = [item for item in items if item[0] not in owners]

    def rules(self) -> Iterator[MessageRule]:
        """Every message rule in the order they are tried: families first, then the core."""
        for owner, rules in self._rules.items():
            if owner != CORE_OWNER:
                yield from rules
        yield from self._rules.get(CORE_OWNER, ())

    def classify_message(self, text: str) -> Code | None:
        """See the module-level `classify_message`."""
        if not text:
            return None
        for rule in self.rules():
            if rule.pattern.search(text):
                extra = [(p, c) for _, p, c in self._refine.get(rule.id, ())] if rule.id else []
                for pattern, code in (*rule.context, *extra):
                    if pattern.search(text):
                        return code
                return rule.code
        return None
