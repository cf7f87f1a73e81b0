"""The github family: GITHUB_CREATE_REPO, GITHUB_LIST_REPOS, GITHUB_CLONE, GITHUB_PUSH: GitHub's
REST API (through gidgethub, aiohttp-native) and real git.

Create and list talk to the REST API of the settings (`github_api_url`; GitHub Enterprise:
https://HOST/api/v3) or of the task; rate limits are waited out as GitHub's headers say. Clone
and push run git with `--progress`: its phases (objects, bytes, speed) become the task's
progress and step, and one `[git] <phase>: ...` line per phase goes to the log, which the
detail pane's transfer view (`qt.py`) reads back; a list writes a readable table that the same
view shows. The token is only ever in the OS keyring (entry `github_keyring_entry` of the
settings, or the task's `credential`); git gets it through an askpass script, and only for a
remote on the settings' git host (`github_git_url`, else the web address of the API URL):
any other remote is cloned or pushed without it (gitauth.py).

gidgethub is an extra (`pip install 'qtqueue[github]'`) imported only inside the executors'
modules; importing this package is cheap.
"""

from __future__ import annotations

import logging
from importlib import resources

from qtqueue.core.errors import CATALOG
from qtqueue.executors.base import Executor
from qtqueue.executors.family import Family
from qtqueue.families.github.settings import GitHubSettings

logger = logging.getLogger(__name__)

__all__ = ["GitHubSettings", "family", "github_executors"]


def github_executors() -> list[Executor]:
    """One instance of each of the family's executors."""
    from qtqueue.families.github.repos import CreateRepoExecutor, ListReposExecutor
    from qtqueue.families.github.transfers import CloneExecutor, PushExecutor

    return [CreateRepoExecutor(), ListReposExecutor(), CloneExecutor(), PushExecutor()]


#: The family's error codes and message rules.
ERRORS = resources.files(__name__) / "errors.toml"

#: The GitHub family, advertised as `github` in the `qtqueue.families` entry-point group.
family = Family(
    name="github",
    title="GitHub",
    category="github",
    executors=github_executors,
    settings_model=GitHubSettings,
    errors=ERRORS,
    # A clone names its repository, a push its folder, a new repository its name.
    name_keys=("repository", "name", "path", "owner"),
    qt_module=f"{__name__}.qt",
    requires=("gidgethub",),
    extra="github",
)

# Its codes classify texts (a git message in a shell task's output too) as soon as the family is
# imported, as the docker family's do.
CATALOG.register_file(family.name, ERRORS)
