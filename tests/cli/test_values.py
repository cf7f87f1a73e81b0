"""How the command line describes a type's params (`qtqueue types TYPE`): read from the params
JSON schema as the window's form reads it, so what a family declares shows the same in both."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from qtqueue.cli.values import describe_params
from qtqueue.core.param_schema import FieldKind, parse_schema


class Speed(StrEnum):
    SLOW = "slow"
    FAST = "fast"


class Limits(BaseModel):
    cpus: int = 1


class Params(BaseModel):
    speed: Speed = Field(Speed.SLOW, description="how fast")
    limits: Limits = Field(default_factory=Limits)
    fallback: Speed | None = None


def test_an_enum_declared_once_and_referenced_lists_its_values_as_the_form_offers_them() -> None:
    schema = Params.model_json_schema()
    assert "$ref" in str(schema["properties"]["speed"])  # pydantic refers to $defs
    lines = describe_params(schema)
    offered = {f.name: f.choices for f in parse_schema(schema) if f.kind == FieldKind.CHOICE}
    assert lines[0] == 'speed (slow|fast, default "slow"): how fast'
    assert offered["speed"] == ["slow", "fast"]
    assert lines[1].startswith("limits (object, ")
    assert lines[2] == "fallback (slow|fast, default null)"
