"""The `qtqueue` argument parser, assembled from the command modules.

Every module in `qtqueue.cli.commands` (other than those whose name starts with "_") is a
command: it has `ORDER`, its place in `qtqueue --help`, and `register(sub, common)`, which adds
its subparser(s) and sets their defaults:

- `handler`: `async (backend, args) -> int`, run on the queue's backend
  (`qtqueue.api.local_backend.open_backend`: the running engine's API, else the store); or
- `direct`: `(args) -> int`, run as it is (the engine itself, backups, the window);
- `check` (optional): `(args) -> None`, run after parsing; raises `UsageError` (exit 2).

Adding a command is adding a module; nothing here names one.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any, TypeAlias

from qtqueue.config import ENV_DATA_DIR

logger = logging.getLogger(__name__)

__all__ = [
    "Subparsers",
    "UsageError",
    "add_command",
    "build_parser",
    "command_modules",
    "json_flag",
]

#: What `add_subparsers` returns: where a command adds its parser.
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

COMMANDS_PACKAGE = "qtqueue.cli.commands"
DATA_DIR_OPTION = "--data-dir"
REDIS_OPTION = "--redis"


class UsageError(Exception):
    """Bad command-line usage found after parsing (exit status 2)."""


class _VersionAction(argparse.Action):
    """`--version`: prints the installed version, read from the package metadata only when
    asked (every other command starts without reading it)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kw: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kw)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        import qtqueue

        sys.stdout.write(f"qtqueue {qtqueue.__version__}\n")
        parser.exit()


def _command_names(package: ModuleType) -> set[str]:
    """The names of the package's command modules: its folder's `*.py` files, read directly
    (pkgutil and importlib.util cost a few milliseconds of every command's start); through
    pkgutil where the package is not a folder (a zip, a frozen build)."""
    names: set[str] = set()
    for folder in package.__path__:
        with contextlib.suppress(OSError):
            names.update(n[:-3] for n in os.listdir(folder) if n.endswith(".py"))
    if not names:
        import pkgutil

        names = {info.name for info in pkgutil.iter_modules(package.__path__)}
    return {n for n in names if not n.startswith("_")}


def command_modules() -> list[ModuleType]:
    """The command modules, in their `--help` order."""
    package = importlib.import_module(COMMANDS_PACKAGE)
    modules = [
        importlib.import_module(f"{COMMANDS_PACKAGE}.{name}") for name in _command_names(package)
    ]
    return sorted(modules, key=lambda m: (m.ORDER, m.__name__))


def _named_command(argv: Sequence[str]) -> str | None:
    """The command `argv` names before anything else (past the global options), or None when
    it names none plainly or asks for the whole parser (-h, --version)."""
    tokens = iter(argv)
    for token in tokens:
        if token in ("-h", "--help", "--version"):
            return None
        if len(token) > 2 and any(o.startswith(token) for o in (DATA_DIR_OPTION, REDIS_OPTION)):
            next(tokens, None)  # --data-dir DIR, --redis URL (or abbreviated): no command
        elif not token.startswith("-"):
            return token
    return None


def _module_of(command: str) -> ModuleType | None:
    """The module of `command` ("dead-letters": commands/dead_letters.py), or None."""
    name = command.replace("-", "_")
    package = importlib.import_module(COMMANDS_PACKAGE)
    if name.startswith("_") or name not in _command_names(package):
        return None
    return importlib.import_module(f"{COMMANDS_PACKAGE}.{name}")


def add_command(
    sub: Subparsers, common: argparse.ArgumentParser, name: str, help_: str, **kw: Any
) -> argparse.ArgumentParser:
    """A command's subparser, with the global options (--data-dir, -v) after it too."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help=help_, description=help_, parents=[common], **kw
    )
    return parser


def json_flag(p: argparse.ArgumentParser) -> None:
    """The `--json` option: machine-readable output."""
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser of `qtqueue` (global options work before or after the command).

    Given the command line `argv`, only the command it names is set up, and the other command
    modules are not even imported (a few milliseconds of every command's start); with no
    command, `--help`, `--version` or anything unclear, every command is.
    """
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        DATA_DIR_OPTION,
        default=argparse.SUPPRESS,
        metavar="DIR",
        help=f"the queue's data directory (default: ${ENV_DATA_DIR}, else the user data dir)",
    )
    common.add_argument(
        REDIS_OPTION,
        default=argparse.SUPPRESS,
        metavar="URL",
        help="a cluster's Redis, redis://HOST:PORT/DB (no password: the keyring's "
        "'redis:HOST:PORT'; or $QTQUEUE_REDIS_URL): worker runs its tasks, and add, ls, "
        "show, log, cancel, retry, remove, workers and queue work on it",
    )
    common.add_argument(
        "-v", "--verbose", action="count", default=argparse.SUPPRESS, help="more logging (-vv)"
    )
    parser = argparse.ArgumentParser(
        prog="qtqueue",
        description="A desktop task manager and its queue engine. Without a command, opens "
        "the desktop window. Commands work whether or not an engine runs: without one, "
        "tasks are stored for the next engine and reads come from the store.",
        parents=[common],
    )
    parser.add_argument("--version", action=_VersionAction, help="print qtqueue's version")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    command = None if argv is None else _named_command(argv)
    module = None if command is None else _module_of(command)
    if module is not None:
        module.register(sub, common)
        if command in sub.choices:
            return parser
        return build_parser()  # the module names its command otherwise: set up every one
    for module in command_modules():
        module.register(sub, common)
    return parser
