"""The one cross-check: the official `vastai` CLI (1.9.1, in its own venv: it pins heavy exact
versions, so it never enters qtqueue's) pointed at the local server with `--url`. It parses the
server's offers, instances and errors, and it sends the same create body as VAST_CREATE: so the
server speaks the API the real one does, and the executors speak it as the CLI does."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers.waiting import eventually
from vast_server import API_KEY, VastServer

from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.engine.queue import TaskQueue

#: The version `make test` installs into `$(VENV)-vastai`.
VASTAI_VERSION = "1.9.1"


def vastai_command() -> str | None:
    """The CLI: $QTQUEUE_VASTAI, else `make test`'s venv beside this one, else on PATH."""
    beside = Path(sys.prefix + "-vastai") / "bin" / "vastai"
    for candidate in (os.environ.get("QTQUEUE_VASTAI"), str(beside), shutil.which("vastai")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


async def cli(vast: VastServer, home: Path, *args: str, key: str = API_KEY) -> tuple[int, str]:
    command = vastai_command()
    assert command is not None
    env = {"HOME": str(home), "PATH": os.environ.get("PATH", ""), "VASTAI_NO_UPDATE_CHECK": "1"}
    process = await asyncio.create_subprocess_exec(
        command, "--url", vast.url, "--api-key", key, "--retry", "1", *args,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        out, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return process.returncode or 0, out.decode()


def raw(out: str) -> Any:
    return json.loads(out[out.index(next(c for c in out if c in "[{")) :])


@pytest.mark.skipif(
    vastai_command() is None,
    reason=f"the vastai CLI is not installed: `make test` puts vastai=={VASTAI_VERSION} into "
    "$(VENV)-vastai (or set QTQUEUE_VASTAI to a vastai command)",
)
async def test_the_official_vastai_cli_reads_the_local_vast_api(
    vq: TaskQueue, vast: VastServer, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()

    code, out = await cli(vast, home, "--raw", "search", "offers", "gpu_name=RTX_4090 dph<0.5")
    assert code == 0, out
    assert [o["id"] for o in raw(out)] == [101]
    code, out = await cli(vast, home, "search", "offers", "num_gpus=8")  # its own table
    assert code == 0 and "H100" in out and "18.5" in out, out

    code, out = await cli(vast, home, "--raw", "create", "instance", "102", "--image", "busybox")
    assert code == 0, out
    made = raw(out)["new_contract"]
    cli_body = vast.creates[-1]
    code, out = await cli(vast, home, "--raw", "show", "instance", str(made))
    assert code == 0 and raw(out)["gpu_name"] == "RTX 4090", out
    code, out = await cli(vast, home, "--raw", "show", "instances")
    assert code == 0 and [i["id"] for i in raw(out)] == [made], out

    # VAST_CREATE sends what the CLI sends (cancel_unavail aside: it wants an error, not a
    # stopped instance), and VAST_LIST sees the CLI's instance.
    task_id = await vq.add_task(Task(TaskType.VAST_CREATE, {"offer_id": 101, "image": "busybox"}))
    ours = await eventually(lambda: len(vast.creates) == 2 and vast.creates[-1], what="a create")
    assert set(ours) == set(cli_body)
    vast.set_status(ours_id := max(vast.instances), "running")
    assert (await vq.wait_for(task_id, timeout_s=30)).status is TaskStatus.COMPLETED
    code, out = await cli(vast, home, "--raw", "show", "instances")
    assert sorted(i["id"] for i in raw(out)) == [made, ours_id]

    code, out = await cli(vast, home, "--raw", "destroy", "instance", str(made), "-y")
    assert code == 0 and made not in vast.instances, out
    code, out = await cli(vast, home, "--raw", "show", "instance", str(made))
    assert raw(out) == {"instances": None}

    # Its error handling reads the server's error body.
    code, out = await cli(vast, home, "show", "instances", key="not-the-key")
    assert "Failed with error 401: Invalid user key" in out, out
