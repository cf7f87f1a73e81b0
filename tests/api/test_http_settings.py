"""The web API's place as a saved engine setting (`engine.http_address` and the TLS files):
`qtqueue run` without `--http` serves where it says, and a setting that could not be served
(not HOST:PORT, a LAN address without TLS, half of the TLS pair) is refused with its code when
it is saved, not found out at the next start."""

from __future__ import annotations

import json
import ssl
import urllib.request
from pathlib import Path

import pytest
from helpers.cli import ok, qtqueue_command, qtqueue_env, refused

from api.http_auth_env import http_engine, self_signed

pytestmark = pytest.mark.usefixtures("secret_service")


def test_qtqueue_run_serves_the_saved_web_api_address(tmp_path: Path) -> None:
    cli = qtqueue_command(tmp_path)
    ok(cli("config", "set", "engine.http_address=127.0.0.1:0"))
    assert ok(cli("config", "get", "engine.http_address")).strip() == "127.0.0.1:0"
    data_dir = tmp_path / "q"
    with http_engine(data_dir, qtqueue_env(tmp_path), tmp_path / "engine.log", http=None) as e:
        assert e.url.startswith("http://127.0.0.1:") and not e.url.endswith(":0")
        with urllib.request.urlopen(e.url + "/health", timeout=30) as resp:
            assert json.loads(resp.read()) == {"ok": True}
        announced = json.loads((data_dir / "engine.json").read_text())
        assert announced["http"] == e.url


def test_web_api_settings_that_cannot_be_served_are_refused_when_saved(tmp_path: Path) -> None:
    cli = qtqueue_command(tmp_path)
    lan = refused(cli("config", "set", "engine.http_address=0.0.0.0:8080"),
                  "VALIDATION_INVALID_PARAMS")  # fmt: skip
    assert "needs TLS" in lan
    assert "is not HOST:PORT" in refused(
        cli("config", "set", "engine.http_address=localhost"), "VALIDATION_INVALID_PARAMS"
    )
    half = refused(cli("config", "set", "engine.http_tls_cert=/etc/ssl/cert.pem"),
                   "VALIDATION_INVALID_PARAMS")  # fmt: skip
    assert "both the TLS certificate and its private key" in half
    assert ok(cli("config", "get", "engine.http_address")).strip() == ""  # nothing was saved


def test_a_lan_address_with_the_tls_pair_is_saved_and_served_over_https(
    tmp_path: Path,
) -> None:
    cert = self_signed(tmp_path / "tls")
    cli = qtqueue_command(tmp_path)
    ok(cli("config", "set", f"engine.http_tls_cert={cert.cert}",
           f"engine.http_tls_keyfile={cert.key}", "engine.http_address=127.0.0.1:0"))  # fmt: skip
    with http_engine(tmp_path / "q", qtqueue_env(tmp_path), tmp_path / "e.log", http=None) as e:
        assert e.url.startswith("https://127.0.0.1:")
        context = ssl.create_default_context(cafile=str(cert.cert))
        with urllib.request.urlopen(e.url + "/health", timeout=30, context=context) as resp:
            assert json.loads(resp.read()) == {"ok": True}
    # the pair makes any address acceptable
    ok(cli("config", "set", "engine.http_address=0.0.0.0:0"))
