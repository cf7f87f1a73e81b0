"""A `ProcessSpec` as one SQL query (names quoted, values as literals)."""

from __future__ import annotations

import logging
import math
from typing import Any

from qtqueue.families.data.params import ProcessSpec
from qtqueue.families.data.sources import lit, qident

logger = logging.getLogger(__name__)

__all__ = ["spec_sql", "value_sql"]

_FUNCTIONS = {
    "count": "count",
    "count_distinct": "count",
    "sum": "sum",
    "avg": "avg",
    "min": "min",
    "max": "max",
    "median": "median",
}


def value_sql(value: Any) -> str:
    """A JSON value as a SQL literal (a string quoted, so no value is ever SQL text)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)) and math.isfinite(value):
        return repr(value)
    return lit(str(value))


def spec_sql(spec: ProcessSpec, default_input: str) -> str:
    """The SQL that runs `spec`; `default_input` when it names no input. Names are quoted and
    values written as literals: nothing of the spec is taken as SQL text."""
    source = qident(spec.input or default_input)
    for join in spec.join:
        using = ", ".join(qident(c) for c in join.on)
        source += f" {join.how.upper()} JOIN {qident(join.input)} USING ({using})"
    conditions = []
    for f in spec.where:
        col = qident(f.column)
        if f.op in ("is null", "is not null"):
            conditions.append(f"{col} {f.op.upper()}")
        elif f.op in ("in", "not in"):
            values = f.value if isinstance(f.value, list) else [f.value]
            marks = ", ".join(value_sql(v) for v in values) or "NULL"
            conditions.append(f"{col} {f.op.upper()} ({marks})")
        else:
            conditions.append(f"{col} {f.op.upper()} {value_sql(f.value)}")
    columns = [qident(c) for c in spec.select or spec.group_by]
    for agg in spec.aggregates:
        arg = "*" if agg.column is None else qident(agg.column)
        if agg.function == "count_distinct":
            arg = f"DISTINCT {arg}"
        alias = agg.alias or f"{agg.function}_{agg.column or 'all'}"
        columns.append(f"{_FUNCTIONS[agg.function]}({arg}) AS {qident(alias)}")
    sql = f"SELECT {', '.join(columns) or '*'} FROM {source}"
    if conditions:
        sql += " WHERE " + " AND ".join(conditions)
    if spec.group_by:
        sql += " GROUP BY " + ", ".join(qident(c) for c in spec.group_by)
    if spec.order_by:
        keys = [qident(s.column) + (" DESC" if s.descending else "") for s in spec.order_by]
        sql += " ORDER BY " + ", ".join(keys)
    if spec.limit is not None:
        sql += f" LIMIT {int(spec.limit)}"
    return sql
