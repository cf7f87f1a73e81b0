"""`qtqueue send ID TEXT`: a line of input to a running interactive command's stdin."""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING

from qtqueue.cli.output import out, short
from qtqueue.cli.parser import Subparsers, add_command

if TYPE_CHECKING:
    from qtqueue.api.local_backend import Backend

logger = logging.getLogger(__name__)

ORDER = 70


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """The `send` command."""
    p = add_command(
        sub,
        common,
        "send",
        "Send a line to a running command's stdin (added with --param interactive=true).",
    )
    p.add_argument("id", metavar="ID", help="task id, or a unique prefix of 4+ characters")
    p.add_argument("text", metavar="TEXT", help="the text; a newline is added")
    p.add_argument("--no-newline", action="store_true", help="send the text as it is")
    p.add_argument("--eof", action="store_true", help="then close its stdin (end of input)")
    p.set_defaults(handler=run)


async def run(backend: Backend, args: argparse.Namespace) -> int:
    """Send a line of input to a running interactive command."""
    params = {"task_id": args.id, "text": args.text, "newline": not args.no_newline}
    if args.eof:
        params["eof"] = True
    result = await backend.call("send_input", params)
    out(f"sent {result['bytes']} bytes to {short(result['task_id'])}")
    return 0
