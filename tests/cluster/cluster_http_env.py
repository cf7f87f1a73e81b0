"""The cluster's HTTP API for the tests: a real `qtqueue run --redis URL --http 127.0.0.1:0`
subprocess (entered once it printed its URL, stopped by its pid) and a small JSON client over
the standard library that sends the data directory's API key."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from api.http_auth_env import http_engine
from helpers.cli import qtqueue_env
from prometheus_client.parser import text_string_to_metric_families

from qtqueue.api.keys import ApiKeys


@dataclass
class ClusterHttp:
    """A running cluster server: its URL, the key it accepts and its log."""

    url: str
    key: str
    log: Path

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """(status, the JSON body, or the text when it is not JSON)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, method=method, data=data)
        req.add_header("Content-Type", "application/json")
        req.add_header("Authorization", f"Bearer {self.key}")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode()

    def get(self, path: str) -> Any:
        """The body of a GET that must answer 200."""
        status, body = self.request("GET", path)
        assert status == 200, (path, status, body)
        return body

    def samples(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """`/metrics` parsed with prometheus_client's own parser: {(name, labels): value}."""
        text = self.get("/metrics")
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }

    def helps(self) -> dict[str, str]:
        """Each metric family's HELP text."""
        return {
            f.name: f.documentation for f in text_string_to_metric_families(self.get("/metrics"))
        }


def sample(samples: dict[Any, float], name: str, **labels: str) -> float | None:
    """One sample's value, None when there is none."""
    return samples.get((name, tuple(sorted(labels.items()))))


@contextmanager
def cluster_http(url: str, tmp_path: Path) -> Iterator[ClusterHttp]:
    """`qtqueue --data-dir TMP/q run --http 127.0.0.1:0 --redis URL` until the block ends."""
    data_dir = tmp_path / "q"
    with http_engine(data_dir, qtqueue_env(tmp_path), tmp_path / "http.log",
                     args=["--redis", url]) as served:  # fmt: skip
        yield ClusterHttp(served.url, ApiKeys(data_dir).current().secret, served.log)
