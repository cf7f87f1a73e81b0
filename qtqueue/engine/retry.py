"""When to retry: exponential backoff with full jitter, or the user's own list of intervals."""

from __future__ import annotations

import random

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
