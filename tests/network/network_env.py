"""The network tests' helpers: servers on 127.0.0.1 the tests start and stop themselves (a TCP
listener, an HTTP(S) server with a certificate made here), a port nothing listens on, and a
network namespace of the test's own. No traffic ever leaves this machine."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import os
import secrets
import socket
import ssl
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

__all__ = [
    "HttpServer",
    "Namespace",
    "TcpServer",
    "closed_port",
    "make_certificate",
]


def closed_port() -> int:
    """A port of 127.0.0.1 nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


class TcpServer:
    """A TCP listener on 127.0.0.1 that accepts and closes; `stop()` then `start()` again
    brings it back on the same port (a flapping target)."""

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self._server: asyncio.Server | None = None
        self.accepted = 0

    async def _on_client(self, _r: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        writer.close()

    async def start(self) -> TcpServer:
        self._server = await asyncio.start_server(
            self._on_client, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None


def make_certificate(
    directory: Path, *, days_valid: int = 30, expired: bool = False
) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (cert.pem, key.pem) valid `days_valid` days from
    now, or one that expired yesterday; also usable as its own CA file."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    start, end = (
        (now - datetime.timedelta(days=10), now - datetime.timedelta(days=1))
        if expired
        else (now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=days_valid))
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    tag = "expired" if expired else f"valid{days_valid}"
    cert_path, key_path = directory / f"{tag}-cert.pem", directory / f"{tag}-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class HttpServer:
    """An aiohttp server on 127.0.0.1: `/` answers 200, `/status/<n>` answers n, `/hook`
    records JSON POSTs (a webhook receiver). HTTPS with `cert` (cert.pem, key.pem)."""

    cert: tuple[Path, Path] | None = None
    posts: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.cert else 'http'}://127.0.0.1:{self.port}"

    async def start(self) -> HttpServer:
        async def root(_: web.Request) -> web.Response:
            return web.Response(text="ok")

        async def status(request: web.Request) -> web.Response:
            return web.Response(status=int(request.match_info["n"]), text="as asked")

        async def hook(request: web.Request) -> web.Response:
            self.posts.append(await request.json())
            return web.Response(status=204)

        app = web.Application()
        app.add_routes(
            [web.get("/", root), web.get("/status/{n}", status), web.post("/hook", hook)]
        )
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        context = None
        if self.cert is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(self.cert[0]), str(self.cert[1]))
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=context)
        await site.start()
        server = site._server  # aiohttp keeps the bound socket here
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


class Namespace:
    """A network namespace of the test's own (`qtq-<random>`), joined to this one by a veth pair:
    `address` (in the namespace) is reachable from here at `host_address`'s side. Needs root
    and iproute2; `close()` deletes it (and the pair with it)."""

    def __init__(self) -> None:
        tag = secrets.token_hex(3)
        self.name = f"qtq-{tag}"
        self.veth = f"qtqv{tag}"
        # A /30 of 10.x.y.0 picked at random, far from usual LANs.
        base = f"10.{200 + secrets.randbelow(50)}.{secrets.randbelow(250)}"
        self.host_address = f"{base}.1"
        self.address = f"{base}.2"
        self._procs: list[subprocess.Popen[bytes]] = []

    @staticmethod
    def available() -> str | None:
        """Why namespaces cannot be made here, or None when they can."""
        if os.geteuid() != 0:
            return "network namespaces need root"
        if subprocess.run(["which", "ip"], capture_output=True).returncode != 0:
            return "iproute2's ip is not installed"
        return None

    def _ip(self, *args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)

    def open(self) -> Namespace:
        self._ip("netns", "add", self.name)
        self._ip("link", "add", self.veth, "type", "veth", "peer", "name", self.veth + "n")
        self._ip("link", "set", self.veth + "n", "netns", self.name)
        self._ip("addr", "add", f"{self.host_address}/30", "dev", self.veth)
        self._ip("link", "set", self.veth, "up")
        ns = ("netns", "exec", self.name, "ip")
        self._ip(*ns, "addr", "add", f"{self.address}/30", "dev", self.veth + "n")
        self._ip(*ns, "link", "set", self.veth + "n", "up")
        self._ip(*ns, "link", "set", "lo", "up")
        return self

    def serve(self, argv: list[str]) -> subprocess.Popen[bytes]:
        """Run `argv` inside the namespace (stopped by `close`, by its pid)."""
        proc = subprocess.Popen(
            ["ip", "netns", "exec", self.name, *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self._procs.append(proc)
        return proc

    def listen(self, ports: list[int]) -> None:
        """Accept TCP connections on `ports` of `address` inside the namespace (returns once
        the listener says it is bound)."""
        import sys

        proc = self.serve([sys.executable, "-c", LISTENER, self.address, *map(str, ports)])
        assert proc.stdout is not None
        line = proc.stdout.readline()  # blocks until bound, or EOF if it died
        assert line.strip() == b"ready", f"listener in {self.name} did not start"

    def iptables(self, *rule: str) -> None:
        """Add a rule to the namespace's own firewall (never this machine's)."""
        self._ip("netns", "exec", self.name, "iptables", *rule)

    def close(self) -> None:
        for proc in self._procs:
            proc.kill()
            proc.wait(timeout=10)
            if proc.stdout is not None:
                proc.stdout.close()
        subprocess.run(["ip", "link", "del", self.veth], capture_output=True, timeout=10)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=10)


#: A listener for `Namespace.serve`: accepts on each port given, says "ready" once bound.
LISTENER = """
import socket, sys, selectors
sel = selectors.DefaultSelector()
for port in sys.argv[2:]:
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((sys.argv[1], int(port))); s.listen(64); s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
print("ready", flush=True)
while True:
    for key, _ in sel.select():
        conn, _ = key.fileobj.accept(); conn.close()
"""
