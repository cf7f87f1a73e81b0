"""The Kubernetes tests' environment: a Kubernetes API on 127.0.0.1 (kmock's KubernetesEmulator,
in this process: create, list, get, patch, delete, watch), a kubeconfig pointing at it, a
lightkube client the tests use to play the controller's part (no pods run here), and a
TaskQueue with the family's executors whose settings name that kubeconfig."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kmock
import pytest
from lightkube import AsyncClient, KubeConfig

from qtqueue.core.task import Task, TaskType
from qtqueue.engine.queue import TaskQueue
from qtqueue.executors import ExecutorRegistry
from qtqueue.families.kubernetes import family

# The rollout view's test renders offscreen, as the window's tests do (set before Qt loads).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

#: Resources the emulator serves (a real API server serves them all; kmock only those declared).
RESOURCES = (
    "apps/v1/deployments",
    "apps/v1/statefulsets",
    "v1/pods",
    "v1/services",
    "v1/configmaps",
    "v1/secrets",
)
#: The namespace the kubeconfig's context names.
NAMESPACE = "team"


def write_kubeconfig(path: Path, server: str, token: str = "kubeconfig-token") -> Path:
    """A kubeconfig with one context, `local`, for `server` (JSON is YAML)."""
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "local", "cluster": {"server": server}}],
                "users": [{"name": "me", "user": {"token": token}}],
                "contexts": [
                    {
                        "name": "local",
                        "context": {"cluster": "local", "user": "me", "namespace": NAMESPACE},
                    }
                ],
                "current-context": "local",
            }
        )
    )
    return path


@dataclass
class KubeEnv:
    """The emulator (`km`, for its stored `objects` and reactions), its URL, the kubeconfig
    file, and `api`, a lightkube client for the tests' own changes."""

    km: Any
    url: str
    kubeconfig: Path
    api: AsyncClient


@pytest.fixture
async def kube(tmp_path: Path) -> AsyncIterator[KubeEnv]:
    """A Kubernetes API emulator on 127.0.0.1 for this test, stopped after it."""
    async with kmock.KubernetesEmulator() as km, kmock.Server(km, host="127.0.0.1", port=0):
        for resource in RESOURCES:
            km.resources[resource] = {}
        url = str(km.url)
        assert url.startswith("http://127.0.0.1:")
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", url)
        async with AsyncClient(KubeConfig.from_file(kubeconfig)) as api:
            yield KubeEnv(km, url, kubeconfig, api)


def kubernetes_registry() -> ExecutorRegistry:
    """A registry with the family's executors only."""
    registry = ExecutorRegistry()
    registry.add_family(family)
    return registry


@pytest.fixture
async def kq(data_dir: Path, kube: KubeEnv) -> AsyncIterator[TaskQueue]:
    """A queue with the Kubernetes executors, whose settings name the emulator's kubeconfig."""
    settings = {"k8s_kubeconfig": str(kube.kubeconfig)}
    async with TaskQueue(
        data_dir, registry=kubernetes_registry(), executor_settings=settings, max_concurrent=4
    ) as queue:
        yield queue


async def submit(queue: TaskQueue, task_type: TaskType, /, **params: Any) -> str:
    """Add a task that runs once (no retries)."""
    return await queue.add_task(Task(task_type, params, max_retries=0))


async def run(queue: TaskQueue, task_type: TaskType, /, **params: Any) -> Task:
    """Add a task and wait until it ends."""
    return await queue.wait_for(await submit(queue, task_type, **params), timeout_s=30)
