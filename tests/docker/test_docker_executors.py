"""The Docker executors against a real dockerd and real registries (see docker_services.py):
build, tag, push, pull, run, pause, cancel, timeout, stop and remove, through a real TaskQueue,
and the error code each failure gets."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from docker_services import DockerEnv, start_dockerd, stop_dockerd
from helpers.cli import qtqueue_command
from helpers.waiting import eventually

from qtqueue.core.errors import TaskErrorCode
from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.engine.credentials import KeyringVault
from qtqueue.engine.events import EventKind, TaskEvent
from qtqueue.engine.queue import TaskQueue
from qtqueue.executors import ExecutorRegistry
from qtqueue.families.docker import client as docker_client
from qtqueue.families.docker import docker_executors, parse_layer_lines

C = TaskErrorCode
S = TaskStatus
T = TaskType

#: A container command that stops at once on SIGTERM (a plain `sleep` as pid 1 ignores it).
LONG_RUNNING = "trap 'exit 143' TERM; echo started; sleep 60 & wait"

#: How long a daemon-side change may take to show (a real dockerd on a shared machine).
DAEMON_S = 20.0

class Watch:
    """Subscriber keeping every (status, progress, current_step) a task went through."""

    def __init__(self) -> None:
        self.seen: dict[str, list[tuple[TaskStatus, float, str]]] = {}

    def __call__(self, events: list[TaskEvent]) -> None:
        for e in events:
            if e.kind is EventKind.CHANGED and e.task is not None and e.status is not None:
                self.seen.setdefault(e.task_id, []).append(
                    (e.status, e.task.progress, e.task.current_step or "")
                )

    def statuses(self, task_id: str) -> list[TaskStatus]:
        out: list[TaskStatus] = []
        for status, _, _ in self.seen.get(task_id, []):
            if not out or out[-1] != status:
                out.append(status)
        return out


@pytest.fixture
async def dq(data_dir: Path) -> AsyncIterator[TaskQueue]:
    """A queue with the Docker executors only (credentials from the OS keyring)."""
    registry = ExecutorRegistry()
    for executor in docker_executors():
        registry.register(executor)
    async with TaskQueue(data_dir, registry=registry, max_concurrent=4) as queue:
        yield queue


@pytest.fixture
def watch(dq: TaskQueue) -> Watch:
    w = Watch()
    dq.subscribe(w)
    return w


async def submit(queue: TaskQueue, env: DockerEnv, task_type: T, /, **params: Any) -> str:
    fields = {k: params.pop(k) for k in ("timeout_s_task",) if k in params}
    task = Task(task_type, {"docker_host": env.host, **params}, max_retries=0)  # runs once
    if "timeout_s_task" in fields:
        task = Task(task_type, task.params, timeout_s=fields["timeout_s_task"], max_retries=0)
    return await queue.add_task(task)


async def run(queue: TaskQueue, env: DockerEnv, task_type: T, /, **params: Any) -> Task:
    task_id = await submit(queue, env, task_type, **params)
    return await queue.wait_for(task_id, timeout_s=90)


def context(tmp_path: Path, dockerfile: str, **files: str) -> str:
    folder = tmp_path / "ctx"
    folder.mkdir()
    (folder / "Dockerfile").write_text(dockerfile)
    for name, text in files.items():
        (folder / name).write_text(text)
    return str(folder)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def inspect(env: DockerEnv, container: str) -> dict[str, Any] | None:
    import docker.errors

    try:
        info: dict[str, Any] = env.api.inspect_container(container)
    except docker.errors.NotFound:
        return None
    return info


def state(env: DockerEnv, container: str) -> dict[str, Any]:
    info = inspect(env, container)
    return info["State"] if info else {}


def registry_tags(address: str, repository: str, auth: tuple[str, str] | None = None) -> list[str]:
    request = urllib.request.Request(f"http://{address}/v2/{repository}/tags/list")
    if auth is not None:
        import base64

        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request, timeout=5) as reply:
        tags: list[str] = json.load(reply)["tags"]
        return tags


def log_text(queue: TaskQueue, task_id: str) -> str:
    path = queue.log_path(task_id)
    return path.read_text() if path.exists() else ""


def all_bytes_under(folder: Path) -> bytes:
    """Every file the queue wrote (the SQLite database and its WAL, the logs)."""
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


# --- Build and tag ----------------------------------------------------------------------------


async def test_a_build_reports_its_steps_and_logs_the_output_live(
    dq: TaskQueue, watch: Watch, docker_env: DockerEnv, tmp_path: Path
) -> None:
    ctx = context(
        tmp_path,
        f"FROM {docker_env.base_image}\nCOPY note.txt /note.txt\nRUN echo built-$(cat /note.txt)\n",
        **{"note.txt": "marker42"},
    )
    done = await run(dq, docker_env, T.DOCKER_BUILD, context=ctx, tag=["qtq/app:1", "qtq/app:2"])
    assert done.status is S.COMPLETED, done.error
    assert done.result is not None and done.result["image_id"].startswith("sha256:")
    assert done.result["tags"] == ["qtq/app:1", "qtq/app:2"]
    for name in ("qtq/app:1", "qtq/app:2"):
        assert docker_env.api.inspect_image(name)["Id"] == done.result["image_id"]

    log = await dq.read_log(done.id)
    assert "Step 1/3 : FROM qtq/busybox:base" in log
    assert "built-marker42" in log  # the RUN step's own output
    assert watch.statuses(done.id)[:4] == [S.RUNNING, S.VALIDATING, S.PREPARING, S.BUILDING]
    steps = [(pct, step) for status, pct, step in watch.seen[done.id] if status is S.BUILDING]
    assert (33.3, "Step 2/3: COPY note.txt /note.txt") in steps  # 1 of 3 steps done
    assert steps[-1][1] == "Step 3/3: RUN echo built-$(cat /note.txt)"


async def test_a_failing_build_names_the_step_that_failed(
    dq: TaskQueue, docker_env: DockerEnv, tmp_path: Path
) -> None:
    ctx = context(tmp_path, f"FROM {docker_env.base_image}\nRUN echo before-failing && exit 3\n")
    done = await run(dq, docker_env, T.DOCKER_BUILD, context=ctx, tag="qtq/broken:1")
    assert done.status is S.FAILED
    assert done.error_code == C.DOCKER_BUILD_FAILED.value
    assert done.error is not None
    assert "build failed at step 2/2 (RUN echo before-failing && exit 3)" in done.error
    assert "returned a non-zero code: 3" in done.error
    assert done.error_details["step_number"] == 2
    assert done.error_details["total_steps"] == 2
    assert "before-failing" in await dq.read_log(done.id)


async def test_a_build_of_a_missing_folder_fails_before_reaching_the_daemon(
    dq: TaskQueue, docker_env: DockerEnv, tmp_path: Path
) -> None:
    done = await run(dq, docker_env, T.DOCKER_BUILD, context=str(tmp_path / "nowhere"))
    assert done.error_code == C.DATA_FILE_NOT_FOUND.value


async def test_cancelling_a_build_stops_the_step_that_runs(
    dq: TaskQueue, docker_env: DockerEnv, tmp_path: Path
) -> None:
    ctx = context(tmp_path, f"FROM {docker_env.base_image}\nRUN echo sleeping && sleep 60\n")
    task_id = await submit(dq, docker_env, T.DOCKER_BUILD, context=ctx, no_cache=True)
    await eventually(
        lambda: docker_env.api.containers(),
        timeout_s=DAEMON_S,
        what="the build's step container runs",
    )
    began = time.monotonic()
    cancelled = await dq.cancel_task(task_id)
    assert cancelled.status is S.CANCELLED
    assert time.monotonic() - began < 10
    await eventually(
        lambda: not docker_env.api.containers(),
        timeout_s=DAEMON_S,
        what="the daemon stopped the build step",
    )


async def test_tag_names_an_image_and_a_missing_source_is_image_not_found(
    dq: TaskQueue, docker_env: DockerEnv
) -> None:
    done = await run(
        dq, docker_env, T.DOCKER_TAG, source=docker_env.base_image, target="qtq/tagged:7"
    )
    assert done.status is S.COMPLETED, done.error
    assert done.result is not None and done.result["target"] == "qtq/tagged:7"
    base_id = docker_env.api.inspect_image(docker_env.base_image)["Id"]
    assert docker_env.api.inspect_image("qtq/tagged:7")["Id"] == base_id == done.result["image_id"]

    missing = await run(dq, docker_env, T.DOCKER_TAG, source="qtq/none:1", target="qtq/x:1")
    assert missing.status is S.FAILED
    assert missing.error_code == C.DOCKER_IMAGE_NOT_FOUND.value


# --- Push and pull ----------------------------------------------------------------------------


async def test_a_push_to_an_open_registry_reports_layer_progress(
    dq: TaskQueue, watch: Watch, docker_env: DockerEnv
) -> None:
    done = await run(
        dq,
        docker_env,
        T.DOCKER_PUSH,
        image_name="qtq/busybox",
        tag="base",
        registry=docker_env.open_registry,
    )
    assert done.status is S.COMPLETED, done.error
    assert done.result is not None
    assert done.result["image"] == f"{docker_env.open_registry}/qtq/busybox:base"
    assert done.result["digest"].startswith("sha256:")
    assert registry_tags(docker_env.open_registry, "qtq/busybox") == ["base"]
    assert S.UPLOADING in watch.statuses(done.id)
    uploading = [(p, step) for s, p, step in watch.seen[done.id] if s is S.UPLOADING]
    assert uploading[-1][0] == 100.0
    assert uploading[-1][1].startswith("Pushing: ") and " MB / " in uploading[-1][1]
    layers = parse_layer_lines(await dq.read_log(done.id))
    assert layers and all(state.status == "Pushed" for state in layers.values())


@pytest.mark.usefixtures("secret_service")
async def test_registry_logins_come_from_the_keyring_and_never_leak(
    dq: TaskQueue, docker_env: DockerEnv, data_dir: Path
) -> None:
    vault = KeyringVault()
    wrong = "wrong-pw-5e0a19"
    await asyncio.to_thread(vault.set, "registry-wrong", f"{docker_env.user}:{wrong}")
    await asyncio.to_thread(
        vault.set,
        "registry-login",
        json.dumps({"username": docker_env.user, "password": docker_env.password}),
    )
    target = {"image_name": "qtq/busybox", "tag": "base", "registry": docker_env.auth_registry}

    anonymous = await run(dq, docker_env, T.DOCKER_PUSH, **target)
    assert anonymous.error_code == C.DOCKER_AUTHENTICATION_FAILED.value
    refused = await run(dq, docker_env, T.DOCKER_PUSH, credential="registry-wrong", **target)
    assert refused.status is S.FAILED
    assert refused.error_code == C.DOCKER_AUTHENTICATION_FAILED.value
    pushed = await run(dq, docker_env, T.DOCKER_PUSH, credential="registry-login", **target)
    assert pushed.status is S.COMPLETED, pushed.error
    auth = (docker_env.user, docker_env.password)
    assert registry_tags(docker_env.auth_registry, "qtq/busybox", auth) == ["base"]

    # Pulled back with the same login; without it the registry refuses.
    image = f"{docker_env.auth_registry}/qtq/busybox:base"
    docker_env.api.remove_image(image)
    bad_pull = await run(dq, docker_env, T.DOCKER_PULL, image=image, credential="registry-wrong")
    assert bad_pull.error_code == C.DOCKER_AUTHENTICATION_FAILED.value
    pulled = await run(dq, docker_env, T.DOCKER_PULL, image=image, credential="registry-login")
    assert pulled.status is S.COMPLETED, pulled.error

    tasks = [anonymous, refused, pushed, bad_pull, pulled]
    for task in tasks:
        shown = json.dumps([task.error, task.error_details, task.result, task.params])
        assert docker_env.password not in shown and wrong not in shown
        log = await dq.read_log(task.id)
        assert docker_env.password not in log and wrong not in log
    await dq.close()  # everything it wrote is on disk now
    written = all_bytes_under(data_dir)
    assert written  # the database and the logs
    assert docker_env.password.encode() not in written
    assert wrong.encode() not in written


async def test_an_image_removed_here_is_pulled_back_layer_by_layer(
    dq: TaskQueue, watch: Watch, docker_env: DockerEnv, tmp_path: Path
) -> None:
    api = docker_env.api
    # One layer of its own (random, so never shared) on top of the base image's layers.
    ctx = context(
        tmp_path, f"FROM {docker_env.base_image}\nRUN head -c 3000000 /dev/urandom > /blob\n"
    )
    built = await run(dq, docker_env, T.DOCKER_BUILD, context=ctx, tag="qtq/layered:1")
    assert built.status is S.COMPLETED, built.error
    pushed = await run(
        dq,
        docker_env,
        T.DOCKER_PUSH,
        image_name="qtq/layered",
        tag="1",
        registry=docker_env.open_registry,
    )
    assert pushed.status is S.COMPLETED, pushed.error
    assert built.result is not None and pushed.result is not None
    api.remove_image(built.result["image_id"], force=True)  # every name of it, and its layer

    image = f"{docker_env.open_registry}/qtq/layered"
    done = await run(dq, docker_env, T.DOCKER_PULL, image=image, tag="1")
    assert done.status is S.COMPLETED, done.error
    assert done.result is not None
    assert done.result["digest"] == pushed.result["digest"]
    assert done.result["image_id"] == built.result["image_id"]
    assert done.result["status"] == f"Downloaded newer image for {image}:1"

    pulling = [(p, step) for s, p, step in watch.seen[done.id] if s is S.PULLING]
    assert pulling[-1] == (100.0, "Pulling: 3.0 MB / 3.0 MB")  # the random layer's bytes
    percents = [p for p, _ in pulling]
    assert percents == sorted(percents)  # it never went back
    log = await dq.read_log(done.id)
    layers = parse_layer_lines(log)
    statuses = {state.status for state in layers.values()}
    assert "Already exists" in statuses  # the base image's layers
    assert "Pull complete" in statuses  # the random layer
    blob = next(state for state in layers.values() if state.status == "Pull complete")
    assert blob.total is not None and blob.total > 1_000_000 and blob.current == blob.total
    assert "Downloading" in log


async def test_pushing_what_is_not_here_or_to_no_registry_says_which(
    dq: TaskQueue, docker_env: DockerEnv
) -> None:
    absent = await run(
        dq, docker_env, T.DOCKER_PUSH, image_name=f"{docker_env.open_registry}/qtq/none"
    )
    assert absent.error_code == C.DOCKER_IMAGE_NOT_FOUND.value
    nobody = f"127.0.0.1:{free_port()}"  # nothing listens there
    unreachable = await run(
        dq, docker_env, T.DOCKER_PUSH, image_name="qtq/busybox", tag="base", registry=nobody
    )
    assert unreachable.error_code == C.DOCKER_NETWORK_ERROR.value
    assert "connection refused" in (unreachable.error or "")


async def test_pulling_a_missing_image_is_image_not_found(
    dq: TaskQueue, docker_env: DockerEnv
) -> None:
    done = await run(dq, docker_env, T.DOCKER_PULL, image=f"{docker_env.open_registry}/qtq/none")
    assert done.status is S.FAILED
    assert done.error_code == C.DOCKER_IMAGE_NOT_FOUND.value
    assert "not found" in (done.error or "")


# --- Run ------------------------------------------------------------------------------------


async def test_a_container_s_output_reaches_the_log(dq: TaskQueue, docker_env: DockerEnv) -> None:
    done = await run(
        dq,
        docker_env,
        T.DOCKER_RUN,
        image=docker_env.base_image,
        command=["sh", "-c", 'echo "to stdout $GREETING"; echo to-stderr >&2'],
        env={"GREETING": "hi"},
        auto_remove=True,
    )
    assert done.status is S.COMPLETED, done.error
    assert done.result is not None and done.result["exit_code"] == 0
    log = await dq.read_log(done.id)
    assert "to stdout hi\n" in log and "to-stderr\n" in log
    assert inspect(docker_env, done.result["container_id"]) is None  # auto_remove


async def test_a_non_zero_exit_fails_with_the_exit_code(
    dq: TaskQueue, docker_env: DockerEnv
) -> None:
    done = await run(
        dq,
        docker_env,
        T.DOCKER_RUN,
        image=docker_env.base_image,
        command="sh -c 'echo bad; exit 3'",
    )
    assert done.status is S.FAILED
    assert done.error_code == C.SYSTEM_COMMAND_FAILED.value
    assert done.error_details["exit_code"] == 3
    assert done.error is not None and done.error.endswith("exited with code 3: bad")
    assert state(docker_env, done.error_details["container_id"])["ExitCode"] == 3


async def test_running_a_missing_image_is_image_not_found(
    dq: TaskQueue, docker_env: DockerEnv
) -> None:
    done = await run(dq, docker_env, T.DOCKER_RUN, image="qtq/none:1")
    assert done.error_code == C.DOCKER_IMAGE_NOT_FOUND.value


async def test_pause_freezes_the_container_and_cancel_stops_it(
    dq: TaskQueue, docker_env: DockerEnv
) -> None:
    task_id = await submit(
        dq, docker_env, T.DOCKER_RUN, image=docker_env.base_image,
        command=["sh", "-c", LONG_RUNNING], name="qtq-paused",
    )  # fmt: skip
    await eventually(
        lambda: state(docker_env, "qtq-paused").get("Running"), timeout_s=DAEMON_S, what="it runs"
    )
    await eventually(
        lambda: "started" in log_text(dq, task_id), timeout_s=DAEMON_S, what="its output is logged"
    )

    assert (await dq.pause_task(task_id)).status is S.PAUSED
    assert state(docker_env, "qtq-paused")["Paused"] is True
    assert (await dq.resume_task(task_id)).status is S.RUNNING
    assert state(docker_env, "qtq-paused")["Paused"] is False

    await dq.pause_task(task_id)  # cancelled while paused: thawed, then stopped
    cancelled = await dq.cancel_task(task_id)
    assert cancelled.status is S.CANCELLED
    after = state(docker_env, "qtq-paused")
    assert after["Running"] is False and after["ExitCode"] == 143  # it got SIGTERM


async def test_a_timed_out_container_is_stopped_and_removed(
    dq: TaskQueue, docker_env: DockerEnv
) -> None:
    task_id = await submit(
        dq, docker_env, T.DOCKER_RUN, image=docker_env.base_image,
        command=["sh", "-c", LONG_RUNNING], name="qtq-slow", auto_remove=True, timeout_s_task=1.5,
    )  # fmt: skip
    done = await dq.wait_for(task_id, timeout_s=30)
    assert done.status is S.TIMEOUT
    assert done.error_code == C.SYSTEM_TIMEOUT.value
    assert inspect(docker_env, "qtq-slow") is None


async def test_stop_and_remove_and_the_codes_of_their_failures(
    dq: TaskQueue, docker_env: DockerEnv
) -> None:
    started = await run(
        dq, docker_env, T.DOCKER_RUN, image=docker_env.base_image,
        command=["sh", "-c", LONG_RUNNING], name="qtq-web", detach=True,
    )  # fmt: skip
    assert started.status is S.COMPLETED, started.error
    assert started.result is not None and started.result["detached"] is True
    assert state(docker_env, started.result["container_id"])["Running"] is True

    # The name is taken by a running container.
    again = await run(
        dq, docker_env, T.DOCKER_RUN, image=docker_env.base_image, name="qtq-web", detach=True
    )
    assert again.error_code == C.DOCKER_CONTAINER_ALREADY_RUNNING.value
    assert "already in use" in (again.error or "")
    # A running container is not removed without force.
    busy = await run(dq, docker_env, T.DOCKER_REMOVE, container="qtq-web")
    assert busy.error_code == C.DOCKER_CONTAINER_ALREADY_RUNNING.value

    stopped = await run(dq, docker_env, T.DOCKER_STOP, container="qtq-web", timeout_s=5)
    assert stopped.status is S.COMPLETED, stopped.error
    assert stopped.result is not None
    assert stopped.result["was_running"] is True and stopped.result["exit_code"] == 143
    assert state(docker_env, "qtq-web")["Running"] is False

    removed = await run(dq, docker_env, T.DOCKER_REMOVE, container="qtq-web")
    assert removed.status is S.COMPLETED, removed.error
    assert inspect(docker_env, "qtq-web") is None

    for task_type in (T.DOCKER_STOP, T.DOCKER_REMOVE):
        missing = await run(dq, docker_env, task_type, container="qtq-web")
        assert missing.error_code == C.DOCKER_CONTAINER_NOT_FOUND.value


async def test_force_kills_and_removes_a_running_container(
    dq: TaskQueue, docker_env: DockerEnv
) -> None:
    async def start() -> str:
        started = await run(
            dq, docker_env, T.DOCKER_RUN, image=docker_env.base_image,
            command=["sleep", "60"], detach=True,
        )  # fmt: skip
        assert started.status is S.COMPLETED, started.error
        assert started.result is not None
        container: str = started.result["container_id"]
        return container

    # `sleep` as pid 1 ignores SIGTERM: only SIGKILL ends it quickly.
    container = await start()
    began = time.monotonic()
    killed = await run(dq, docker_env, T.DOCKER_STOP, container=container, force=True)
    assert killed.status is S.COMPLETED, killed.error
    assert time.monotonic() - began < 5
    assert state(docker_env, container)["ExitCode"] == 137

    container = await start()
    began = time.monotonic()
    removed = await run(
        dq, docker_env, T.DOCKER_REMOVE, container=container, force=True, timeout_s=1
    )
    assert removed.status is S.COMPLETED, removed.error
    assert time.monotonic() - began < 5
    assert inspect(docker_env, container) is None


# --- No daemon ------------------------------------------------------------------------------


def stale_socket(folder: Path) -> str:
    """A socket file nobody listens on: what a crashed daemon leaves behind."""
    path = folder / "dead.sock"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(path))
    return f"unix://{path}"


async def test_without_docker_host_the_daemon_is_the_one_docker_host_names(
    dq: TaskQueue, docker_env: DockerEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", docker_env.host)
    task = Task(T.DOCKER_TAG, {"source": docker_env.base_image, "target": "qtq/by-env:1"})
    done = await dq.wait_for(await dq.add_task(task), timeout_s=30)
    assert done.status is S.COMPLETED, done.error
    assert docker_env.api.inspect_image("qtq/by-env:1")


async def test_a_daemon_that_does_not_answer_fails_after_the_connect_timeout(
    dq: TaskQueue, docker_env: DockerEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(docker_client, "CONNECT_TIMEOUT_S", 0.5)
    path = tmp_path / "hung.sock"
    with socket.socket(socket.AF_UNIX) as hung:  # listens, never answers
        hung.bind(str(path))
        hung.listen(8)
        began = time.monotonic()
        task = Task(
            T.DOCKER_PULL, {"image": "busybox", "docker_host": f"unix://{path}"}, max_retries=0
        )
        done = await dq.wait_for(await dq.add_task(task), timeout_s=10)
    assert time.monotonic() - began < 3
    assert done.error_code == C.DOCKER_DAEMON_UNAVAILABLE.value
    assert "no answer within 0.5 s" in (done.error or "")


@pytest.mark.parametrize("where", ["missing-socket", "stale-socket"])
async def test_a_daemon_that_is_not_there_fails_at_once(
    dq: TaskQueue, docker_env: DockerEnv, tmp_path: Path, where: str
) -> None:
    host = stale_socket(tmp_path) if where == "stale-socket" else f"unix://{tmp_path}/none.sock"
    for task_type, params in (
        (T.DOCKER_PULL, {"image": "busybox"}),
        (T.DOCKER_RUN, {"image": "busybox"}),
    ):
        began = time.monotonic()
        done = await dq.wait_for(
            await dq.add_task(Task(task_type, {**params, "docker_host": host}, max_retries=0)),
            timeout_s=10,
        )
        assert time.monotonic() - began < 2
        assert done.status is S.FAILED
        assert done.error_code == C.DOCKER_DAEMON_UNAVAILABLE.value
        assert host in (done.error or "")


def test_a_socket_this_user_may_not_open_is_permission_denied(tmp_path: Path) -> None:
    """What a user outside the 'docker' group meets: the kernel refuses to connect to the
    daemon's socket. Root ignores file modes, so the CLI runs as root without the two
    capabilities that let it (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH), against a socket whose
    mode lets nobody in."""
    if os.geteuid() != 0:
        pytest.skip("needs root to drop capabilities with setpriv")
    sock = tmp_path / "denied.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(sock))
    listener.listen()
    sock.chmod(0)
    qtqueue = qtqueue_command(
        tmp_path, prefix=["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
    )

    try:
        added = qtqueue("add", "docker_pull", "--param", "image=busybox",
                        "--param", f"docker_host=unix://{sock}", "--max-retries", "0",
                        "--json")  # fmt: skip
        assert added.returncode == 0, added.stderr
        task_id = json.loads(added.stdout)["id"]
        assert qtqueue("run", "--until-idle").returncode == 0
        shown = qtqueue("show", task_id, "--json")
        assert shown.returncode == 0, shown.stderr
        task = json.loads(shown.stdout)
    finally:
        listener.close()
    assert task["status"] == "failed"
    assert task["error"]["code"] == C.DOCKER_PERMISSION_DENIED.value
    assert str(sock) in task["error"]["message"]
    assert "docker" in task["error"]["suggestion"]  # join the 'docker' group, or rootless


async def test_cancelling_a_push_mid_transfer_stops_it_and_the_registry_gets_no_tag(
    dq: TaskQueue, watch: Watch, docker_env: DockerEnv, tmp_path: Path
) -> None:
    """A layer of 160 MB of random bytes (the daemon gzips it while it uploads: seconds, not
    milliseconds, on loopback) is cancelled once its progress is under way."""
    folder = tmp_path / "big"
    folder.mkdir()
    (folder / "Dockerfile").write_text("FROM scratch\nCOPY blob /blob\n")
    with (folder / "blob").open("wb") as out:
        for _ in range(160):
            out.write(os.urandom(1 << 20))
    built = await run(dq, docker_env, T.DOCKER_BUILD, context=str(folder), tag="qtq/big:1")
    assert built.status is S.COMPLETED, built.error

    task_id = await submit(
        dq, docker_env, T.DOCKER_PUSH, image_name="qtq/big", tag="1",
        registry=docker_env.open_registry,
    )  # fmt: skip

    def under_way() -> bool:
        return any(s is S.UPLOADING and 0 < p < 100 for s, p, _ in watch.seen.get(task_id, []))

    await eventually(under_way, timeout_s=DAEMON_S, what="the upload is under way")
    began = time.monotonic()
    cancelled = await dq.cancel_task(task_id)
    assert cancelled.status is S.CANCELLED
    assert time.monotonic() - began < 10
    done = await dq.wait_for(task_id, timeout_s=10)
    assert done.status is S.CANCELLED and done.progress < 100
    try:
        tags = registry_tags(docker_env.open_registry, "qtq/big")
    except urllib.error.HTTPError as exc:  # the repository never came to exist
        assert exc.code == 404
        tags = []
    assert "1" not in tags


async def test_the_docker_host_of_the_settings_serves_tasks_that_name_none(
    docker_env: DockerEnv, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The window's Docker host setting (TaskQueue.executor_settings) wins over $DOCKER_HOST;
    a task's own docker_host wins over both."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/not-this-one.sock")
    registry = ExecutorRegistry()
    for executor in docker_executors():
        registry.register(executor)
    settings = {"docker_host": docker_env.host}
    async with TaskQueue(data_dir, registry=registry, executor_settings=settings) as queue:
        tagged = await queue.wait_for(
            await queue.add_task(
                Task(T.DOCKER_TAG, {"source": docker_env.base_image, "target": "qtq/setting:1"})
            ),
            timeout_s=30,
        )
        assert tagged.status is S.COMPLETED, tagged.error
        assert docker_env.api.inspect_image("qtq/setting:1")["Id"]
        elsewhere = f"unix://{tmp_path}/task-own.sock"
        params = {"source": docker_env.base_image, "target": "qtq/x:1", "docker_host": elsewhere}
        own = await queue.wait_for(
            await queue.add_task(Task(T.DOCKER_TAG, params, max_retries=0)), timeout_s=30
        )
        assert own.error_code == C.DOCKER_DAEMON_UNAVAILABLE.value
        assert elsewhere in (own.error or "")


async def test_a_daemon_that_was_stopped_gives_a_clear_error_at_once(
    dq: TaskQueue, docker_env: DockerEnv
) -> None:
    """A second real dockerd serves a task, is stopped (by its pid), and the next task fails
    at once with DOCKER_DAEMON_UNAVAILABLE naming the host, nothing hanging."""
    import shutil
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="qd2", dir="/tmp"))
    try:
        daemon, host = start_dockerd(root)
        try:
            listed = await dq.wait_for(
                await dq.add_task(Task(T.DOCKER_TAG, {"source": "nothing-here", "target": "x",
                                                      "docker_host": host}, max_retries=0)),
                timeout_s=30,
            )  # the daemon answers: the image is missing, not the daemon
            assert listed.error_code == C.DOCKER_IMAGE_NOT_FOUND.value
        finally:
            stop_dockerd(daemon, root)
        began = time.monotonic()
        params = {"source": "nothing-here", "target": "x", "docker_host": host}
        done = await dq.wait_for(
            await dq.add_task(Task(T.DOCKER_TAG, params, max_retries=0)), timeout_s=10
        )
        assert time.monotonic() - began < 2
        assert done.status is S.FAILED
        assert done.error_code == C.DOCKER_DAEMON_UNAVAILABLE.value
        assert host in (done.error or "")
    finally:
        shutil.rmtree(root, ignore_errors=True)
