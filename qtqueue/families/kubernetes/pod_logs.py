"""K8S_LOGS: a pod's or a deployment's logs, streamed into the task log line by line.

The log of each container comes from the API server's `GET /api/v1/namespaces/{ns}/pods/{name}
/log` (lightkube's `AsyncClient.log`), one stream per container, all read at once. A pod with one
container (or the `container` asked for) writes its lines as they are; otherwise, and always for
a deployment, each line is prefixed as `kubectl logs --prefix` does: `[pod/<pod>/<container>] `.

Without `follow` the task ends with the end of the logs; with it, when every container has
terminated, when `duration_s` has passed (COMPLETED, "duration_s reached"; wall-clock time,
pauses included), or when the task is cancelled (the streams are dropped at once). Pause stops
reading (the API server holds the rest) until resume. A deployment's pods are those its selector
matches when the task starts.
The result: the line count, the pods read, and the last `result_lines` lines.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import Field, model_validator

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import TaskStatus, TaskType
from qtqueue.executors.base import Executor, RunContext
from qtqueue.families.kubernetes.client import Cluster, cluster_session, k8s_error
from qtqueue.families.kubernetes.params import K8S_NAME_PATTERN, ClusterParams
from qtqueue.families.kubernetes.pods import (
    check_containers,
    get_pod,
    pod_call_error,
    waiting_error,
)

logger = logging.getLogger(__name__)

__all__ = ["K8sLogsExecutor", "LogsParams"]

_C = TaskErrorCode
S = TaskStatus

#: Seconds between two progress reports while a `duration_s` runs.
TICK_S = 1.0


class LogsParams(ClusterParams):
    """What K8S_LOGS reads: one pod or all of a deployment's, and how."""

    pod: str | None = Field(
        None, pattern=K8S_NAME_PATTERN, description="Pod whose logs to read (or give a deployment)"
    )
    deployment: str | None = Field(
        None,
        pattern=K8S_NAME_PATTERN,
        description="Deployment whose pods' logs to read, each line prefixed by its pod",
    )
    container: str | None = Field(
        None,
        pattern=K8S_NAME_PATTERN,
        description="Container to read (default: every container of the pod)",
    )
    follow: bool = Field(False, description="Keep streaming new lines until stopped")
    duration_s: float | None = Field(
        None,
        gt=0,
        le=7 * 24 * 3600,
        description="Stop after this many seconds and complete (default: until the logs end "
        "or the task is cancelled)",
    )
    since_seconds: int | None = Field(
        None, ge=1, description="Only lines newer than this many seconds"
    )
    tail_lines: int | None = Field(
        None, ge=0, description="Start with at most this many of the last lines of each container"
    )
    timestamps: bool = Field(False, description="Prefix each line with its RFC 3339 timestamp")
    result_lines: int = Field(
        100, ge=0, le=10_000, description="How many of the last lines the result keeps"
    )

    @model_validator(mode="after")
    def _one_source(self) -> LogsParams:
        if (self.pod is None) == (self.deployment is None):
            raise ValueError("name either a pod or a deployment")
        return self


@dataclass(frozen=True)
class _Source:
    """One container's log stream, and the prefix its lines get."""

    pod: str
    container: str
    prefix: str


class _Tally:
    """Lines written to the task log, counted; the last ones kept; progress reported."""

    def __init__(self, ctx: RunContext[LogsParams], keep: int, sources: int) -> None:
        self.ctx = ctx
        self.count = 0
        self.last: deque[str] = deque(maxlen=keep)
        self.sources = sources
        self.started = time.monotonic()

    def add(self, line: str) -> None:
        self.ctx.log(line)
        self.count += 1
        self.last.append(line)

    def streams(self) -> str:
        return f"{self.sources} container" + ("s" if self.sources != 1 else "")

    def step(self) -> str:
        return f"{self.count} lines from {self.streams()}"

    async def tick(self, duration_s: float) -> None:
        """Report the share of `duration_s` gone, every TICK_S, until cancelled."""
        while True:
            await self.ctx.checkpoint()  # no reports while paused
            elapsed = time.monotonic() - self.started
            self.ctx.progress(min(99.0, 100.0 * elapsed / duration_s), self.step())
            await asyncio.sleep(TICK_S)  # a periodic report, not a wait for a condition


def _matches(labels: Mapping[str, str], selector: Mapping[str, Any]) -> bool:
    """Whether `labels` satisfy a LabelSelector (matchLabels and matchExpressions)."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if (
            (op == "In" and labels.get(key) not in values)
            or (op == "NotIn" and labels.get(key) in values)
            or (op == "Exists" and key not in labels)
            or (op == "DoesNotExist" and key in labels)
        ):
            return False
    return True


def _server_selector(selector: Mapping[str, Any]) -> dict[str, Any]:
    """A LabelSelector as lightkube's `labels=` (the API server filters; `_matches` checks)."""
    from lightkube import operators

    labels: dict[str, Any] = dict(selector.get("matchLabels") or {})
    for expr in selector.get("matchExpressions") or []:
        key, op, values = str(expr.get("key")), expr.get("operator"), expr.get("values") or []
        if key in labels:
            continue  # one condition per key: the rest is checked by `_matches`
        if op == "In":
            labels[key] = operators.in_(values)
        elif op == "NotIn":
            labels[key] = operators.not_in(values)
        elif op == "Exists":
            labels[key] = operators.exists()
        elif op == "DoesNotExist":
            labels[key] = operators.not_exists()
    return labels


class K8sLogsExecutor(Executor[LogsParams]):
    """Streams a pod's or a deployment's logs into the task log (see the module docstring)."""

    task_type: ClassVar[TaskType] = TaskType.K8S_LOGS
    params_model = LogsParams
    summary = "Stream the logs of a Kubernetes pod or deployment into the task log"

    async def run(self, ctx: RunContext[LogsParams]) -> dict[str, Any] | None:
        p = ctx.params
        ctx.phase(S.VALIDATING)
        async with cluster_session(ctx, p) as cluster:
            ctx.phase(S.PREPARING)
            pods = await self._pods(cluster, p)
            sources = self._sources(ctx, pods, p)
            ctx.phase(S.RUNNING)
            tally = _Tally(ctx, p.result_lines, len(sources))
            ctx.progress(0.0, f"reading {tally.streams()}")
            ended = "end of log"
            try:
                async with asyncio.timeout(p.duration_s) as limit:
                    await self._stream_all(ctx, cluster, sources, tally)
            except TimeoutError:
                if not limit.expired():
                    raise
                ended = "duration_s reached"
            ctx.progress(100.0, f"{tally.step()} ({ended})")
        names = sorted({s.pod for s in sources})
        return {
            ("pod" if p.pod else "deployment"): p.pod or p.deployment,
            "namespace": cluster.namespace,
            "pods": names,
            "lines": tally.count,
            "last_lines": list(tally.last),
            "ended": ended,
        }

    async def _pods(self, cluster: Cluster, p: LogsParams) -> list[dict[str, Any]]:
        """The pod asked for, or the deployment's pods (by its selector), sorted by name."""
        if p.pod is not None:
            return [await get_pod(cluster, p.pod)]
        from lightkube.resources.apps_v1 import Deployment
        from lightkube.resources.core_v1 import Pod

        assert p.deployment is not None
        try:
            deployment = await cluster.client.get(
                Deployment, p.deployment, namespace=cluster.namespace
            )
            selector: dict[str, Any] = deployment.to_dict().get("spec", {}).get("selector", {})
            found = [
                pod.to_dict()
                async for pod in cluster.client.list(
                    Pod, namespace=cluster.namespace, labels=_server_selector(selector)
                )
            ]
        except Exception as exc:
            raise k8s_error(
                exc,
                kind="Deployment",
                name=p.deployment,
                namespace=cluster.namespace,
                server=cluster.where(),
            ) from None
        pods = [
            pod for pod in found if _matches(pod.get("metadata", {}).get("labels") or {}, selector)
        ]
        if not pods:
            raise QueueError(
                _C.K8S_RESOURCE_NOT_FOUND,
                f"deployment {p.deployment!r} in namespace {cluster.namespace!r} has no pods",
                kind="Deployment",
                name=p.deployment,
                namespace=cluster.namespace,
            )
        return sorted(pods, key=lambda pod: str(pod.get("metadata", {}).get("name")))

    @staticmethod
    def _sources(
        ctx: RunContext[LogsParams], pods: list[dict[str, Any]], p: LogsParams
    ) -> list[_Source]:
        """Every container to read; one still waiting to start is skipped with a log line,
        and when every one waits, K8S_POD_FAILED."""
        wanted = [(pod, c) for pod in pods for c in check_containers(pod, p.container)]
        prefixed = p.deployment is not None or len(wanted) > 1
        sources: list[_Source] = []
        first_error: QueueError | None = None
        for pod, container in wanted:
            name = str(pod.get("metadata", {}).get("name"))
            error = waiting_error(pod, container)
            if error is not None:
                first_error = first_error or error
                ctx.log(f"skipped: {error.message}")
                continue
            prefix = f"[pod/{name}/{container}] " if prefixed else ""
            sources.append(_Source(name, container, prefix))
        if not sources:
            assert first_error is not None
            raise first_error
        return sources

    async def _stream_all(
        self,
        ctx: RunContext[LogsParams],
        cluster: Cluster,
        sources: list[_Source],
        tally: _Tally,
    ) -> None:
        """Read every source at once until all end; the first failure ends them all."""
        p = ctx.params
        try:
            async with asyncio.TaskGroup() as group:
                ticker = (
                    group.create_task(tally.tick(p.duration_s))
                    if p.duration_s is not None
                    else None
                )
                streams = [group.create_task(self._stream(ctx, cluster, s, tally)) for s in sources]
                await asyncio.gather(*streams)
                if ticker is not None:
                    ticker.cancel()
        except BaseExceptionGroup as failed:
            raise failed.exceptions[0] from None

    @staticmethod
    async def _stream(
        ctx: RunContext[LogsParams], cluster: Cluster, source: _Source, tally: _Tally
    ) -> None:
        p = ctx.params

        def request(follow: bool, tail_lines: int | None) -> AsyncIterable[str]:
            return cluster.client.log(
                source.pod,
                namespace=cluster.namespace,
                container=source.container,
                follow=follow,
                since=p.since_seconds,
                tail_lines=tail_lines,
                timestamps=p.timestamps,
                newlines=False,
            )

        try:
            async for line in request(p.follow, p.tail_lines):
                await ctx.checkpoint()
                tally.add(source.prefix + line)
        except (QueueError, asyncio.CancelledError):
            raise
        except Exception as exc:
            if p.follow and isinstance(exc, RuntimeError):
                # lightkube 1.0.1 reads a follow's error body synchronously from the async
                # stream ("Attempted to call a sync iterator on an async stream"): ask again
                # without follow (and for no lines) to get the API server's own answer.
                try:
                    async for _ in request(False, 0):
                        pass
                except Exception as again:
                    exc = again
            raise pod_call_error(exc, cluster, source.pod, source.container) from None
