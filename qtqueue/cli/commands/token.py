"""`qtqueue token show|rotate`: the HTTP API's key of a data directory (in the OS keyring).

`show` prints the key (making one if there is none), with or without an engine running: it
reads the keyring itself. `rotate` replaces it: through the running engine when there is one
(its `rotate_api_key` action), so that its HTTP server refuses the old key at once; on the
store's own backend otherwise, and the next engine reads the new key when it starts.

The key goes to stdout and nowhere else (`KEY=$(qtqueue token show)`); its name and expiry
go to stderr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from typing import TYPE_CHECKING, Any

from qtqueue.cli.output import out
from qtqueue.cli.parser import Subparsers, add_command
from qtqueue.core.errors import QueueError, TaskErrorCode

if TYPE_CHECKING:
    from qtqueue.api.local_backend import Backend

logger = logging.getLogger(__name__)

ORDER = 175
#: The longest expiry accepted by --expires (days).
MAX_DAYS = 36500


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """The `token` command and its `show` and `rotate` subcommands."""
    p = add_command(
        sub,
        common,
        "token",
        "The HTTP API's key (Authorization: Bearer KEY), kept in the OS keyring.",
    )
    actions = p.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    show = actions.add_parser(
        "show", help="print the key (making one if there is none)", parents=[common]
    )
    show.set_defaults(direct=run_show)
    rotate = actions.add_parser(
        "rotate", help="replace the key: the old one is refused at once", parents=[common]
    )
    when = rotate.add_mutually_exclusive_group()
    when.add_argument(
        "--expires", type=float, metavar="DAYS", help="the new key stops working after DAYS"
    )
    when.add_argument(
        "--expires-at",
        metavar="ISO",
        help="the new key stops working at this time (e.g. 2027-01-31T18:00, local time "
        "unless it names a zone)",
    )
    rotate.add_argument(
        "--name", help="who holds the key (recorded as the creator of the tasks it adds)"
    )
    rotate.set_defaults(handler=run_rotate, check=check_rotate)


def expiry(args: argparse.Namespace, now: dt.datetime | None = None) -> float | None:
    """The UNIX time --expires/--expires-at name, or None; QueueError VALIDATION_INVALID_FORMAT
    for a value that is not a positive number of days or a future ISO 8601 time."""
    now = now or dt.datetime.now(dt.UTC)
    if args.expires is not None:
        if not 0 < args.expires <= MAX_DAYS:
            raise QueueError(
                TaskErrorCode.VALIDATION_INVALID_FORMAT,
                f"--expires takes a number of days above 0 and at most {MAX_DAYS}",
                field="expires",
            )
        return (now + dt.timedelta(days=args.expires)).timestamp()
    if args.expires_at is not None:
        try:
            at = dt.datetime.fromisoformat(args.expires_at)
        except ValueError:
            raise QueueError(
                TaskErrorCode.VALIDATION_INVALID_FORMAT,
                f"--expires-at {args.expires_at!r} is not an ISO 8601 time (2027-01-31T18:00)",
                field="expires_at",
            ) from None
        if at.tzinfo is None:
            at = at.astimezone()  # local time, as written
        if at <= now:
            raise QueueError(
                TaskErrorCode.VALIDATION_INVALID_FORMAT,
                f"--expires-at {args.expires_at} is not in the future",
                field="expires_at",
            )
        return at.timestamp()
    return None


def check_rotate(args: argparse.Namespace) -> None:
    """The expiry and the name, checked before anything is opened."""
    from qtqueue.api.keys import check_name

    args.expires_at_ts = expiry(args)
    if args.name is not None:
        check_name(args.name)


def _describe(key: dict[str, Any]) -> str:
    expires = key.get("expires_at")
    when = "never" if expires is None else _local(expires)
    return f"key {key['name']!r}, expires {when}"


def _local(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds")


def run_show(args: argparse.Namespace) -> int:
    """Print the data directory's key, making one if there is none."""
    import time

    from qtqueue.api.keys import ApiKeys
    from qtqueue.config import resolve_data_dir

    key = ApiKeys(resolve_data_dir(args.data_dir)).current()
    out(key.secret)
    info = {"name": key.name, "expires_at": key.expires_at}
    if key.expired(time.time()):
        sys.stderr.write(
            f"warning: this key expired at {_local(key.expires_at or 0)}; "
            "make a new one with 'qtqueue token rotate'\n"
        )
    else:
        sys.stderr.write(_describe(info) + "\n")
    return 0


async def run_rotate(backend: Backend, args: argparse.Namespace) -> int:
    """Replace the key (in the running engine when there is one) and print the new one."""
    params: dict[str, Any] = {}
    if args.name is not None:
        params["name"] = args.name
    if args.expires_at_ts is not None:
        params["expires_at"] = args.expires_at_ts
    key = await backend.call("rotate_api_key", params)
    out(key["key"])
    where = "the running engine uses it now" if backend.remote else "no engine runs"
    sys.stderr.write(f"{_describe(key)}; {where}\n")
    return 0
