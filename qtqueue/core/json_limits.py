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
    if text.isascii():  # most text, and no surrogate is ASCII
        return True
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
        kind = type(item)  # the exact JSON types first: every request runs this more than once
        if kind is str:
            if item.isascii():  # type: ignore[attr-defined]
                continue
        elif kind is dict:
            stack.extend(item.keys())  # type: ignore[attr-defined]
            stack.extend(item.values())  # type: ignore[attr-defined]
            continue
        elif kind is bool or item is None:
            continue
        problem = _scalar_problem(item, stack)
        if problem is not None:
            return problem
    return None


def _scalar_problem(item: object, stack: list[object]) -> str | None:
    """`storable_json_problem` for one item other than ASCII text, a dict, a bool or None
    (subclasses of the JSON types included); a list's or tuple's items go on `stack`."""
    if isinstance(item, dict):
        stack.extend(item.keys())
        stack.extend(item.values())
    elif isinstance(item, list | tuple):
        stack.extend(item)
    elif isinstance(item, bool):
        return None
    elif isinstance(item, int):
        if not INT_MIN <= item <= INT_MAX:
            return f"the whole number {item} (it does not fit in 64 bits)"
    elif isinstance(item, float):
        if not math.isfinite(item):
            return f"{item} (not a JSON number)"
    elif isinstance(item, str) and not encodable(item):
        return "text with a lone surrogate (\\ud800-\\udfff), which is not Unicode text"
    return None
