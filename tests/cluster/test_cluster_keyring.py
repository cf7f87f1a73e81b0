"""Secrets on a cluster: the Redis password and a task's credentials come from the worker
machine's keyring (a real Secret Service), never from argv or the job's data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cluster_env import RedisServer, log_lines, redis_server, run_workers
from helpers.cli import refused

from qtqueue.cluster.jobs import SERIALIZER, enqueue
from qtqueue.core.task import Task
from qtqueue.engine.credentials import KeyringVault
from qtqueue.executors import default_registry

REDIS_PASSWORD = "redis-pw-7f3a-not-in-argv"
TOKEN = "deploy-tok-91c2-not-for-redis"


@pytest.fixture
def locked_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server that wants REDIS_PASSWORD."""
    with redis_server(tmp_path / "redis", password=REDIS_PASSWORD) as server:
        yield server


@pytest.mark.usefixtures("secret_service")
def test_a_worker_reads_the_redis_password_and_the_task_credential_from_its_keyring(
    locked_redis: RedisServer, tmp_path: Path
) -> None:
    vault = KeyringVault()
    vault.set(f"redis:127.0.0.1:{locked_redis.port}", REDIS_PASSWORD)
    vault.set("deploy-token", TOKEN)
    seen = tmp_path / "seen"
    task = Task(
        "custom_command",
        {"command": f'printf %s "$TOKEN" > {seen}; echo "token is $TOKEN"', "shell": True,
         "env": {"TOKEN": "keyring:deploy-token"}},
    )  # fmt: skip
    enqueue(locked_redis.client, task, default_registry(entry_points=False))

    worker = run_workers(locked_redis.url, tmp_path)[0]

    assert worker.returncode == 0, worker.stderr
    assert seen.read_text() == TOKEN
    assert log_lines(locked_redis.client, task.id) == ["token is ********"]
    stored = b"".join(
        bytes(v) if isinstance(v, bytes) else str(v).encode()
        for key in locked_redis.client.scan_iter()
        for v in _values(locked_redis, key)
    )
    assert TOKEN.encode() not in stored
    assert REDIS_PASSWORD.encode() not in stored
    assert SERIALIZER.loads(locked_redis.client.hget(f"rq:job:{task.id}", "meta"))["status"] == (
        "completed"
    )


def _values(redis: RedisServer, key: bytes) -> list[object]:
    kind = redis.client.type(key)
    if kind == b"hash":
        return list(redis.client.hgetall(key).values())
    if kind == b"string":
        return [redis.client.get(key)]
    if kind == b"stream":
        return [f for _, fields in redis.client.xrange(key) for f in fields.values()]
    if kind == b"list":
        return list(redis.client.lrange(key, 0, -1))
    return []


@pytest.mark.usefixtures("secret_service")
def test_a_redis_that_wants_a_password_the_keyring_lacks_is_a_coded_error(
    locked_redis: RedisServer, tmp_path: Path
) -> None:
    worker = run_workers(locked_redis.url, tmp_path)[0]

    err = refused(worker, "CLUSTER_REDIS_AUTH_FAILED")
    assert f"'redis:127.0.0.1:{locked_redis.port}'" in err
