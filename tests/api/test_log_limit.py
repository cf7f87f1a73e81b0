"""OneLineRateLimit on a virtual clock: one line per record, so many a minute, then a count."""

from __future__ import annotations

import logging

import pytest

from qtqueue.api.log_limit import OneLineRateLimit


def test_records_past_the_limit_are_counted_and_the_count_is_said_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [1000.0]
    limit = OneLineRateLimit(3, clock=lambda: now[0])
    log = logging.getLogger("qtqueue.tests.log_limit")
    limit.attach([log])
    try:
        with caplog.at_level(logging.INFO, logger=log.name):
            for n in range(10):
                try:
                    raise ConnectionResetError(f"lost {n}")
                except ConnectionResetError:
                    log.exception("request %d failed", n)
            now[0] += 60.0
            log.warning("a later one")
            log.warning("and another")
            for _ in range(5):
                log.warning("held")
    finally:
        limit.detach()
    texts = [r.getMessage() for r in caplog.records]
    assert texts == [
        "request 0 failed: ConnectionResetError: lost 0",
        "request 1 failed: ConnectionResetError: lost 1",
        "request 2 failed: ConnectionResetError: lost 2",
        "a later one [7 more such line(s) suppressed in the last minute]",
        "and another",
        "held",
        "4 more such line(s) suppressed in the last minute",
    ]
    assert all(r.exc_info is None for r in caplog.records)
