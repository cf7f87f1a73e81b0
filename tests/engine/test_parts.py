"""The engine is a set of parts behind a facade: no part imports the facade, and the engine's
modules import each other without a cycle, counting imports made only for type checking."""

from __future__ import annotations

import ast
from pathlib import Path

import qtqueue.engine

ENGINE = Path(qtqueue.engine.__file__).parent
FACADE = "qtqueue.engine.queue"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ENGINE.parent.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _engine_imports() -> dict[str, set[str]]:
    """Every engine module -> the engine modules it imports anywhere (TYPE_CHECKING too);
    the package itself (which re-exports the facade) left out."""
    modules = {_module_name(p): p for p in ENGINE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module)
                found.update(f"{node.module}.{a.name}" for a in node.names)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
        graph[name] = {m for m in found if m in modules and m != name}
    left_out = {"qtqueue.engine"}
    return {m: deps - left_out for m, deps in graph.items() if m not in left_out}


def _reaches(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in graph[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_no_part_the_facade_composes_imports_the_facade() -> None:
    graph = _engine_imports()
    parts = _reaches(graph, FACADE) - {FACADE}
    assert {"qtqueue.engine.lifecycle", "qtqueue.engine.dispatch", "qtqueue.engine.runner"} <= parts
    offenders = sorted(p for p in parts if FACADE in graph[p])
    assert offenders == []


def test_the_engine_parts_import_each_other_without_a_cycle() -> None:
    graph = _engine_imports()
    in_cycle = sorted(m for m in graph if m in _reaches(graph, m))
    assert in_cycle == []
