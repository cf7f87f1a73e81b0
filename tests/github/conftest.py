"""The github tests' fixtures, defined in github_env (a module of its own name: test modules
import its helpers, and `conftest` names a different module in every test folder)."""

from __future__ import annotations

from github_env import api, git_http, gq

__all__ = ["api", "git_http", "gq"]
