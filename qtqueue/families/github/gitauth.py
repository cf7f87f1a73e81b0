"""Which git remotes get the GitHub token, and how git gets it without anyone else seeing it.

Only the configured GitHub git host is ever sent the token (`token_allowed`): an https remote on
its host and port, or a plain http one only under the configured git URL itself when that is
http (a local server). Any other remote (another host, file://, ssh, scp-like `git@host:path`)
runs git without the token, and the log says so.

git asks for it through `GIT_ASKPASS`: a small script in a private folder (0700) made for this
run in `<data dir>/tmp`, next to the token in a file of its own (0600); git's environment holds
the file's path, never the token, so hooks (pre-push, husky...) that dump their environment do
not see it. The script answers only the two prompts git shows for that one origin (`Username
for 'https://HOST': `, `Password for 'https://USER@HOST': `): a redirect to another host, or a
URL rewritten by `insteadOf`, is asked for another origin and gets nothing. The folder is
removed when the run ends, however it ends.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import SplitResult, unquote, urlsplit

from qtqueue.executors.base import RunContext
from qtqueue.families.github.login import github_token

logger = logging.getLogger(__name__)

__all__ = ["ASKPASS_PREFIX", "GitAuth", "git_login", "token_allowed"]

#: The private folders of git runs in `<data dir>/tmp` start with this.
ASKPASS_PREFIX = "github-askpass-"
_ASKPASS_SCRIPT = """#!/bin/sh
# qtqueue's answer to git's login prompts, for one origin only; the token comes from a file
# only this user can read (its path is in git's environment, the token is not).
if [ "$1" = "$QTQUEUE_GIT_USERNAME_PROMPT" ]; then
  printf '%s\\n' "$QTQUEUE_GIT_USERNAME"
elif [ "$1" = "$QTQUEUE_GIT_PASSWORD_PROMPT" ] && [ -n "$QTQUEUE_GIT_TOKEN_FILE" ]; then
  cat -- "$QTQUEUE_GIT_TOKEN_FILE"
else
  exit 1
fi
"""
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class GitAuth:
    """How git logs in over HTTPS to one origin: the askpass program and what it answers."""

    program: Path
    """The askpass script."""
    username: str
    """The user name it answers."""
    username_prompt: str
    """git's prompt for the user name of that origin."""
    password_prompt: str
    """git's prompt for the password of that origin."""
    token_file: Path | None
    """The file holding the token; None: no token (git fails if the server asks for one)."""

    def env(self) -> dict[str, str]:
        """The variables git (and so the script) gets: no token among them."""
        env = {
            "GIT_ASKPASS": str(self.program),
            "QTQUEUE_GIT_USERNAME": self.username,
            "QTQUEUE_GIT_USERNAME_PROMPT": self.username_prompt,
            "QTQUEUE_GIT_PASSWORD_PROMPT": self.password_prompt,
        }
        if self.token_file is not None:
            env["QTQUEUE_GIT_TOKEN_FILE"] = str(self.token_file)
        return env


def _split(url: str) -> tuple[SplitResult, int] | None:
    """`url` split, and its port (the scheme's default when it names none); None when it is
    not an http(s) URL with a host."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return parts, port or _DEFAULT_PORTS[parts.scheme]


def token_allowed(url: str, git_url: str) -> bool:
    """Whether git may be given the token for remote `url`: https on the host and port of the
    configured `git_url`; plain http only under `git_url` itself, when that is http too."""
    remote, configured = _split(url), _split(git_url)
    if remote is None or configured is None:
        return False
    (r, r_port), (g, g_port) = remote, configured
    if r.hostname != g.hostname or r_port != g_port:
        return False
    if r.scheme == "https":
        return True
    base = g.path.rstrip("/") + "/"
    return g.scheme == "http" and (r.path.rstrip("/") + "/").startswith(base)


def _prompts(url: str, username: str) -> tuple[str, str]:
    """The prompts git shows for the user name and the password of `url`'s origin."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    user = unquote(parts.username) if parts.username else username
    return (
        f"Username for '{parts.scheme}://{host}': ",
        f"Password for '{parts.scheme}://{user}@{host}': ",
    )


def _write(path: Path, text: str, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text)


def _private_folder(ctx: RunContext) -> Path:
    """A new 0700 folder for this run in `<data dir>/tmp`; one an earlier attempt of the same
    task left (a crash) is removed first."""
    root = Path(ctx.data_dir) / "tmp"
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    prefix = f"{ASKPASS_PREFIX}{ctx.task.id}-"
    for stale in root.glob(f"{prefix}*"):
        shutil.rmtree(stale, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=root))


@asynccontextmanager
async def git_login(
    ctx: RunContext,
    urls: Sequence[str],
    *,
    credential: str | None,
    username: str,
    git_url: str,
) -> AsyncIterator[GitAuth | None]:
    """How git logs in to the remote at `urls` (a push may have several): the token (read from
    the keyring now) when every one is on the configured GitHub git host and origin, else
    None (git runs without it, said in the log). See the module docstring."""
    allowed = bool(urls) and all(token_allowed(u, git_url) for u in urls)
    origins = {_prompts(url, username) for url in urls} if allowed else set()
    if len(origins) != 1:  # not allowed, or push URLs of several origins
        shown = ", ".join(_shown(u) for u in urls) or "the remote"
        ctx.log(f"[github] {shown}: not a GitHub URL: no token sent (the git URL is {git_url})")
        yield None
        return
    token = await github_token(ctx, credential)
    folder = await asyncio.to_thread(_private_folder, ctx)
    try:
        program = folder / "askpass"
        _write(program, _ASKPASS_SCRIPT, 0o700)
        token_file = None
        if token:
            token_file = folder / "token"
            _write(token_file, token + "\n", 0o600)
        username_prompt, password_prompt = origins.pop()
        yield GitAuth(program, username, username_prompt, password_prompt, token_file)
    finally:
        await asyncio.to_thread(shutil.rmtree, folder, True)


def _shown(url: str) -> str:
    """`url` without a login in it (a configured remote may hold one)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "the remote"
    if parts.scheme and "@" in parts.netloc:
        return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
    return url
