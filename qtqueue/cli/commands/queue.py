"""`qtqueue queue`: the pending tasks that could not start, as the resource document's `queue`
command shows them (what each needs, how long it has waited, how often it was checked, why)."""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING, Any

from qtqueue.cli.output import fmt_duration, out, print_json
from qtqueue.cli.parser import Subparsers, add_command, json_flag

if TYPE_CHECKING:
    from qtqueue.api.local_backend import Backend

logger = logging.getLogger(__name__)

ORDER = 25

RULE = "═" * 60

#: How each declared need reads: (key, unit after the number).
_NEED_WORDS = (
    ("cpu_cores", " CPU core"),
    ("memory_gb", " GB memory"),
    ("disk_gb", " GB disk"),
    ("gpu_memory_gb", " GB GPU memory"),
)


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """The `queue` command."""
    p = add_command(
        sub,
        common,
        "queue",
        "List the pending tasks that could not start: what each needs, how long it has "
        "waited, how many times it was checked, and why it could not start.",
    )
    json_flag(p)
    p.set_defaults(handler=run)


def needs_in_words(needs: dict[str, Any]) -> str:
    """'8 CPU cores, 16 GB memory'; '-' for none."""
    words = [
        f"{needs[key]:g}{unit}{'s' if key == 'cpu_cores' and needs[key] != 1 else ''}"
        for key, unit in _NEED_WORDS
        if needs.get(key)
    ]
    return ", ".join(words) or "-"


async def run(backend: Backend, args: argparse.Namespace) -> int:
    """Print the waiting tasks (JSON: a list of {id, name, needs, waiting_s, attempts,
    last_reason, target, ...})."""
    waiting = (await backend.call("waiting"))["waiting"]
    if args.json:
        print_json(waiting)
        return 0
    if not waiting:
        engine = "" if backend.remote else " (no engine is running: 'qtqueue run' starts one)"
        out(f"No queued tasks: no pending task was held back{engine}.")
        return 0
    out(RULE)
    out(f"  QUEUED TASKS ({len(waiting)} pending)")
    out(RULE)
    for n, row in enumerate(waiting, 1):
        out()
        out(f"[{n}] Task ID: {row['id']}")
        for label, value in (
            ("Name", row["name"]),
            ("Queue", row.get("queue", row["target"]) if "queue" in row else row["target"]),
            ("Target", row["target"] if "queue" in row else None),  # a cluster's: placement
            ("Priority", row.get("priority")),  # a cluster's rows say it
            ("Needs", needs_in_words(row["needs"])),
            ("Time in Queue", fmt_duration(row["waiting_s"])),
            ("Attempts", str(row["attempts"])),
            ("Held by", row["held_by"]),
            ("Last Reason", row["last_reason"]),
        ):
            if value is not None:
                out(f"    {label + ':':<15} {value}")
    return 0
