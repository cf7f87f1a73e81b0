"""`qtqueue stats`: queue statistics."""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING

from qtqueue.cli.output import fmt_duration, out, print_json
from qtqueue.cli.parser import Subparsers, add_command, json_flag

if TYPE_CHECKING:
    from qtqueue.api.local_backend import Backend

logger = logging.getLogger(__name__)

ORDER = 120


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """The `stats` command."""
    p = add_command(sub, common, "stats", "Queue statistics.")
    json_flag(p)
    p.set_defaults(handler=run)


async def run(backend: Backend, args: argparse.Namespace) -> int:
    """Queue statistics."""
    st = await backend.call("stats")
    if args.json:
        print_json(st)
        return 0
    s, perf, retries = st["summary"], st["performance"], st["retry_statistics"]
    dist = ", ".join(f"{k} {v}" for k, v in sorted(st["status_distribution"].items())) or "-"
    types_ = ", ".join(f"{k} {v}" for k, v in sorted(st["type_distribution"].items())) or "-"
    errors = ", ".join(f"{k} {v}" for k, v in sorted(st["error_distribution"].items())) or "-"
    hour = st["recent_activity"]["last_hour"]
    day = st["recent_activity"]["last_24_hours"]

    def activity(a: dict[str, int]) -> str:
        return ", ".join(f"{k} {v}" for k, v in a.items())

    lines = [
        (
            "tasks",
            f"{s['total_tasks']} in all, {s['running_tasks']} running "
            f"(max {s['max_concurrent_tasks']}), {s['queue_size']} queued, "
            f"{s['dead_letters']} dead letters",
        ),
        ("queue", "paused" if s["queue_paused"] else "dispatching"),
        ("engine", "running" if backend.remote else "not running"),
        ("statuses", dist),
        ("types", types_),
        ("errors", errors),
        (
            "success",
            f"{perf['success_rate']:.1f}% ({perf['completed_tasks']} completed, "
            f"{perf['failed_tasks']} failed, {perf['cancelled_tasks']} cancelled)",
        ),
        ("avg time", fmt_duration(perf["average_duration_seconds"])),
        (
            "retries",
            f"{retries['total_retries']} ({retries['tasks_with_retries']} tasks, "
            f"{retries['tasks_at_max_retries']} at their maximum)",
        ),
        ("last hour", activity(hour)),
        ("last day", activity(day)),
    ]
    for label, value in lines:
        out(f"{label + ':':<11}{value}")
    return 0
