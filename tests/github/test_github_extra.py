"""Without gidgethub (the `github` extra) the GitHub types are still listed, and adding one says
what to install; the rest of the engine starts as before."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

WITHOUT_GIDGETHUB = """
import asyncio, json, sys
sys.modules["gidgethub"] = None  # as if qtqueue[github] were not installed
from qtqueue.core.errors import QueueError
from qtqueue.core.task import Task
from qtqueue.engine.queue import TaskQueue
from qtqueue.executors import default_registry

async def main() -> None:
    registry = default_registry(entry_points=False)
    out = {"listed": sorted(n for n in ("github_list_repos", "github_clone") if n in registry)}
    async with TaskQueue(sys.argv[1], registry=registry) as queue:
        try:
            await queue.add_task(Task("github_list_repos", {}))
        except QueueError as exc:
            out["error"] = exc.to_dict()
    print(json.dumps(out))

asyncio.run(main())
"""


def test_without_gidgethub_the_types_are_listed_and_adding_one_says_what_to_install(
    tmp_path: Path,
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_GIDGETHUB, str(tmp_path / "q")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["listed"] == ["github_clone", "github_list_repos"]
    assert out["error"]["code"] == "QUEUE_EXTRA_NOT_INSTALLED"
    assert "pip install 'qtqueue[github]'" in out["error"]["message"]
