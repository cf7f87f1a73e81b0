"""How the window's modules depend on each other: the tray and the close guard reach the
window only through the ports they declare, and no import cycle runs through the window's
code (import statements under TYPE_CHECKING count too)."""

from __future__ import annotations

import grimp
import pytest


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("qtqueue")


def _window_modules(graph: grimp.ImportGraph) -> list[str]:
    return sorted(m for m in graph.modules if m.startswith("qtqueue.ui") or m == "qtqueue.app")


@pytest.mark.parametrize("module", ["qtqueue.ui.tray", "qtqueue.ui.closing"])
def test_the_tray_and_the_close_guard_do_not_import_the_main_window(
    graph: grimp.ImportGraph, module: str
) -> None:
    assert graph.find_shortest_chain(module, "qtqueue.ui.main_window") is None


def test_no_import_cycle_runs_through_the_window(graph: grimp.ImportGraph) -> None:
    cycles = []
    for module in _window_modules(graph):
        for imported in graph.find_modules_directly_imported_by(module):
            back = graph.find_shortest_chain(imported, module)
            if back is not None:
                cycles.append((module, *back))
    assert cycles == []
