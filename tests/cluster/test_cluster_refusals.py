"""What the cluster's command line refuses, and how: a coded error with a hint, no traceback,
and never a secret repeated."""

from __future__ import annotations

from pathlib import Path

from cluster_env import RedisServer, commands_at_once, free_port
from helpers.cli import refused
from rq import Queue

SECRET = "s3cr3t-Pa55"


def test_a_redis_url_with_a_password_is_refused_without_repeating_it(
    redis: RedisServer, tmp_path: Path
) -> None:
    url = f"redis://:{SECRET}@127.0.0.1:{redis.port}/0"
    in_query = f"redis://127.0.0.1:{redis.port}/0?password={SECRET}"

    worker, added, queried = commands_at_once(
        tmp_path,
        ["worker", "--redis", url, "--burst"],
        ["--redis", url, "add", "command", "--", "true"],
        ["--redis", in_query, "add", "command", "--", "true"],
    )

    for result, status in ((worker, 2), (added, 1), (queried, 1)):
        err = refused(result, "CLUSTER_REDIS_PASSWORD_IN_URL", status)
        assert SECRET not in err + result.stdout
        assert f"127.0.0.1:{redis.port}" in err  # it says which server
    assert Queue("default", connection=redis.client).count == 0


def test_a_redis_that_does_not_answer_is_a_coded_error(tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    worker, added = commands_at_once(
        tmp_path,
        ["worker", "--redis", url, "--burst"],
        ["--redis", url, "add", "command", "--", "true"],
    )

    for result in (worker, added):
        err = refused(result, "CLUSTER_REDIS_UNAVAILABLE")
        assert "cannot reach the cluster's Redis at 127.0.0.1:" in err


def test_what_a_cluster_does_not_do_yet_is_refused_by_name(
    redis: RedisServer, tmp_path: Path
) -> None:
    needs, listing, engine = commands_at_once(
        tmp_path,
        ["--redis", redis.url, "add", "--approval", "human_required", "--needs-cpu", "2",
         "command", "--", "true"],
        ["--redis", redis.url, "cleanup"],
        ["--redis", redis.url, "run", "--until-idle"],
    )

    assert "approval" in refused(needs, "CLUSTER_NOT_SUPPORTED")
    assert "'cleanup' on a cluster" in refused(listing, "CLUSTER_NOT_SUPPORTED")
    assert engine.returncode == 2
    assert "--until-idle: run --redis runs no tasks (the cluster's workers do)" in engine.stderr
    assert Queue("default", connection=redis.client).count == 0


def test_a_task_the_local_engine_refuses_is_refused_with_the_same_code(
    redis: RedisServer, tmp_path: Path
) -> None:
    cluster, local = commands_at_once(
        tmp_path,
        ["--redis", redis.url, "add", "command", "-p", "grace_s=-1", "--", "true"],
        ["add", "command", "-p", "grace_s=-1", "--", "true"],
    )

    refused(cluster, "VALIDATION_INVALID_PARAMS")
    assert refused(local, "VALIDATION_INVALID_PARAMS").splitlines()[0] in cluster.stderr
    assert Queue("default", connection=redis.client).count == 0
