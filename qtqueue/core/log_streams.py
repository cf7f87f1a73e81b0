"""Which bytes of a task's log came from stderr: in-band marks, and reading them back (no IO).

A command's stdout and stderr are read from two pipes; the log is one byte stream, so a chunk
read from stderr is written as `MARK_ERR + chunk + MARK_END` (`mark_stderr`) and stdout as it
is. The marks are OSC escapes (`ESC ] 7733 ; e BEL`, `ESC ] 7733 ; o BEL`) that no terminal
knows: a terminal, and any reader that drops escape sequences (the log viewer's ANSI parser
does), shows plain text. Because they travel in the bytes, the log files (and their rotation),
the local API, an attached window and REST carry them with no change to any message; readers
that show text to a person call `strip_marks` (the CLI, REST unless asked for streams).

Every stderr chunk is wrapped on its own, so a reader starting anywhere is at most one chunk
away from a known state: a read of a log's tail that starts inside a stderr run shows it by an
end mark before any start mark (`split_streams` takes such a start as stderr), and a mark cut
at either end of the read is dropped. Order between the two streams is the order the engine
read them in (as Docker and journald do); within a stream it is exact. A command that prints
the mark bytes itself is shown as it asks: the marks are a presentation hint, never trusted
for anything else.
"""

from __future__ import annotations

import logging
import re
from typing import AnyStr

logger = logging.getLogger(__name__)

__all__ = [
    "MARK_END",
    "MARK_END_TEXT",
    "MARK_ERR",
    "MARK_ERR_TEXT",
    "MarkStripper",
    "mark_stderr",
    "split_streams",
    "strip_marks",
]

#: Starts a run of stderr output.
MARK_ERR = b"\x1b]7733;e\x07"
#: Ends it (what follows is stdout, or the engine's own notes).
MARK_END = b"\x1b]7733;o\x07"
MARK_ERR_TEXT = MARK_ERR.decode()
MARK_END_TEXT = MARK_END.decode()
_PREFIX = b"\x1b]7733;"
_PREFIX_TEXT = _PREFIX.decode()
_MARK_B = re.compile(rb"\x1b\]7733;([eo])\x07")
_MARK_T = re.compile(r"\x1b\]7733;([eo])\x07")


def mark_stderr(chunk: bytes) -> bytes:
    """`chunk` (read from a command's stderr) as the log stores it."""
    return MARK_ERR + chunk + MARK_END if chunk else b""


def _pattern(data: AnyStr) -> re.Pattern[AnyStr]:
    return _MARK_B if isinstance(data, bytes) else _MARK_T


def _marks(data: AnyStr) -> tuple[AnyStr, AnyStr]:
    if isinstance(data, bytes):
        return MARK_ERR, MARK_END
    return MARK_ERR_TEXT, MARK_END_TEXT


def has_marks(data: AnyStr) -> bool:
    """Whether `data` holds a mark (or the start of one)."""
    return (_PREFIX if isinstance(data, bytes) else _PREFIX_TEXT) in data


def trim_cut_marks(data: AnyStr, *, end: bool = True) -> AnyStr:
    """`data` without the piece of a mark a cut left at its start or (with `end`) its end (a
    tail read begins anywhere; a file ends where the writer stopped)."""
    marks = _marks(data)
    for mark in marks:
        for n in range(len(mark) - 1, 0, -1):
            if data.startswith(mark[-n:]):
                data = data[n:]
                break
    if not end:
        return data
    for mark in marks:
        for n in range(len(mark) - 1, 2, -1):  # "ESC ]" alone may be any OSC: keep it
            if data.endswith(mark[:n]):
                return data[:-n]
    return data


def starts_in_stderr(data: AnyStr) -> bool:
    """Whether `data`, read from somewhere inside a log, begins inside a stderr run: its first
    mark ends one. Unknown (no mark at all) counts as stdout."""
    first = _pattern(data).search(data)
    return first is not None and first.group(1) in ("o", b"o")


def split_streams(data: AnyStr, *, cut: bool = True) -> list[tuple[bool, AnyStr]]:
    """`data` as runs of (from stderr, text), in order, marks removed; adjacent runs differ.

    `cut`: `data` may begin or end anywhere in a log (a tail read, a rotated file): a piece of
    a mark at either end is dropped, and a start inside a stderr run is stderr. Without it the
    data starts as stdout (what a writer hands over)."""
    if cut:
        data = trim_cut_marks(data)
    err = cut and starts_in_stderr(data)
    runs: list[tuple[bool, AnyStr]] = []
    pos = 0
    for m in _pattern(data).finditer(data):
        if m.start() > pos:
            _add(runs, err, data[pos : m.start()])
        err = m.group(1) in ("e", b"e")
        pos = m.end()
    if pos < len(data):
        _add(runs, err, data[pos:])
    return runs


def _add(runs: list[tuple[bool, AnyStr]], err: bool, piece: AnyStr) -> None:
    if runs and runs[-1][0] == err:
        runs[-1] = (err, runs[-1][1] + piece)
    else:
        runs.append((err, piece))


def strip_marks(data: AnyStr) -> AnyStr:
    """`data` as plain output: the marks (and pieces of a cut one at either end) removed."""
    data = trim_cut_marks(data)
    return _pattern(data).sub(data[:0], data) if has_marks(data) else data


class MarkStripper:
    """`strip_marks` for text read chunk by chunk (`qtqueue log --follow`): the start of a
    mark at a chunk's end is held until the next chunk shows what it is."""

    def __init__(self) -> None:
        self._held = ""

    def feed(self, chunk: str) -> str:
        """The plain text of `chunk` that is certain now."""
        text = self._held + chunk
        self._held = ""
        cut = text.rfind("\x1b")
        if (
            cut >= 0
            and len(text) - cut < len(MARK_ERR_TEXT)
            and (MARK_ERR_TEXT.startswith(text[cut:]) or MARK_END_TEXT.startswith(text[cut:]))
        ):
            text, self._held = text[:cut], text[cut:]
        return _MARK_T.sub("", text)

    def finish(self) -> str:
        """What was held at the end (a lone escape that was not a mark after all)."""
        held, self._held = self._held, ""
        return held
