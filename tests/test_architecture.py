"""The layering rules of ARCHITECTURE.md, enforced: the import-linter contracts in pyproject
(Qt only in the window, layers point down from cli to core, nothing outside families imports a
family, engine parts never import the facade, commands other than `run` never import the
engine — lazy imports too — and no cycle between siblings), no import cycle between any two
modules, and what a command actually loads when it starts."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold() -> None:
    """import-linter checks the contracts declared in pyproject.toml."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint_imports), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    with (ROOT / "pyproject.toml").open("rb") as f:
        declared = len(tomllib.load(f)["tool"]["importlinter"]["contracts"])
    assert f"Contracts: {declared} kept, 0 broken" in done.stdout, done.stdout


def test_engine_import_does_not_load_qt() -> None:
    """Importing the public API (what the CLI and headless engine use) loads no Qt at all."""
    code = (
        "import sys, qtqueue, qtqueue.engine, qtqueue.executors;"
        "bad = [m for m in ('PySide6', 'qasync', 'pyqtgraph') if m in sys.modules];"
        "print(','.join(bad))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == ""


# ----------------------------------------------------------------- the command line starts fast

#: What a command that talks to a running engine must not import (issue #11): each costs a
#: large part of a command's start (`bench/cli.py`).
HEAVY = ("qtqueue.engine", "pydantic", "aiohttp")
#: Commands that run the engine themselves, and so may import it.
ENGINE_COMMANDS = frozenset({"run", "worker"})
COMMANDS_DIR = ROOT / "qtqueue" / "cli" / "commands"


def _imported_by(code: str) -> list[str]:
    """Every module `python -c CODE` imports, in a fresh interpreter (`-X importtime`)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True, text=True, timeout=60, check=True, cwd=ROOT,
    )  # fmt: skip
    return [
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "cumulative" not in line
    ]


def _heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)]


def _fast_commands() -> list[str]:
    """The command modules, but those that run the engine."""
    names = sorted(p.stem for p in COMMANDS_DIR.glob("*.py") if not p.stem.startswith("_"))
    assert names, f"no command modules in {COMMANDS_DIR}"
    return [n for n in names if n not in ENGINE_COMMANDS]


@pytest.mark.parametrize("name", _fast_commands())
def test_command_modules_import_neither_the_engine_nor_pydantic_nor_aiohttp(name: str) -> None:
    """Each command module (but those that run the engine) imports none of HEAVY — nor does
    anything it imports: the contract a command's start time rests on."""
    imported = _imported_by(f"import qtqueue.cli.commands.{name}")
    assert f"qtqueue.cli.commands.{name}" in imported
    assert _heavy(imported) == []


def test_the_parser_and_help_load_no_engine() -> None:
    """Building the whole parser (every command module, `run` included) imports none of
    HEAVY: `qtqueue --help` and every command pay only for what they use."""
    assert _heavy(_imported_by("import qtqueue.cli; qtqueue.cli.build_parser()")) == []


def test_the_package_exports_its_names_without_importing_the_engine() -> None:
    """`import qtqueue` is light; `qtqueue.TaskQueue` still works, importing the engine then."""
    assert _heavy(_imported_by("import qtqueue")) == []
    code = "import sys, qtqueue; qtqueue.TaskQueue; print('qtqueue.engine.queue' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "True"


# ------------------------------------------------------------------------- no import cycle


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative): each
    is a set of modules that import each other round a cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def test_no_module_of_the_package_is_in_an_import_cycle() -> None:
    """Across every qtqueue module — a package's `__init__` and its own modules too, which the
    acyclic_siblings contract does not compare — and counting imports made only under
    TYPE_CHECKING or inside functions, no module imports itself round a cycle."""
    graph = grimp.build_graph("qtqueue", cache_dir=None, exclude_type_checking_imports=False)
    assert "qtqueue.engine.queue" in graph.modules
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle_through_a_type_checking_import(tmp_path: Path) -> None:
    """The finder above on a package of three modules whose only cycle closes under
    TYPE_CHECKING: it reports the three."""
    pkg = tmp_path / "cyclepkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("", encoding="utf-8")
    (pkg / "a.py").write_text("import cyclepkg.b\n", encoding="utf-8")
    (pkg / "b.py").write_text("def f():\n    import cyclepkg.c\n", encoding="utf-8")
    (pkg / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import cyclepkg.a\n",
        encoding="utf-8",
    )
    sys.path.insert(0, str(tmp_path))
    try:
        graph = grimp.build_graph("cyclepkg", cache_dir=None)
    finally:
        sys.path.remove(str(tmp_path))
    assert _cycles(graph) == [["cyclepkg.a", "cyclepkg.b", "cyclepkg.c"]]


def test_no_test_module_imports_from_a_conftest() -> None:
    """Every test folder has its own `conftest`, and the first one imported wins the name: a
    test importing helpers from it breaks when another folder is collected first. Helpers live
    in a module of their own name (e.g. tests/github/github_env.py)."""
    tests = Path(__file__).parent
    offenders = [
        str(path.relative_to(tests))
        for path in tests.rglob("*.py")
        if any(
            line.startswith(("from conftest import", "import conftest"))
            for line in path.read_text(encoding="utf-8").splitlines()
        )
    ]
    assert offenders == []
