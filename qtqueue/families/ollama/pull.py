"""OLLAMA_PULL: a model downloaded by the server, with layer progress, pause and resume.

Pause closes the status stream (the server keeps the partial blobs) and waits; resume asks
for the same pull again, and the server continues each blob where it stopped, so the
progress goes on from there. Cancel closes the stream for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any, ClassVar, cast

from pydantic import Field

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import TaskStatus, TaskType
from qtqueue.executors.base import Executor, Params, RunContext
from qtqueue.families.ollama.client import OllamaConnection, ollama_connection, ollama_error
from qtqueue.families.ollama.params import OllamaHost, credential_field, host_field
from qtqueue.families.ollama.progress import PullProgress, human_size, short_digest

if TYPE_CHECKING:
    from ollama import ProgressResponse

logger = logging.getLogger(__name__)

_C = TaskErrorCode
#: Report progress at most this often (unless the percentage moved a whole point).
PROGRESS_INTERVAL_S = 0.5


class PullParams(Params):
    model: str = Field(
        ..., min_length=1, description="Model to pull, e.g. llama3.2 or qwen2.5:0.5b"
    )
    insecure: bool = Field(
        False, description="Allow an insecure (http, self-signed) model registry"
    )
    host: OllamaHost = host_field()
    credential: str | None = credential_field()


class _Pull:
    """One task's pull: status objects to log lines and progress, for every request."""

    def __init__(self, ctx: RunContext[PullParams], conn: OllamaConnection) -> None:
        self.ctx = ctx
        self.conn = conn
        self.model = ctx.params.model
        self.progress = PullProgress(self.model)
        self.succeeded = False
        self.requests = 0
        self._reported_at = 0.0
        self._reported_pct = -1.0

    async def request(self) -> None:
        """Ask the server for the pull once and follow its stream to the end."""
        self.requests += 1
        self.progress.restart()
        if self.requests > 1:
            self.ctx.log(
                f"resuming the pull of {self.model} at {human_size(self.progress.completed)}"
            )
        doing = f"pulling {self.model}"
        try:
            stream = cast(
                "AsyncGenerator[ProgressResponse, None]",
                await self.conn.client.pull(
                    self.model, insecure=self.ctx.params.insecure, stream=True
                ),
            )
            async with contextlib.aclosing(stream):
                async for part in stream:
                    self._take(part.model_dump(exclude_none=True))
        except QueueError:
            raise
        except Exception as exc:
            raise ollama_error(
                exc,
                self.conn,
                _C.NETWORK_CONNECTION_FAILED,
                doing,
                model=self.model,
                missing_hint="check the model's name and tag (ollama.com/library lists them)",
            ) from None
        if not self.succeeded:
            raise QueueError(
                _C.OLLAMA_SERVICE_UNAVAILABLE,
                f"{doing}: the server ended the stream before 'success' (it stopped?)",
                host=self.conn.host,
                model=self.model,
            )

    def _take(self, item: dict[str, Any]) -> None:
        line = self.progress.feed(item)
        if line is not None:
            self.ctx.log(line)
        if item.get("status") == "success":
            self.succeeded = True
        if item.get("digest"):
            self._report()

    def _report(self, force: bool = False) -> None:
        now = time.monotonic()
        pct = self.progress.percent
        if force or now - self._reported_at >= PROGRESS_INTERVAL_S or pct - self._reported_pct >= 1:
            self._reported_at, self._reported_pct = now, pct
            moved = self.progress
            self.ctx.progress(
                pct, moved.step(), done_bytes=moved.completed, total_bytes=moved.total or None
            )

    def finish(self) -> dict[str, Any]:
        """Progress at 100 and the result."""
        self.progress.complete()
        self._report(force=True)
        return {
            "model": self.model,
            "host": self.conn.host,
            "layers": [
                {"digest": digest, "size": layer.total}
                for digest, layer in self.progress.layers.items()
            ],
            "size": self.progress.total,
            "downloaded": self.progress.moved,
            "requests": self.requests,
        }


class OllamaPullExecutor(Executor[PullParams]):
    """Pulls a model onto the Ollama server, following its layers; pause and resume continue
    the download where the server left off."""

    task_type: ClassVar[TaskType] = TaskType.OLLAMA_PULL
    params_model = PullParams
    summary = "Download an Ollama model onto the server (resumable)"

    async def run(self, ctx: RunContext[PullParams]) -> dict[str, Any] | None:
        p = ctx.params
        ctx.phase(TaskStatus.VALIDATING)
        async with ollama_connection(ctx, p.host, p.credential) as conn:
            pull = _Pull(ctx, conn)
            attempt: asyncio.Task[None] | None = None

            def pause() -> None:
                if attempt is not None and not attempt.done():
                    attempt.cancel()  # closes the stream; the server keeps what it has

            ctx.set_suspend_hooks(pause, lambda: None)
            while True:
                await ctx.checkpoint()
                ctx.phase(TaskStatus.PULLING)
                attempt = asyncio.create_task(pull.request(), name=f"ollama pull {p.model}")
                try:
                    await asyncio.wait({attempt})
                except asyncio.CancelledError:
                    attempt.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await attempt
                    raise
                if not attempt.cancelled():
                    attempt.result()  # its failure, if any
                    return pull.finish()
                ctx.log(
                    f"paused at {human_size(pull.progress.completed)} of "
                    f"{human_size(pull.progress.total)}; the server keeps the partial layers "
                    + ", ".join(short_digest(d) for d in pull.progress.layers)
                )
