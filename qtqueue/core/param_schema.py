"""How a params model's JSON schema becomes form fields: the one reading of a schema that the
window's form and the command line share (Qt-free, pydantic-free).

`parse_schema` turns pydantic v2 `model_json_schema()` output into `FieldSpec`s: each field's
label (units from its name's suffix), its `FieldKind` (which editor or prompt it needs), its
default, bounds, choices and nullability, with `$ref`s resolved. `convert_item` types a list
item or mapping value typed as text; `split_problem` splits a validation problem
("a.b: msg") into the field path and the message.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

logger = logging.getLogger(__name__)

#: Labels for field names whose automatic title says little.
_NAMES = {
    "cwd": "Working directory",
    "env": "Environment",
    "args": "Arguments",
    "url": "URL",
    "id": "ID",
}
#: Unit suffixes of field names (durations carry their unit) and how a label shows them.
UNITS = {"_s": "s", "_ms": "ms", "_gb": "GB", "_mb": "MB", "_bytes": "bytes"}
#: A field without a default (required, or built by a default factory).
MISSING: Any = object()


class FieldKind(StrEnum):
    """Which editor a field gets."""

    TEXT = "text"
    PASSWORD = "password"
    MULTILINE = "multiline"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    CHOICE = "choice"
    LIST = "list"
    MAPPING = "mapping"
    FILE = "file"
    FOLDER = "folder"
    CREDENTIAL = "credential"
    OBJECT = "object"
    JSON = "json"


@dataclass
class FieldSpec:
    """One params field as the form sees it."""

    name: str
    label: str
    kind: FieldKind
    description: str = ""
    required: bool = False
    nullable: bool = False
    """None is a valid value (`X | None`)."""
    default: Any = MISSING
    """The schema's default, or `MISSING` (required, or built by a default factory)."""
    choices: list[Any] = field(default_factory=list)
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    item_type: str = "string"
    """JSON type of list items / mapping values."""
    schema: dict[str, Any] = field(default_factory=dict)
    """The resolved schema of the field (a nested object's properties live here)."""

    @property
    def has_default(self) -> bool:
        """Whether the schema gives a default."""
        return self.default is not MISSING



def resolve(node: Mapping[str, Any], root: Mapping[str, Any]) -> dict[str, Any]:
    """`node` with `$ref` (and a single-item `allOf`) replaced by what it points to; the
    node's own keys (description, default, widget hints) win over the target's."""
    out = dict(node)
    for _ in range(32):  # a cycle of references must not hang the form
        if "$ref" in out:
            ref = str(out.pop("$ref"))
            target: Any = root
            for part in ref.removeprefix("#/").split("/"):
                target = target.get(part, {}) if isinstance(target, Mapping) else {}
            out = {**target, **out}
        elif isinstance(out.get("allOf"), list) and len(out["allOf"]) == 1:
            inner = out.pop("allOf")[0]
            out = {**inner, **out}
        else:
            break
    return out


def split_nullable(node: dict[str, Any], root: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """(the non-null schema, whether null is allowed) for `X | None` spelled as anyOf or a
    list of types."""
    for key in ("anyOf", "oneOf"):
        options = node.get(key)
        if isinstance(options, list):
            rest = [o for o in options if not (isinstance(o, Mapping) and o.get("type") == "null")]
            if len(rest) < len(options) and len(rest) == 1:
                merged = {k: v for k, v in node.items() if k != key}
                return {**resolve(rest[0], root), **merged}, True
            if len(rest) < len(options):
                return node, True
    types = node.get("type")
    if isinstance(types, list) and "null" in types:
        rest_types = [t for t in types if t != "null"]
        single = rest_types[0] if len(rest_types) == 1 else rest_types
        return {**node, "type": single}, True
    return node, False


def field_label(name: str, title: str | None) -> str:
    auto = name.replace("_", " ").title()
    if title and title != auto:
        return title
    if name in _NAMES:
        return _NAMES[name]
    unit = ""
    for suffix, shown in UNITS.items():
        if name.endswith(suffix) and len(name) > len(suffix):
            name, unit = name[: -len(suffix)], f" ({shown})"
            break
    words = name.replace("_", " ").strip()
    return (words[:1].upper() + words[1:] + unit) if words else auto


def field_kind(name: str, node: Mapping[str, Any]) -> FieldKind:
    widget = node.get("widget")
    jtype = node.get("type")
    if widget == "credential" or name == "credential" or name.endswith("_credential"):
        return FieldKind.CREDENTIAL
    if "enum" in node or "const" in node:
        return FieldKind.CHOICE
    if jtype == "string":
        if widget in ("file", "folder"):
            return FieldKind(widget)
        if widget in ("multiline", "textarea"):
            return FieldKind.MULTILINE
        if node.get("format") == "password" or widget == "password":
            return FieldKind.PASSWORD
        return FieldKind.TEXT
    if jtype == "boolean":
        return FieldKind.BOOLEAN
    if jtype == "integer":
        return FieldKind.INTEGER
    if jtype == "number":
        return FieldKind.NUMBER
    if jtype == "array":
        items = node.get("items")
        if isinstance(items, Mapping) and items.get("type") in ("string", "integer", "number"):
            return FieldKind.LIST
        return FieldKind.JSON
    if jtype == "object" or "properties" in node:
        extra = node.get("additionalProperties")
        if node.get("properties"):
            return FieldKind.OBJECT
        if isinstance(extra, Mapping) and extra.get("type") in ("string", "integer", "number"):
            return FieldKind.MAPPING
    return FieldKind.JSON


def parse_schema(schema: Mapping[str, Any]) -> list[FieldSpec]:
    """The fields of an object schema, in declaration order, with `$ref`s resolved."""
    root = schema
    top = resolve(schema, root)
    required = set(top.get("required") or [])
    specs: list[FieldSpec] = []
    for name, raw in (top.get("properties") or {}).items():
        node, nullable = split_nullable(resolve(raw, root), root)
        kind = field_kind(name, node)
        if kind in (FieldKind.OBJECT, FieldKind.CHOICE):
            node = resolve(node, root)
        spec = FieldSpec(
            name=name,
            label=field_label(name, raw.get("title") or node.get("title")),
            kind=kind,
            description=str(raw.get("description") or node.get("description") or ""),
            required=name in required,
            nullable=nullable,
            default=raw.get("default", node.get("default", MISSING)),
            schema={**node, "$defs": root.get("$defs", {})} if kind == FieldKind.OBJECT else node,
        )
        if kind == FieldKind.CHOICE:
            spec.choices = list(node["enum"]) if "enum" in node else [node["const"]]
        if kind in (FieldKind.INTEGER, FieldKind.NUMBER):
            for key, attr, exclusive in (
                ("minimum", "minimum", False),
                ("exclusiveMinimum", "minimum", True),
                ("maximum", "maximum", False),
                ("exclusiveMaximum", "maximum", True),
            ):
                if isinstance(node.get(key), (int, float)):
                    setattr(spec, attr, float(node[key]))
                    setattr(spec, f"exclusive_{attr}", exclusive)
        if kind == FieldKind.LIST:
            spec.item_type = str(node["items"].get("type", "string"))
        if kind == FieldKind.MAPPING:
            spec.item_type = str(node["additionalProperties"].get("type", "string"))
        specs.append(spec)
    return specs


def is_free_form(schema: Mapping[str, Any]) -> bool:
    """True for a schema that takes any JSON object and names no fields (plain handlers)."""
    top = resolve(schema, schema)
    return not top.get("properties") and top.get("additionalProperties", True) is not False


def convert_item(text: str, json_type: str) -> Any:
    """A list item / mapping value typed by the user, as its JSON type where it parses."""
    try:
        if json_type == "integer":
            return int(text)
        if json_type == "number":
            return float(text)
    except ValueError:
        pass  # left as text: validation names the problem
    return text


def split_problem(problem: str) -> tuple[list[str], str]:
    """("a.b: msg") -> (["a", "b"], "msg"); strips pydantic's "Value error, " prefix."""
    where, sep, message = problem.partition(": ")
    if not sep:
        return [], problem
    message = message.removeprefix("Value error, ")
    return [p for p in where.split(".") if p], message


def accepts_text(schema: Mapping[str, Any]) -> bool:
    """Whether a union field (anyOf / oneOf) takes a plain string as one of its forms."""
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list) and any(
            isinstance(o, Mapping) and o.get("type") == "string" for o in options
        ):
            return True
    return False

