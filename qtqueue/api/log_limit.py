"""Bad requests logged as one line each, at most so many a minute.

A client that drops its connection mid-request, or sends a request the server cannot handle,
is worth a line in the engine's log — not a traceback, and not a line each when a broken or
hostile client sends thousands. `OneLineRateLimit` is a `logging.Filter`: it folds a record's
exception into its message and lets `per_minute` records through per minute; the first record
after a minute in which some were held back says how many (`flush` says it at once, e.g. when
the server stops).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

__all__ = ["DEFAULT_PER_MINUTE", "OneLineRateLimit"]

#: Bad-request lines logged per minute before the rest are only counted.
DEFAULT_PER_MINUTE = 20
_WINDOW_S = 60.0
_SUMMARY = "qtqueue_held_back_summary"


class OneLineRateLimit(logging.Filter):
    """One line per record (exception folded into the message), `per_minute` at most.

    Attach it to the loggers whose records it limits (`attach`); `clock` is monotonic seconds.
    """

    def __init__(
        self,
        per_minute: int = DEFAULT_PER_MINUTE,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.per_minute = per_minute
        self._clock = clock
        self._window_start = clock()
        self._passed = 0
        self._held = 0
        self._loggers: list[logging.Logger] = []

    def attach(self, loggers: Iterable[logging.Logger]) -> None:
        """Filter the records of each of `loggers` (until `detach`)."""
        for lg in loggers:
            lg.addFilter(self)
            self._loggers.append(lg)

    def detach(self) -> None:
        """Stop filtering; says how many lines were held back, if any."""
        self.flush()
        for lg in self._loggers:
            lg.removeFilter(self)
        self._loggers.clear()

    def flush(self) -> None:
        """Log, now, how many lines were held back since the last such line."""
        if self._held and self._loggers:
            held, self._held = self._held, 0
            self._loggers[0].warning("%s", _held_text(held), extra={_SUMMARY: True})

    def filter(self, record: logging.LogRecord) -> bool:
        now = self._clock()
        note = ""
        if now - self._window_start >= _WINDOW_S:
            if self._held:
                note = f" [{_held_text(self._held)}]"
            self._window_start, self._passed, self._held = now, 0, 0
        if getattr(record, _SUMMARY, False):
            return True  # the count of held-back lines itself
        if self._passed >= self.per_minute:
            self._held += 1
            return False
        self._passed += 1
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            text = f"{text}: {type(exc).__name__}: {exc}"
        record.msg, record.args = " ".join(text.split()) + note, None
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True


def _held_text(count: int) -> str:
    return f"{count} more such line(s) suppressed in the last minute"
