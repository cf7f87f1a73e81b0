"""`qtqueue import FILE`: add the tasks of an exported JSON file as new tasks, all or none
(the engine checks every entry before adding any; a refusal names the entry)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from qtqueue.api.task_files import MAX_FILE_BYTES, file_entries, read_task_file
from qtqueue.cli.output import out, print_json
from qtqueue.cli.parser import Subparsers, add_command, json_flag

if TYPE_CHECKING:
    from qtqueue.api.local_backend import Backend

logger = logging.getLogger(__name__)

ORDER = 36


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """The `import` command."""
    p = add_command(
        sub, common, "import", "Add the tasks of an exported JSON file as new tasks, all or none."
    )
    p.add_argument("file", metavar="FILE", help="a file `qtqueue export` wrote ('-': stdin)")
    json_flag(p)
    p.set_defaults(handler=run)


def _read(name: str) -> str:
    if name == "-":
        return sys.stdin.read(MAX_FILE_BYTES + 1)
    return read_task_file(Path(name))


async def run(backend: Backend, args: argparse.Namespace) -> int:
    """Add every task of the file, or none."""
    entries = file_entries(_read(args.file))
    ids: list[str] = (await backend.call("add_task", {"tasks": entries}))["ids"]
    if args.json:
        print_json({"ids": ids})
    else:
        out(f"imported {len(ids)} task(s)")
        for task_id in ids:
            out(task_id)
    return 0
