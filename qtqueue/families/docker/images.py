"""DOCKER_BUILD, DOCKER_PUSH, DOCKER_PULL and DOCKER_TAG: images built, moved and named."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field, field_validator

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import TaskStatus, TaskType
from qtqueue.executors.base import Executor, Params, RunContext
from qtqueue.families.docker.client import (
    DockerSession,
    docker_error,
    docker_session,
    registry_auth,
    stream_error,
)
from qtqueue.families.docker.params import docker_host_field, split_reference
from qtqueue.families.docker.progress import BuildSteps, LayerProgress

logger = logging.getLogger(__name__)

_C = TaskErrorCode
S = TaskStatus

#: Report transfer progress at most this often (unless the percentage moved a whole point).
PROGRESS_INTERVAL_S = 0.5

_CREDENTIAL_HELP = (
    "Name of a credential in the OS keyring holding the registry login: 'username:password' "
    '(split at the first colon) or a JSON object {"username": ..., "password": ...}'
)


# --- Params ---------------------------------------------------------------------------------


class BuildParams(Params):
    context: str = Field(
        ...,
        min_length=1,
        description="Build context: the folder sent to the daemon",
        json_schema_extra={"widget": "folder"},
    )
    dockerfile: str = Field("Dockerfile", description="Dockerfile, relative to the context")
    tag: str | list[str] | None = Field(
        None, description="Name(s) for the built image, e.g. myapp:1.0 (one or a list)"
    )
    build_args: dict[str, str] = Field(
        default_factory=dict, description="Build arguments (ARG values in the Dockerfile)"
    )
    target: str | None = Field(None, description="Build stage to stop at (multi-stage builds)")
    no_cache: bool = Field(False, description="Do not use cached layers")
    pull: bool = Field(False, description="Always pull newer versions of the base images")
    docker_host: str | None = docker_host_field()

    @field_validator("tag")
    @classmethod
    def _tags_not_blank(cls, value: str | list[str] | None) -> str | list[str] | None:
        names = [value] if isinstance(value, str) else (value or [])
        if any(not name.strip() for name in names):
            raise ValueError("an image name cannot be blank")
        return value

    def tags(self) -> list[str]:
        """The image names, as a list (empty when the image is left unnamed)."""
        if self.tag is None:
            return []
        return [self.tag] if isinstance(self.tag, str) else list(self.tag)


class PushParams(Params):
    image_name: str = Field(
        ..., min_length=1, description="Image repository, e.g. myapp or registry.example/team/app"
    )
    tag: str = Field("latest", min_length=1, description="Tag to push")
    registry: str | None = Field(
        None,
        description=(
            "Registry host[:port] to push to; the local IMAGE_NAME:TAG is tagged "
            "REGISTRY/IMAGE_NAME:TAG first when needed (default: the registry in image_name)"
        ),
    )
    credential: str | None = Field(None, description=_CREDENTIAL_HELP)
    docker_host: str | None = docker_host_field()


class PullParams(Params):
    image: str = Field(
        ..., min_length=1, description="Image to pull, e.g. busybox or registry.example/app:1.2"
    )
    tag: str | None = Field(None, description="Tag (default: the one in image, else latest)")
    platform: str | None = Field(None, description="Platform to pull, e.g. linux/arm64")
    credential: str | None = Field(None, description=_CREDENTIAL_HELP)
    docker_host: str | None = docker_host_field()


class TagParams(Params):
    source: str = Field(..., min_length=1, description="Existing image: name[:tag] or id")
    target: str = Field(..., min_length=1, description="New name, e.g. registry.example/app:1.2")
    docker_host: str | None = docker_host_field()


# --- Transfers (pull and push) --------------------------------------------------------------


class _Transfer:
    """Takes a pull's or push's stream messages on the loop: layer lines and status lines to
    the log, summed progress to the task, a reported error raised as QueueError."""

    def __init__(self, ctx: RunContext, verb: str, fallback: TaskErrorCode, doing: str) -> None:
        self.ctx = ctx
        self.layers = LayerProgress(verb)
        self.fallback = fallback
        self.doing = doing
        self.statuses: list[str] = []
        self.aux: dict[str, Any] = {}
        self._reported_at = 0.0
        self._reported_pct = -1.0

    def __call__(self, item: Mapping[str, Any]) -> None:
        failure = stream_error(item, self.fallback, self.doing)
        if failure is not None:
            raise failure
        if LayerProgress.is_layer_message(item):
            line = self.layers.feed(item)
            if line is not None:
                self.ctx.log(line)
            self._report()
            return
        aux = item.get("aux")
        if isinstance(aux, Mapping):
            self.aux.update(aux)
        status = item.get("status")
        if status:
            text = f"{item['id']}: {status}" if item.get("id") else str(status)
            self.statuses.append(str(status))
            self.ctx.log(text)

    def _report(self) -> None:
        now = time.monotonic()
        pct = self.layers.percent
        if now - self._reported_at >= PROGRESS_INTERVAL_S or pct - self._reported_pct >= 1.0:
            self._reported_at, self._reported_pct = now, pct
            self.ctx.progress(pct, self.layers.step(), **self.layers.byte_counts())

    def finish(self) -> None:
        """The stream ended well: the last word on progress."""
        self.layers.complete()
        self.ctx.progress(self.layers.percent, self.layers.step(), **self.layers.byte_counts())


async def _transfer(
    session: DockerSession, transfer: _Transfer, start: Any, *args: Any, **kwargs: Any
) -> None:
    try:
        await session.stream(lambda: start(*args, **kwargs), transfer)
    except QueueError:
        raise
    except Exception as exc:
        raise docker_error(exc, transfer.fallback, transfer.doing, session.host) from None
    transfer.finish()


async def _image_id(session: DockerSession, ref: str) -> str | None:
    try:
        info = await session.call(session.api.inspect_image, ref)
    except Exception:
        logger.debug("could not inspect %s", ref, exc_info=True)
        return None
    return str(info.get("Id")) if isinstance(info, Mapping) else None


# --- Executors ------------------------------------------------------------------------------


class DockerBuildExecutor(Executor[BuildParams]):
    """Builds an image from a context folder, following the build's `Step N/M` lines."""

    task_type: ClassVar[TaskType] = TaskType.DOCKER_BUILD
    params_model = BuildParams
    summary = "Build a Docker image from a folder with a Dockerfile"

    async def run(self, ctx: RunContext[BuildParams]) -> dict[str, Any] | None:
        p = ctx.params
        ctx.phase(S.VALIDATING)
        context = os.path.abspath(os.path.expanduser(p.context))
        if not os.path.isdir(context):
            raise QueueError(
                _C.DATA_FILE_NOT_FOUND, f"build context {context} is not a folder", path=context
            )
        dockerfile = os.path.join(context, p.dockerfile)
        if not os.path.isfile(dockerfile):
            raise QueueError(
                _C.DATA_FILE_NOT_FOUND, f"no Dockerfile at {dockerfile}", path=dockerfile
            )
        tags = p.tags()
        async with docker_session(ctx, p.docker_host) as session:
            ctx.phase(S.PREPARING)  # the context is packed and sent first
            image_id = await self._build(ctx, session, p, context, tags)
            for name in tags[1:]:
                repository, tag = split_reference(name)
                try:
                    await session.call(session.api.tag, image_id, repository, tag or "latest")
                except Exception as exc:
                    raise docker_error(exc, _C.DOCKER_BUILD_FAILED, f"tagging {name}") from None
        return {"image_id": image_id, "tags": tags}

    async def _build(
        self,
        ctx: RunContext,
        session: DockerSession,
        p: BuildParams,
        context: str,
        tags: list[str],
    ) -> str:
        steps = BuildSteps()
        found: dict[str, str] = {}
        building = False

        def take(item: Mapping[str, Any]) -> None:
            nonlocal building
            if not building:
                building = True
                ctx.phase(S.BUILDING)
            if "error" in item or "errorDetail" in item:
                raise _build_failure(item, steps)
            text = item.get("stream")
            if isinstance(text, str):
                before = (steps.number, steps.total)
                for line in steps.feed(text):
                    ctx.log(line)
                if (steps.number, steps.total) != before:
                    ctx.progress(steps.percent, steps.step)
            aux = item.get("aux")
            if isinstance(aux, Mapping) and aux.get("ID"):
                found["image_id"] = str(aux["ID"])
            status = item.get("status")  # base images pulled with `pull`
            if status:
                ctx.log(f"{item['id']}: {status}" if item.get("id") else str(status))

        def start() -> Any:
            return session.api.build(
                path=context,
                dockerfile=p.dockerfile,
                tag=tags[0] if tags else None,
                buildargs=p.build_args or None,
                target=p.target,
                nocache=p.no_cache,
                pull=p.pull,
                rm=True,
                forcerm=True,
                decode=True,
            )

        try:
            await session.stream(start, take)
        except QueueError:
            raise
        except Exception as exc:
            raise docker_error(
                exc, _C.DOCKER_BUILD_FAILED, f"building {context}", session.host
            ) from None
        for line in steps.flush():
            ctx.log(line)
        if "image_id" not in found:
            raise QueueError(
                _C.DOCKER_BUILD_FAILED,
                f"building {context}: the daemon reported no image",
                step=steps.step,
            )
        return found["image_id"]


def _build_failure(item: Mapping[str, Any], steps: BuildSteps) -> QueueError:
    """BUILD_FAILED (or what the daemon's text points to) naming the failing step."""
    failure = stream_error(item, _C.DOCKER_BUILD_FAILED, "build failed")
    assert failure is not None
    text = failure.message.removeprefix("build failed: ")
    where = f" at step {steps.number}/{steps.total} ({steps.instruction})" if steps.total else ""
    details: dict[str, Any] = dict(failure.details)
    if steps.total:
        details.update(step=steps.step, step_number=steps.number, total_steps=steps.total)
    return QueueError(failure.code, f"build failed{where}: {text}", **details)


def _qualified(image_name: str, registry: str | None) -> str:
    """IMAGE_NAME under REGISTRY, unless it already names that registry."""
    if not registry:
        return image_name
    registry = registry.rstrip("/")
    if image_name.startswith(registry + "/"):
        return image_name
    return f"{registry}/{image_name}"


class DockerPushExecutor(Executor[PushParams]):
    """Pushes a local image to its registry, with summed layer progress."""

    task_type: ClassVar[TaskType] = TaskType.DOCKER_PUSH
    params_model = PushParams
    summary = "Push a Docker image to a registry"

    async def run(self, ctx: RunContext[PushParams]) -> dict[str, Any] | None:
        p = ctx.params
        ctx.phase(S.VALIDATING)
        repository = _qualified(p.image_name, p.registry)
        ref = f"{repository}:{p.tag}"
        auth = await registry_auth(ctx, p.credential)
        async with docker_session(ctx, p.docker_host) as session:
            await self._ensure_local(ctx, session, p, repository)
            ctx.phase(S.UPLOADING)
            transfer = _Transfer(ctx, "Pushing", _C.DOCKER_PUSH_FAILED, f"pushing {ref}")
            await _transfer(
                session,
                transfer,
                session.api.push,
                repository,
                tag=p.tag,
                stream=True,
                decode=True,
                auth_config=auth,
            )
        return {
            "image": ref,
            "repository": repository,
            "tag": p.tag,
            "digest": transfer.aux.get("Digest"),
            "size": transfer.aux.get("Size"),
            "layers": len(transfer.layers.layers),
        }

    @staticmethod
    async def _ensure_local(
        ctx: RunContext, session: DockerSession, p: PushParams, repository: str
    ) -> None:
        """REPOSITORY:TAG exists locally, tagged from IMAGE_NAME:TAG if need be."""
        import docker.errors

        ref = f"{repository}:{p.tag}"
        try:
            await session.call(session.api.inspect_image, ref)
            return
        except docker.errors.ImageNotFound:
            if repository == p.image_name:
                raise QueueError(
                    _C.DOCKER_IMAGE_NOT_FOUND,
                    f"there is no local image {ref} to push: build or pull it first",
                    image=ref,
                ) from None
        except Exception as exc:
            raise docker_error(exc, _C.DOCKER_PUSH_FAILED, f"pushing {ref}", session.host) from None
        ctx.phase(S.PREPARING)
        source = f"{p.image_name}:{p.tag}"
        try:
            await session.call(session.api.tag, source, repository, p.tag)
        except Exception as exc:
            raise docker_error(
                exc, _C.DOCKER_PUSH_FAILED, f"tagging {source} as {ref}", session.host, image=source
            ) from None
        ctx.log(f"tagged {source} as {ref}")


class DockerPullExecutor(Executor[PullParams]):
    """Pulls an image from its registry, with summed layer progress."""

    task_type: ClassVar[TaskType] = TaskType.DOCKER_PULL
    params_model = PullParams
    summary = "Pull a Docker image from a registry"

    async def run(self, ctx: RunContext[PullParams]) -> dict[str, Any] | None:
        p = ctx.params
        ctx.phase(S.VALIDATING)
        repository, tag = split_reference(p.image)
        if p.tag and tag and p.tag != tag:
            raise QueueError(
                _C.VALIDATION_INVALID_PARAMS,
                f"image {p.image!r} names tag {tag!r} but the tag parameter says {p.tag!r}",
            )
        tag = p.tag or tag or "latest"
        ref = f"{repository}@{tag}" if tag.startswith("sha256:") else f"{repository}:{tag}"
        auth = await registry_auth(ctx, p.credential)
        async with docker_session(ctx, p.docker_host) as session:
            ctx.phase(S.PULLING)
            transfer = _Transfer(ctx, "Pulling", _C.DOCKER_PULL_FAILED, f"pulling {ref}")
            await _transfer(
                session,
                transfer,
                session.api.pull,
                repository,
                tag=tag,
                stream=True,
                decode=True,
                auth_config=auth,
                platform=p.platform,
            )
            image_id = await _image_id(session, ref)
        digest = next(
            (s.split(":", 1)[1].strip() for s in transfer.statuses if s.startswith("Digest:")),
            None,
        )
        status = next((s for s in reversed(transfer.statuses) if s.startswith("Status:")), None)
        return {
            "image": ref,
            "image_id": image_id,
            "digest": digest,
            "status": status.removeprefix("Status:").strip() if status else None,
            "layers": len(transfer.layers.layers),
        }


class DockerTagExecutor(Executor[TagParams]):
    """Gives an existing image another name."""

    task_type: ClassVar[TaskType] = TaskType.DOCKER_TAG
    params_model = TagParams
    summary = "Give a Docker image another name (tag)"

    async def run(self, ctx: RunContext[TagParams]) -> dict[str, Any] | None:
        p = ctx.params
        ctx.phase(S.VALIDATING)
        repository, tag = split_reference(p.target)
        tag = tag or "latest"
        async with docker_session(ctx, p.docker_host) as session:
            try:
                await session.call(session.api.tag, p.source, repository, tag)
            except Exception as exc:
                raise docker_error(
                    exc,
                    _C.UNKNOWN_ERROR,  # a missing source is DOCKER_IMAGE_NOT_FOUND (a 404)
                    f"tagging {p.source} as {repository}:{tag}",
                    session.host,
                    image=p.source,
                ) from None
            image_id = await _image_id(session, p.source)
        target = f"{repository}:{tag}"
        ctx.log(f"tagged {p.source} as {target}")
        return {"source": p.source, "target": target, "image_id": image_id}
