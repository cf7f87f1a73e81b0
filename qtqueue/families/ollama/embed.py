"""batch_embedding (the SQLite-queue document's handler): many documents embedded through
Ollama's /api/embed in batches, progress per document, the vectors written to a file.

Documents come inline (`documents`) or from a file: one per line, or JSON Lines whose
`text_field` holds the text (and `id_field` an id kept beside its vector). The output is NDJSON
(`{"index": i, "id": ..., "embedding": [...]}` a line), or Parquet when its name ends in
.parquet and duckdb or pyarrow is installed. It is written to a temporary file in the folder
named and renamed into place at the end, so a failed or cancelled task leaves no half file.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, model_validator

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import TaskStatus
from qtqueue.executors.base import Executor, Params, RunContext
from qtqueue.families.ollama.client import ollama_connection, ollama_error
from qtqueue.families.ollama.params import OllamaHost, credential_field, host_field

logger = logging.getLogger(__name__)

_C = TaskErrorCode
#: The task type, as the SQLite-queue document names it.
BATCH_EMBEDDING = "batch_embedding"


class EmbedParams(Params):
    model: str = Field(..., min_length=1, description="Embedding model, e.g. nomic-embed-text")
    documents: list[str] | None = Field(
        None, description="The texts to embed (or name an input_file instead)"
    )
    input_file: str | None = Field(
        None,
        description="A file of texts: one per line, or JSON Lines (.jsonl) with a text field",
        json_schema_extra={"widget": "file"},
    )
    text_field: str = Field("text", min_length=1, description="JSON Lines: the text's key")
    id_field: str = Field("id", min_length=1, description="JSON Lines: the key of an id to keep")
    output_file: str = Field(
        ...,
        min_length=1,
        description="Where the vectors go: .ndjson/.jsonl (one JSON object a line) or "
        ".parquet (needs duckdb or pyarrow); its folder must exist",
    )
    batch_size: int = Field(32, ge=1, le=2048, description="Documents sent per request")
    truncate: bool = Field(
        True, description="Cut texts longer than the model's context (off: such a text fails)"
    )
    dimensions: int | None = Field(
        None, ge=1, description="Shorten the vectors to this many dimensions (models that can)"
    )
    host: OllamaHost = host_field()
    credential: str | None = credential_field()

    @model_validator(mode="after")
    def _one_source(self) -> EmbedParams:
        if (self.documents is None) == (self.input_file is None):
            raise ValueError("give either documents or input_file, not both")
        return self


@dataclass(frozen=True, slots=True)
class Document:
    """One text to embed, with its id from the input (if any)."""

    text: str
    id: Any = None


def read_documents(path: Path, text_field: str, id_field: str) -> list[Document]:
    """The documents of a file: JSON Lines (.jsonl/.ndjson, or lines starting with '{') with
    `text_field`, else one document a non-empty line. Raises QueueError DATA_FILE_NOT_FOUND,
    DATA_FORMAT_INVALID (naming the line) or DATA_ENCODING_ERROR."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise QueueError(_C.DATA_FILE_NOT_FOUND, f"no input file {path}", path=str(path)) from None
    except UnicodeDecodeError as exc:
        raise QueueError(
            _C.DATA_ENCODING_ERROR, f"{path} is not UTF-8 text: {exc}", path=str(path)
        ) from None
    json_lines = path.suffix.lower() in (".jsonl", ".ndjson")
    docs: list[Document] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if not (json_lines or line.lstrip().startswith("{")):
            docs.append(Document(line))
            continue
        try:
            row = json.loads(line)
            docs.append(Document(str(row[text_field]), row.get(id_field)))
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
            raise QueueError(
                _C.DATA_FORMAT_INVALID,
                f"{path}, line {number}: not a JSON object with a {text_field!r} field",
                path=str(path),
                line=number,
            ) from None
    return docs


def _parquet_writer() -> str:
    """'pyarrow' or 'duckdb', whichever is installed; QUEUE_EXTRA_NOT_INSTALLED otherwise."""
    for name in ("pyarrow", "duckdb"):
        if importlib.util.find_spec(name) is not None:
            return name
    raise QueueError(
        _C.QUEUE_EXTRA_NOT_INSTALLED,
        "writing Parquet needs duckdb or pyarrow, and neither is installed: "
        "pip install 'qtqueue[data]' (or pyarrow), or name an .ndjson output file",
        missing=["duckdb", "pyarrow"],
        extra="data",
    )


def _write_parquet(writer: str, ndjson: Path, target: Path) -> None:
    """The vectors of `ndjson` as Parquet at `target` (blocking: run it in a thread)."""
    if writer == "pyarrow":
        pa_json = importlib.import_module("pyarrow.json")
        parquet = importlib.import_module("pyarrow.parquet")
        parquet.write_table(pa_json.read_json(ndjson), target)
        return
    duckdb = importlib.import_module("duckdb")
    with duckdb.connect() as db:
        db.execute(
            "COPY (SELECT * FROM read_json(?, format = 'newline_delimited')) TO ? (FORMAT parquet)",
            [str(ndjson), str(target)],
        )


class BatchEmbeddingExecutor(Executor[EmbedParams]):
    """Embeds documents through Ollama's embed API and writes the vectors to a file."""

    task_type: ClassVar[str] = BATCH_EMBEDDING
    params_model = EmbedParams
    summary = "Embed many documents with an Ollama model; vectors to an NDJSON or Parquet file"

    async def run(self, ctx: RunContext[EmbedParams]) -> dict[str, Any] | None:
        p = ctx.params
        ctx.phase(TaskStatus.VALIDATING)
        target = Path(p.output_file).expanduser().absolute()
        if not target.parent.is_dir():
            raise QueueError(
                _C.DATA_FILE_NOT_FOUND,
                f"output folder {target.parent} does not exist",
                path=str(target.parent),
            )
        if target.is_dir():
            raise QueueError(
                _C.VALIDATION_INVALID_PARAMS,
                f"output_file {target} is a folder: name a file in it, "
                f"e.g. {target / 'vectors.ndjson'}",
                path=str(target),
            )
        parquet = _parquet_writer() if target.suffix.lower() == ".parquet" else None
        if p.documents is not None:
            docs = [Document(text) for text in p.documents]
        else:
            source = Path(p.input_file or "").expanduser()
            docs = await asyncio.to_thread(read_documents, source, p.text_field, p.id_field)
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
        part = Path(name)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                dims = await self._embed(ctx, docs, out)
            if parquet is not None:
                ndjson, part = part, part.with_suffix(".parquet.part")
                writing = asyncio.ensure_future(
                    asyncio.to_thread(_write_parquet, parquet, ndjson, part)
                )
                try:
                    await asyncio.shield(writing)
                except asyncio.CancelledError:
                    # The writer thread cannot be stopped: let it finish before its files go.
                    with contextlib.suppress(Exception):
                        await writing
                    raise
                finally:
                    ndjson.unlink(missing_ok=True)
            os.replace(part, target)
        finally:
            part.unlink(missing_ok=True)
        ctx.log(f"wrote {len(docs)} vectors of {dims} dimensions to {target}")
        return {
            "output_file": str(target),
            "count": len(docs),
            "dimensions": dims,
            "model": p.model,
        }

    async def _embed(self, ctx: RunContext[EmbedParams], docs: list[Document], out: Any) -> int:
        """Embed `docs` batch by batch, writing NDJSON to `out`; the vectors' length."""
        p = ctx.params
        dims = 0
        paused = False

        def pause() -> None:  # the request under way ends; no other starts until resumed
            nonlocal paused
            paused = True

        def resume() -> None:
            nonlocal paused
            paused = False

        ctx.set_suspend_hooks(pause, resume)
        async with ollama_connection(ctx, p.host, p.credential) as conn:
            ctx.phase(TaskStatus.RUNNING)
            for start in range(0, len(docs), p.batch_size):
                if paused:
                    ctx.log(f"paused after {start}/{len(docs)} documents")
                await ctx.checkpoint()
                batch = docs[start : start + p.batch_size]
                doing = f"embedding documents {start + 1}-{start + len(batch)}"
                try:
                    reply = await conn.client.embed(
                        p.model,
                        [d.text for d in batch],
                        truncate=p.truncate,
                        dimensions=p.dimensions,
                    )
                except Exception as exc:
                    raise ollama_error(
                        exc, conn, _C.OLLAMA_INFERENCE_FAILED, doing, model=p.model
                    ) from None
                vectors = reply.embeddings
                if len(vectors) != len(batch):
                    raise QueueError(
                        _C.OLLAMA_INFERENCE_FAILED,
                        f"{doing}: the server returned {len(vectors)} vectors for "
                        f"{len(batch)} documents",
                        host=conn.host,
                        model=p.model,
                    )
                for offset, (doc, vector) in enumerate(zip(batch, vectors, strict=True)):
                    row: dict[str, Any] = {"index": start + offset}
                    if doc.id is not None:
                        row["id"] = doc.id
                    row["embedding"] = list(vector)
                    out.write(json.dumps(row) + "\n")
                    dims = len(vector)
                done = start + len(batch)
                ctx.progress(100.0 * done / len(docs), f"{done}/{len(docs)} documents embedded")
                ctx.log(f"{done}/{len(docs)} documents embedded")
        return dims
