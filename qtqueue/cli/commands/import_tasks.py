"""`qtqueue import FILE`: add the tasks of an exported JSON file as new tasks, all or none.

The engine reads the file itself (the `import_tasks` action names it by its absolute path; the
local API is on this machine), so a file of thousands of tasks is not bound by a request's
1 MiB, and every entry is checked exactly as the window's File › Import tasks… checks it
(`api.task_import.parse_import`) before any is added; a refusal names the entry. Standard
input ('-') is first copied to a private temporary file.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from qtqueue.api.task_files import MAX_FILE_BYTES, write_private
from qtqueue.cli.output import out, print_json
from qtqueue.cli.parser import Subparsers, add_command, json_flag
from qtqueue.core.errors import QueueError, TaskErrorCode

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


@contextmanager
def _file_of(name: str) -> Iterator[Path]:
    """The absolute path of the file to import: FILE itself, or stdin copied to a 0600 file
    in a private temporary directory (removed afterwards)."""
    if name != "-":
        yield Path(name).absolute()
        return
    text = sys.stdin.read(MAX_FILE_BYTES + 1)
    if len(text.encode("utf-8")) > MAX_FILE_BYTES:
        raise QueueError(
            TaskErrorCode.DATA_SIZE_TOO_LARGE,
            f"standard input holds over {MAX_FILE_BYTES:,} bytes; an import reads at most "
            "that: split it into smaller files.",
        )
    with tempfile.TemporaryDirectory(prefix="qtqueue-import-") as folder:
        path = Path(folder) / "stdin.json"
        write_private(path, text)
        yield path


async def run(backend: Backend, args: argparse.Namespace) -> int:
    """Add every task of the file, or none."""
    with _file_of(args.file) as path:
        ids: list[str] = (await backend.call("import_tasks", {"path": str(path)}))["ids"]
    if args.json:
        print_json({"ids": ids})
    else:
        out(f"imported {len(ids)} task(s)")
        for task_id in ids:
            out(task_id)
    return 0
