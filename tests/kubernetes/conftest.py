"""The Kubernetes tests' fixtures, defined in kube_env (a module of its own name: test modules
import its helpers, and `conftest` names a different module in every test folder)."""

from __future__ import annotations

from kube_env import kq, kube

__all__ = ["kq", "kube"]
