"""`qtqueue workers`: the engine's worker slots as idle, busy or suspended, with the task each
runs (the RQ-style document's `get_worker_stats`)."""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING, Any

from qtqueue.cli.commands.worker import control_workers, worker_control_options
from qtqueue.cli.output import fmt_duration, out, print_json, short, table
from qtqueue.cli.parser import Subparsers, add_command, json_flag

if TYPE_CHECKING:
    from qtqueue.api.local_backend import Backend

logger = logging.getLogger(__name__)

ORDER = 122


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """The `workers` command."""
    p = add_command(
        sub,
        common,
        "workers",
        "List the engine's worker slots (max concurrent tasks) as idle, busy or suspended "
        "(a paused task keeps its slot), with the task each runs.",
    )
    json_flag(p)
    p.set_defaults(handler=run)
    worker_control_options(p)  # workers suspend|resume NAME…|--all (a cluster's)


async def run(backend: Backend, args: argparse.Namespace) -> int:
    """Print the slots and their totals (JSON: {total, idle, busy, suspended, slots})."""
    if getattr(args, "control", None):  # set by the parser; absent where a caller builds args
        return await control_workers(backend, args)
    stats = await backend.call("workers")
    if args.json:
        print_json(stats)
        return 0
    if any("worker" in s for s in stats["slots"]):  # a cluster's RQ workers
        out(cluster_table(stats["slots"]))
        placer = [s["worker"] for s in stats["slots"] if s.get("placer")]
        out(f"placer: {placer[0] if placer else 'none (no live worker holds its lock)'}")
    else:
        rows = [
            [
                str(s["slot"]),
                s["state"],
                short(s["task_id"]) if s["task_id"] else "-",
                s["task_name"] or "-",
            ]
            for s in stats["slots"]
        ]
        out(table(["SLOT", "STATE", "TASK", "NAME"], rows))
    out(
        f"{stats['total']} workers: {stats['idle']} idle, {stats['busy']} busy, "
        f"{stats['suspended']} suspended" + ("" if backend.remote else " (no engine is running)")
    )
    return 0


def cluster_table(slots: list[dict[str, Any]]) -> str:
    """A cluster's workers: name, host, pid, state, current task, jobs done and failed,
    working time, the room each published (free CPU cores, memory, disk, GPU memory) and its
    labels."""
    headers = ["WORKER", "HOST", "PID", "STATE", "TASK", "NAME", "DONE", "FAILED", "WORKING"]
    headers += ["FREE CPU", "MEM", "DISK", "GPU", "LABELS"]
    rows = [
        [
            s["worker"],
            s["host"] or "-",
            str(s["pid"] or "-"),
            s["state"],
            short(s["task_id"]) if s["task_id"] else "-",
            s["task_name"] or "-",
            str(s["successful_jobs"]),
            str(s["failed_jobs"]),
            fmt_duration(s["working_time_s"]),
            *room_cells(s),
        ]
        for s in slots
    ]
    return table(headers, rows)


def room_cells(slot: dict[str, Any]) -> list[str]:
    """A worker's published room as table cells: free CPU cores, memory, disk, GPU memory
    ('-' for none or not published), labels (comma-separated)."""
    free = slot.get("free") or {}

    def size(key: str) -> str:
        value = free.get(key)
        return "-" if value is None else f"{max(value, 0.0):.1f}G"

    cpu = free.get("cpu_cores")
    cores = "-" if cpu is None else f"{max(cpu, 0.0):g}/{slot.get('total_cpu_cores') or 0:g}"
    labels = ",".join(slot.get("labels") or []) or "-"
    return [cores, size("memory_gb"), size("disk_gb"), size("gpu_memory_gb"), labels]
