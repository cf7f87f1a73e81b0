"""The wire's nesting limit at its edge, with the bracket count that lets shallow bodies skip
the scan (api/wire.py `_check_depth`)."""

from __future__ import annotations

import json

import pytest

from qtqueue.api.wire import MAX_DEPTH, decode_request
from qtqueue.core.errors import QueueError


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def test_nesting_up_to_the_limit_is_read_and_one_more_level_is_refused() -> None:
    value = decode_request(_nested(MAX_DEPTH))
    for _ in range(MAX_DEPTH - 1):
        assert isinstance(value, list) and len(value) == 1
        value = value[0]
    assert value == []
    with pytest.raises(QueueError) as refused:
        decode_request(_nested(MAX_DEPTH + 1))
    assert refused.value.code == "VALIDATION_INVALID_FORMAT"
    assert f"deeper than {MAX_DEPTH}" in str(refused.value)


def test_brackets_inside_text_do_not_count_as_nesting() -> None:
    body = {"task_type": "custom_command", "params": {"command": "echo", "args": ["[{" * 200]}}
    assert decode_request(json.dumps(body).encode()) == body


def test_nesting_past_the_limit_among_many_brackets_in_text_is_refused() -> None:
    text = json.dumps("[" * 100)
    with pytest.raises(QueueError, match="deeper than"):
        decode_request(b"[" * (MAX_DEPTH + 1) + text.encode() + b"]" * (MAX_DEPTH + 1))
