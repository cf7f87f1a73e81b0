"""K8S_EXEC: a command run in a pod's container, its output in the task log, its exit status in
the result.

The protocol is Kubernetes' exec over WebSocket (k8s.io/apimachinery `remotecommand`; the
WebSocket transport is KEP-4006's): `GET /api/v1/namespaces/{ns}/pods/{name}/exec?command=…
&stdout=true&stderr=true[&container=…]` upgraded with subprotocol `v5.channel.k8s.io` or
`v4.channel.k8s.io`; every binary message is one channel byte and its data — 1 stdout, 2 stderr,
3 the final `metav1.Status` (`Success`, or `Failure` with reason `NonZeroExitCode` and the code
in `details.causes[{reason: ExitCode, message: "N"}]`). lightkube 1.0's `AsyncClient.exec`
speaks exactly this over its own connection (so with the cluster's TLS and credentials); the
output is handed to the task log chunk by chunk as it arrives.

Exit 0 is COMPLETED; any other exit FAILED with the shell family's codes (`classify_exit`:
SYSTEM_COMMAND_FAILED, 127 SYSTEM_COMMAND_NOT_FOUND, 137 SYSTEM_PROCESS_KILLED…), the exit
status named in the message and in `error_details.exit_code`. Cancel (and the task's timeout)
closes the WebSocket, and the kubelet ends the command. A command in a remote container cannot
be suspended: a pause takes effect once it has ended (the task then waits, PAUSED, for resume
before it completes or fails).
"""

from __future__ import annotations

import asyncio
import io
import logging
import shlex
from typing import Any, ClassVar

from pydantic import Field, field_validator
from typing_extensions import Buffer

from qtqueue.core.errors import (
    QueueError,
    TaskErrorCode,
    classify_exit,
    classify_message,
    describe_exit,
)
from qtqueue.core.task import TaskStatus, TaskType
from qtqueue.executors.base import Executor, RunContext
from qtqueue.families.kubernetes.client import Cluster, cluster_session
from qtqueue.families.kubernetes.params import K8S_NAME_PATTERN, ClusterParams
from qtqueue.families.kubernetes.pods import (
    check_containers,
    container_state,
    get_pod,
    pod_call_error,
    pod_failure,
    waiting_error,
)

logger = logging.getLogger(__name__)

__all__ = ["ExecParams", "K8sExecExecutor"]

_C = TaskErrorCode
S = TaskStatus


class ExecParams(ClusterParams):
    """What K8S_EXEC runs, and where."""

    pod: str = Field(..., pattern=K8S_NAME_PATTERN, description="Pod to run the command in")
    command: list[str] = Field(
        ...,
        min_length=1,
        description="Command and arguments (a list, or one line split like a shell would); "
        "no shell unless you run one, e.g. sh -c '…'",
    )
    container: str | None = Field(
        None,
        pattern=K8S_NAME_PATTERN,
        description="Container (default: the pod's first, as kubectl does)",
    )
    result_chars: int = Field(
        4096,
        ge=0,
        le=1_000_000,
        description="How many of the last characters of stdout and of stderr the result keeps",
    )

    @field_validator("command", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return shlex.split(value) if isinstance(value, str) else value


class _Output(io.BytesIO):
    """A stream lightkube writes one channel's data to: each chunk goes to the task log at
    once; the last `keep` bytes stay for the result."""

    def __init__(self, ctx: RunContext[ExecParams], keep: int) -> None:
        super().__init__()
        self.ctx = ctx
        self.keep = keep
        self.tail = bytearray()

    def write(self, data: Buffer, /) -> int:
        chunk = bytes(data)
        self.ctx.log_bytes(chunk)
        self.tail.extend(chunk)
        # Kept a little longer than asked: cut in characters, not in the middle of one.
        del self.tail[: max(0, len(self.tail) - 4 * self.keep)]
        return len(chunk)

    def text(self) -> str:
        decoded = self.tail.decode("utf-8", "replace")
        return decoded[-self.keep :] if self.keep else ""


class K8sExecExecutor(Executor[ExecParams]):
    """Runs a command in a pod's container (see the module docstring)."""

    task_type: ClassVar[TaskType] = TaskType.K8S_EXEC
    params_model = ExecParams
    summary = "Run a command in a Kubernetes pod and record its output and exit status"

    async def run(self, ctx: RunContext[ExecParams]) -> dict[str, Any] | None:
        p = ctx.params
        ctx.phase(S.VALIDATING)
        async with cluster_session(ctx, p) as cluster:
            ctx.phase(S.PREPARING)
            container = self._container(ctx, await get_pod(cluster, p.pod), p)
            ctx.phase(S.RUNNING)
            line = shlex.join(p.command)
            ctx.progress(0.0, f"running {line} in pod/{p.pod}/{container}")
            stdout, stderr = _Output(ctx, p.result_chars), _Output(ctx, p.result_chars)
            exit_code = await self._exec(cluster, p, container, stdout, stderr)
        await ctx.checkpoint()
        result = {
            "pod": p.pod,
            "container": container,
            "namespace": cluster.namespace,
            "command": p.command,
            "exit_code": exit_code,
            "stdout": stdout.text(),
            "stderr": stderr.text(),
        }
        if exit_code != 0:
            output = stderr.text() + "\n" + stdout.text()
            last = [text for text in output.splitlines() if text.strip()][-3:]
            raise QueueError(
                classify_exit(exit_code, stderr.text()),
                f"{line!r} in pod {p.pod!r} (container {container!r}) {describe_exit(exit_code)}"
                + (f": {last[-1].strip()[:300]}" if last else ""),
                output_tail=last,
                **result,
            )
        ctx.progress(100.0, f"{line}: exited with code 0")
        return result

    @staticmethod
    def _container(ctx: RunContext[ExecParams], pod: dict[str, Any], p: ExecParams) -> str:
        """The container to run in, checked to exist and to run."""
        names = check_containers(pod, p.container)
        container = names[0]
        if p.container is None and len(names) > 1:
            ctx.log(f"Defaulted container {container!r} out of: {', '.join(names)}")
        phase = pod.get("status", {}).get("phase")
        if phase in ("Succeeded", "Failed"):
            raise pod_failure(
                p.pod, container, f"cannot exec in a completed pod (phase {phase})", phase=phase
            )
        waiting = waiting_error(pod, container)
        if waiting is not None:
            raise waiting
        if "terminated" in container_state(pod, container):
            raise pod_failure(p.pod, container, "the container has terminated: cannot exec in it")
        return container

    @staticmethod
    async def _exec(
        cluster: Cluster, p: ExecParams, container: str, stdout: _Output, stderr: _Output
    ) -> int:
        """The command's exit code; QueueError when it could not run."""
        from lightkube import ApiError

        try:
            response = await cluster.client.exec(
                p.pod,
                namespace=cluster.namespace,
                container=container,
                command=p.command,
                stdout=stdout,
                stderr=stderr,
            )
        except (QueueError, asyncio.CancelledError):
            raise
        except ApiError as exc:
            if getattr(exc, "response", None) is not None:  # refused before the command ran
                raise pod_call_error(exc, cluster, p.pod, container) from None
            # The final Status said Failure without an exit code: the command did not start.
            message = str(exc.status.message or exc)
            code = classify_message(message) or _C.K8S_POD_FAILED
            raise QueueError(
                code,
                f"{shlex.join(p.command)!r} could not run in pod {p.pod!r} "
                f"(container {container!r}): {message}",
                pod=p.pod,
                container=container,
                command=p.command,
            ) from None
        except Exception as exc:
            raise pod_call_error(exc, cluster, p.pod, container) from None
        return int(response.exit_code)
