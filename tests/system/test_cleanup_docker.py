"""SYSTEM_CLEANUP's Docker part against a real dockerd (conftest's `dockerd_host`): a dry run
lists the dangling image and the stopped container and removes nothing; the real run removes
them and reports the space freed; a running container and a tagged image stay."""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from system_env import run

from qtqueue.core.task import TaskStatus, TaskType
from qtqueue.engine.queue import TaskQueue

S = TaskStatus
T = TaskType
BUSYBOX = "/bin/busybox"


@pytest.fixture(scope="module")
def leftovers(dockerd_host: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A dangling image (a tag moved to a newer build), a stopped container, a running one."""
    docker = pytest.importorskip("docker")
    if not Path(BUSYBOX).exists():
        pytest.fail("busybox-static is not installed (`make test` installs it)")
    client = docker.DockerClient(base_url=dockerd_host, timeout=60)
    context = tmp_path_factory.mktemp("ctx")
    shutil.copy(BUSYBOX, context / "busybox")
    for n in (1, 2):
        (context / "payload").write_bytes(os.urandom(1 << 20))  # a layer of its own
        (context / "Dockerfile").write_text(
            f'FROM scratch\nCOPY busybox /bin/busybox\nCOPY payload /payload\nLABEL build="{n}"\n'
            'CMD ["/bin/busybox", "sleep", "600"]\n'
        )
        image, _ = client.images.build(path=str(context), tag="qtq/sys:latest", rm=True)
    stopped = client.containers.run(image.id, ["/bin/busybox", "true"], detach=True,
                                    network_mode="none", name="qtq-stopped")  # fmt: skip
    stopped.wait(timeout=30)
    running = client.containers.run(image.id, detach=True, network_mode="none", name="qtq-up")
    try:
        yield client
    finally:
        running.remove(force=True)
        client.close()


async def test_docker_leftovers_are_listed_then_removed_against_the_suites_real_daemon(
    queue: TaskQueue, tmp_path: Path, dockerd_host: str, leftovers: Any
) -> None:
    client = leftovers
    dangling = [i.id for i in client.images.list(filters={"dangling": True})]
    assert len(dangling) == 1
    params = {
        "roots": [str(tmp_path)],
        "qtqueue_logs": False,
        "docker": True,
        "docker_host": dockerd_host,
    }
    dry = await run(queue, T.SYSTEM_CLEANUP, params)
    assert dry.status is S.COMPLETED, dry.error
    assert dry.result is not None
    found = dry.result["docker"]
    assert found["available"] is True
    assert (found["containers"], found["images"]) == (["qtq-stopped"], dangling)
    assert dry.result["would_free_bytes"] == found["image_bytes"] > 0
    assert client.images.list(filters={"dangling": True})

    done = await run(queue, T.SYSTEM_CLEANUP, {**params, "dry_run": False})
    assert done.status is S.COMPLETED, done.error
    assert done.result is not None
    assert dangling[0] in done.result["docker"]["images_removed"]  # with its own layers
    assert client.images.list(filters={"dangling": True}) == []
    names = [c.name for c in client.containers.list(all=True)]
    assert names == ["qtq-up"]
    assert client.images.get("qtq/sys:latest")
    assert done.result["freed_bytes"] >= 1 << 20  # the dangling image's own layer


async def test_no_daemon_is_said_so_and_the_rest_still_runs(
    queue: TaskQueue, tmp_path: Path
) -> None:
    params = {
        "roots": [str(tmp_path)],
        "qtqueue_logs": False,
        "docker": True,
        "docker_host": f"unix://{tmp_path}/no.sock",
    }
    done = await run(queue, T.SYSTEM_CLEANUP, params)
    assert done.status is S.COMPLETED, done.error
    assert done.result is not None
    assert done.result["docker"]["available"] is False
    assert "no Docker daemon answers" in done.result["docker"]["reason"]


class FailingDaemon(BaseHTTPRequestHandler):
    """The Docker Engine API as a daemon in trouble answers it: /version and the listings
    answer; `fail` (a path ending) gets the daemon's documented error body {"message"} with
    `status`; the container prune reports one removed container."""

    fail = "/containers/json"
    status = 500

    def log_message(self, *args: Any) -> None:
        """Quiet."""

    def _answer(self, code: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # the stdlib's names
        self._route()

    def do_POST(self) -> None:
        self._route()

    def _route(self) -> None:
        path = self.path.split("?")[0]
        if path.endswith(self.fail):
            self._answer(self.status, {"message": "server error: storage driver broke"})
        elif path.endswith("/version"):
            self._answer(200, {"ApiVersion": "1.43", "Version": "24.0.0"})
        elif path.endswith("/containers/prune"):
            self._answer(200, {"ContainersDeleted": ["c0ffee"], "SpaceReclaimed": 10})
        else:
            self._answer(200, [])


@pytest.mark.parametrize(
    ("fail", "status", "code", "removed"),
    [
        ("/containers/json", 500, "DOCKER_DAEMON_UNAVAILABLE", False),
        ("/images/prune", 500, "DOCKER_DAEMON_UNAVAILABLE", True),
        ("/containers/json", 403, "DOCKER_PERMISSION_DENIED", False),
    ],
)
async def test_a_docker_api_error_fails_coded_keeping_what_went_against_local_docker_api(
    queue: TaskQueue, tmp_path: Path, fail: str, status: int, code: str, removed: bool
) -> None:
    pytest.importorskip("docker")
    handler = type("Daemon", (FailingDaemon,), {"fail": fail, "status": status})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        params = {
            "roots": [str(tmp_path)],
            "qtqueue_logs": False,
            "docker": True,
            "dry_run": False,
            "docker_host": f"tcp://127.0.0.1:{server.server_port}",
        }
        done = await run(queue, T.SYSTEM_CLEANUP, params)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert done.status is S.FAILED
    assert done.error_code == code, done.error
    log = await queue.read_log(done.id)
    assert f"{tmp_path}: removed 0 files" in log  # the files' part ran and is reported
    if status == 500:
        assert "storage driver broke" in (done.error or "")
    assert ("c0ffee" in log) is removed
