"""A broken plug-in family is logged and skipped; qtqueue still starts and runs its tasks.

Each plug-in here is a real package plus a dist-info directory naming it in the
`qtqueue.families` group, exactly as `pip install` leaves one. Each is broken in a way a
third-party family can be: an errors.toml that is not TOML or not there, an error code another
family owns, `executors()` raising, a setting that would hold a credential.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import create_model

from qtqueue.core.errors import CATALOG
from qtqueue.executors import ExecutorRegistry, HandlerExecutor, default_registry
from qtqueue.executors.family import Family

from .conftest import write_dist_info

TIMEOUT_S = 60

_FAMILY = """
from __future__ import annotations

from importlib import resources

from pydantic import BaseModel, SecretStr

from qtqueue.executors.base import HandlerExecutor
from qtqueue.executors.family import Family


class Settings(BaseModel):
    api_token: SecretStr = SecretStr("")


def echo(task_id: str, params: dict) -> dict:
    return params


def executors() -> list:
    {executors}


family = Family(
    name="{name}",
    title="{name}",
    executors=executors,
    errors=resources.files(__name__) / "errors.toml",
    settings_model={settings},
)
"""

#: package -> (errors.toml or None for none, body of `executors()`, settings model)
BROKEN = {
    "bad_toml": (
        "[codes.BAD_TOML\nthis is not toml",
        "return [HandlerExecutor('bad_toml_echo', echo)]",
        "None",
    ),
    "no_toml": (None, "return [HandlerExecutor('no_toml_echo', echo)]", "None"),
    "clashing_code": (
        '[codes.DOCKER_IMAGE_NOT_FOUND]\ndescription = "mine"\nsuggestion = "mine"\n',
        "return [HandlerExecutor('clashing_code_echo', echo)]",
        "None",
    ),
    "raising": ("", "raise RuntimeError('the family is broken')", "None"),
    "secretive": ("", "return [HandlerExecutor('secretive_echo', echo)]", "Settings"),
}  # fmt: skip


@pytest.fixture
def broken_site(tmp_path: Path) -> Path:
    """The broken plug-ins, installed: their packages and dist-info dirs in one folder."""
    site = tmp_path / "site"
    for name, (errors, body, settings) in BROKEN.items():
        package = site / name
        package.mkdir(parents=True)
        code = _FAMILY.format(name=name, executors=body, settings=settings)
        (package / "__init__.py").write_text(code)
        if errors is not None:
            (package / "errors.toml").write_text(errors)
        write_dist_info(site, f"qtqueue-plugin-{name}", f"{name} = {name}:family")
    return site


def test_each_broken_family_is_skipped_with_a_logged_error_and_the_rest_registers(
    broken_site: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.syspath_prepend(str(broken_site))
    with caplog.at_level(logging.ERROR, logger="qtqueue.executors"):
        registry = default_registry()
    assert "custom_command" in registry and "docker_pull" in registry
    for name in BROKEN:
        assert registry.family(name) is None
        assert f"{name}_echo" not in registry
        assert name not in CATALOG.owners()  # all or nothing: none of its codes either
        (record,) = [r for r in caplog.records if f"skipped family {name} " in r.getMessage()]
        assert record.exc_info is not None
    assert CATALOG.owner_of("DOCKER_IMAGE_NOT_FOUND") == "docker"
    logged = caplog.text
    assert "is already registered by 'docker'" in logged
    assert "the family is broken" in logged
    assert "api_token would hold a credential" in logged and "ctx.credential" in logged


@pytest.mark.parametrize(
    ("field", "refused"),
    [
        ("registry_password", True),
        ("auth_token", True),
        ("apiKey", True),
        ("client_secret", True),
        ("GITHUB_TOKEN", True),
        ("max_tokens", False),
        ("sort_key", False),
        ("passenger_count", False),
    ],
)
def test_a_settings_field_named_like_a_credential_is_refused(field: str, refused: bool) -> None:
    model = create_model("Named", **{field: (str, "")})  # type: ignore[call-overload]
    registry = ExecutorRegistry()
    family = Family("keeper", "Keeper", lambda: [], settings_model=model)
    if not refused:
        registry.add_family(family)
        assert registry.family("keeper") is family
        return
    with pytest.raises(ValueError, match=rf"{field} would hold a credential.*keyring"):
        registry.add_family(family)
    assert registry.family("keeper") is None


def test_a_plugin_entry_point_named_like_a_built_in_family_is_skipped_with_a_warning(
    site: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    other = site.parent / "other"
    write_dist_info(other, "qtqueue-plugin-shadow", "docker = plugin_family:family")
    monkeypatch.syspath_prepend(str(other))
    with caplog.at_level(logging.WARNING, logger="qtqueue.executors"):
        registry = default_registry()
    assert registry.family("greetings") is None
    (record,) = [r for r in caplog.records if "docker = plugin_family:family" in r.getMessage()]
    assert "qtqueue-plugin-shadow" in record.getMessage()
    assert "a family named 'docker' is already registered (Docker)" in record.getMessage()


def test_the_engine_starts_and_runs_a_shell_task_with_broken_plugins_installed(
    tmp_path: Path, broken_site: Path, data_dir: Path
) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(broken_site), os.environ.get("PYTHONPATH")])
        ),
        "QTQUEUE_DATA_DIR": str(tmp_path / "not-this-one"),
    }  # fmt: skip

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "qtqueue", "--data-dir", str(data_dir), *args],
            capture_output=True, text=True, env=env, timeout=TIMEOUT_S, check=False,
        )  # fmt: skip

    added = cli("add", "command", "--json", "--", "echo", "still here")
    assert added.returncode == 0, added.stderr
    task_id = json.loads(added.stdout)["id"]
    ran = cli("run", "--until-idle")
    assert ran.returncode == 0, ran.stderr
    assert "skipped family raising" in ran.stderr
    shown = cli("show", task_id, "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["status"] == "completed"


def test_a_family_that_fails_half_way_leaves_none_of_its_codes_behind(tmp_path: Path) -> None:
    """Its errors.toml registers, then its message rules fail: its codes are taken back, so a
    fixed version of it (or another family) can register them."""
    errors = tmp_path / "errors.toml"
    errors.write_text('[codes.HALF_WAY_FAILED]\ndescription = "d"\nsuggestion = "s"\n')
    echo = HandlerExecutor("half_way_echo", lambda task_id, params: params)
    broken = Family("half_way", "Half", lambda: [echo], errors=errors, rules=42)  # type: ignore[arg-type]
    registry = ExecutorRegistry()
    with pytest.raises(TypeError):
        registry.add_family(broken)
    assert CATALOG.owner_of("HALF_WAY_FAILED") is None
    assert "half_way_echo" not in registry and registry.family("half_way") is None
    fixed = Family("half_way", "Half", lambda: [echo], errors=errors)
    registry.add_family(fixed)
    try:
        assert CATALOG.owner_of("HALF_WAY_FAILED") == "half_way"
        assert registry.family_of("half_way_echo") is fixed
    finally:
        CATALOG.unregister("half_way")
