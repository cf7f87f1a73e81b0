"""The test plug-in family installed as pip would leave it: a dist-info directory whose
entry_points.txt names `plugin_family:family` in the qtqueue.families group."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from qtqueue.core.errors import CATALOG
from qtqueue.executors import FAMILY_ENTRY_POINT_GROUP

#: This folder: it holds the plug-in's package, `plugin_family`.
HERE = Path(__file__).resolve().parent


def write_dist_info(
    site: Path,
    name: str = "qtqueue-plugin-greetings",
    entries: str = "greetings = plugin_family:family",
) -> Path:
    """What `pip install` of a plug-in leaves behind: a dist-info dir with its entry points
    (`entries`: the lines of its `qtqueue.families` section)."""
    dist = site / f"{name.replace('-', '_')}-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[{FAMILY_ENTRY_POINT_GROUP}]\n{entries}\n")
    return site


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return write_dist_info(tmp_path / "site")


@pytest.fixture
def installed(site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The plug-in installed in this process (its dist-info and package on sys.path)."""
    monkeypatch.syspath_prepend(str(HERE))
    monkeypatch.syspath_prepend(str(site))
    yield
    CATALOG.unregister("greetings")
