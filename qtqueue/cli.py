"""The `qtqueue` command line.

Every command but `run` and `gui` works the same with or without an engine running: it runs
the local API's actions on the store directly when no engine holds the data directory, or
through the running engine's API when one does (`qtqueue.api.client.open_backend`). Without
an engine, `add` stores the task for the next engine to run and the reading commands read the
store.

Exit status: 0 success; 1 a command failed (the error code and a hint go to stderr);
2 bad usage (argparse); 130 interrupted.

This module never imports Qt: `gui` loads the desktop application lazily, if installed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import importlib
import importlib.util
import json
import logging
import os
import signal
import sys
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from qtqueue import __version__
from qtqueue.api.client import Backend, open_backend
from qtqueue.api.wire import decode_request
from qtqueue.cli_schedules import (
    add_as_schedule,
    add_schedule_options,
    add_schedule_parser,
    cmd_schedule,
    wants_schedule,
)
from qtqueue.config import ENV_DATA_DIR, resolve_data_dir
from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import (
    ACTIVE,
    RETRYABLE_TERMINAL,
    TERMINAL,
    UNFINISHED,
    TaskStatus,
)
from qtqueue.engine.queue import ShutdownPolicy, TaskQueue

logger = logging.getLogger(__name__)

#: Short names accepted for task types on the command line.
TYPE_ALIASES = {
    "command": "custom_command",
    "cmd": "custom_command",
    "script": "custom_script",
    "monitor": "system_monitor",
}

#: Which statuses each bulk action (`--all`) applies to.
_ALL_APPLIES: dict[str, frozenset[TaskStatus]] = {
    "pause": frozenset({TaskStatus.PENDING}) | ACTIVE,
    "resume": frozenset({TaskStatus.PAUSED}),
    "retry": RETRYABLE_TERMINAL,
    "cancel": UNFINISHED,
    "remove": TERMINAL,
}
_DONE_WORDS = {
    "pause": "paused",
    "resume": "resumed",
    "retry": "queued again",
    "cancel": "cancelled",
    "remove": "removed",
}

_GUI_MISSING = (
    "the desktop window is not available in this installation; "
    "use the command line (qtqueue --help) or install the GUI (pip install 'qtqueue[gui]')"
)


class _UsageError(Exception):
    """Bad command-line usage found after parsing (exit status 2)."""


# --------------------------------------------------------------------------- output helpers


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def _print_json(data: Any, stream: TextIO | None = None) -> None:
    (stream or sys.stdout).write(json.dumps(data, indent=2, default=str) + "\n")


def _report_error(exc: QueueError) -> None:
    sys.stderr.write(f"error: {exc.code.value}: {exc.message}\n")
    sys.stderr.write(f"hint: {exc.suggestion}\n")


def _short(task_id: str) -> str:
    return task_id[:8]


def _fmt_time(ts: float | None) -> str:
    if ts is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def _fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    lines = [headers, *rows]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def _running_s(task: dict[str, Any], now: float) -> float | None:
    if task.get("duration_s") is not None:
        return float(task["duration_s"])
    if task.get("started_at") is not None and task["status"] in {s.value for s in ACTIVE}:
        return now - float(task["started_at"])
    return None


# --------------------------------------------------------------------------- parsing input


def _type_name(text: str) -> str:
    return TYPE_ALIASES.get(text.lower(), text)


def _string_only(prop: dict[str, Any]) -> bool:
    """Whether a JSON-schema property takes only text (so "true" or "42" stay text)."""
    options = prop.get("anyOf", [prop])
    kinds = {o.get("type") for o in options if isinstance(o, dict)}
    return "string" in kinds and kinds <= {"string", "null"}


def _parse_param(item: str, schema: dict[str, Any] | None) -> tuple[str, Any]:
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_FORMAT, f"--param takes KEY=VALUE, got {item!r}"
        )
    prop = ((schema or {}).get("properties") or {}).get(key)
    if isinstance(prop, dict) and _string_only(prop):
        return key, raw
    try:
        return key, json.loads(raw)
    except ValueError:
        return key, raw


def _read_json_source(source: str, what: str) -> Any:
    """JSON from a file, or from stdin for "-"."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise QueueError(
            TaskErrorCode.DATA_FILE_NOT_FOUND, f"{what}: no such file: {source}", path=source
        ) from None
    except OSError as exc:
        raise QueueError(
            TaskErrorCode.DATA_FILE_NOT_FOUND, f"{what}: cannot read {source}: {exc}"
        ) from None
    return _loads(text, what)


def _loads(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_FORMAT, f"{what} is not valid JSON: {exc}"
        ) from None


# --------------------------------------------------------------------------- commands


async def cmd_add(backend: Backend, args: argparse.Namespace) -> int:
    """Add one task; prints its id."""
    type_name = _type_name(args.type)
    schema: dict[str, Any] | None = None
    try:
        found = await backend.call("types", {"name": type_name})
        schema = found["types"][0]["params_schema"]
        type_name = found["types"][0]["name"]
    except QueueError as exc:
        if exc.code != TaskErrorCode.QUEUE_UNKNOWN_TASK_TYPE:
            raise  # an unknown type is reported by add_task, naming the available ones
    params: dict[str, Any] = {}
    if args.params_file is not None:
        loaded = _read_json_source(args.params_file, "--params-file")
        if not isinstance(loaded, dict):
            raise QueueError(
                TaskErrorCode.VALIDATION_INVALID_FORMAT, "--params-file must hold a JSON object"
            )
        params.update(loaded)
    for item in args.param:
        key, value = _parse_param(item, schema)
        params[key] = value
    if args.argv:
        if type_name == "custom_command":
            params["command"], params["args"] = args.argv[0], list(args.argv[1:])
        elif type_name == "custom_script":
            params["script_path"], params["script_args"] = args.argv[0], list(args.argv[1:])
        else:
            raise QueueError(
                TaskErrorCode.VALIDATION_INVALID_PARAMS,
                f"{type_name} takes no command line ({' '.join(args.argv)}); "
                "give its params with --param KEY=VALUE",
            )
    task: dict[str, Any] = {
        "task_type": type_name,
        "params": params,
        "tags": list(args.tag),
        **args.task_options,
    }
    for key, value in (
        ("name", args.name),
        ("category", args.category),
        ("priority", args.priority),
        ("max_retries", args.max_retries),
        ("timeout_s", args.timeout),
    ):
        if value is not None:
            task[key] = value
    if wants_schedule(args):
        return await add_as_schedule(backend, args, task)
    task_id = (await backend.call("add_task", task))["id"]
    if args.json:
        _print_json({"id": task_id, "engine_running": backend.remote})
    else:
        _out(task_id)
    if not backend.remote:
        sys.stderr.write(
            "note: no engine is running; the task runs when one starts "
            "(qtqueue run, or the desktop app)\n"
        )
    return 0


async def cmd_ls(backend: Backend, args: argparse.Namespace) -> int:
    """List tasks as a table (or JSON)."""
    params: dict[str, Any] = {}
    if args.status:
        params["status"] = [s.lower() for s in args.status]
    if args.category is not None:
        params["category"] = args.category
    if args.tag is not None:
        params["tag"] = args.tag
    if args.type is not None:
        params["type"] = _type_name(args.type)
    if args.dead_letter:
        params["dead_letter"] = True
    if args.limit is not None:
        params["limit"] = args.limit
        params["newest_first"] = True  # the last N, still shown oldest first
    tasks: list[dict[str, Any]] = (await backend.call("list_tasks", params))["tasks"]
    if args.limit is not None:
        tasks.reverse()
    if args.json:
        _print_json(tasks)
        return 0
    if not tasks:
        _out("no tasks")
        return 0
    now = time.time()
    rows = [
        [
            _short(t["id"]),
            _clip(t["name"], 40),
            t["task_type"],
            t["status"],
            f"{t['progress']:.0f}%",
            _fmt_time(t["created_at"]),
            _fmt_duration(_running_s(t, now)),
            t["error_code"] or "",
        ]
        for t in tasks
    ]
    headers = ["ID", "NAME", "TYPE", "STATUS", "PROGRESS", "CREATED", "DURATION", "ERROR"]
    _out(_table(headers, rows))
    return 0


async def cmd_show(backend: Backend, args: argparse.Namespace) -> int:
    """One task in detail."""
    info = await backend.call(
        "queue_task_status",
        {"task_id": args.id, "detailed": True, "include_logs": args.logs},
    )
    if args.json:
        _print_json(info)
        return 0
    progress, timing, retry, error = info["progress"], info["timing"], info["retry"], info["error"]
    status = info["status"]
    if status in {s.value for s in ACTIVE} or progress["percent"]:
        status += f"  {progress['percent']:.0f}%"
    if progress["current_step"]:
        status += f"  ({progress['current_step']})"
    if info.get("suspended"):
        status += f"  (suspended; holds its slot in queue {info['queue']!r})"
    fields: list[tuple[str, str]] = [
        ("id", info["id"]),
        ("name", info["name"]),
        ("type", info["type"]),
        ("category", info["category"]),
        ("priority", info["priority"]),
        ("tags", ", ".join(info["tags"]) or "-"),
        ("status", status),
        ("created", _fmt_time(timing["created_at"])),
        ("started", _fmt_time(timing["started_at"])),
        ("finished", _fmt_time(timing["completed_at"])),
        ("duration", _fmt_duration(timing["duration_seconds"])),
        ("waited", _fmt_duration(timing["waiting_seconds"])),
    ]
    retries = f"{retry['count']} of {retry['max_retries']}"
    if retry["dead_letter"]:
        retries += "  (dead letter)"
    if retry["next_attempt_at"]:
        retries += f"  next attempt {_fmt_time(retry['next_attempt_at'])}"
    if retry.get("retry_on"):
        retries += f"  only on {', '.join(retry['retry_on'])}"
    if retry.get("no_retry_on"):
        retries += f"  never on {', '.join(retry['no_retry_on'])}"
    fields.append(("retries", retries))
    if info["wait_reason"]:
        fields.append(("waiting", info["wait_reason"]))
    if info["queue"] != "default":
        fields.append(("queue", info["queue"]))
    if info["depends_on"]:
        after = ", ".join(_short(d) for d in info["depends_on"])
        if info["allow_dependency_failure"]:
            after += "  (runs even if one fails)"
        fields.append(("after", after))
    if info["permission"] != "autonomous":
        approval = info["permission"]
        if info["approved_at"]:
            approval += f"  (approved {_fmt_time(info['approved_at'])})"
        fields.append(("approval", approval))
    if info["resources"]:
        fields.append(("needs", ", ".join(f"{k} {v}" for k, v in info["resources"].items())))
    if info["expires_at"]:
        fields.append(("expires", _fmt_time(info["expires_at"])))
    if error:
        fields.append(("error", f"{error['code']}: {error['message']}"))
        fields.append(("", error["description"]))
        fields.append(("hint", error["suggestion"]))
    if info["result"] is not None:
        fields.append(("result", json.dumps(info["result"], default=str)))
    for label, value in fields:
        _out(f"{label + ':' if label else '':<10}{value}")
    if args.logs:
        _out("--- log (tail) ---")
        sys.stdout.write(info.get("log_tail", ""))
    return 0


async def cmd_log(backend: Backend, args: argparse.Namespace) -> int:
    """Print a task's log; --follow keeps printing until the task is finished."""
    task = (await backend.call("get_task", {"task_id": args.id}))["task"]
    if not args.follow:
        params: dict[str, Any] = {"task_id": task["id"]}
        if args.tail is not None:
            params["tail_bytes"] = args.tail
        sys.stdout.write((await backend.call("read_log", params))["log"])
        return 0
    if not backend.remote and task["status"] not in {s.value for s in TERMINAL}:
        sys.stderr.write("note: no engine is running; this log grows once one runs the task\n")
    async for chunk in backend.follow_log(task["id"]):
        sys.stdout.write(chunk)
        sys.stdout.flush()
    return 0


async def cmd_manage(backend: Backend, args: argparse.Namespace) -> int:
    """pause / resume / retry / cancel / remove: the given tasks, or --all that apply."""
    action: str = args.command
    if getattr(args, "dead_letters", False):
        requeued = (await backend.call("requeue_dead_letters"))["ids"]
        for task_id in requeued:
            _out(f"requeued {_short(task_id)}")
        _out(f"{len(requeued)} dead-lettered task(s) requeued")
        return 0
    if args.queue:
        result = await backend.call(f"{action}_queue")
        _out("queue paused" if result["queue_paused"] else "queue resumed")
        return 0
    if args.all:
        statuses = sorted(s.value for s in _ALL_APPLIES[action])
        listed = await backend.call("list_tasks", {"status": statuses})
        ids = [t["id"] for t in listed["tasks"]]
        if not ids:
            _out(f"no task to {action}")
            return 0
    else:
        ids = list(args.ids)
    failed = 0
    for task_id in ids:
        try:
            result = await backend.call("queue_manage", {"action": action, "task_id": task_id})
        except QueueError as exc:  # its message names the task
            failed += 1
            _report_error(exc)
            continue
        if "task" in result:
            t = result["task"]
            _out(f"{_DONE_WORDS[action]} {_short(t['id'])} {t['name']} (now {t['status']})")
        else:
            _out(f"{_DONE_WORDS[action]} {_short(result['task_id'])}")
    return 1 if failed else 0


async def cmd_approval(backend: Backend, args: argparse.Namespace) -> int:
    """approve / reject: tasks that await approval."""
    failed = 0
    for task_id in args.ids:
        params = {"task_id": task_id}
        if args.command == "reject":
            params["reason"] = args.reason
        try:
            t = (await backend.call(f"{args.command}_task", params))["task"]
        except QueueError as exc:
            failed += 1
            _report_error(exc)
            continue
        word = "approved" if args.command == "approve" else "rejected"
        _out(f"{word} {_short(t['id'])} {t['name']} (now {t['status']})")
    return 1 if failed else 0


async def cmd_send(backend: Backend, args: argparse.Namespace) -> int:
    """Send a line of input to a running interactive command."""
    params = {"task_id": args.id, "text": args.text, "newline": not args.no_newline}
    if args.eof:
        params["eof"] = True
    result = await backend.call("send_input", params)
    _out(f"sent {result['bytes']} bytes to {_short(result['task_id'])}")
    return 0


async def cmd_dead_letters(backend: Backend, args: argparse.Namespace) -> int:
    """List dead letters, or requeue / purge them (given ids, or --all)."""
    if args.action is not None:
        params: dict[str, Any] = {"all": True} if args.all else {"ids": list(args.ids)}
        done = (await backend.call(f"{args.action}_dead_letters", params))["ids"]
        word = "requeued" if args.action == "requeue" else "purged"
        for task_id in done:
            _out(f"{word} {_short(task_id)}")
        _out(f"{len(done)} dead-lettered task(s) {word}")
        return 0
    tasks: list[dict[str, Any]] = (await backend.call("list_dead_letters"))["tasks"]
    if args.json:
        _print_json(tasks)
        return 0
    if not tasks:
        _out("no dead letters")
        return 0
    rows = [
        [
            _short(t["id"]),
            _clip(t["name"], 30),
            t["task_type"],
            _clip(f"{t['error_code'] or '-'}: {t['error'] or ''}", 60),
            _fmt_time(t["completed_at"]),
        ]
        for t in tasks
    ]
    _out(_table(["ID", "NAME", "TYPE", "LAST ERROR", "WHEN"], rows))
    return 0


async def cmd_queues(backend: Backend, args: argparse.Namespace) -> int:
    """List the named queues, or `set NAME` to create one or change its settings."""
    if args.action == "set":
        params: dict[str, Any] = {"name": args.name}
        for key, value in (
            ("concurrency", args.concurrency),
            ("timeout_s", args.timeout),
            ("max_retries", args.retries),
            ("result_ttl_s", args.result_ttl),
        ):
            if value is not None:
                params[key] = None if value == "none" else value
        queues = [(await backend.call("set_queue", params))["queue"]]
    else:
        queues = (await backend.call("list_queues"))["queues"]
    if args.json:
        _print_json(queues)
        return 0

    def shown(value: Any, unit: str = "") -> str:
        return "-" if value is None else f"{value:g}{unit}"

    rows = [
        [
            q["name"],
            shown(q["concurrency"]),
            shown(q["timeout_s"], "s"),
            shown(q["max_retries"]),
            _fmt_duration(q["result_ttl_s"]) if q["result_ttl_s"] is not None else "-",
            str(q["running"]),
            str(q["waiting"]),
        ]
        for q in queues
    ]
    headers = ["QUEUE", "CONCURRENCY", "TIMEOUT", "RETRIES", "RESULT-TTL", "RUNNING", "WAITING"]
    _out(_table(headers, rows))
    return 0


async def cmd_cleanup(backend: Backend, args: argparse.Namespace) -> int:
    """Delete finished tasks (and their logs) older than --older-than, or the retention."""
    params = {} if args.older_than is None else {"older_than_s": args.older_than}
    removed = (await backend.call("cleanup", params))["removed"]
    _out(f"removed {removed} finished task(s)")
    return 0


_DURATION_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_SIZE_UNITS_GB = {"": 1.0, "k": 1 / 1024**2, "m": 1 / 1024, "g": 1.0, "t": 1024.0}


def _count_or_none(minimum: int) -> Callable[[str], int | str]:
    """argparse type: a whole number >= minimum, or "none"."""

    def parse(text: str) -> int | str:
        if text.strip().lower() == "none":
            return "none"
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number or none") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum} (or none)")
        return value

    return parse


def _duration_or_none(text: str) -> float | str:
    """argparse type: a duration (90s, 15m, 2h), or "none"."""
    return "none" if text.strip().lower() == "none" else parse_duration_s(text)


def _bad_option(flag: str, text: str, expected: str) -> QueueError:
    return QueueError(
        TaskErrorCode.VALIDATION_INVALID_FORMAT,
        f"{flag}: {text!r} is not {expected}",
        option=flag,
        value=text,
    )


def parse_size_gb(text: str, flag: str) -> float:
    """"8G", "512M", "1.5T", "8GB", "8GiB" or a plain number of GB, in GB."""
    t = text.strip().lower().removesuffix("ib").removesuffix("b")
    unit = t[-1:] if t[-1:].isalpha() else ""
    try:
        value = float(t[: len(t) - len(unit)]) * _SIZE_UNITS_GB[unit]
    except (ValueError, KeyError):
        raise _bad_option(flag, text, "a size (e.g. 8G, 512M, 1.5T)") from None
    if value <= 0:
        raise _bad_option(flag, text, "a size above zero")
    return value


def parse_when(text: str, flag: str = "--at") -> float:
    """A UNIX time from ISO 8601 ("2026-05-01T09:30", local time unless it names a zone) or
    from now plus a duration ("+10m")."""
    t = text.strip()
    if t.startswith("+"):
        try:
            return time.time() + parse_duration_s(t[1:])
        except argparse.ArgumentTypeError:
            raise _bad_option(flag, text, "+DURATION (e.g. +10m, +2h)") from None
    try:
        when = datetime.datetime.fromisoformat(t)
    except ValueError:
        raise _bad_option(
            flag, text, "an ISO 8601 time (2026-05-01T09:30) or +DURATION (+10m)"
        ) from None
    return (when if when.tzinfo is not None else when.astimezone()).timestamp()


def _task_options(args: argparse.Namespace) -> dict[str, Any]:
    """The task fields `add` takes from its scheduling, dependency and resource options."""
    out: dict[str, Any] = {}
    if args.after:
        out["depends_on"] = list(args.after)
    if args.allow_dependency_failure:
        out["allow_dependency_failure"] = True
    if args.at is not None:
        out["run_at"] = parse_when(args.at)
    if args.ttl is not None:
        try:
            out["ttl_s"] = parse_duration_s(args.ttl)
        except argparse.ArgumentTypeError:
            raise _bad_option("--ttl", args.ttl, "a duration (e.g. 90s, 15m, 1h, 7d)") from None
        if out["ttl_s"] <= 0:
            raise _bad_option("--ttl", args.ttl, "a duration above zero")
    resources: dict[str, Any] = {}
    if args.needs_cpu is not None:
        try:
            resources["cpu_cores"] = float(args.needs_cpu)
        except ValueError:
            raise _bad_option("--needs-cpu", args.needs_cpu, "a number of cores") from None
        if resources["cpu_cores"] <= 0:
            raise _bad_option("--needs-cpu", args.needs_cpu, "a number of cores above zero")
    if args.needs_memory is not None:
        resources["memory_gb"] = parse_size_gb(args.needs_memory, "--needs-memory")
    if args.needs_disk is not None:
        size, _, path = args.needs_disk.partition(":")
        resources["disk_gb"] = parse_size_gb(size, "--needs-disk")
        if path:
            resources["disk_path"] = path
    if args.needs_gpu_memory is not None:
        resources["gpu_memory_gb"] = parse_size_gb(args.needs_gpu_memory, "--needs-gpu-memory")
    if resources:
        out["resources"] = resources
    if args.approval is not None:
        out["permission"] = args.approval
    if args.queue is not None:
        out["queue"] = args.queue
    if args.retry_on:
        out["retry_on"] = list(args.retry_on)
    if args.no_retry_on:
        out["no_retry_on"] = list(args.no_retry_on)
    return out


def parse_duration_s(text: str) -> float:
    """"90", "90s", "15m", "12h", "7d", "2w" as seconds (argparse type)."""
    t = text.strip().lower()
    unit = _DURATION_UNITS.get(t[-1:]) if t else None
    number = t[:-1] if unit is not None else t
    try:
        value = float(number) * (unit or 1.0)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration (e.g. 90s, 15m, 12h, 7d)"
        ) from None
    if value < 0:
        raise argparse.ArgumentTypeError("a duration cannot be negative")
    return value


async def cmd_stats(backend: Backend, args: argparse.Namespace) -> int:
    """Queue statistics."""
    st = await backend.call("stats")
    if args.json:
        _print_json(st)
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
        ("avg time", _fmt_duration(perf["average_duration_seconds"])),
        (
            "retries",
            f"{retries['total_retries']} ({retries['tasks_with_retries']} tasks, "
            f"{retries['tasks_at_max_retries']} at their maximum)",
        ),
        ("last hour", activity(hour)),
        ("last day", activity(day)),
    ]
    for label, value in lines:
        _out(f"{label + ':':<11}{value}")
    return 0


async def cmd_types(backend: Backend, args: argparse.Namespace) -> int:
    """Task types, and whether this installation can run them."""
    found: list[dict[str, Any]] = (await backend.call("types"))["types"]
    if args.json:
        _print_json(found)
        return 0
    rows = [[t["name"], t["family"], "yes" if t["available"] else "-", t["summary"]] for t in found]
    _out(_table(["TYPE", "FAMILY", "AVAILABLE", "SUMMARY"], rows))
    for t in found:
        if t.get("params_schema"):
            _out(f"\n{t['name']} parameters:")
            for line in _describe_params(t["params_schema"]):
                _out(f"  {line}")
    return 0


def _describe_params(schema: dict[str, Any]) -> list[str]:
    """One line per parameter of a params JSON schema: name, type, required or default,
    and its description."""
    required = set(schema.get("required", []))
    lines = []
    for name, prop in schema.get("properties", {}).items():
        kinds = prop.get("anyOf", [prop])
        kind = "|".join(
            str(k.get("type", "enum" if "enum" in k else "object"))
            for k in kinds
            if k.get("type") != "null"
        ) or "any"
        if "enum" in prop:
            kind = "|".join(map(str, prop["enum"]))
        if name in required:
            need = "required"
        elif "default" in prop:
            need = f"default {json.dumps(prop['default'])}"
        else:
            need = "optional"
        text = f"{name} ({kind}, {need})"
        if prop.get("description"):
            text += f": {prop['description']}"
        lines.append(text)
    if schema.get("additionalProperties") is True or not schema.get("properties"):
        lines.append("(any JSON object)")
    return lines


async def cmd_api(backend: Backend, args: argparse.Namespace) -> int:
    """Run one raw JSON action; prints the reply. Exit 1 if it is not ok."""
    if args.request == "-":
        body = sys.stdin.buffer.read()
    else:  # bytes that were not UTF-8 come back as they were, and are refused as such
        body = args.request.encode("utf-8", "surrogateescape")
    try:
        request = decode_request(body)  # the limits the engine's server applies
    except QueueError as exc:
        reply: dict[str, Any] = {"ok": False, "error": exc.to_dict()}
    else:
        reply = await backend.request(request)
    _print_json(reply)
    if not reply.get("ok"):
        error = reply.get("error") or {}
        sys.stderr.write(f"error: {error.get('code')}: {error.get('message')}\n")
        sys.stderr.write(f"hint: {error.get('suggestion')}\n")
        return 1
    return 0


_BACKEND_COMMANDS: dict[str, Callable[[Backend, argparse.Namespace], Awaitable[int]]] = {
    "add": cmd_add,
    "ls": cmd_ls,
    "show": cmd_show,
    "log": cmd_log,
    "pause": cmd_manage,
    "resume": cmd_manage,
    "retry": cmd_manage,
    "cancel": cmd_manage,
    "remove": cmd_manage,
    "stats": cmd_stats,
    "cleanup": cmd_cleanup,
    "schedule": cmd_schedule,
    "approve": cmd_approval,
    "reject": cmd_approval,
    "dead-letters": cmd_dead_letters,
    "send": cmd_send,
    "queues": cmd_queues,
    "types": cmd_types,
    "api": cmd_api,
}


async def _with_backend(args: argparse.Namespace) -> int:
    async with open_backend(args.data_dir) as backend:
        return await _BACKEND_COMMANDS[args.command](backend, args)


# --------------------------------------------------------------------------- the engine


async def _wait_any(*events: asyncio.Event) -> None:
    waiters = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)


async def _is_idle(queue: TaskQueue) -> bool:
    """Nothing runs, and nothing waits that could start: held (paused) tasks — and, while the
    queue is paused, pending ones — are left for a later run. So are pending tasks while a
    paused running task is all that runs: it keeps its slot, so they could only start once
    someone resumes or cancels it (a later run's work; `qtqueue run` without --until-idle
    waits for that)."""
    if await queue.list_tasks(status=ACTIVE, limit=1):
        return False
    if queue.queue_paused or not await queue.list_tasks(status=[TaskStatus.PENDING], limit=1):
        return True
    paused = await queue.list_tasks(status=[TaskStatus.PAUSED])
    return any(t.paused_from in ACTIVE for t in paused)


async def run_engine(args: argparse.Namespace) -> int:
    """`qtqueue run`: the engine and its API in the foreground until a signal (or idle)."""
    from qtqueue import settings
    from qtqueue.api.server import ApiServer  # aiohttp's server: only the engine needs it

    queue = TaskQueue(
        args.data_dir,
        max_concurrent=args.max_concurrent,
        shutdown_policy=args.on_exit,
        lock_timeout_s=args.lock_timeout,
        replace_damaged_store=args.new_store_if_damaged,
    )
    settings.apply_settings(queue, settings.saved_settings(queue.data_dir))
    await queue.start()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    changed = asyncio.Event()

    def on_signal(signame: str) -> None:
        if stop.is_set():
            logger.warning("%s: already stopping (policy %s)", signame, queue.shutdown_policy)
        else:
            logger.info("%s: stopping (running tasks: %s)", signame, queue.shutdown_policy)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig.name)
    unsubscribe = queue.subscribe(lambda _events: changed.set())
    try:
        async with ApiServer(queue) as server:
            where = server.socket_path or f"{server.host}:{server.port}"
            logger.info("engine running for %s; API at %s", queue.data_dir, where)
            if not args.until_idle:
                await stop.wait()
            while args.until_idle and not stop.is_set():
                changed.clear()  # before looking, so that no change goes unseen
                if await _is_idle(queue):
                    logger.info("nothing left to run; stopping")
                    break
                await _wait_any(stop, changed)
    finally:
        unsubscribe()
        await queue.close()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    return 0


# --------------------------------------------------------------------------- backups


def cmd_backup(args: argparse.Namespace) -> int:
    """`qtqueue backup`: copy the store into the backups folder now."""
    from qtqueue.engine.restore import backup_now

    backup = backup_now(resolve_data_dir(args.data_dir), time.time())
    _out(f"backed up to {backup.path}")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    """`qtqueue restore [BACKUP]`: list the backups, or bring one back."""
    from qtqueue.engine.restore import restore_backup
    from qtqueue.storage.backups import BACKUPS_DIR, list_backups

    data_dir = resolve_data_dir(args.data_dir)
    if args.backup is None:
        backups = list_backups(data_dir / BACKUPS_DIR)
        if args.json:
            _print_json(
                [
                    {"n": n, "name": b.name, "taken_at": b.taken_at, "reason": b.reason}
                    for n, b in enumerate(backups, 1)
                ]
            )
        elif not backups:
            _out(f"no backups in {data_dir / BACKUPS_DIR}")
        else:
            rows = [
                [str(n), _fmt_time(b.taken_at), b.reason, b.name]
                for n, b in enumerate(backups, 1)
            ]
            _out(_table(["#", "TAKEN", "WHY", "FILE"], rows))
            _out("bring one back with: qtqueue restore N (no engine may be running)")
        return 0
    backup, aside = restore_backup(data_dir, args.backup, time.time())
    if args.json:
        _print_json({"restored": backup.name, "set_aside": str(aside) if aside else None})
        return 0
    _out(f"restored the store from {backup.name} ({_fmt_time(backup.taken_at)})")
    if aside is not None:
        _out(f"the file it replaced is kept as {aside}")
    return 0


#: Commands on the data directory's files rather than on a queue.
_FILE_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "backup": cmd_backup,
    "restore": cmd_restore,
}


# --------------------------------------------------------------------------- the desktop app


def open_gui(args: argparse.Namespace) -> int:
    """Open the desktop window, if this installation has it (imported lazily: no Qt here)."""
    if importlib.util.find_spec("qtqueue.app") is None:
        sys.stderr.write(f"error: {_GUI_MISSING}\n")
        return 1
    try:
        app = importlib.import_module("qtqueue.app")
    except ImportError as exc:
        sys.stderr.write(f"error: {_GUI_MISSING} ({exc})\n")
        return 1
    gui_main = getattr(app, "main", None)
    if not callable(gui_main):
        sys.stderr.write(f"error: {_GUI_MISSING}\n")
        return 1
    gui_argv: list[str] = []
    if args.data_dir:
        gui_argv += ["--data-dir", str(resolve_data_dir(args.data_dir))]
    if getattr(args, "screenshot", None):
        gui_argv += ["--screenshot", args.screenshot]
    if getattr(args, "size", None):
        gui_argv += ["--size", args.size]
    return int(gui_main(gui_argv) or 0)


# --------------------------------------------------------------------------- argument parsing


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `qtqueue` (global options work before or after the command)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        default=argparse.SUPPRESS,
        metavar="DIR",
        help=f"the queue's data directory (default: ${ENV_DATA_DIR}, else the user data dir)",
    )
    common.add_argument(
        "-v", "--verbose", action="count", default=argparse.SUPPRESS, help="more logging (-vv)"
    )
    parser = argparse.ArgumentParser(
        prog="qtqueue",
        description="A desktop task manager and its queue engine. Without a command, opens "
        "the desktop window. Commands work whether or not an engine runs: without one, "
        "tasks are stored for the next engine and reads come from the store.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"qtqueue {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, help_: str, **kw: Any) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_, description=help_, parents=[common], **kw)

    def json_flag(p: argparse.ArgumentParser) -> None:
        p.add_argument("--json", action="store_true", help="print machine-readable JSON")

    p = command(
        "add",
        "Add a task.",
        epilog="examples:\n"
        "  qtqueue add command -- make -j8 test\n"
        "  qtqueue add custom_command --param command='ls -l' --param shell=true\n"
        "  qtqueue add system_monitor -p monitor_type=cpu -p duration_s=10\n"
        "  qtqueue add docker_build --params-file build.json --priority high\n"
        "--param values are read as JSON when they parse (numbers, true/false, lists,\n"
        "objects) unless the parameter takes text; otherwise as text. --json is about the\n"
        "output (the new id as JSON); params come from --param and --params-file.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "type",
        metavar="TYPE",
        help="task type (see 'qtqueue types'); aliases: " + ", ".join(sorted(TYPE_ALIASES)),
    )
    p.add_argument(
        "argv",
        nargs="*",
        metavar="CMD",
        help="for command/script: the program or script and its arguments (put them after --)",
    )
    p.add_argument(
        "-p", "--param", action="append", default=[], metavar="KEY=VALUE", help="a parameter"
    )
    p.add_argument(
        "-f", "--params-file", metavar="FILE", help="a JSON object of params ('-': stdin)"
    )
    p.add_argument("--name", help="what to call the task (default: a summary of its params)")
    p.add_argument("--category", help="a label; per-category limits key on it")
    p.add_argument("--tag", action="append", default=[], help="a label (repeatable)")
    p.add_argument("--priority", help="low, normal, high, urgent, or 0-3 (default normal)")
    p.add_argument(
        "--max-retries",
        type=int,
        metavar="N",
        help="run a failed attempt again, up to N times (default 0)",
    )
    p.add_argument(
        "--retry-on",
        action="append",
        default=[],
        metavar="CODE",
        help="retry only failures with this error code (repeatable; default: every failure "
        "a retry can fix)",
    )
    p.add_argument(
        "--no-retry-on",
        action="append",
        default=[],
        metavar="CODE",
        help="never retry failures with this error code (repeatable)",
    )
    p.add_argument("--timeout", type=float, metavar="SECONDS", help="running-time limit")
    p.add_argument(
        "--after",
        action="append",
        default=[],
        metavar="ID",
        help="start only once this task completed (repeatable; a unique id prefix will do)",
    )
    p.add_argument(
        "--allow-dependency-failure",
        action="store_true",
        help="run once every --after task ended, even if one failed",
    )
    p.add_argument(
        "--at", metavar="TIME", help="not before TIME: ISO 8601 (2026-05-01T09:30) or +10m"
    )
    p.add_argument(
        "--ttl", metavar="DURATION", help="cancel it if it has not started within (e.g. 1h)"
    )
    p.add_argument("--needs-cpu", metavar="N", help="CPU cores it needs free")
    p.add_argument("--needs-memory", metavar="SIZE", help="memory it needs free (e.g. 8G)")
    p.add_argument(
        "--needs-disk", metavar="SIZE[:PATH]", help="disk space it needs free (e.g. 20G:/data)"
    )
    p.add_argument("--needs-gpu-memory", metavar="SIZE", help="GPU memory it needs (e.g. 6G)")
    p.add_argument(
        "--approval",
        choices=["supervised", "human_required"],
        help="human_required: wait for 'qtqueue approve'; supervised: notify when it starts",
    )
    p.add_argument("--queue", metavar="NAME", help="the named queue to wait in (default)")
    json_flag(p)
    add_schedule_options(p)

    p = command("ls", "List tasks.")
    p.add_argument("--status", action="append", default=[], help="only this status (repeatable)")
    p.add_argument("--category", help="only this category")
    p.add_argument("--tag", help="only tasks with this tag")
    p.add_argument("--type", help="only this task type")
    p.add_argument("--dead-letter", action="store_true", help="only dead-lettered tasks")
    p.add_argument("--limit", type=int, metavar="N", help="only the N newest")
    json_flag(p)

    p = command("show", "Show one task: status, progress, timing, error and its fix.")
    p.add_argument("id", metavar="ID", help="task id, or a unique prefix of 4+ characters")
    p.add_argument("--logs", action="store_true", help="include the log's tail")
    json_flag(p)

    p = command("log", "Print a task's log.")
    p.add_argument("id", metavar="ID", help="task id, or a unique prefix of 4+ characters")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing until it ends")
    p.add_argument("--tail", type=int, metavar="BYTES", help="only the last BYTES")

    for name, help_ in (
        ("pause", "Pause tasks (hold waiting ones, suspend running ones)."),
        ("resume", "Resume paused tasks."),
        ("retry", "Run failed, cancelled or timed-out tasks again."),
        ("cancel", "Cancel tasks (running ones are terminated)."),
        ("remove", "Delete finished tasks and their logs."),
    ):
        p = command(name, help_)
        p.add_argument("ids", nargs="*", metavar="ID", help="task ids or unique prefixes")
        p.add_argument("--all", action="store_true", help=f"every task that can be {name}d")
        if name in ("pause", "resume"):
            p.add_argument(
                "--queue", action="store_true", help=f"{name} the whole queue's dispatching"
            )
        else:
            p.set_defaults(queue=False)
        if name == "retry":
            p.add_argument(
                "--dead-letters",
                action="store_true",
                help="requeue every dead-lettered task (failed after using up its retries)",
            )

    p = command("approve", "Approve tasks that await approval (added with --approval).")
    p.add_argument("ids", nargs="+", metavar="ID", help="task ids or unique prefixes")
    p = command("reject", "Reject tasks that await approval: they end cancelled.")
    p.add_argument("ids", nargs="+", metavar="ID", help="task ids or unique prefixes")
    p.add_argument("--reason", default="", help="why (kept with the task's error)")

    p = command(
        "send",
        "Send a line to a running command's stdin (added with --param interactive=true).",
    )
    p.add_argument("id", metavar="ID", help="task id, or a unique prefix of 4+ characters")
    p.add_argument("text", metavar="TEXT", help="the text; a newline is added")
    p.add_argument("--no-newline", action="store_true", help="send the text as it is")
    p.add_argument("--eof", action="store_true", help="then close its stdin (end of input)")

    p = command(
        "dead-letters",
        "List tasks that failed for good after their retries; requeue or purge them.",
        epilog="examples:\n"
        "  qtqueue dead-letters\n"
        "  qtqueue dead-letters requeue 3f2a9c1b\n"
        "  qtqueue dead-letters purge --all",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("action", nargs="?", choices=["requeue", "purge"], help="what to do")
    p.add_argument("ids", nargs="*", metavar="ID", help="task ids or unique prefixes")
    p.add_argument("--all", action="store_true", help="every dead letter")
    json_flag(p)

    p = command(
        "queues",
        "List the named queues, or create one / change its settings with 'set'.",
        epilog="examples:\n"
        "  qtqueue queues\n"
        "  qtqueue queues set nightly --concurrency 1 --timeout 2h --retries 2 --result-ttl 7d\n"
        "  qtqueue queues set nightly --concurrency none   (no limit of its own)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("action", nargs="?", choices=["set"], help="create or change a queue")
    p.add_argument("name", nargs="?", metavar="NAME", help="the queue to create or change")
    p.add_argument(
        "--concurrency", type=_count_or_none(1), metavar="N", help="at most N of its tasks at once"
    )
    p.add_argument(
        "--timeout", type=_duration_or_none, metavar="DURATION", help="default task timeout"
    )
    p.add_argument("--retries", type=_count_or_none(0), metavar="N", help="default max retries")
    p.add_argument(
        "--result-ttl",
        type=_duration_or_none,
        metavar="DURATION",
        help="delete its finished tasks this long after they finish",
    )
    json_flag(p)

    p = command("cleanup", "Delete finished tasks and their logs older than a period.")
    p.add_argument(
        "--older-than",
        type=parse_duration_s,
        metavar="DURATION",
        help="e.g. 7d, 12h, 30m, 90s (default: the retention period, 30 days)",
    )

    add_schedule_parser(sub, [common])

    p = command("stats", "Queue statistics.")
    json_flag(p)
    p = command("types", "Task types and whether they can run here.")
    json_flag(p)

    p = command(
        "run",
        "Run the engine headless in the foreground (stops on SIGINT/SIGTERM).",
    )
    p.add_argument(
        "--until-idle",
        action="store_true",
        help="stop once nothing is left to run (paused tasks stay for a later run)",
    )
    p.add_argument("--max-concurrent", type=int, default=4, metavar="N", help="default 4")
    p.add_argument(
        "--on-exit",
        choices=[s.value for s in ShutdownPolicy],
        default=ShutdownPolicy.REQUEUE.value,
        help="running tasks at shutdown: wait for them, requeue them (default), cancel them",
    )
    p.add_argument(
        "--new-store-if-damaged",
        action="store_true",
        help="if the store file is damaged, set it aside (renamed, kept) and start on an "
        "empty store instead of refusing to start",
    )
    p.add_argument(
        "--lock-timeout",
        type=float,
        default=3.0,
        metavar="SECONDS",
        help="how long to wait for another engine to let go of the data directory",
    )

    command("backup", "Copy the store into the data directory's backups folder now.")
    p = command(
        "restore",
        "List the store's backups, or bring one back (no engine may be running; the "
        "current file is kept beside it).",
        epilog="Backups are taken automatically at most once a day and before every "
        "upgrade of the store's format; the newest 5 are kept.",
    )
    p.add_argument(
        "backup",
        nargs="?",
        metavar="BACKUP",
        help="the backup to bring back: its number in the list (1 = newest), its file "
        "name, or 'latest'",
    )
    json_flag(p)

    p = command(
        "api",
        "Run one JSON action and print its JSON reply.",
        epilog='example: qtqueue api \'{"action": "queue_status", "params": {"detailed": true}}\'',
    )
    p.add_argument("request", metavar="JSON", help="the request, or '-' to read it from stdin")

    p = command("gui", "Open the desktop window.")
    p.add_argument(
        "--screenshot",
        metavar="PNG",
        help="render the window to a PNG once it shows the stored tasks, then exit",
    )
    p.add_argument("--size", metavar="WxH", help="window size for --screenshot (1400x900)")
    return parser


def _check_args(args: argparse.Namespace) -> None:
    if args.command == "add" and not wants_schedule(args) and (args.missed or args.timezone):
        raise _UsageError("--missed and --timezone go with --every or --cron")
    if args.command in _ALL_APPLIES:
        if args.all and args.ids:
            raise _UsageError("give task ids or --all, not both")
        if args.queue and (args.all or args.ids):
            raise _UsageError("--queue takes no task ids and no --all")
        dead = getattr(args, "dead_letters", False)
        if dead and (args.all or args.ids):
            raise _UsageError("--dead-letters takes no task ids and no --all")
        if not (args.all or args.ids or args.queue or dead):
            raise _UsageError(f"{args.command}: give task ids or --all")
    if args.command == "run" and args.max_concurrent < 1:
        raise _UsageError("--max-concurrent must be at least 1")
    if args.command == "queues":
        settings = (args.concurrency, args.timeout, args.retries, args.result_ttl)
        if args.action == "set" and not args.name:
            raise _UsageError("queues set: name the queue")
        if args.action is None and (args.name or any(v is not None for v in settings)):
            raise _UsageError("queues: a name and settings go with 'set NAME'")
    if args.command == "dead-letters":
        if args.action is None and (args.ids or args.all):
            raise _UsageError("dead-letters: ids and --all go with requeue or purge")
        if args.action is not None and bool(args.ids) == bool(args.all):
            raise _UsageError(f"dead-letters {args.action}: give task ids or --all")


def _setup_logging(args: argparse.Namespace) -> None:
    if args.command == "run":
        level = logging.DEBUG if args.verbose else logging.INFO
    else:
        level = [logging.WARNING, logging.INFO][min(args.verbose, 1)]
        if args.verbose >= 2:
            level = logging.DEBUG
    logging.basicConfig(
        stream=sys.stderr,
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `qtqueue` console script and of `python -m qtqueue`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:  # everything after "--" is add's command line, options included
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1 :]
    parser = build_parser()
    args = parser.parse_args(argv)
    for name, default in (("data_dir", None), ("verbose", 0)):
        if not hasattr(args, name):  # SUPPRESS: set before or after the command, or not at all
            setattr(args, name, default)
    if extra:
        if args.command != "add":
            parser.error("'--' is only used by 'add' (add command -- CMD ARGS…)")
        args.argv = [*args.argv, *extra]
    try:
        _check_args(args)
    except _UsageError as exc:
        parser.error(str(exc))
    _setup_logging(args)
    if args.command == "add":
        try:
            args.task_options = _task_options(args)
        except QueueError as exc:  # a bad option value: bad usage
            _report_error(exc)
            return 2
    if args.command in (None, "gui"):
        return open_gui(args)
    try:
        if args.command == "run":
            return asyncio.run(run_engine(args))
        if args.command in _FILE_COMMANDS:
            return _FILE_COMMANDS[args.command](args)
        return asyncio.run(_with_backend(args))
    except QueueError as exc:
        _report_error(exc)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the exit flush
        return 1
    except Exception as exc:
        error = QueueError(TaskErrorCode.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")
        _report_error(error)
        if args.verbose:
            traceback.print_exc()
        return 1
