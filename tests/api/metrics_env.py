"""For the metrics tests: a scrape of `/metrics` parsed into samples, and a real Prometheus
(Debian's `/usr/bin/prometheus`) on 127.0.0.1 that scrapes it every second."""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from api.http_auth_env import bearer

PROMETHEUS = shutil.which("prometheus")


async def scrape(url: str, data_dir: Path) -> list[Sample]:
    """GET `url`/metrics with the API key of `data_dir` and parse every sample of its text
    format (the test needs the `secret_service` fixture)."""
    headers = bearer(data_dir)
    async with (
        aiohttp.ClientSession() as session,
        session.get(url + "/metrics", headers=headers) as r,
    ):
        assert r.status == 200, await r.text()
        assert r.headers["Content-Type"].startswith("text/plain")
        text = await r.text()
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def value(samples: list[Sample], name: str, **labels: str) -> float | None:
    """The value of the sample `name` with exactly these labels (None: no such sample)."""
    found = [s.value for s in samples if s.name == name and s.labels == labels]
    assert len(found) <= 1, found
    return found[0] if found else None


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def prometheus(workdir: Path, target: str, key: str) -> Iterator[str]:
    """Run Prometheus scraping `target` (host:port) every second with `key` as its bearer
    credentials; yields its base URL; stops it (by its pid) afterwards."""
    assert PROMETHEUS is not None
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n"
        "  - job_name: qtqueue\n    metrics_path: /metrics\n"
        f"    authorization:\n      credentials: {key}\n"
        f"    static_configs:\n      - targets: ['{target}']\n"
    )
    config.chmod(0o600)
    port = free_port()
    log = (workdir / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
