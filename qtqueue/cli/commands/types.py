"""`qtqueue types`: the task types, whether they can run here, and their parameters.

The types and their params schemas come from the queue's backend (the running engine, else
the installed families): this command never imports a family's params models.
"""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING, Any

from qtqueue.cli.output import out, print_json, table
from qtqueue.cli.parser import Subparsers, add_command, json_flag
from qtqueue.cli.values import describe_params

if TYPE_CHECKING:
    from qtqueue.api.local_backend import Backend

logger = logging.getLogger(__name__)

ORDER = 130


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """The `types` command."""
    p = add_command(sub, common, "types", "Task types and whether they can run here.")
    json_flag(p)
    p.set_defaults(handler=run)


async def run(backend: Backend, args: argparse.Namespace) -> int:
    """Task types, and whether this installation can run them."""
    found: list[dict[str, Any]] = (await backend.call("types"))["types"]
    if args.json:
        print_json(found)
        return 0
    rows = [[t["name"], t["family"], "yes" if t["available"] else "-", t["summary"]] for t in found]
    out(table(["TYPE", "FAMILY", "AVAILABLE", "SUMMARY"], rows))
    for t in found:
        if t.get("params_schema"):
            out(f"\n{t['name']} parameters:")
            for line in describe_params(t["params_schema"]):
                out(f"  {line}")
    return 0
