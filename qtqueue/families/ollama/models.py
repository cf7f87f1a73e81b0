"""OLLAMA_LIST and OLLAMA_STATUS: what the server has, and what it runs."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import TaskStatus, TaskType
from qtqueue.executors.base import Executor, Params, RunContext
from qtqueue.families.ollama.client import ollama_connection, ollama_error
from qtqueue.families.ollama.params import OllamaHost, credential_field, host_field
from qtqueue.families.ollama.progress import human_size

logger = logging.getLogger(__name__)

_C = TaskErrorCode


class ServerParams(Params):
    host: OllamaHost = host_field()
    credential: str | None = credential_field()


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows as aligned text columns (the log's readable table), the header first."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    return [
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class OllamaListExecutor(Executor[ServerParams]):
    """Lists the models on the server with their sizes."""

    task_type: ClassVar[TaskType] = TaskType.OLLAMA_LIST
    params_model = ServerParams
    summary = "List the models on an Ollama server, with their sizes"

    async def run(self, ctx: RunContext[ServerParams]) -> dict[str, Any] | None:
        p = ctx.params
        ctx.phase(TaskStatus.VALIDATING)
        async with ollama_connection(ctx, p.host, p.credential) as conn:
            try:
                listed = await conn.client.list()
            except Exception as exc:
                raise ollama_error(
                    exc, conn, _C.OLLAMA_SERVICE_UNAVAILABLE, "listing the models"
                ) from None
        models: list[dict[str, Any]] = []
        rows: list[list[str]] = []
        total = 0
        for m in listed.models:
            details = m.details
            size = int(m.size or 0)
            total += size
            models.append(
                {
                    "name": m.model,
                    "size": size,
                    "digest": m.digest,
                    "modified_at": _when(m.modified_at),
                    "family": details.family if details else None,
                    "parameter_size": details.parameter_size if details else None,
                    "quantization_level": details.quantization_level if details else None,
                }
            )
            rows.append(
                [
                    str(m.model),
                    (m.digest or "")[:12],
                    human_size(size),
                    (details.parameter_size if details else None) or "",
                    (_when(m.modified_at) or "")[:19],
                ]
            )
        for line in table(["NAME", "ID", "SIZE", "PARAMS", "MODIFIED"], rows):
            ctx.log(line)
        ctx.log(f"{len(models)} models, {human_size(total)}")
        return {"host": conn.host, "models": models, "count": len(models), "total_size": total}


class OllamaStatusExecutor(Executor[ServerParams]):
    """Reports the server's version and the models it has loaded."""

    task_type: ClassVar[TaskType] = TaskType.OLLAMA_STATUS
    params_model = ServerParams
    summary = "Report an Ollama server's version and its loaded models"

    async def run(self, ctx: RunContext[ServerParams]) -> dict[str, Any] | None:
        p = ctx.params
        ctx.phase(TaskStatus.VALIDATING)
        async with ollama_connection(ctx, p.host, p.credential) as conn:
            try:
                version = (await conn.get_json("/api/version")).get("version")
                running = await conn.client.ps()
            except Exception as exc:
                raise ollama_error(
                    exc, conn, _C.OLLAMA_SERVICE_UNAVAILABLE, "asking the server's status"
                ) from None
        if not version:
            raise QueueError(
                _C.OLLAMA_SERVICE_UNAVAILABLE,
                f"{conn.host} answered /api/version without a version: is it an Ollama server?",
                host=conn.host,
            )
        loaded: list[dict[str, Any]] = []
        rows: list[list[str]] = []
        for m in running.models:
            size, vram = int(m.size or 0), int(m.size_vram or 0)
            until = _when(m.expires_at)
            loaded.append(
                {
                    "name": m.model or m.name,
                    "size": size,
                    "size_vram": vram,
                    "expires_at": until,
                    "context_length": m.context_length,
                }
            )
            rows.append(
                [
                    str(m.model or m.name),
                    human_size(size),
                    f"{100 * vram / size:.0f}% GPU" if size else "",
                    (until or "")[:19],
                ]
            )
        ctx.log(f"Ollama {version} at {conn.host}")
        if loaded:
            for line in table(["NAME", "SIZE", "PROCESSOR", "UNTIL"], rows):
                ctx.log(line)
        else:
            ctx.log("no model loaded")
        return {"host": conn.host, "version": version, "loaded": loaded}
