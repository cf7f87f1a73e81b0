"""`qtqueue ask TEXT`: from a task's command, ask a person and print the answer.

The engine sets $QTQUEUE_TASK_ID (the task) and $QTQUEUE_DATA_DIR (its data directory) in every
process it runs, so a script asks as simply as `branch=$(qtqueue ask "Which branch?")`. The
command waits for the answer (the task keeps running, its step saying what it waits for), prints
it (then each instruction on a line of its own) and exits 0, or 3 when the answer is a
rejection (`qtqueue ask --type approval "Deploy?" && deploy`). Unanswered within the time
limit, it prints the coded error QUEUE_QUESTION_TIMEOUT and exits 1.
"""

from __future__ import annotations

import argparse
import logging
import os
from typing import TYPE_CHECKING

from qtqueue.api.light_client import LightClient
from qtqueue.cli.output import out, print_json
from qtqueue.cli.parser import Subparsers, UsageError, add_command, json_flag
from qtqueue.cli.values import loads, parse_duration_s
from qtqueue.core.question import DEFAULT_QUESTION_TIMEOUT_S, RequestType, ResponseType

if TYPE_CHECKING:
    from qtqueue.api.local_backend import Backend

logger = logging.getLogger(__name__)

ORDER = 71
#: Set by the engine in every process it runs (qtqueue.executors.env.ENV_TASK_ID).
ENV_TASK_ID = "QTQUEUE_TASK_ID"
#: Exit status when the answer is a rejection.
REJECTED_EXIT = 3
#: How much longer than the question's own limit the reply may take to arrive.
REPLY_MARGIN_S = 60.0


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """The `ask` command."""
    p = add_command(
        sub,
        common,
        "ask",
        "From a task's command: ask a person, wait, and print the answer (exit 3 if it is a "
        f"rejection). The task is ${ENV_TASK_ID}, which the engine sets.",
    )
    p.add_argument("text", metavar="TEXT", help="the question")
    p.add_argument(
        "--type",
        dest="request_type",
        choices=[t.value for t in RequestType],
        default=RequestType.QUESTION.value,
        help="what is asked for (default: question)",
    )
    p.add_argument(
        "--timeout",
        type=parse_duration_s,
        default=DEFAULT_QUESTION_TIMEOUT_S,
        metavar="DURATION",
        help="how long to wait for an answer: 90s, 15m, 2h (default: 30m)",
    )
    p.add_argument("--context", metavar="JSON", help="a JSON object that helps to answer")
    p.add_argument("--follows", metavar="QUESTION_ID", help="the question this one follows up")
    json_flag(p)
    p.set_defaults(handler=run, check=check)


def check(args: argparse.Namespace) -> None:
    """Refuse to run outside a task: the question needs one to belong to."""
    if not os.environ.get(ENV_TASK_ID):
        raise UsageError(
            f"ask: ${ENV_TASK_ID} is not set; 'qtqueue ask' is run by a task's command, and "
            "the engine sets it for every process it runs"
        )
    if args.timeout <= 0:
        raise UsageError("ask: --timeout must be longer than 0 s")


async def run(backend: Backend, args: argparse.Namespace) -> int:
    """Ask, wait, print the answer."""
    params: dict[str, object] = {
        "task_id": os.environ[ENV_TASK_ID],
        "message": args.text,
        "request_type": args.request_type,
        "timeout_s": args.timeout,
    }
    if args.context is not None:
        params["context"] = loads(args.context, "--context")
    if args.follows:
        params["parent_id"] = args.follows
    if isinstance(backend, LightClient):  # the engine's API: the reply comes once answered
        backend.reply_timeout_s = max(backend.reply_timeout_s, args.timeout + REPLY_MARGIN_S)
    question = (await backend.call("ask", params))["question"]
    if args.json:
        print_json(question)
    else:
        out(question["answer"])
        for step in question.get("instructions") or ():
            out(step)
    return REJECTED_EXIT if question["response_type"] == ResponseType.REJECTION else 0
