"""The JSON-schema reading the form and the command line share (`core.param_schema`): it
needs neither Qt nor pydantic, and it reads a params model's schema into fields."""

from __future__ import annotations

from enum import Enum

import grimp
from pydantic import BaseModel, Field

from qtqueue.core.param_schema import (
    MISSING,
    FieldKind,
    convert_item,
    is_free_form,
    parse_schema,
    split_problem,
)


def test_it_imports_neither_qt_nor_pydantic() -> None:
    """The command line can share it without loading either (no import chain, direct or
    through another qtqueue module, leads from it to them)."""
    graph = grimp.build_graph("qtqueue", include_external_packages=True)
    for heavy in ("PySide6", "pydantic"):
        assert graph.find_shortest_chain("qtqueue.core.param_schema", heavy) is None, heavy


class Level(Enum):
    LOW = "low"
    HIGH = "high"


class Target(BaseModel):
    host: str


class Example(BaseModel):
    command: str
    timeout_s: float | None = Field(None, ge=0, le=600)
    level: Level = Level.LOW
    env: dict[str, str] = {}
    args: list[int] = []
    cwd: str = Field("", json_schema_extra={"widget": "folder"})
    registry_credential: str | None = None
    target: Target | None = None


def test_a_params_schema_reads_into_fields_with_kinds_labels_bounds_and_defaults() -> None:
    fields = {f.name: f for f in parse_schema(Example.model_json_schema())}
    assert list(fields) == list(Example.model_fields)
    assert fields["command"].required and fields["command"].default is MISSING
    timeout = fields["timeout_s"]
    assert timeout.kind == FieldKind.NUMBER and timeout.nullable
    assert (timeout.minimum, timeout.maximum, timeout.label) == (0, 600, "Timeout (s)")
    assert fields["level"].kind == FieldKind.CHOICE and fields["level"].choices == ["low", "high"]
    assert fields["env"].kind == FieldKind.MAPPING and fields["env"].label == "Environment"
    assert fields["args"].kind == FieldKind.LIST and fields["args"].item_type == "integer"
    assert fields["cwd"].kind == FieldKind.FOLDER
    assert fields["registry_credential"].kind == FieldKind.CREDENTIAL
    assert fields["target"].kind == FieldKind.OBJECT


def test_values_typed_as_text_and_problems_are_read_back() -> None:
    assert convert_item("3", "integer") == 3
    assert convert_item("x", "integer") == "x"  # left for validation to name
    assert split_problem("target.host: Value error, bad") == (["target", "host"], "bad")
    assert is_free_form({"type": "object"})
    assert not is_free_form(Example.model_json_schema())
