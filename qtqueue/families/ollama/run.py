"""OLLAMA_RUN: a prompt (generate) or a conversation (chat) answered by a model, the answer
streamed into the task log line by line as it comes and kept whole in the result."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import TYPE_CHECKING, Any, ClassVar, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, model_validator

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import TaskStatus, TaskType
from qtqueue.executors.base import Executor, Params, RunContext
from qtqueue.families.ollama.client import ollama_connection, ollama_error
from qtqueue.families.ollama.params import OllamaHost, credential_field, host_field

if TYPE_CHECKING:
    from ollama import AsyncClient

logger = logging.getLogger(__name__)

_C = TaskErrorCode
#: Report progress at most this often.
PROGRESS_INTERVAL_S = 0.5


class ChatMessage(BaseModel):
    """One message of a conversation."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "user", "assistant", "tool"] = Field("user", description="Who speaks")
    content: str = Field(..., description="What is said")


class RunParams(Params):
    model: str = Field(..., min_length=1, description="Model to run, e.g. llama3.2")
    prompt: str | None = Field(
        None,
        description="Prompt to complete (generate); leave empty to send `messages` instead",
        json_schema_extra={"widget": "multiline"},
    )
    messages: list[ChatMessage] | None = Field(
        None,
        description='A conversation for the chat API, e.g. [{"role": "user", "content": "Hi"}]',
    )
    system: str | None = Field(None, description="System message (overrides the model's)")
    options: dict[str, Any] = Field(
        default_factory=dict,
        description='Model options, e.g. {"temperature": 0.2, "num_predict": 200, "seed": 1}',
    )
    keep_alive: str | None = Field(
        None, description="How long the model stays loaded afterwards, e.g. 5m (server default)"
    )
    host: OllamaHost = host_field()
    credential: str | None = credential_field()

    @model_validator(mode="after")
    def _prompt_or_messages(self) -> RunParams:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("give either prompt (generate) or messages (chat), not both")
        if self.messages is not None and not self.messages:
            raise ValueError("messages: at least one message")
        return self


class _Answer:
    """The answer as it streams: whole lines to the log at once, the text kept."""

    def __init__(self, ctx: RunContext[RunParams]) -> None:
        self.ctx = ctx
        self.parts: list[str] = []
        self.chunks = 0
        self._partial = ""
        self._reported_at = 0.0
        limit = ctx.params.options.get("num_predict")
        self.limit = limit if isinstance(limit, int) and limit > 0 else None

    def take(self, text: str) -> None:
        if not text:
            return
        self.parts.append(text)
        self.chunks += 1
        if self.chunks == 1:
            self.ctx.phase(TaskStatus.RUNNING)  # the model is loaded and answers
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        for line in lines:
            self.ctx.log(line)
        now = time.monotonic()
        if now - self._reported_at >= PROGRESS_INTERVAL_S:
            self._reported_at = now
            pct = min(99.0, 100.0 * self.chunks / self.limit) if self.limit else 0.0
            self.ctx.progress(pct, f"{self.chunks} tokens generated")

    def flush(self) -> None:
        if self._partial:
            self.ctx.log(self._partial)
            self._partial = ""

    @property
    def text(self) -> str:
        return "".join(self.parts)


def _seconds(ns: int | None) -> float | None:
    return round(ns / 1e9, 3) if ns else None


class OllamaRunExecutor(Executor[RunParams]):
    """Sends a prompt or a conversation to a model and streams the answer into the log."""

    task_type: ClassVar[TaskType] = TaskType.OLLAMA_RUN
    params_model = RunParams
    summary = "Ask an Ollama model (prompt or chat), the answer streamed into the log"

    async def run(self, ctx: RunContext[RunParams]) -> dict[str, Any] | None:
        p = ctx.params
        ctx.phase(TaskStatus.VALIDATING)
        answer = _Answer(ctx)
        final: dict[str, Any] = {}
        async with ollama_connection(ctx, p.host, p.credential) as conn:
            ctx.phase(TaskStatus.PREPARING)  # the server loads the model first
            doing = f"running {p.model}"
            try:
                async with contextlib.aclosing(await _stream(conn.client, p)) as stream:
                    async for part in stream:
                        data = part.model_dump(exclude_none=True)
                        message = data.get("message") or {}
                        answer.take(str(data.get("response") or message.get("content") or ""))
                        if data.get("done"):
                            final = data
                        await ctx.checkpoint()  # a pause stops reading; the server waits
            except QueueError:
                raise
            except Exception as exc:
                raise ollama_error(
                    exc, conn, _C.OLLAMA_INFERENCE_FAILED, doing, model=p.model
                ) from None
            answer.flush()
            if not final:
                raise QueueError(
                    _C.OLLAMA_INFERENCE_FAILED,
                    f"{doing}: the answer ended before the model said it was done",
                    host=conn.host,
                    model=p.model,
                )
        ctx.progress(100.0, f"{final.get('eval_count') or answer.chunks} tokens generated")
        eval_s = _seconds(final.get("eval_duration"))
        count = final.get("eval_count")
        return {
            "model": p.model,
            "response": answer.text,
            "done_reason": final.get("done_reason"),
            "prompt_eval_count": final.get("prompt_eval_count"),
            "eval_count": count,
            "total_duration_s": _seconds(final.get("total_duration")),
            "load_duration_s": _seconds(final.get("load_duration")),
            "eval_duration_s": eval_s,
            "tokens_per_s": round(count / eval_s, 2) if count and eval_s else None,
        }


async def _stream(client: AsyncClient, p: RunParams) -> AsyncGenerator[Any, None]:
    """The server's streamed answer: /api/generate for a prompt, /api/chat for messages (an
    async generator: closing it closes the response)."""
    extra: dict[str, Any] = {"options": p.options or None, "keep_alive": p.keep_alive}
    if p.prompt is not None:
        if p.system:
            extra["system"] = p.system
        answer: AsyncIterator[Any] = await client.generate(p.model, p.prompt, stream=True, **extra)
    else:
        messages = [m.model_dump() for m in p.messages or []]
        if p.system:
            messages.insert(0, {"role": "system", "content": p.system})
        answer = await client.chat(p.model, messages, stream=True, **extra)
    return cast(AsyncGenerator[Any, None], answer)
