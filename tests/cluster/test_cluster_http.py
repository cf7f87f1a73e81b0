"""`qtqueue run --redis URL --http ADDR`: the REST API, the admin page and /metrics of a cluster,
for real — a real redis-server, real `qtqueue worker` processes and the real server in a
subprocess, reached over HTTP with the data directory's API key (kept in a real keyring)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import psutil
import pytest
from cluster_control_env import background_worker
from cluster_env import RedisServer, free_port, redis_server, run_workers
from cluster_http_env import cluster_http, sample
from helpers.cli import qtqueue_command, refused
from helpers.waiting import wait_until

from qtqueue.cluster.backend import ClusterBackend

pytestmark = pytest.mark.usefixtures("secret_service")  # the API key is in the keyring


def shell(line: str, **fields: object) -> dict[str, object]:
    """The body of `POST /tasks/` for a custom_command running `line` through /bin/sh."""
    return {"task_type": "custom_command", "params": {"command": line, "shell": True}, **fields}


def test_a_task_posted_over_rest_runs_on_a_worker_and_the_list_filters_orders_and_pages(
    redis: RedisServer, tmp_path: Path
) -> None:
    with cluster_http(redis.url, tmp_path) as api:
        status, added = api.request(
            "POST", "/tasks/", shell("echo made-over-rest", name="greet", category="ops")
        )
        assert status == 201, added
        greet = added["task"]
        assert (greet["status"], greet["created_by"], greet["queue"]) == ("pending", "admin",
                                                                          "default")  # fmt: skip
        status, broke = api.request(
            "POST", "/tasks/", shell("exit 3", name="broke", category="ci", max_retries=0)
        )
        assert status == 201, broke
        assert api.get(f"/tasks/{greet['id']}")["task"]["status"] == "pending"

        assert [w.returncode for w in run_workers(redis.url, tmp_path)] == [0]

        shown = api.get(f"/tasks/{greet['id'][:8]}")["task"]  # a prefix, as locally
        assert (shown["id"], shown["status"], shown["result"]) == (greet["id"], "completed",
                                                                   {"exit_code": 0})  # fmt: skip
        assert "made-over-rest" in api.get(f"/tasks/{greet['id']}/log")
        failed = api.get(f"/tasks/{broke['task']['id']}")["task"]
        assert failed["status"] == "failed" and failed["error_code"]

        done = api.get("/tasks/?status=completed")
        assert ([t["id"] for t in done["tasks"]], done["total"]) == ([greet["id"]], 1)
        ci = api.get("/tasks/?category=ci")
        assert [t["name"] for t in ci["tasks"]] == ["broke"]
        newest = api.get("/tasks/?limit=1")
        assert ([t["name"] for t in newest["tasks"]], newest["total"]) == (["broke"], 2)
        by_name = api.get("/tasks/?sort=name&limit=1&offset=1")
        assert [t["name"] for t in by_name["tasks"]] == ["greet"]
        assert api.get("/tasks/?status=pending,running")["total"] == 0
        stats = api.get("/tasks/stats/queue")
        assert stats["status_distribution"] == {"completed": 1, "failed": 1}

        status, bad = api.request("GET", "/tasks/?sort=size")
        assert (status, bad["error"]["code"]) == (400, "VALIDATION_INVALID_PARAMS")
        status, missing = api.request("GET", "/tasks/nosuchtask")
        assert (status, missing["error"]["code"]) == (404, "QUEUE_TASK_NOT_FOUND")
    assert "Traceback" not in api.log.read_text()


def test_metrics_show_depth_and_worker_states_and_delete_cancels_a_running_task(
    redis: RedisServer, tmp_path: Path
) -> None:
    pid_file, go = tmp_path / "t.pid", tmp_path / "t.go"
    hold = f"echo $$ > {pid_file}.tmp; mv {pid_file}.tmp {pid_file}; until [ -e {go} ]; do sleep 0.05; done"  # noqa: E501
    with (
        cluster_http(redis.url, tmp_path) as api,
        background_worker(redis.url, tmp_path, "w0", client=redis.client),
    ):
        wait_until(lambda: sample(api.samples(), "cluster_workers", state="idle") == 1,
                   what="w0 idle in the metrics")  # fmt: skip
        status, held = api.request("POST", "/tasks/", shell(hold, name="hold", max_retries=0))
        assert status == 201, held
        wait_until(pid_file.exists, what="the task's command")
        status, later = api.request("POST", "/tasks/", shell("true", name="later",
                                                            priority="low"))  # fmt: skip
        assert status == 201, later

        m = api.samples()
        assert sample(m, "cluster_workers", state="busy") == 1
        assert sample(m, "cluster_workers", state="idle") == 0
        assert sample(m, "cluster_workers", state="suspended") == 0
        assert sample(m, "tasks_running", queue="default") == 1
        assert sample(m, "queue_depth", queue="low_priority") == 1
        assert sample(m, "queue_depth", queue="default") == 0
        assert sample(m, "cluster_jobs", queue="low_priority", state="queued") == 1
        assert sample(m, "cluster_up") == 1
        helps = api.helps()
        assert "idle, busy, suspended" in helps["cluster_workers"]
        assert "dead letters" in helps["cluster_dead_letters"]

        shell_pid = int(pid_file.read_text())
        status, cancelled = api.request("DELETE", f"/tasks/{held['task']['id']}")
        assert status == 200, cancelled
        wait_until(lambda: not psutil.pid_exists(shell_pid)
                   or psutil.Process(shell_pid).status() == psutil.STATUS_ZOMBIE,
                   what="the cancelled task's shell gone")  # fmt: skip
        wait_until(lambda: api.get(f"/tasks/{held['task']['id']}")["task"]["status"]
                   == "cancelled", what="cancelled")  # fmt: skip
        wait_until(lambda: api.get(f"/tasks/{later['task']['id']}")["task"]["status"]
                   == "completed", what="the next task run")  # fmt: skip

        def counted() -> bool:
            m = api.samples()
            return (sample(m, "cluster_worker_jobs_total", worker="w0", outcome="completed") == 1
                    and sample(m, "queue_depth", queue="low_priority") == 0
                    and sample(m, "cluster_workers", state="idle") == 1)  # fmt: skip

        wait_until(counted, what="w0's completed job counted, idle again")
    assert "Traceback" not in api.log.read_text()


def test_what_a_cluster_does_not_do_answers_its_code_and_redis_gone_is_503_not_500(
    tmp_path: Path,
) -> None:
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(redis_server(tmp_path / "redis"))
        api = stack.enter_context(cluster_http(server.url, tmp_path))
        status, added = api.request("POST", "/tasks/", shell("true", name="t"))
        assert status == 201, added
        task_id = added["task"]["id"]
        refusals = [
            api.request("POST", f"/tasks/{task_id}/approve"),
            api.request("POST", "/tasks/worker/stop"),
            api.request("GET", "/schedules/"),
        ]
        for status, body in refusals:
            assert (status, body["error"]["code"]) == (501, "CLUSTER_NOT_SUPPORTED"), body
            assert body["error"]["suggestion"]
        if getattr(ClusterBackend, "events", None) is None:
            status, body = api.request("GET", "/events")
            assert (status, body["error"]["code"]) == (501, "CLUSTER_NOT_SUPPORTED")
            assert "/events" in body["error"]["message"]
        status, page = api.request("GET", "/admin/tasks")
        assert status == 200 and '"kind":"cluster"' in page

        server.client.shutdown(nosave=True)  # Redis goes away under the running server
        status, body = api.request("GET", "/tasks/")
        assert (status, body["error"]["code"]) == (503, "CLUSTER_REDIS_UNAVAILABLE"), body
        assert sample(api.samples(), "cluster_up") == 0
    assert "Traceback" not in api.log.read_text()


def test_a_password_in_the_url_or_redis_down_at_the_start_is_a_coded_error(
    tmp_path: Path,
) -> None:
    run = qtqueue_command(tmp_path)
    secret = "hunter2-not-in-argv"
    said = refused(run("run", "--redis", f"redis://:{secret}@127.0.0.1:6379/0", "--http",
                       "127.0.0.1:0"), "CLUSTER_REDIS_PASSWORD_IN_URL", exit_status=2)  # fmt: skip
    assert secret not in said
    down = f"redis://127.0.0.1:{free_port()}/0"
    said = refused(run("run", "--redis", down, "--http", "127.0.0.1:0"),
                   "CLUSTER_REDIS_UNAVAILABLE")  # fmt: skip
    assert "cannot reach the cluster's Redis" in said
    no_http = run("run", "--redis", down)
    assert no_http.returncode == 2 and "--http HOST:PORT" in no_http.stderr
    engine_option = run("run", "--redis", down, "--http", "127.0.0.1:0", "--until-idle")
    assert engine_option.returncode == 2 and "runs no tasks" in engine_option.stderr
    assert "Traceback" not in no_http.stderr + engine_option.stderr
