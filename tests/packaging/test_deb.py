"""The Linux package, for real: `packaging/build.py` builds the PyInstaller bundle and the .deb,
dpkg installs it on this machine, the installed `qtqueue` is run as a user would run it (the
command line, the headless engine, the window, a cluster worker on a real redis-server), and
removing the package leaves nothing of it behind (but the user's queue).

The installed program runs with a clean environment (PATH, HOME and LANG only) from another
working directory, so it cannot lean on the virtual environment or the source tree. It needs
root (dpkg -i); CI runs as root on a throw-away machine. Slow: the build takes minutes.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import struct
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
from cluster.cluster_env import redis_server

from qtqueue.executors import default_registry

ROOT = Path(__file__).resolve().parents[2]
APP_ID = "io.github.qtqueue.qtqueue"
#: Everything the package puts on the machine outside /opt/qtqueue.
INSTALLED_FILES = (
    Path("/usr/bin/qtqueue"),
    Path(f"/usr/share/applications/{APP_ID}.desktop"),
    Path(f"/usr/share/icons/hicolor/scalable/apps/{APP_ID}.svg"),
    Path(f"/usr/share/metainfo/{APP_ID}.metainfo.xml"),
    Path("/usr/lib/systemd/user/qtqueue.service"),
)
BUNDLE = Path("/opt/qtqueue")


def _missing() -> str | None:
    """Why this machine cannot run the test, or None."""
    if os.geteuid() != 0:
        return "installing a .deb needs root (dpkg -i); CI runs the suite as root"
    for tool in ("dpkg", "dpkg-deb", "desktop-file-validate", "appstreamcli"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (make test installs it)"
    if importlib.util.find_spec("PyInstaller") is None:
        return "PyInstaller is not installed: pip install -e '.[package]'"
    known = subprocess.run(["dpkg-query", "-W", "qtqueue"], capture_output=True, check=False)
    if known.returncode == 0:
        return "a qtqueue package is already installed here: this test would replace it"
    return None


pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(1200),
    pytest.mark.skipif(_missing() is not None, reason=str(_missing())),
]


def _version() -> str:
    with (ROOT / "pyproject.toml").open("rb") as f:
        version: str = tomllib.load(f)["project"]["version"]
    return version


class Installed:
    """The installed `qtqueue`, run as a user runs it: only PATH, HOME and LANG set, from a
    working directory of its own."""

    def __init__(self, home: Path, cwd: Path) -> None:
        self.env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}
        self.cwd = cwd

    def __call__(self, *args: str, **env: str) -> str:
        done = subprocess.run(
            ["qtqueue", *args], cwd=self.cwd, env={**self.env, **env},
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, f"qtqueue {' '.join(args)}: {done.stdout}{done.stderr}"
        return done.stdout

    def timed(self, *args: str) -> tuple[str, float]:
        started = time.monotonic()
        out = self(*args)
        return out, time.monotonic() - started


def _build(tmp: Path) -> Path:
    dist = tmp / "dist"
    subprocess.run(
        [sys.executable, "packaging/build.py",
         "--dist", str(dist), "--work", str(tmp / "work"), "--formats", "deb"],
        cwd=ROOT, check=True, capture_output=True, text=True, timeout=1000,
    )  # fmt: skip
    deb = dist / f"qtqueue_{_version()}_amd64.deb"
    assert deb.is_file(), f"no {deb.name} in {sorted(p.name for p in dist.iterdir())}"
    shutil.rmtree(dist / "qtqueue")  # 300 MB apiece: pytest keeps the last runs' tmp folders
    shutil.rmtree(tmp / "work")
    return deb


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def _dpkg(*args: str) -> None:
    done = subprocess.run(["dpkg", *args], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def _check_the_installed_program(qtqueue: Installed, tmp: Path) -> dict[str, float]:
    version, version_s = qtqueue.timed("--version")
    assert version.strip() == f"qtqueue {_version()}"  # the bundle carries the metadata

    listed, types_s = qtqueue.timed("types", "--json")
    types = {t["name"]: t for t in json.loads(listed)}
    registry = default_registry(entry_points=False)  # what the source tree registers
    # every type of every family, runnable where it is runnable from the source tree
    expected = {name: registry.unavailable_error(name) is None for name in registry.titles()}
    assert {name: types.get(name, {}).get("available") for name in expected} == expected
    families = {f.name for name in types if (f := registry.family_of(name)) is not None}
    assert families == {f.name for f in registry.families()}

    data = tmp / "data"
    # prints its library path and its parent's command line (the engine's spawner)
    script = 'echo "LD=[$LD_LIBRARY_PATH]"; tr "\\0" " " < /proc/$PPID/cmdline'
    task = qtqueue("--data-dir", str(data), "add", "command", "--", "sh", "-c", script).strip()
    qtqueue("--data-dir", str(data), "run", "--until-idle")
    rows = json.loads(qtqueue("--data-dir", str(data), "ls", "--json"))
    assert [(r["id"], r["status"]) for r in rows] == [(task, "completed")]
    log = qtqueue("--data-dir", str(data), "log", task)
    # The command ran under the bundle's own spawner, and with the user's library path, not
    # the bundle's (which would make system programs load the bundle's libraries).
    assert "LD=[]" in log, log
    assert f"{BUNDLE}/qtqueue --run-qtqueue-spawner" in log, log

    png = tmp / "window.png"
    qtqueue("--data-dir", str(data), "gui", "--screenshot", str(png), "--size", "800x600",
            QT_QPA_PLATFORM="offscreen")  # fmt: skip
    width, height = _png_size(png)
    assert width >= 800 and height >= 600, (width, height)
    return {"version_s": version_s, "types_s": types_s}


def _check_a_cluster_worker(qtqueue: Installed, tmp: Path) -> None:
    """The installed `qtqueue worker` runs a task queued on a real redis-server."""
    with redis_server(tmp / "redis") as redis:
        task = qtqueue("--redis", redis.url, "add", "command", "--", "echo", "on a worker")
        qtqueue("--redis", redis.url, "--data-dir", str(tmp / "worker"), "worker", "--burst")
        rows = json.loads(qtqueue("--redis", redis.url, "ls", "--json"))
        assert [(r["id"], r["status"]) for r in rows] == [(task.strip(), "completed")]


def _check_the_desktop_files() -> None:
    for tool, path in (
        (["desktop-file-validate"], f"/usr/share/applications/{APP_ID}.desktop"),
        (["appstreamcli", "validate", "--no-net"], f"/usr/share/metainfo/{APP_ID}.metainfo.xml"),
    ):
        done = subprocess.run([*tool, path], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
    unit = Path("/usr/lib/systemd/user/qtqueue.service").read_text(encoding="utf-8")
    assert "ExecStart=/usr/bin/qtqueue run" in unit
    # disabled by default: nothing links it into a target
    assert not list(Path("/etc/systemd/user").glob("*.wants/qtqueue.service"))


def test_the_deb_installs_a_qtqueue_that_runs_alone_and_removes_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    deb = _build(tmp_path)
    built_s = time.monotonic() - started
    home, cwd = tmp_path / "home", tmp_path / "elsewhere"
    home.mkdir()
    cwd.mkdir()
    _dpkg("-i", str(deb))
    try:
        assert os.path.realpath("/usr/bin/qtqueue") == f"{BUNDLE}/qtqueue"
        for path in INSTALLED_FILES:
            assert path.exists(), f"{path} was not installed"
        _check_the_desktop_files()
        times = _check_the_installed_program(Installed(home, cwd), tmp_path)
        _check_a_cluster_worker(Installed(home, cwd), tmp_path)
    finally:
        _dpkg("-r", "qtqueue")
        _dpkg("-P", "qtqueue")
    left = [str(p) for p in (BUNDLE, *INSTALLED_FILES) if p.exists() or p.is_symlink()]
    assert left == [], f"left behind by dpkg -r/-P: {left}"
    assert (tmp_path / "data" / "queue.db").exists()  # the user's queue stays
    bundle_mib = int(subprocess.run(
        ["dpkg-deb", "-f", str(deb), "Installed-Size"], capture_output=True, text=True, check=True
    ).stdout) / 1024  # fmt: skip
    deb_mib = deb.stat().st_size / 2**20
    deb.unlink()
    with capsys.disabled():
        print(
            f"\npackage: built in {built_s:.0f} s; bundle {bundle_mib:.0f} MiB installed, "
            f".deb {deb_mib:.0f} MiB; installed cold start: "
            f"--version {times['version_s']:.2f} s, types {times['types_s']:.2f} s; "
            f"whole test {time.monotonic() - started:.0f} s"
        )
