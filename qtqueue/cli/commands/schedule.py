"""The command line's recurring schedules: `qtqueue schedule …` and `qtqueue add … --every`.

```
qtqueue add command --every 10m -- df -h            # a schedule instead of one task
qtqueue add script --cron "0 3 * * *" --missed skip -- /opt/backup.sh
qtqueue schedule add --every 1h --task '{"task_type": "system_monitor",
                                         "params": {"monitor_type": "cpu"}}'
qtqueue schedule ls | show REF | pause REF | resume REF | rm REF | run-now REF
qtqueue schedule edit REF --cron "30 2 * * *" --timezone Europe/Paris
```

REF is a schedule id, a unique prefix of 4+ characters, or the schedule's name. Like every
command, these run the local API's actions (`qtqueue.api.schedule_actions`): on the running
engine, or on the store when none runs (the next engine then catches up).

`add` takes its schedule options from here (`add_schedule_options`, `wants_schedule`,
`add_as_schedule`). A schedule's timing is shown in words read from the schedule's JSON
(`summary`), without importing the engine.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from qtqueue.cli.output import clip, fmt_time, out, print_json, short, table
from qtqueue.cli.parser import Subparsers
from qtqueue.cli.values import loads, read_json_source
from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.recurrence import timing_words

if TYPE_CHECKING:
    from qtqueue.api.local_backend import Backend

logger = logging.getLogger(__name__)

__all__ = [
    "add_as_schedule",
    "add_schedule_options",
    "add_schedule_parser",
    "cmd_schedule",
    "summary",
    "wants_schedule",
]

ORDER = 110

_TIMING_HELP = {
    "every": "recur every INTERVAL: 45s, 10m, 1h30m, 2d",
    "cron": 'recur at the times a cron expression names: "0 3 * * *", @hourly…',
    "timezone": "the IANA time zone a cron expression is read in (default: local time)",
    "missed": "occurrences missed while no engine ran: run once at start (default) or skip",
}


def _timing_options(p: argparse.ArgumentParser) -> None:
    when = p.add_mutually_exclusive_group()
    when.add_argument("--every", metavar="INTERVAL", help=_TIMING_HELP["every"])
    when.add_argument("--cron", metavar="EXPR", help=_TIMING_HELP["cron"])
    p.add_argument("--timezone", metavar="ZONE", help=_TIMING_HELP["timezone"])
    p.add_argument("--missed", choices=["run_once", "skip"], help=_TIMING_HELP["missed"])


def _timing(args: argparse.Namespace) -> dict[str, Any]:
    """The timing options given, as schedule action params."""
    return {
        key: getattr(args, key)
        for key in ("every", "cron", "timezone", "missed")
        if getattr(args, key, None) is not None
    }


def add_schedule_options(p: argparse.ArgumentParser) -> None:
    """`add`'s options that make it create a schedule: --every / --cron, --timezone, --missed."""
    _timing_options(p)


def wants_schedule(args: argparse.Namespace) -> bool:
    """Whether `add` was asked for a schedule rather than one task."""
    return getattr(args, "every", None) is not None or getattr(args, "cron", None) is not None


async def add_as_schedule(backend: Backend, args: argparse.Namespace, task: dict[str, Any]) -> int:
    """`add … --every/--cron`: create a schedule whose template is the task `add` built."""
    params = {"template": task, **_timing(args)}
    schedule = (await backend.call("schedule_add", params))["schedule"]
    _print_added(backend, args, schedule)
    return 0


def _print_added(backend: Backend, args: argparse.Namespace, schedule: dict[str, Any]) -> None:
    if args.json:
        print_json({"schedule": schedule, "engine_running": backend.remote})
    else:
        out(schedule["id"])
    if not backend.remote:
        sys.stderr.write(
            "note: no engine is running; the schedule starts when one runs "
            "(qtqueue run, or the desktop app)\n"
        )


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """The `schedule` command."""
    add_schedule_parser(sub, [common])


def add_schedule_parser(sub: Subparsers, parents: Sequence[argparse.ArgumentParser] = ()) -> None:
    """Add the `schedule` command and its actions to the command line's subparsers."""
    help_ = "Recurring schedules: tasks added at cron times or intervals."
    top = sub.add_parser(
        "schedule",
        help=help_,
        description=help_ + " (Or: qtqueue add TYPE … --every 10m / --cron EXPR.)",
        parents=list(parents),
    )
    top.set_defaults(handler=cmd_schedule)
    actions: argparse._SubParsersAction[argparse.ArgumentParser] = top.add_subparsers(
        dest="schedule_command", metavar="ACTION", required=True
    )

    def action(name: str, text: str) -> argparse.ArgumentParser:
        return actions.add_parser(name, help=text, description=text, parents=list(parents))

    def ref(p: argparse.ArgumentParser) -> None:
        p.add_argument("ref", metavar="REF", help="schedule id, unique prefix, or name")

    def json_flag(p: argparse.ArgumentParser) -> None:
        p.add_argument("--json", action="store_true", help="print machine-readable JSON")

    p = action("add", "Add a schedule from a task template given as JSON.")
    p.add_argument(
        "--task",
        required=True,
        metavar="JSON",
        help="the task's fields as add_task takes them ('-': stdin, '@FILE': a file)",
    )
    p.add_argument("--name", help="what to call it (default: the task's name or summary)")
    p.add_argument("--paused", action="store_true", help="create it paused")
    _timing_options(p)
    json_flag(p)

    json_flag(action("ls", "List schedules."))
    p = action("show", "Show one schedule.")
    ref(p)
    json_flag(p)
    for name, text in (
        ("pause", "Pause a schedule (nothing is added until it is resumed)."),
        ("resume", "Resume a schedule from its next due time."),
        ("rm", "Delete a schedule (the tasks it added stay)."),
        ("run-now", "Add one occurrence now; the next due time stays."),
    ):
        ref(action(name, text))
    p = action("edit", "Change a schedule's timing, name, missed policy or task.")
    ref(p)
    p.add_argument("--name", help="a new name")
    p.add_argument("--task", metavar="JSON", help="a new task template ('-': stdin, '@FILE')")
    _timing_options(p)
    json_flag(p)


def _template(source: str) -> dict[str, Any]:
    if source == "-" or source.startswith("@"):
        data = read_json_source(source.removeprefix("@"), "--task")
    else:
        data = loads(source, "--task")
    if not isinstance(data, dict):
        raise QueueError(TaskErrorCode.VALIDATION_INVALID_FORMAT, "--task must be a JSON object")
    return data


def _when(ts: float | None) -> str:
    return fmt_time(ts)


def _state(s: dict[str, Any]) -> str:
    return "paused" if s["paused"] else "active"


def summary(s: dict[str, Any]) -> str:
    """When a schedule (as the schedule actions return it) recurs, in words."""
    return timing_words(s["kind"], s.get("cron"), s.get("timezone"), s.get("interval_s"))


async def _ls(backend: Backend, args: argparse.Namespace) -> int:
    schedules = (await backend.call("schedule_list"))["schedules"]
    if args.json:
        print_json(schedules)
        return 0
    if not schedules:
        out("no schedules")
        return 0
    rows = [
        [
            short(s["id"]),
            clip(s["name"], 32),
            summary(s),
            _state(s),
            _when(s["next_run_at"]),
            _when(s["last_run_at"]),
            str(s["occurrences"]),
            s["missed"],
        ]
        for s in schedules
    ]
    headers = ["ID", "NAME", "WHEN", "STATE", "NEXT RUN", "LAST RUN", "RUNS", "MISSED"]
    out(table(headers, rows))
    return 0


def _show(s: dict[str, Any]) -> None:
    fields = [
        ("id", s["id"]),
        ("name", s["name"]),
        ("when", summary(s)),
        ("state", _state(s)),
        ("next run", _when(s["next_run_at"])),
        ("last run", _when(s["last_run_at"])),
        ("runs", str(s["occurrences"])),
        ("last task", s["last_task_id"] or "-"),
        ("missed", s["missed"]),
        ("task", json.dumps(s["template"], sort_keys=True)),
        ("created", _when(s["created_at"])),
    ]
    if s["last_error"]:
        fields.append(("error", s["last_error"]))
    for label, value in fields:
        out(f"{label + ':':<11}{value}")


async def _add(backend: Backend, args: argparse.Namespace) -> int:
    params: dict[str, Any] = {"template": _template(args.task), **_timing(args)}
    if args.name is not None:
        params["name"] = args.name
    if args.paused:
        params["paused"] = True
    schedule = (await backend.call("schedule_add", params))["schedule"]
    _print_added(backend, args, schedule)
    return 0


async def _edit(backend: Backend, args: argparse.Namespace) -> int:
    params: dict[str, Any] = {"schedule_id": args.ref, **_timing(args)}
    if args.name is not None:
        params["name"] = args.name
    if args.task is not None:
        params["template"] = _template(args.task)
    if len(params) == 1:
        raise QueueError(
            TaskErrorCode.VALIDATION_MISSING_REQUIRED,
            "edit: give something to change (--every, --cron, --timezone, --missed, --name, "
            "--task)",
        )
    schedule = (await backend.call("schedule_update", params))["schedule"]
    if args.json:
        print_json(schedule)
    else:
        _show(schedule)
    return 0


async def _manage(backend: Backend, args: argparse.Namespace) -> int:
    action = {"rm": "remove", "run-now": "run_now"}.get(args.schedule_command)
    result = await backend.call(
        "schedule_manage",
        {"schedule_id": args.ref, "action": action or args.schedule_command},
    )
    if "removed" in result:
        out(f"removed schedule {short(result['schedule_id'])}")
    elif "task_id" in result:
        out(result["task_id"])
    else:
        s = result["schedule"]
        out(f"{_state(s)} {short(s['id'])} {s['name']} (next {_when(s['next_run_at'])})")
    return 0


async def cmd_schedule(backend: Backend, args: argparse.Namespace) -> int:
    """`qtqueue schedule ACTION …`."""
    if args.schedule_command == "ls":
        return await _ls(backend, args)
    if args.schedule_command == "show":
        schedule = (await backend.call("schedule_get", {"schedule_id": args.ref}))["schedule"]
        if args.json:
            print_json(schedule)
        else:
            _show(schedule)
        return 0
    if args.schedule_command == "add":
        return await _add(backend, args)
    if args.schedule_command == "edit":
        return await _edit(backend, args)
    return await _manage(backend, args)
