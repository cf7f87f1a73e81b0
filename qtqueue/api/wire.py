"""A request's body, as bytes, turned into the JSON value an action may see — or a coded error.

One rule for every way in: the engine's HTTP server decodes each `POST /api` body here, and a
command that finds no engine puts its request through the same encoding and decoding
(`round_trip`), so a request refused with an engine running is refused without one, with the
same code and words.

Refused with VALIDATION_INVALID_FORMAT: a body over `MAX_BODY_BYTES`, bytes that are not UTF-8,
text that is not JSON, `NaN`/`Infinity`, nesting deeper than `MAX_DEPTH`, a whole number
outside SQLite's signed 64-bit range, and text holding a lone UTF-16 surrogate (it has no UTF-8
form, so it could be neither stored nor shown).
"""

from __future__ import annotations

import json
import re
from typing import Any

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.json_limits import storable_json_problem

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_DEPTH",
    "check_value",
    "decode_request",
    "round_trip",
    "too_large",
]

#: The largest request body accepted, in bytes (aiohttp's own default limit).
MAX_BODY_BYTES = 1024 * 1024
#: The deepest nesting of lists and objects accepted (task params are far shallower).
MAX_DEPTH = 64
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


def _bad(message: str) -> QueueError:
    return QueueError(TaskErrorCode.VALIDATION_INVALID_FORMAT, message)


def too_large() -> QueueError:
    """The error for a request over `MAX_BODY_BYTES`."""
    return _bad(
        f"the request is larger than the limit of {MAX_BODY_BYTES} bytes; send large data as "
        "a file the task reads"
    )


def _no_constant(name: str) -> Any:
    raise _bad(f"the request holds {name}, which is not a JSON number")


#: `json.loads(text, parse_constant=...)` builds a decoder per call; this one is shared.
_DECODER = json.JSONDecoder(parse_constant=_no_constant)


def decode_request(body: bytes) -> object:
    """The JSON value of a request body, checked (see the module's docstring)."""
    if len(body) > MAX_BODY_BYTES:
        raise too_large()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _bad(f"the request is not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    _check_depth(text)
    try:
        value = _DECODER.decode(text)
    except ValueError as exc:
        raise _bad(f"the request is not valid JSON: {exc}") from None
    except RecursionError:  # only reachable if MAX_DEPTH is raised past Python's limit
        raise _bad(f"the request nests deeper than {MAX_DEPTH} levels") from None
    check_value(value)
    return value


def round_trip(request: object) -> object:
    """`request` as the engine's server would see it: encoded as a client sends it, then
    decoded and checked by `decode_request`."""
    try:
        body = json.dumps(request, allow_nan=True).encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:
        raise _bad(f"the request cannot be written as JSON: {exc}") from None
    return decode_request(body)


def _check_depth(text: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH before the parser recurses into it (brackets inside
    strings are skipped)."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:  # cannot nest deeper: no scan
        return
    depth = 0
    for match in _BRACKET.finditer(_STRING.sub("", text)):
        if match.group() in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise _bad(f"the request nests deeper than {MAX_DEPTH} levels")
        else:
            depth -= 1


def check_value(value: object) -> None:
    """Refuse whole numbers outside 64 bits, non-finite numbers and lone surrogates anywhere
    in `value` (keys included)."""
    problem = storable_json_problem(value)
    if problem is not None:
        raise _bad(f"the request holds {problem}")
