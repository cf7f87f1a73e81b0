"""Modules stay small enough to read (issue #11): no module of the package over 600 lines,
except the modules generated from Designer forms and resources, and the engine's facade, which
composes the parts and holds no algorithm, at most 500."""

from __future__ import annotations

from pathlib import Path

import qtqueue

PACKAGE = Path(qtqueue.__file__).parent
GENERATED = PACKAGE / "ui" / "forms"  # pyside6-uic / pyside6-rcc output, checked for freshness
LIMIT = 600
FACADE_LIMIT = 500


def _lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def test_no_module_is_over_600_lines() -> None:
    too_long = {
        str(path.relative_to(PACKAGE)): _lines(path)
        for path in PACKAGE.rglob("*.py")
        if GENERATED not in path.parents and _lines(path) > LIMIT
    }
    assert too_long == {}


def test_the_engine_facade_is_at_most_500_lines() -> None:
    assert _lines(PACKAGE / "engine" / "queue.py") <= FACADE_LIMIT
