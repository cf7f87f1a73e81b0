"""The stderr marks in a log (`qtqueue.core.log_streams`): written around each stderr chunk,
read back as runs from any starting point (a tail read cut anywhere, a mark cut in two), and
stripped for readers that want plain text, also chunk by chunk."""

from __future__ import annotations

import pytest

from qtqueue.core.log_streams import (
    MARK_ERR,
    MarkStripper,
    mark_stderr,
    split_streams,
    strip_marks,
)

LOG = b"out 1\n" + mark_stderr(b"err 1\nerr 2\n") + b"out 2\n" + mark_stderr(b"err 3\n")
RUNS = [(False, b"out 1\n"), (True, b"err 1\nerr 2\n"), (False, b"out 2\n"), (True, b"err 3\n")]
PLAIN = b"out 1\nerr 1\nerr 2\nout 2\nerr 3\n"


def test_a_log_splits_into_its_streams_in_order() -> None:
    assert split_streams(LOG) == RUNS
    assert split_streams(LOG.decode()) == [(err, text.decode()) for err, text in RUNS]
    assert strip_marks(LOG) == PLAIN
    assert mark_stderr(b"") == b""  # nothing read, nothing marked


@pytest.mark.parametrize("start", range(len(LOG)))
def test_a_tail_read_from_any_byte_keeps_each_byte_in_its_stream(start: int) -> None:
    """Inside a stderr run, inside a mark, anywhere: every text byte of the tail is in the
    stream it was written to, and no piece of a mark shows."""
    tail = LOG[start:]
    expected = [(err, b) for err, text in RUNS for b in text]
    got = [(err, b) for err, text in split_streams(tail) for b in text]
    assert expected[len(expected) - len(got) :] == got
    assert PLAIN.endswith(strip_marks(tail))


def test_a_read_that_ends_inside_a_mark_drops_its_piece() -> None:
    assert split_streams(b"out\n" + MARK_ERR[:5]) == [(False, b"out\n")]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 11])
def test_stripping_chunk_by_chunk_gives_the_same_plain_text(size: int) -> None:
    text = (LOG + b"\x1b[31mred\x1b[0m\n").decode()
    stripper = MarkStripper()
    out = "".join(stripper.feed(text[i : i + size]) for i in range(0, len(text), size))
    out += stripper.finish()
    assert out == strip_marks(text) == PLAIN.decode() + "\x1b[31mred\x1b[0m\n"
