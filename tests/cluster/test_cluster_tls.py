"""A cluster over TLS, for real: Debian's redis-server with `--tls-port`, a CA and a server
certificate made with `openssl` in the test's directory, `rediss://…?ssl_ca_certs=PATH`."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cluster_env import REDIS_SERVER, free_port, log_lines
from helpers.cli import qtqueue_command
from helpers.waiting import wait_until
from redis import Redis
from rq.job import Job, JobStatus

from qtqueue.cluster.jobs import SERIALIZER

#: A new P-256 key (much faster to make than RSA's).
EC_KEY = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1")


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca(where: Path, name: str) -> Path:
    """A self-signed CA `name`.crt (+ .key) in `where`."""
    openssl("req", "-x509", *EC_KEY, "-nodes", "-days", "2", "-subj", f"/CN={name}",
            "-keyout", f"{name}.key", "-out", f"{name}.crt", cwd=where)  # fmt: skip
    return where / f"{name}.crt"


def make_server_cert(where: Path, ca: str) -> tuple[Path, Path]:
    """server.crt/server.key for 127.0.0.1 (and localhost), signed by the CA `ca`."""
    (where / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("req", *EC_KEY, "-nodes", "-subj", "/CN=127.0.0.1",
            "-keyout", "server.key", "-out", "server.csr", cwd=where)  # fmt: skip
    openssl("x509", "-req", "-in", "server.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
            "-CAcreateserial", "-days", "2", "-extfile", "san.cnf", "-out", "server.crt",
            cwd=where)  # fmt: skip
    return where / "server.crt", where / "server.key"


def tls_url(port: int, ca: Path) -> str:
    """The cluster's URL over TLS, trusting the CA `ca`."""
    return f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={ca}"


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path, Path]:
    """(the CA, another CA, the server's certificate signed by the CA, its key): made once."""
    where = tmp_path_factory.mktemp("tls")
    ca = make_ca(where, "ca")
    other = make_ca(where, "other-ca")
    cert, key = make_server_cert(where, "ca")
    return ca, other, cert, key


@pytest.fixture
def tls_redis(
    tmp_path: Path, certificates: tuple[Path, Path, Path, Path]
) -> Iterator[tuple[int, Path, Path]]:
    """A TLS-only redis-server on 127.0.0.1: (its port, the CA that signed it, another CA)."""
    where = tmp_path / "tls"
    where.mkdir()
    ca, other, cert, key = certificates
    port = free_port()
    proc = subprocess.Popen(
        [REDIS_SERVER, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
         "--tls-cert-file", str(cert), "--tls-key-file", str(key), "--tls-ca-cert-file", str(ca),
         "--tls-auth-clients", "no", "--save", "", "--appendonly", "no", "--dir", str(where)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    client = Redis(host="127.0.0.1", port=port, ssl=True, ssl_ca_certs=str(ca))

    def answers() -> bool:
        assert proc.poll() is None, "redis-server with TLS exited"
        try:
            return bool(client.ping())
        except Exception:  # redis-py's ConnectionError while it starts
            return False

    try:
        wait_until(answers, what="redis-server answering over TLS")
        yield port, ca, other
    finally:
        client.close()
        proc.terminate()
        proc.wait(timeout=10)


def test_a_task_goes_over_tls_to_a_worker_that_runs_it(
    tls_redis: tuple[int, Path, Path], tmp_path: Path
) -> None:
    port, ca, _ = tls_redis
    run, url = qtqueue_command(tmp_path), tls_url(port, ca)

    added = run("--redis", url, "add", "command", "--", "echo", "over tls")
    assert added.returncode == 0, added.stderr
    worker = run("worker", "--redis", url, "--burst", "--name", "w0")

    assert worker.returncode == 0, worker.stderr
    client = Redis(host="127.0.0.1", port=port, ssl=True, ssl_ca_certs=str(ca))
    job = Job.fetch(added.stdout.strip(), connection=client, serializer=SERIALIZER)
    assert job.get_status() == JobStatus.FINISHED
    assert log_lines(client, job.id) == ["over tls"]


def test_a_ca_that_did_not_sign_the_servers_certificate_is_a_coded_tls_error(
    tls_redis: tuple[int, Path, Path], tmp_path: Path
) -> None:
    port, _, other = tls_redis
    run, url = qtqueue_command(tmp_path), tls_url(port, other)

    added = run("--redis", url, "add", "command", "--", "true")
    worker = run("worker", "--redis", url, "--burst")

    for done in (added, worker):
        assert done.returncode == 1
        assert done.stderr.startswith(
            f"error: CLUSTER_REDIS_TLS: the TLS handshake with the cluster's Redis at "
            f"127.0.0.1:{port} failed:"
        ), done.stderr
        assert "certificate verify failed" in done.stderr
        assert "ssl_ca_certs=/path/to/ca.pem" in done.stderr  # the fix, in the hint


def test_a_ca_file_that_is_not_there_or_without_tls_is_refused_before_connecting(
    tmp_path: Path,
) -> None:
    run = qtqueue_command(tmp_path)

    missing = run("worker", "--redis", f"rediss://127.0.0.1:1/0?ssl_ca_certs={tmp_path}/no.pem")
    plain = run("worker", "--redis", f"redis://127.0.0.1:1/0?ssl_ca_certs={tmp_path}")

    assert missing.returncode == 2
    assert "VALIDATION_INVALID_FORMAT" in missing.stderr
    assert f"ssl_ca_certs names no file: {tmp_path}/no.pem" in missing.stderr
    assert plain.returncode == 2
    assert "ssl_ca_certs needs TLS: start it with rediss://" in plain.stderr
