"""Real git repositories for tests: made with the git command in a test's folder, never mocked."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

#: Who the test repositories' commits are by (no global git config is read or written).
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.invalid",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(cwd: Path, *args: str) -> str:
    """Run git in `cwd`; its stdout (fails the test on a non-zero exit)."""
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout


def make_bare_repo(root: Path, files: Mapping[str, str], branch: str = "main") -> Path:
    """A bare repository `root/origin.git` whose `branch` has one commit holding `files`,
    cloned from `root/seed`, a repository with that branch checked out."""
    work = root / "seed"
    work.mkdir(parents=True)
    git(work, "init", "--quiet", "--initial-branch", branch)
    for name, text in files.items():
        path = work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(work, "add", "--all")
    git(work, "commit", "--quiet", "-m", "seed")
    bare = root / "origin.git"
    git(root, "clone", "--quiet", "--bare", str(work), str(bare))
    return bare
