"""Build qtqueue's Linux packages: the PyInstaller bundle, a .deb and a .tar.gz of the bundle.

    python packaging/build.py [--dist DIR] [--work DIR] [--formats deb,tar]

writes DIR/qtqueue/ (the bundle, packaging/qtqueue.spec), DIR/qtqueue_<version>_amd64.deb and
DIR/qtqueue-<version>-linux-x86_64.tar.gz. Run it with the Python that has qtqueue installed
with its extras and PyInstaller (`make package` does). The version is qtqueue's package
metadata's (pyproject.toml's), the one `qtqueue --version` prints.

The .deb installs the bundle under /opt/qtqueue, /usr/bin/qtqueue (a symlink to it), the
desktop entry, the icon (hicolor, scalable), the AppStream metainfo and a systemd user unit
for the headless engine, not enabled. It has no maintainer scripts: dpkg's triggers refresh
the menus and icon caches, and removing the package removes every file it installed (the
user's queue, under ~/.local/share/qtqueue, stays).
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import subprocess
import sys
import tarfile
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LINUX = HERE / "linux"
APP_ID = "io.github.qtqueue.qtqueue"
PREFIX = "opt/qtqueue"
#: What the bundle needs from the system: glibc and the GL / Wayland / xcb client libraries
#: PyInstaller leaves out on purpose (they must match the machine's drivers and server).
DEPENDS = (
    "libc6 (>= 2.36), libgl1, libegl1, libxcb1, libwayland-client0, libwayland-cursor0, "
    "libwayland-egl1, fontconfig-config"
)
RECOMMENDS = "fonts-dejavu-core, gnome-keyring"


def version() -> str:
    """qtqueue's version, from its installed package metadata (what the bundle carries)."""
    return metadata.version("qtqueue")


def build_bundle(dist: Path, work: Path) -> Path:
    """The PyInstaller onedir bundle, DIST/qtqueue/."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.setdefault("PYINSTALLER_CONFIG_DIR", str(work / "pyinstaller-config"))
    subprocess.run(
        [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
         "--distpath", str(dist), "--workpath", str(work / "pyinstaller"),
         str(HERE / "qtqueue.spec")],
        check=True, cwd=ROOT, env=env,
    )  # fmt: skip
    return dist / "qtqueue"


def _install(src: Path, dest: Path, mode: int = 0o644) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    dest.chmod(mode)


def _size_kib(tree: Path) -> int:
    return sum(p.lstat().st_size for p in tree.rglob("*") if not p.is_dir()) // 1024 + 1


def build_deb(bundle: Path, dist: Path, work: Path, ver: str) -> Path:
    """DIST/qtqueue_VERSION_amd64.deb, built from a user-owned tree (--root-owner-group)."""
    root = work / "deb"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(bundle, root / PREFIX, symlinks=True)
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin/qtqueue").symlink_to(f"/{PREFIX}/qtqueue")
    share = root / "usr/share"
    _install(LINUX / f"{APP_ID}.desktop", share / f"applications/{APP_ID}.desktop")
    _install(ROOT / "resources/icons/app.svg", share / f"icons/hicolor/scalable/apps/{APP_ID}.svg")
    metainfo = (LINUX / f"{APP_ID}.metainfo.xml").read_text(encoding="utf-8")
    today = datetime.date.today().isoformat()
    metainfo = metainfo.replace("@VERSION@", ver).replace("@DATE@", today)
    (share / "metainfo").mkdir(parents=True)
    (share / f"metainfo/{APP_ID}.metainfo.xml").write_text(metainfo, encoding="utf-8")
    _install(LINUX / "qtqueue.service", root / "usr/lib/systemd/user/qtqueue.service")
    for path in [root, *root.rglob("*")]:  # what dpkg installs: 0755 folders and programs
        if not path.is_symlink():
            executable = path.is_dir() or path.stat().st_mode & 0o111
            path.chmod(0o755 if executable else 0o644)
    control = root / "DEBIAN/control"
    control.parent.mkdir(mode=0o755)
    control.write_text(
        f"Package: qtqueue\nVersion: {ver}\nArchitecture: amd64\nSection: utils\n"
        f"Priority: optional\nInstalled-Size: {_size_kib(root)}\n"
        f"Maintainer: The qtqueue developers <qtqueue@users.noreply.github.com>\n"
        f"Depends: {DEPENDS}\nRecommends: {RECOMMENDS}\n"
        "Description: desktop task manager on a persistent queue\n"
        " qtqueue queues and watches the long jobs started from a workstation (shell\n"
        " commands, Docker, Kubernetes, GitHub, Ollama, webhooks, data, network checks)\n"
        " with priorities, pause/resume/retry/cancel, live logs and error codes that\n"
        " suggest a fix. It includes the command line, the headless engine (a systemd\n"
        " user unit, not enabled: systemctl --user enable --now qtqueue) and the\n"
        " cluster worker.\n",
        encoding="utf-8",
    )
    deb = dist / f"qtqueue_{ver}_amd64.deb"
    # zstd: several times faster than dpkg's default xz on a 300 MB tree (dpkg >= 1.21.18)
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "-Zzstd", "--build", str(root), str(deb)],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    shutil.rmtree(root)
    return deb


def build_tarball(bundle: Path, dist: Path, ver: str) -> Path:
    """DIST/qtqueue-VERSION-linux-x86_64.tar.gz: the bundle as qtqueue-VERSION/, root-owned."""
    tarball = dist / f"qtqueue-{ver}-linux-x86_64.tar.gz"

    def owned_by_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        return info

    with tarfile.open(tarball, "w:gz", compresslevel=6) as tar:
        tar.add(bundle, arcname=f"qtqueue-{ver}", filter=owned_by_root)
    return tarball


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="output (dist/)")
    parser.add_argument("--work", type=Path, default=ROOT / "build", help="scratch (build/)")
    parser.add_argument("--formats", default="deb,tar", help="deb, tar or both (deb,tar)")
    args = parser.parse_args(argv)
    formats = {f.strip() for f in args.formats.split(",") if f.strip()}
    if formats - {"deb", "tar"}:
        parser.error(f"unknown formats: {', '.join(sorted(formats - {'deb', 'tar'}))}")
    dist, work = args.dist.resolve(), args.work.resolve()
    ver = version()
    bundle = build_bundle(dist, work)
    print(f"bundle: {bundle} ({_size_kib(bundle) // 1024} MiB)")
    if "deb" in formats:
        print(f"deb: {build_deb(bundle, dist, work, ver)}")
    if "tar" in formats:
        print(f"tarball: {build_tarball(bundle, dist, ver)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
