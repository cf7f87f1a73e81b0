"""What the store can keep of JSON-like data: the one check shared by the engine's field checks
and the API's request decoding (`qtqueue.api.wire`), in the standard library only, so that the
command line can apply it without importing the engine."""

from __future__ import annotations

import math

__all__ = ["INT_MAX", "INT_MIN", "encodable", "storable_json_problem"]

#: SQLite's signed 64-bit integer range.
INT_MIN, INT_MAX = -(2**63), 2**63 - 1


def encodable(text: str) -> bool:
    """Whether `text` has a UTF-8 form (no lone UTF-16 surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def storable_json_problem(value: object) -> str | None:
    """What in `value` (JSON-like data: dicts, lists, text, numbers) the store could not keep
    as it is — a whole number outside 64 bits, NaN or an infinity, text with a lone surrogate
    (keys included) — in words, or None. Walks without recursion."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, bool):
            continue
        elif isinstance(item, int):
            if not INT_MIN <= item <= INT_MAX:
                return f"the whole number {item} (it does not fit in 64 bits)"
        elif isinstance(item, float):
            if not math.isfinite(item):
                return f"{item} (not a JSON number)"
        elif isinstance(item, str) and not encodable(item):
            return "text with a lone surrogate (\\ud800-\\udfff), which is not Unicode text"
    return None
