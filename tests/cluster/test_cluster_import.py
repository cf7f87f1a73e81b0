"""A task file imported into a cluster, for real: `qtqueue --redis URL import FILE` and the
window's File › Import tasks… on a real redis-server, the tasks run by a real `qtqueue worker`.
The file is checked as the local import checks it, all or none: a bad entry adds nothing, with
the local code and the entry named."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cluster_window_env
from cluster_control_env import background_worker
from cluster_env import RedisServer, commands_at_once
from cluster_window_env import Run
from helpers.cli import ok, qtqueue_command, refused
from helpers.waiting import eventually, wait_until
from PySide6.QtGui import QAction
from rq.job import Job, JobStatus

from qtqueue.cluster.jobs import SERIALIZER, rq_queue
from qtqueue.cluster.placement import WAITING_KEY
from qtqueue.ui.main_window import MainWindow

# The window's fixtures (a conftest cannot be imported): found by pytest under these names.
window_settings = cluster_window_env.window_settings
loop = cluster_window_env.loop
run = cluster_window_env.run
cluster_window = cluster_window_env.cluster_window


def touching(name: str, path: Path, **fields: Any) -> dict[str, Any]:
    """A task file's entry: a shell command appending a line to `path`."""
    params = {"command": f"echo {name} >> {path}", "shell": True}
    return {"task_type": "custom_command", "name": name, "params": params, **fields}


def task_file(path: Path, *entries: dict[str, Any]) -> Path:
    path.write_text(json.dumps({"format": "qtqueue-tasks", "version": 1, "tasks": entries}))
    return path


def status(redis: RedisServer, job_id: str) -> JobStatus | None:
    return Job.fetch(job_id, connection=redis.client, serializer=SERIALIZER).get_status()


def no_jobs(redis: RedisServer) -> bool:
    return not list(redis.client.scan_iter(match="rq:job:*"))


def test_a_task_file_imported_into_a_cluster_goes_to_its_queues_and_runs(
    redis: RedisServer, tmp_path: Path
) -> None:
    run = qtqueue_command(tmp_path)
    out = tmp_path / "ran.txt"
    path = task_file(
        tmp_path / "tasks.json",
        touching("plain", out),
        touching("urgent", out, priority="HIGH"),
        touching("placed", out, resources={"worker": "w0"}),
    )

    said = ok(run("--redis", redis.url, "import", str(path))).splitlines()

    assert said[0] == "imported 3 task(s)"
    plain, urgent, placed = said[1:]
    assert rq_queue(redis.client, "default").job_ids == [plain]
    assert rq_queue(redis.client, "high_priority").job_ids == [urgent]
    assert redis.client.zscore(WAITING_KEY, placed) is not None  # for the placer, as add --worker
    with background_worker(redis.url, tmp_path, "w0", client=redis.client):
        for job_id in (plain, urgent, placed):
            wait_until(lambda j=job_id: status(redis, j) == JobStatus.FINISHED, timeout_s=30)
    assert sorted(out.read_text().split()) == ["placed", "plain", "urgent"]


def test_a_file_with_a_bad_entry_adds_nothing_on_a_cluster_as_locally(
    redis: RedisServer, tmp_path: Path
) -> None:
    good = touching("fine", tmp_path / "ran.txt")
    bad = {"task_type": "custom_command", "name": "broken", "params": {"commnd": "x"}}
    path = task_file(tmp_path / "mixed.json", good, good, bad)

    cluster, local = commands_at_once(
        tmp_path, ["--redis", redis.url, "import", str(path)], ["import", str(path)]
    )

    said = refused(cluster, "VALIDATION_MISSING_REQUIRED")
    assert "entry 3 (“broken”)" in said and "Nothing was added" in said
    assert refused(local, "VALIDATION_MISSING_REQUIRED").splitlines()[0] in cluster.stderr
    assert no_jobs(redis)

    # What only a cluster refuses (a notify webhook) names the entry too, and adds nothing.
    hooked = task_file(tmp_path / "hooked.json", good, {**good, "notify_webhook": "http://x"})
    said = refused(qtqueue_command(tmp_path)("--redis", redis.url, "import", str(hooked)),
                   "CLUSTER_NOT_SUPPORTED")  # fmt: skip
    assert "entry 2 (“fine”)" in said and "notify_webhook" in said
    assert no_jobs(redis)


def test_the_windows_import_adds_a_files_tasks_to_the_cluster(
    redis: RedisServer, cluster_window: Callable[[str], MainWindow], run: Run, tmp_path: Path
) -> None:
    path = task_file(tmp_path / "tasks.json", touching("a", tmp_path / "a"),
                     touching("b", tmp_path / "b"))  # fmt: skip
    w = cluster_window(redis.url)
    action = w.findChild(QAction, "actionImportTasks")
    assert action is not None and action.isEnabled()

    ids = run(w.data_files.import_from(path))

    assert len(ids) == 2
    assert rq_queue(redis.client, "default").job_ids == ids
    run(eventually(lambda: all(w.model.row_of(i) is not None for i in ids), what="rows shown"))
