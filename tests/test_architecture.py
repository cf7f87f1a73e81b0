"""The layering rules of ARCHITECTURE.md, enforced: the engine never imports Qt, and layers
point down (api -> engine -> executors -> storage -> core)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

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
