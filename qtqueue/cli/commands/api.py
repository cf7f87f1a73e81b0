"""`qtqueue api JSON`: run one raw JSON action and print its JSON reply."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING, Any

from qtqueue.api.wire import decode_request
from qtqueue.cli.output import print_json
from qtqueue.cli.parser import Subparsers, add_command
from qtqueue.core.errors import QueueError

if TYPE_CHECKING:
    from qtqueue.api.local_backend import Backend

logger = logging.getLogger(__name__)

ORDER = 170


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """The `api` command."""
    p = add_command(
        sub,
        common,
        "api",
        "Run one JSON action and print its JSON reply.",
        epilog='example: qtqueue api \'{"action": "queue_status", "params": {"detailed": true}}\'',
    )
    p.add_argument("request", metavar="JSON", help="the request, or '-' to read it from stdin")
    p.set_defaults(handler=run)


async def run(backend: Backend, args: argparse.Namespace) -> int:
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
    print_json(reply)
    if not reply.get("ok"):
        error = reply.get("error") or {}
        sys.stderr.write(f"error: {error.get('code')}: {error.get('message')}\n")
        sys.stderr.write(f"hint: {error.get('suggestion')}\n")
        return 1
    return 0
