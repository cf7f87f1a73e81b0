"""DOCKER_RUN, DOCKER_STOP and DOCKER_REMOVE: containers started, followed, stopped, removed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field

from qtqueue.core.errors import QueueError, TaskErrorCode, classify_exit, describe_exit
from qtqueue.core.task import TaskStatus, TaskType
from qtqueue.executors.base import Executor, Params, RunContext
from qtqueue.families.docker.client import (
    DockerSession,
    docker_error,
    docker_session,
    in_thread,
)
from qtqueue.families.docker.params import docker_host_field

logger = logging.getLogger(__name__)

_C = TaskErrorCode
S = TaskStatus

#: Seconds a cancelled or timed-out DOCKER_RUN container gets between SIGTERM and SIGKILL.
RUN_STOP_GRACE_S = 10
_TAIL_BYTES = 4096


# --- Params ---------------------------------------------------------------------------------


class RunParams(Params):
    image: str = Field(..., min_length=1, description="Image to run (it must be on this machine)")
    command: str | list[str] | None = Field(
        None,
        description="Command: a list of arguments, or one line split like a shell would "
        "(default: the image's CMD)",
    )
    env: dict[str, str] = Field(default_factory=dict, description="Environment variables")
    volumes: dict[str, str | dict[str, str]] | list[str] | None = Field(
        None,
        description='Bind mounts: {"/host/path": "/container/path"} (or {"bind": ..., '
        '"mode": "ro"} as the value), or a list of "host:container[:ro]"',
    )
    working_dir: str | None = Field(None, description="Working directory inside the container")
    network: str = Field(
        "none", min_length=1, description="Network: none (no network), host, bridge or a name"
    )
    name: str | None = Field(None, description="Container name (default: one Docker picks)")
    detach: bool = Field(
        False,
        description="Finish as soon as the container has started, instead of waiting for its "
        "exit code",
    )
    auto_remove: bool = Field(
        False, description="Remove the container once it has exited (or was cancelled)"
    )
    docker_host: str | None = docker_host_field()


class _ContainerParams(Params):
    container: str = Field(..., min_length=1, description="Container name or id")
    timeout_s: int = Field(
        10, ge=0, le=3600, description="Seconds between SIGTERM and SIGKILL when stopping"
    )


class StopParams(_ContainerParams):
    force: bool = Field(False, description="Kill it at once (SIGKILL) instead of stopping it")
    docker_host: str | None = docker_host_field()


class RemoveParams(_ContainerParams):
    force: bool = Field(
        False, description="Remove it even if it runs (it is stopped first, with timeout_s grace)"
    )
    docker_host: str | None = docker_host_field()


# --- Shared ---------------------------------------------------------------------------------


async def _inspect(session: DockerSession, container: str) -> Mapping[str, Any]:
    """The container's description, or QueueError DOCKER_CONTAINER_NOT_FOUND."""
    try:
        info: Mapping[str, Any] = await session.call(session.api.inspect_container, container)
    except Exception as exc:
        raise docker_error(
            exc,
            _C.DOCKER_CONTAINER_NOT_FOUND,
            f"looking up container {container}",
            session.host,
            container=container,
        ) from None
    return info


def _state(info: Mapping[str, Any]) -> Mapping[str, Any]:
    state = info.get("State")
    return state if isinstance(state, Mapping) else {}


def _label(info: Mapping[str, Any]) -> str:
    return str(info.get("Name") or info.get("Id", "?")[:12]).lstrip("/")


# --- DOCKER_RUN -----------------------------------------------------------------------------


class DockerRunExecutor(Executor[RunParams]):
    """Runs a container: its output goes to the log live, its exit code decides the outcome;
    pause freezes it, cancel and timeout stop it."""

    task_type: ClassVar[TaskType] = TaskType.DOCKER_RUN
    params_model = RunParams
    summary = "Run a command in a Docker container"

    async def run(self, ctx: RunContext[RunParams]) -> dict[str, Any] | None:
        p = ctx.params
        ctx.phase(S.VALIDATING)
        async with docker_session(ctx, p.docker_host) as session:
            ctx.phase(S.PREPARING)
            container_id = await self._create(session, p)
            try:
                return await self._start_and_follow(ctx, session, p, container_id)
            except QueueError as exc:
                if "exit_code" not in exc.details:  # it did not exit by itself
                    await self._halt(ctx, session, container_id, p.auto_remove)
                raise
            except BaseException:  # cancelled, timed out, or the daemon went away
                await self._halt(ctx, session, container_id, p.auto_remove)
                raise

    async def _create(self, session: DockerSession, p: RunParams) -> str:
        api = session.api

        def create() -> str:
            host_config = api.create_host_config(
                binds=p.volumes or None,
                network_mode=p.network,
                auto_remove=p.auto_remove and p.detach,  # else removed here, after its exit
            )
            created = api.create_container(
                p.image,
                command=p.command,
                environment=p.env or None,
                working_dir=p.working_dir,
                name=p.name,
                host_config=host_config,
                detach=True,
            )
            return str(created["Id"])

        pending = asyncio.ensure_future(asyncio.to_thread(create))
        try:
            return await asyncio.shield(pending)
        except asyncio.CancelledError:
            # Created anyway once the call returns: remove it, then go on being cancelled.
            with contextlib.suppress(Exception):
                orphan = await pending
                await session.call(api.remove_container, orphan, force=True)
            raise
        except Exception as exc:
            what = f"creating a container from {p.image}" + (f" named {p.name}" if p.name else "")
            raise docker_error(
                exc, _C.UNKNOWN_ERROR, what, session.host, image=p.image, name=p.name
            ) from None

    async def _start_and_follow(
        self, ctx: RunContext, session: DockerSession, p: RunParams, container_id: str
    ) -> dict[str, Any]:
        api = session.api
        try:
            await session.call(api.start, container_id)
        except Exception as exc:
            raise docker_error(
                exc, _C.UNKNOWN_ERROR, f"starting container {container_id[:12]}", session.host
            ) from None
        ctx.phase(S.RUNNING)
        result: dict[str, Any] = {"container_id": container_id, "name": p.name, "image": p.image}
        if p.detach:
            return {**result, "detached": True}

        async def pause() -> None:
            await self._suspend(ctx, session, api.pause, container_id, "pause")

        async def resume() -> None:
            await self._suspend(ctx, session, api.unpause, container_id, "resume")

        ctx.set_suspend_hooks(pause, resume)
        tail = bytearray()

        def take(chunk: bytes) -> None:
            ctx.log_bytes(chunk)
            tail.extend(chunk)
            del tail[:-_TAIL_BYTES]

        output = asyncio.ensure_future(
            session.stream(
                lambda: api.logs(container_id, stream=True, follow=True, stdout=True, stderr=True),
                take,
            )
        )
        exited = in_thread(lambda: api.wait(container_id), "docker-wait")
        try:
            outcome = await exited
            await output  # the output ends with the container
        except (QueueError, asyncio.CancelledError):
            raise
        except Exception as exc:
            raise docker_error(
                exc, _C.UNKNOWN_ERROR, f"following container {container_id[:12]}", session.host
            ) from None
        finally:
            if not output.done():
                output.cancel()
                with contextlib.suppress(BaseException):
                    await output
        exit_code = int(outcome.get("StatusCode", -1))
        if p.auto_remove:
            with contextlib.suppress(Exception):
                await session.call(api.remove_container, container_id, force=True)
        if exit_code != 0:
            raise await self._exit_failure(session, container_id, exit_code, bytes(tail))
        return {**result, "exit_code": 0}

    @staticmethod
    async def _exit_failure(
        session: DockerSession, container_id: str, exit_code: int, tail: bytes
    ) -> QueueError:
        text = tail.decode("utf-8", "replace")
        code = classify_exit(exit_code, text)
        with contextlib.suppress(Exception):
            info = await session.call(session.api.inspect_container, container_id)
            if _state(info).get("OOMKilled"):
                code = _C.SYSTEM_MEMORY_LIMIT
        last = [line for line in text.splitlines() if line.strip()][-3:]
        return QueueError(
            code,
            f"container {container_id[:12]} {describe_exit(exit_code)}"
            + (f": {last[-1].strip()[:300]}" if last else ""),
            exit_code=exit_code,
            container_id=container_id,
            output_tail=last,
        )

    @staticmethod
    async def _suspend(
        ctx: RunContext, session: DockerSession, call: Any, container_id: str, what: str
    ) -> None:
        """Pause or unpause; a container that already exited cannot, and that is no error."""
        try:
            await session.call(call, container_id)
        except Exception as exc:
            ctx.log(f"[docker] could not {what} container {container_id[:12]}: {exc}")

    @staticmethod
    async def _halt(
        ctx: RunContext, session: DockerSession, container_id: str, remove: bool
    ) -> None:
        """Stop the container (thawing it first if paused), and remove it if asked; shielded,
        so that a second cancellation cannot leave it running."""
        api = session.api

        async def halt() -> None:
            with contextlib.suppress(Exception):
                if _state(await session.call(api.inspect_container, container_id)).get("Paused"):
                    await session.call(api.unpause, container_id)
            with contextlib.suppress(Exception):
                await session.call(api.stop, container_id, timeout=RUN_STOP_GRACE_S)
                ctx.log(f"[docker] stopped container {container_id[:12]}")
            if remove:
                with contextlib.suppress(Exception):
                    await session.call(api.remove_container, container_id, force=True)

        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.shield(halt())


# --- DOCKER_STOP and DOCKER_REMOVE ----------------------------------------------------------


class DockerStopExecutor(Executor[StopParams]):
    """Stops a running container (SIGTERM, SIGKILL after timeout_s; or SIGKILL with force)."""

    task_type: ClassVar[TaskType] = TaskType.DOCKER_STOP
    params_model = StopParams
    summary = "Stop a running Docker container"

    async def run(self, ctx: RunContext[StopParams]) -> dict[str, Any] | None:
        p = ctx.params
        ctx.phase(S.VALIDATING)
        async with docker_session(ctx, p.docker_host) as session:
            info = await _inspect(session, p.container)
            container_id = str(info["Id"])
            running = bool(_state(info).get("Running"))
            if running:
                api = session.api
                try:
                    if p.force:
                        await session.call(api.kill, container_id)
                        await session.call(api.wait, container_id)
                    else:
                        await session.call(api.stop, container_id, timeout=p.timeout_s)
                except Exception as exc:
                    raise docker_error(
                        exc,
                        _C.UNKNOWN_ERROR,
                        f"stopping container {p.container}",
                        session.host,
                        container=p.container,
                    ) from None
                ctx.log(f"stopped container {_label(info)}")
            else:
                ctx.log(f"container {_label(info)} was not running")
            after = await _inspect(session, container_id)
        return {
            "container_id": container_id,
            "name": _label(info),
            "was_running": running,
            "exit_code": _state(after).get("ExitCode"),
        }


class DockerRemoveExecutor(Executor[RemoveParams]):
    """Removes a container; a running one only with force (stopped first, gracefully)."""

    task_type: ClassVar[TaskType] = TaskType.DOCKER_REMOVE
    params_model = RemoveParams
    summary = "Remove a Docker container"

    async def run(self, ctx: RunContext[RemoveParams]) -> dict[str, Any] | None:
        p = ctx.params
        ctx.phase(S.VALIDATING)
        async with docker_session(ctx, p.docker_host) as session:
            info = await _inspect(session, p.container)
            container_id = str(info["Id"])
            api = session.api
            try:
                if p.force and _state(info).get("Running"):
                    await session.call(api.stop, container_id, timeout=p.timeout_s)
                await session.call(api.remove_container, container_id, force=p.force)
            except Exception as exc:
                raise docker_error(
                    exc,
                    _C.UNKNOWN_ERROR,
                    f"removing container {p.container}",
                    session.host,
                    container=p.container,
                ) from None
        ctx.log(f"removed container {_label(info)}")
        return {"container_id": container_id, "name": _label(info), "removed": True}
