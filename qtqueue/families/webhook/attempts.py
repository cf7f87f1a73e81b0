"""The attempts of a CUSTOM_WEBHOOK call, read back from its log (Qt-free): each attempt
writes one `attempt N/M: <outcome>` line (request.py), which the detail pane lists."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

logger = logging.getLogger(__name__)

__all__ = ["Attempt", "parse_attempt_lines"]

_LINE = re.compile(r"^attempt (\d+)/(\d+): (.*)$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try: its number, of how many, and what came of it."""

    number: int
    of: int
    outcome: str


def parse_attempt_lines(text: str) -> list[Attempt]:
    """The attempts named in `text` (whole log lines), in order."""
    return [
        Attempt(int(m.group(1)), int(m.group(2)), m.group(3).strip()) for m in _LINE.finditer(text)
    ]
