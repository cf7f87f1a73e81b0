"""When to retry: which failures are retried, and after how long (exponential backoff with
full jitter, or the user's own list of intervals)."""

from __future__ import annotations

import random
from collections.abc import Sequence

from qtqueue.core.errors import CATALOG, TaskErrorCode, error_info

#: No automatic backoff grows beyond this many seconds.
MAX_BACKOFF_S = 3600.0


def backoff_delay_s(
    backoff: float | list[float], attempt: int, rng: random.Random | None = None
) -> float:
    """Seconds to wait before retry number `attempt` (1 for the first retry).

    A list gives explicit intervals (the last one repeats). A number is the base of an
    exponential backoff, base * 2**(attempt-1) capped at MAX_BACKOFF_S, with jitter that
    keeps it between half and the whole of that value, so simultaneous failures spread out.
    """
    if attempt < 1:
        raise ValueError("attempt starts at 1")
    if isinstance(backoff, list):
        if not backoff:
            return 0.0
        return max(0.0, float(backoff[min(attempt, len(backoff)) - 1]))
    base = max(0.0, float(backoff))
    ceiling = min(MAX_BACKOFF_S, base * (2 ** (attempt - 1)))
    r: float = (rng or random).random()
    return float(ceiling * (0.5 + 0.5 * r))


def wants_retry(code: str | None, retry_on: Sequence[str], no_retry_on: Sequence[str]) -> bool:
    """Whether a failed attempt with error `code` is retried, given that retries are left.

    Every failure is, as users of RQ, Huey or Celery expect, except those no retry can fix
    (the catalog's `final` codes: bad parameters, an unknown type, a missing credential, a
    failed dependency, a rejection). The task narrows it: only the codes of `retry_on` when
    it names any, never those of `no_retry_on`.
    """
    info = error_info(code or TaskErrorCode.UNKNOWN_ERROR)
    if info.final or info.code in no_retry_on:
        return False
    return not retry_on or info.code in retry_on


def check_retry_codes(
    retry_on: object, no_retry_on: object
) -> tuple[list[str], list[str], list[str]]:
    """`retry_on` and `no_retry_on` as lists of catalog codes (any case accepted, upper case
    returned, duplicates dropped), and the problems found: not a list of strings, a code the
    catalog does not know, a code in both lists, or a `final` code in `retry_on` (asking to
    retry what no retry can fix is a mistake worth saying)."""
    problems: list[str] = []
    lists: list[list[str]] = []
    for label, value in (("retry_on", retry_on), ("no_retry_on", no_retry_on)):
        if not isinstance(value, (list, tuple)) or not all(isinstance(x, str) for x in value):
            problems.append(f"{label}: must be a list of error codes")
            lists.append([])
            continue
        codes: list[str] = []
        for text in value:
            code = text.strip().upper()
            if code not in _CODES and code not in CATALOG:
                problems.append(f"{label}: {text!r} is not an error code (SYSTEM_TIMEOUT, …)")
            elif label == "retry_on" and CATALOG.info(code).final:
                problems.append(f"{label}: {code} is never retried: no retry can fix it")
            elif code not in codes:
                codes.append(code)
        lists.append(codes)
    both = sorted(set(lists[0]) & set(lists[1]))
    if both:
        problems.append(f"retry_on and no_retry_on both name {', '.join(both)}")
    return lists[0], lists[1], problems


_CODES = frozenset(c.value for c in TaskErrorCode)
