"""How a recurring schedule's timing reads in words ("every 1h30m", "cron 0 3 * * * (UTC)"):
one wording for the engine's `Schedule.summary` and the command line, which words a schedule
from its JSON without importing the engine."""

from __future__ import annotations

__all__ = ["interval_words", "timing_words"]


def interval_words(seconds: float) -> str:
    """90.0 -> "1m30s", 0.25 -> "0.25s"."""
    if seconds < 60 and seconds != int(seconds):
        return f"{seconds:g}s"
    rest, parts = int(seconds), []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def timing_words(
    kind: str, cron: str | None, timezone: str | None, interval_s: float | None
) -> str:
    """When a schedule of `kind` ("cron" or "interval") recurs, in words."""
    if kind == "cron":
        return f"cron {cron}" + (f" ({timezone})" if timezone else "")
    return f"every {interval_words(interval_s or 0.0)}"
