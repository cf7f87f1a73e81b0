"""`qtqueue answer QUESTION_ID TEXT`: answer what a running task asks; it goes on with it."""

from __future__ import annotations

import argparse
import getpass
import logging
from typing import TYPE_CHECKING, Any

from qtqueue.cli.output import out, print_json, short
from qtqueue.cli.parser import Subparsers, UsageError, add_command, json_flag
from qtqueue.core.question import ResponseType

if TYPE_CHECKING:
    from qtqueue.api.local_backend import Backend

logger = logging.getLogger(__name__)

ORDER = 73
#: The text of an approval or a rejection given without one.
_DEFAULT_TEXT = {ResponseType.APPROVAL: "approved", ResponseType.REJECTION: "rejected"}


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """The `answer` command."""
    p = add_command(
        sub, common, "answer", "Answer a question a running task asks ('qtqueue questions')."
    )
    p.add_argument("id", metavar="QUESTION_ID", help="a question id, or a unique prefix (4+)")
    p.add_argument(
        "text", metavar="TEXT", nargs="?", help="the answer (optional with --approve/--reject)"
    )
    kind = p.add_mutually_exclusive_group()
    for flag, response in (
        ("--approve", ResponseType.APPROVAL),
        ("--reject", ResponseType.REJECTION),
        ("--instruction", ResponseType.INSTRUCTION),
    ):
        kind.add_argument(
            flag,
            dest="response_type",
            action="store_const",
            const=response.value,
            help=f"answer as {response.value}",
        )
    p.add_argument(
        "--step",
        dest="instructions",
        action="append",
        default=[],
        metavar="STEP",
        help="an instruction for the task to follow (repeatable)",
    )
    p.add_argument("--by", metavar="NAME", help="who answers (default: your user name)")
    json_flag(p)
    p.set_defaults(handler=run, check=check, response_type=ResponseType.ANSWER.value)


def check(args: argparse.Namespace) -> None:
    """TEXT is needed, unless the answer is an approval or a rejection."""
    if args.text is None:
        args.text = _DEFAULT_TEXT.get(ResponseType(args.response_type))
        if args.text is None:
            raise UsageError("answer: TEXT is needed (or --approve / --reject)")


def _user() -> str | None:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no name for this user id (a bare container)
        return None


async def run(backend: Backend, args: argparse.Namespace) -> int:
    """Answer one question."""
    params: dict[str, Any] = {
        "question_id": args.id,
        "message": args.text,
        "response_type": args.response_type,
        "instructions": args.instructions,
        "generated_by": "human",
        "responder_id": args.by or _user(),
    }
    q = (await backend.call("answer_question", params))["question"]
    if args.json:
        print_json(q)
    else:
        out(f"answered {short(q['id'])} of task {short(q['task_id'])} ({q['response_type']})")
    return 0
