"""`qtqueue add TYPE [CMD…]`: add one task (or, with --every/--cron, a schedule)."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING, Any

from qtqueue.cli.commands.schedule import add_as_schedule, add_schedule_options, wants_schedule
from qtqueue.cli.output import out, print_json
from qtqueue.cli.parser import Subparsers, UsageError, add_command, json_flag
from qtqueue.cli.values import (
    TYPE_ALIASES,
    bad_option,
    parse_duration_s,
    parse_param,
    parse_size_gb,
    parse_when,
    read_json_source,
    type_name,
)
from qtqueue.core.errors import QueueError, TaskErrorCode

if TYPE_CHECKING:
    from qtqueue.api.local_backend import Backend

logger = logging.getLogger(__name__)

ORDER = 10


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """The `add` command and its options."""
    p = add_command(
        sub,
        common,
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
        help="run a failed attempt again, up to N times (default: its queue's; 0: run once)",
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
    p.add_argument(
        "--notify-webhook", metavar="URL", help="POST the task's summary here when it ends"
    )
    p.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="running-time limit (default: its queue's; 0: none)",
    )
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
    p.add_argument("--worker", metavar="NAME", help="on a cluster: run it on this worker only")
    p.add_argument("--label", metavar="L", help="on a cluster: run it on a worker labelled L")
    p.add_argument(
        "--approval",
        choices=["supervised", "human_required"],
        help="human_required: wait for 'qtqueue approve'; supervised: notify when it starts",
    )
    p.add_argument(
        "--queue",
        metavar="NAME",
        help="the named queue to wait in (default: by priority: urgent and high in "
        "high_priority, low in low_priority, else default)",
    )
    json_flag(p)
    add_schedule_options(p)
    p.set_defaults(handler=run, check=check)


def check(args: argparse.Namespace) -> None:
    """--missed and --timezone only with a schedule; the option values read (a bad one is
    a QueueError: bad usage) into `args.task_options`."""
    if not wants_schedule(args) and (args.missed or args.timezone):
        raise UsageError("--missed and --timezone go with --every or --cron")
    args.task_options = task_options(args)


def task_options(args: argparse.Namespace) -> dict[str, Any]:
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
            raise bad_option("--ttl", args.ttl, "a duration (e.g. 90s, 15m, 1h, 7d)") from None
        if out["ttl_s"] <= 0:
            raise bad_option("--ttl", args.ttl, "a duration above zero")
    resources: dict[str, Any] = {}
    if args.needs_cpu is not None:
        try:
            resources["cpu_cores"] = float(args.needs_cpu)
        except ValueError:
            raise bad_option("--needs-cpu", args.needs_cpu, "a number of cores") from None
        if resources["cpu_cores"] <= 0:
            raise bad_option("--needs-cpu", args.needs_cpu, "a number of cores above zero")
    if args.needs_memory is not None:
        resources["memory_gb"] = parse_size_gb(args.needs_memory, "--needs-memory")
    if args.needs_disk is not None:
        size, _, path = args.needs_disk.partition(":")
        resources["disk_gb"] = parse_size_gb(size, "--needs-disk")
        if path:
            resources["disk_path"] = path
    if args.needs_gpu_memory is not None:
        resources["gpu_memory_gb"] = parse_size_gb(args.needs_gpu_memory, "--needs-gpu-memory")
    resources.update({k: v for k in ("worker", "label") if (v := getattr(args, k)) is not None})
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
    if args.notify_webhook is not None:
        out["notify_webhook"] = args.notify_webhook
    return out


async def run(backend: Backend, args: argparse.Namespace) -> int:
    """Add one task; prints its id."""
    task_type = type_name(args.type)
    schema: dict[str, Any] | None = None
    try:
        found = await backend.call("types", {"name": task_type})
        schema = found["types"][0]["params_schema"]
        task_type = found["types"][0]["name"]
    except QueueError as exc:
        if exc.code != TaskErrorCode.QUEUE_UNKNOWN_TASK_TYPE:
            raise  # an unknown type is reported by add_task, naming the available ones
    params: dict[str, Any] = {}
    if args.params_file is not None:
        loaded = read_json_source(args.params_file, "--params-file")
        if not isinstance(loaded, dict):
            raise QueueError(
                TaskErrorCode.VALIDATION_INVALID_FORMAT, "--params-file must hold a JSON object"
            )
        params.update(loaded)
    for item in args.param:
        key, value = parse_param(item, schema)
        params[key] = value
    if args.argv:
        if task_type == "custom_command":
            params["command"], params["args"] = args.argv[0], list(args.argv[1:])
        elif task_type == "custom_script":
            params["script_path"], params["script_args"] = args.argv[0], list(args.argv[1:])
        else:
            raise QueueError(
                TaskErrorCode.VALIDATION_INVALID_PARAMS,
                f"{task_type} takes no command line ({' '.join(args.argv)}); "
                "give its params with --param KEY=VALUE",
            )
    task: dict[str, Any] = {
        "task_type": task_type,
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
        print_json({"id": task_id, "engine_running": backend.remote})
    else:
        out(task_id)
    if not backend.remote:
        sys.stderr.write(
            "note: no engine is running; the task runs when one starts "
            "(qtqueue run, or the desktop app)\n"
        )
    return 0
