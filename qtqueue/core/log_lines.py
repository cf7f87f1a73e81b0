"""A task's log read as it grows, line by line (Qt-free): what the detail pane's family widgets
(docker layers, a rollout, model layers, an instance) build on."""

from __future__ import annotations

import logging
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

__all__ = ["MAX_PARTIAL_LINE", "LineFeed", "LogLines"]

#: An unfinished last line longer than this names nothing a feed reads: it is not kept.
MAX_PARTIAL_LINE = 4096

R = TypeVar("R")


class LineFeed(Generic[R]):
    """A log fed chunk by chunk as it grows; each chunk's complete lines are parsed once.

    An unfinished last line waits for the next chunk (or `finish`). A subclass says what its
    lines mean in `_parse(text)`, which gets whole lines and returns what they changed.
    """

    def __init__(self) -> None:
        self._partial = ""

    def feed(self, chunk: str) -> R:
        """Take the next piece of the log; what its complete lines changed."""
        text = self._partial + chunk
        cut = text.rfind("\n") + 1
        rest = text[cut:]
        self._partial = rest if len(rest) <= MAX_PARTIAL_LINE else ""
        return self._parse(text[:cut])

    def finish(self) -> R:
        """The log ended: its last line counts even without a newline."""
        rest, self._partial = self._partial, ""
        return self._parse(rest)

    def _parse(self, text: str) -> R:
        """What `text` (whole lines) changed."""
        raise NotImplementedError


class LogLines(LineFeed[list[str]]):
    """The log's complete lines as they come, for a reader that looks at each itself."""

    def _parse(self, text: str) -> list[str]:
        return text.splitlines()
