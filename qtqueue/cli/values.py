"""What the command line reads from its arguments: task types, `--param` values read through
the task type's JSON schema, JSON from files, durations, sizes and times.

Pure: nothing here imports Qt, pydantic or the engine. A task type's params schema is the JSON
schema the engine hands out (the `types` action); `describe_params` and `parse_param` read it
as plain data, through `qtqueue.core.param_schema` (the window form's reading of the same
schemas) where a field's type decides how a value is read.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qtqueue.core.errors import QueueError, TaskErrorCode

logger = logging.getLogger(__name__)

__all__ = [
    "TYPE_ALIASES",
    "bad_option",
    "count_or_none",
    "describe_params",
    "duration_or_none",
    "loads",
    "parse_duration_s",
    "parse_param",
    "parse_size_gb",
    "parse_when",
    "read_json_source",
    "type_name",
]

#: Short names accepted for task types on the command line.
TYPE_ALIASES = {
    "command": "custom_command",
    "cmd": "custom_command",
    "script": "custom_script",
    "monitor": "system_monitor",
}

_DURATION_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_SIZE_UNITS_GB = {"": 1.0, "k": 1 / 1024**2, "m": 1 / 1024, "g": 1.0, "t": 1024.0}


def type_name(text: str) -> str:
    """A task type as typed, its alias resolved."""
    return TYPE_ALIASES.get(text.lower(), text)


# --------------------------------------------------------------------------- JSON schemas


def _takes_only_text(schema: dict[str, Any] | None, key: str) -> bool:
    """Whether the params schema's field `key` takes only text (so "true" or "42" stay text),
    `$ref`s and `X | None` read as the form reads them (`qtqueue.core.param_schema`)."""
    prop = ((schema or {}).get("properties") or {}).get(key)
    if schema is None or not isinstance(prop, dict):
        return False
    # imported here: only `add --param` needs it, and every command starts a little faster
    from qtqueue.core.param_schema import resolve, split_nullable

    node, _ = split_nullable(resolve(prop, schema), schema)
    return node.get("type") == "string"


def parse_param(item: str, schema: dict[str, Any] | None) -> tuple[str, Any]:
    """`KEY=VALUE` as (key, value): the value read as JSON when it parses, unless the
    schema says the parameter takes only text; otherwise as text."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_FORMAT, f"--param takes KEY=VALUE, got {item!r}"
        )
    if _takes_only_text(schema, key):
        return key, raw
    try:
        return key, json.loads(raw)
    except ValueError:
        return key, raw


def describe_params(schema: dict[str, Any]) -> list[str]:
    """One line per parameter of a params JSON schema: name, type (an enum's values, `$ref`s
    followed), required or default, and its description."""
    from qtqueue.core.param_schema import resolve  # `$ref`s read as the window's form reads them

    required = set(schema.get("required", []))
    lines = []
    for name, node in schema.get("properties", {}).items():
        prop = resolve(node, schema)
        kinds = [resolve(k, schema) for k in prop.get("anyOf", [prop])]
        kind = (
            "|".join(
                "|".join(map(str, k["enum"])) if "enum" in k else str(k.get("type", "object"))
                for k in kinds
                if k.get("type") != "null"
            )
            or "any"
        )
        if name in required:
            need = "required"
        elif "default" in prop:
            need = f"default {json.dumps(prop['default'])}"
        else:
            need = "optional"
        text = f"{name} ({kind}, {need})"
        if prop.get("description"):
            text += f": {prop['description']}"
        lines.append(text)
    if schema.get("additionalProperties") is True or not schema.get("properties"):
        lines.append("(any JSON object)")
    return lines


# --------------------------------------------------------------------------- JSON input


def read_json_source(source: str, what: str) -> Any:
    """JSON from a file, or from stdin for "-"."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise QueueError(
            TaskErrorCode.DATA_FILE_NOT_FOUND, f"{what}: no such file: {source}", path=source
        ) from None
    except OSError as exc:
        raise QueueError(
            TaskErrorCode.DATA_FILE_NOT_FOUND, f"{what}: cannot read {source}: {exc}"
        ) from None
    return loads(text, what)


def loads(text: str, what: str) -> Any:
    """`text` as JSON, or VALIDATION_INVALID_FORMAT naming `what`."""
    try:
        return json.loads(text)
    except ValueError as exc:
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_FORMAT, f"{what} is not valid JSON: {exc}"
        ) from None


# ------------------------------------------------------------------ durations, sizes, times


def parse_duration_s(text: str) -> float:
    """ "90", "90s", "15m", "12h", "7d", "2w" as seconds (argparse type)."""
    t = text.strip().lower()
    unit = _DURATION_UNITS.get(t[-1:]) if t else None
    number = t[:-1] if unit is not None else t
    try:
        value = float(number) * (unit or 1.0)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration (e.g. 90s, 15m, 12h, 7d)"
        ) from None
    if value < 0:
        raise argparse.ArgumentTypeError("a duration cannot be negative")
    return value


def count_or_none(minimum: int) -> Callable[[str], int | str]:
    """argparse type: a whole number >= minimum, or "none"."""

    def parse(text: str) -> int | str:
        if text.strip().lower() == "none":
            return "none"
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number or none") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum} (or none)")
        return value

    return parse


def duration_or_none(text: str) -> float | str:
    """argparse type: a duration (90s, 15m, 2h), or "none"."""
    return "none" if text.strip().lower() == "none" else parse_duration_s(text)


def bad_option(flag: str, text: str, expected: str) -> QueueError:
    """The error for an option value that is not what it takes."""
    return QueueError(
        TaskErrorCode.VALIDATION_INVALID_FORMAT,
        f"{flag}: {text!r} is not {expected}",
        option=flag,
        value=text,
    )


def parse_size_gb(text: str, flag: str) -> float:
    """ "8G", "512M", "1.5T", "8GB", "8GiB" or a plain number of GB, in GB."""
    t = text.strip().lower().removesuffix("ib").removesuffix("b")
    unit = t[-1:] if t[-1:].isalpha() else ""
    try:
        value = float(t[: len(t) - len(unit)]) * _SIZE_UNITS_GB[unit]
    except (ValueError, KeyError):
        raise bad_option(flag, text, "a size (e.g. 8G, 512M, 1.5T)") from None
    if value <= 0:
        raise bad_option(flag, text, "a size above zero")
    return value


def parse_when(text: str, flag: str = "--at") -> float:
    """A UNIX time from ISO 8601 ("2026-05-01T09:30", local time unless it names a zone) or
    from now plus a duration ("+10m")."""
    t = text.strip()
    if t.startswith("+"):
        try:
            return time.time() + parse_duration_s(t[1:])
        except argparse.ArgumentTypeError:
            raise bad_option(flag, text, "+DURATION (e.g. +10m, +2h)") from None
    try:
        when = datetime.datetime.fromisoformat(t)
    except ValueError:
        raise bad_option(
            flag, text, "an ISO 8601 time (2026-05-01T09:30) or +DURATION (+10m)"
        ) from None
    return (when if when.tzinfo is not None else when.astimezone()).timestamp()
