"""`qtqueue worker --redis URL`: an RQ worker that runs qtqueue tasks (issue 17's cluster).

Like `run`, it runs tasks itself and so imports the engine's parts (the cluster backend,
`qtqueue.cluster`) — when it runs, not when the parser is built.
"""

from __future__ import annotations

import argparse
import logging
import os
from typing import TYPE_CHECKING

from qtqueue.cli.output import out, print_json
from qtqueue.cli.parser import Subparsers, UsageError, add_command
from qtqueue.core.errors import QueueError, TaskErrorCode

if TYPE_CHECKING:
    from qtqueue.api.local_backend import Backend

logger = logging.getLogger(__name__)

ORDER = 145
DEFAULT_QUEUES = "high_priority,default,low_priority"


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """The `worker` command."""
    p = add_command(
        sub,
        common,
        "worker",
        "Run qtqueue tasks from a cluster's Redis queues (an RQ worker; stops on SIGINT/SIGTERM).",
    )
    p.add_argument(
        "--queues",
        default=DEFAULT_QUEUES,
        metavar="NAMES",
        help=f"the queues to take tasks from, first first (default: {DEFAULT_QUEUES}); "
        "before them, its own queue, where the placer puts the tasks with needs or a target "
        "that it chose this worker for",
    )
    p.add_argument("--name", help="the worker's name (default: HOST.PID)")
    p.add_argument(
        "--burst", action="store_true", help="stop once the queues are empty instead of waiting"
    )
    p.add_argument(
        "--label",
        action="append",
        default=[],
        metavar="LABEL",
        help="a label tasks may target this worker by (add --label LABEL); repeatable",
    )
    p.add_argument(
        "--cpu-cores",
        type=int,
        metavar="N",
        help="publish N CPU cores instead of the machine's (e.g. a machine shared with "
        "other work, or several workers on one machine); placement counts on this",
    )
    p.add_argument(
        "--memory-gb",
        type=float,
        metavar="GB",
        help="publish at most GB of memory as available instead of the machine's",
    )
    p.set_defaults(direct=run, check=check)


def check(args: argparse.Namespace) -> None:
    """A Redis URL is needed (--redis or $QTQUEUE_REDIS_URL), without a password in it."""
    from qtqueue.cluster.connection import ENV_REDIS_URL, check_url, url_from
    from qtqueue.cluster.queues import parse_queue_list

    url = url_from(getattr(args, "redis", None))
    if url is None:
        raise UsageError(f"qtqueue worker needs --redis URL (or ${ENV_REDIS_URL})")
    args.redis = check_url(url)
    args.queue_list = parse_queue_list(args.queues)
    if args.cpu_cores is not None and args.cpu_cores < 1:
        raise UsageError("--cpu-cores: give a number of cores of at least 1")
    if args.memory_gb is not None and not args.memory_gb > 0:
        raise UsageError("--memory-gb: give a size in GB above zero")
    for label in args.label:
        if not label.strip() or label.strip() != label:
            raise UsageError(f"--label: {label!r} is not a label (no spaces around it)")


def run(args: argparse.Namespace) -> int:
    """Work until stopped, or until the queues are empty with --burst."""
    from qtqueue.cluster.worker import run_worker
    from qtqueue.config import resolve_data_dir

    level = "DEBUG" if args.verbose >= 2 else "INFO" if args.verbose else "WARNING"
    os.environ["QTQUEUE_REDIS_URL"] = args.redis  # a task's `qtqueue ask` reaches this Redis
    run_worker(
        args.redis,
        resolve_data_dir(args.data_dir),
        args.queue_list,
        name=args.name,
        burst=args.burst,
        logging_level=level,
        labels=args.label,
        cpu_cores=args.cpu_cores,
        memory_gb=args.memory_gb,
    )
    return 0


def worker_control_options(p: argparse.ArgumentParser) -> None:
    """`workers suspend|resume NAME…|--all`: a cluster's per-worker suspend (`workers`' own)."""
    p.add_argument(
        "control",
        nargs="?",
        choices=("suspend", "resume"),
        help="on a cluster (--redis): suspend workers (each finishes its current task and "
        "takes no new one, across restarts, until resumed) or resume them",
    )
    p.add_argument("names", nargs="*", metavar="NAME", help="the workers to suspend or resume")
    p.add_argument("--all", action="store_true", help="every live or suspended worker")


async def control_workers(backend: Backend, args: argparse.Namespace) -> int:
    """Suspend or resume the named workers (or --all); one line each: its state now."""
    if getattr(args, "redis", None) is None:
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_PARAMS,
            f"workers {args.control} acts on a cluster's workers: give --redis URL (a local "
            "engine's slots are not suspended one by one: pause its tasks or its queue)",
        )
    if bool(args.names) == bool(args.all):
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_PARAMS,
            f"workers {args.control}: give worker names or --all (not both)",
        )
    result = await backend.call(
        f"{args.control}_workers", {"names": list(args.names), "all": bool(args.all)}
    )
    if args.json:
        print_json(result)
        return 0
    done = "suspended" if args.control == "suspend" else "resumed"
    for w in result["workers"]:
        out(f"{done} {w['worker']} (now {w['state']})")
        if w.get("message"):
            out(f"  {w['message']}")
    if not result["workers"]:
        out(f"no worker to {args.control}")
    return 0
