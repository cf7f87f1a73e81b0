"""The layering rules of ARCHITECTURE.md, enforced: the engine never imports Qt, layers
point down (api -> engine -> executors -> storage -> core), and command-line commands other
than those that run the engine import neither the engine, pydantic nor aiohttp."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

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
    assert re.search(r"Contracts: [1-9]\d* kept, 0 broken", done.stdout), done.stdout


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


#: The contract behind the tests above, for every import path, lazy ones included (the
#: measurement above sees only what importing a module loads). The exemptions are the ways the
#: command line reaches the engine on purpose: `run` runs it, and the local backend opens the
#: store when no engine runs. (To move into pyproject's [tool.importlinter] at merge.)
CLI_CONTRACT = """
[tool.importlinter]
root_packages = ["qtqueue"]
include_external_packages = true
exclude_type_checking_imports = true

[[tool.importlinter.contracts]]
name = "The command line imports neither the engine, pydantic nor aiohttp"
type = "forbidden"
source_modules = ["qtqueue.cli"]
forbidden_modules = ["qtqueue.engine", "pydantic", "aiohttp"]
ignore_imports = [
    "qtqueue.cli.commands.run -> qtqueue.engine.queue",
    "qtqueue.cli.commands.run -> qtqueue.api.server",
    "qtqueue.cli.commands.run -> qtqueue.settings",
    "qtqueue.api.local_backend -> qtqueue.engine.queue",
    "qtqueue.api.local_backend -> qtqueue.settings",
    "qtqueue.api.local_backend -> qtqueue.engine.restore",
    "qtqueue.api.local_backend -> qtqueue.api.actions",
    "qtqueue.api.local_backend -> qtqueue.executors",
    "qtqueue.cli.commands.restore -> qtqueue.storage.backups",
]
"""


def test_the_command_line_reaches_the_engine_only_through_run_and_the_local_backend(
    tmp_path: Path,
) -> None:
    """import-linter, on every import in qtqueue.cli (function-level ones too)."""
    config = tmp_path / "cli-contract.toml"
    config.write_text(CLI_CONTRACT, encoding="utf-8")
    lint_imports = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint_imports), str(config), "--no-cache"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Contracts: 1 kept, 0 broken" in done.stdout
