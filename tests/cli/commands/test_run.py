"""`qtqueue run`'s parser is built without importing the engine; what it offers is the
engine's own."""

from __future__ import annotations

from qtqueue.cli.commands.run import ON_EXIT_CHOICES
from qtqueue.cli.parser import build_parser
from qtqueue.engine.queue import ShutdownPolicy


def test_on_exit_offers_exactly_the_engines_shutdown_policies() -> None:
    assert tuple(ShutdownPolicy) == ON_EXIT_CHOICES
    args = build_parser().parse_args(["run"])
    assert args.on_exit is None  # left to the saved setting (default: requeue)
    chosen = build_parser().parse_args(["run", "--on-exit", "wait"])
    assert ShutdownPolicy(chosen.on_exit) is ShutdownPolicy.WAIT
