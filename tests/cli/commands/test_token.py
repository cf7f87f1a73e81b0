"""`qtqueue token show|rotate`: the HTTP API's key in the real keyring (a Secret Service), from
the real command line, without an engine (with one: tests/api/test_http_auth_engine.py)."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import keyring
import pytest
from helpers.cli import ok, qtqueue_command, refused

from qtqueue.api.keys import SERVICE, ApiKey, ApiKeys
from qtqueue.cli.commands.token import expiry
from qtqueue.core.errors import QueueError

NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)


@pytest.mark.usefixtures("secret_service")
def test_show_makes_the_key_once_and_keeps_it_in_the_keyring_only(tmp_path: Path) -> None:
    run = qtqueue_command(tmp_path)
    shown = run("token", "show")
    key = ok(shown).strip()
    assert key.startswith("qtq_") and len(key) >= 40 and "\n" not in key
    assert "'admin'" in shown.stderr and "expires never" in shown.stderr
    assert ok(run("token", "show")).strip() == key  # kept, not made again
    stored = ApiKey.from_json(keyring.get_password(SERVICE, ApiKeys(tmp_path / "q").username) or "")
    assert stored is not None and stored.secret == key
    other = qtqueue_command(tmp_path, data_dir=tmp_path / "other")
    assert ok(other("token", "show")).strip() != key  # one key per data directory
    for path in tmp_path.rglob("*"):
        assert not path.is_file() or key.encode() not in path.read_bytes()


@pytest.mark.usefixtures("secret_service")
def test_rotate_replaces_the_key_with_its_name_and_expiry(tmp_path: Path) -> None:
    run = qtqueue_command(tmp_path)
    old = ok(run("token", "show")).strip()
    rotated = run("token", "rotate", "--name", "ci-bot", "--expires", "30")
    new = ok(rotated).strip()
    assert new.startswith("qtq_") and new != old
    assert "'ci-bot'" in rotated.stderr and "expires never" not in rotated.stderr
    assert ok(run("token", "show")).strip() == new
    stored = ApiKeys(tmp_path / "q").load()
    assert stored is not None and stored.name == "ci-bot"
    assert stored.expires_at is not None
    assert 29.9 * 86400 < stored.expires_at - stored.created_at < 30.1 * 86400
    kept = run("token", "rotate", "--expires-at", "2999-01-01T00:00+00:00")
    assert "'ci-bot'" in kept.stderr  # the name stays unless a new one is given
    later = ApiKeys(tmp_path / "q").load()
    assert later is not None
    assert later.expires_at == dt.datetime(2999, 1, 1, tzinfo=dt.UTC).timestamp()


@pytest.mark.usefixtures("secret_service")
def test_bad_rotations_are_usage_errors_and_keep_the_key(tmp_path: Path) -> None:
    run = qtqueue_command(tmp_path)
    key = ok(run("token", "show")).strip()
    refused(run("token", "rotate", "--expires", "-1"), "VALIDATION_INVALID_FORMAT", 2)
    refused(run("token", "rotate", "--expires-at", "2001-01-01"), "VALIDATION_INVALID_FORMAT", 2)
    refused(run("token", "rotate", "--expires-at", "soon"), "VALIDATION_INVALID_FORMAT", 2)
    refused(run("token", "rotate", "--name", " x"), "VALIDATION_INVALID_PARAMS", 2)
    both = run("token", "rotate", "--expires", "1", "--expires-at", "2999-01-01")
    assert both.returncode == 2 and "not allowed with" in both.stderr
    assert ok(run("token", "show")).strip() == key


@pytest.mark.parametrize("backend", ["fail.Keyring", "null.Keyring"])
def test_without_a_usable_keyring_a_coded_error_names_the_fix(tmp_path: Path, backend: str) -> None:
    env = ("env", f"PYTHON_KEYRING_BACKEND=keyring.backends.{backend}")
    run = qtqueue_command(tmp_path, prefix=env)
    for argv in (("token", "show"), ("token", "rotate")):
        stderr = refused(run(*argv), "API_KEYRING_UNAVAILABLE")
        assert "gnome-keyring" in stderr
    assert "Traceback" not in stderr


def _args(expires: float | None = None, expires_at: str | None = None) -> argparse.Namespace:
    return argparse.Namespace(expires=expires, expires_at=expires_at)


def test_expiry_in_days_or_at_a_time() -> None:
    assert expiry(_args(), NOW) is None
    assert expiry(_args(expires=1.5), NOW) == NOW.timestamp() + 1.5 * 86400
    at = expiry(_args(expires_at="2027-01-31T18:00+01:00"), NOW)
    assert at == dt.datetime(2027, 1, 31, 17, 0, tzinfo=dt.UTC).timestamp()
    local = dt.datetime(2027, 1, 31, 18, 0).astimezone()  # no zone: the local time
    assert expiry(_args(expires_at="2027-01-31T18:00"), NOW) == local.timestamp()


@pytest.mark.parametrize(
    "bad",
    [_args(expires=0), _args(expires=-2), _args(expires=1e9), _args(expires_at="tomorrow"),
     _args(expires_at="2026-12-07T11:59+00:00")],
)  # fmt: skip
def test_an_expiry_that_cannot_be_is_a_coded_error(bad: argparse.Namespace) -> None:
    with pytest.raises(QueueError) as caught:
        expiry(bad, NOW)
    assert caught.value.code == "VALIDATION_INVALID_FORMAT"
