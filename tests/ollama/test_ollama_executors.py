"""The Ollama executors through a real TaskQueue against the suite's local server speaking
Ollama's documented API (ollama_server.py): pull with layer progress, pause, resume and
cancel; run (generate and chat) streamed into the log; list; status; batch embeddings to a
file; and the code each failure gets (a missing model, a dead or silent server, a server
error, a refused token)."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from helpers.queues import QueueFactory
from helpers.waiting import eventually
from ollama_server import OllamaServer, answer_to, embedding_of

from qtqueue.core.errors import TaskErrorCode
from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.engine.credentials import KeyringVault
from qtqueue.engine.events import EventKind, TaskEvent
from qtqueue.engine.queue import TaskQueue
from qtqueue.families.ollama import parse_pull_lines
from qtqueue.families.ollama.progress import short_digest

C = TaskErrorCode
S = TaskStatus
T = TaskType

#: Seconds any task here may take: every wait is on the local server.
DONE_S = 30.0


class Watch:
    """Subscriber keeping every (status, progress, current_step) a task went through."""

    def __init__(self) -> None:
        self.seen: dict[str, list[tuple[TaskStatus, float, str]]] = {}

    def __call__(self, events: list[TaskEvent]) -> None:
        for e in events:
            if e.kind is EventKind.CHANGED and e.task is not None and e.status is not None:
                self.seen.setdefault(e.task_id, []).append(
                    (e.status, e.task.progress, e.task.current_step or "")
                )


@pytest.fixture
def watch(oq: TaskQueue) -> Watch:
    w = Watch()
    oq.subscribe(w)
    return w


async def submit(queue: TaskQueue, task_type: str, /, **params: Any) -> str:
    return await queue.add_task(Task(task_type, params, max_retries=0))


async def run(queue: TaskQueue, task_type: str, /, **params: Any) -> Task:
    return await queue.wait_for(await submit(queue, task_type, **params), timeout_s=DONE_S)


async def status_of(queue: TaskQueue, task_id: str) -> TaskStatus:
    return (await queue.get_task(task_id)).status


def log_of(queue: TaskQueue, task_id: str) -> str:
    """The task's log as written so far."""
    path = queue.log_path(task_id)
    return path.read_text() if path.exists() else ""


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _progress_at_least(queue: TaskQueue, task_id: str, percent: float) -> bool:
    return (await queue.get_task(task_id)).progress >= percent


# --- Pull -------------------------------------------------------------------------------------


async def test_pull_progress_grows_layer_by_layer_against_local_ollama_api(
    oq: TaskQueue, ollama: OllamaServer, watch: Watch
) -> None:
    model = ollama.library["smollm2:135m"]
    done = await run(oq, T.OLLAMA_PULL, model=model.name)
    assert done.status is S.COMPLETED, done.error
    assert done.result is not None
    assert done.result["size"] == model.size == 81_000
    assert [layer["digest"] for layer in done.result["layers"]] == model.digests
    assert model.name in ollama.installed  # the server has it now

    percents = [pct for status, pct, _ in watch.seen[done.id] if status is S.PULLING]
    assert percents == sorted(percents)  # never backwards
    assert any(0 < pct < 100 for pct in percents) and done.progress == 100
    steps = [step for _, _, step in watch.seen[done.id] if step.startswith("Pulling")]
    assert any(" / 81.0 KB" in step for step in steps)

    log = await oq.read_log(done.id)
    layers = parse_pull_lines(log)
    assert list(layers) == [short_digest(d) for d in model.digests]
    assert all(layer.state == "done" for layer in layers.values())
    assert [layer.total for layer in layers.values()] == model.layer_sizes
    assert "downloading" in log  # each layer was seen on its way, not only finished
    assert (
        log.index("pulling manifest") < log.index("verifying sha256 digest") < log.index("success")
    )


async def test_a_paused_pull_resumes_where_the_server_left_off_against_local_ollama_api(
    oq: TaskQueue, ollama: OllamaServer
) -> None:
    model = ollama.library["smollm2:135m"]
    ollama.hold()
    task_id = await submit(oq, T.OLLAMA_PULL, model=model.name)
    ollama.allow(5)  # 5 chunks of the first layer
    await eventually(lambda: ollama.downloaded.get(model.name) == 5 * 4096, what="5 chunks")
    # The task has taken them in: 20480 of 81000 bytes.
    await eventually(
        lambda: _progress_at_least(oq, task_id, 25.0), what="the 5 chunks reached the task"
    )
    await oq.pause_task(task_id)
    assert await status_of(oq, task_id) is S.PAUSED
    # The stream is closed: the server's handler for it has ended.
    await eventually(lambda: ollama.active.get("/api/pull") == 0, what="the stream closed")
    paused_at = ollama.downloaded[model.name]

    ollama.open()
    await oq.resume_task(task_id)
    done = await oq.wait_for(task_id, timeout_s=DONE_S)
    assert done.status is S.COMPLETED, done.error
    assert len(ollama.pulls) == 2
    first_layer = model.digests[0]
    assert ollama.pulls[1].start_offsets[first_layer] == paused_at  # a resumed request
    assert ollama.downloaded[model.name] == model.size  # every byte once, not twice
    assert done.result is not None and done.result["requests"] == 2
    assert done.result["downloaded"] == model.size
    log = await oq.read_log(done.id)
    assert "paused at 20.5 KB of 81.0 KB" in log
    assert "resuming the pull of smollm2:135m at 20.5 KB" in log


async def test_cancelling_a_pull_closes_its_stream_against_local_ollama_api(
    oq: TaskQueue, ollama: OllamaServer
) -> None:
    ollama.hold()
    task_id = await submit(oq, T.OLLAMA_PULL, model="smollm2:135m")
    ollama.allow(2)
    await eventually(lambda: ollama.downloaded.get("smollm2:135m") == 2 * 4096, what="2 chunks")
    await oq.cancel_task(task_id)
    done = await oq.wait_for(task_id, timeout_s=DONE_S)
    assert done.status is S.CANCELLED
    await eventually(lambda: ollama.active.get("/api/pull") == 0, what="the stream closed")
    assert "smollm2:135m" not in ollama.installed


async def test_pulling_an_unknown_model_is_model_not_found_against_local_ollama_api(
    oq: TaskQueue,
) -> None:
    done = await run(oq, T.OLLAMA_PULL, model="no-such-model:7b")
    assert done.status is S.FAILED
    assert done.error_code == C.OLLAMA_MODEL_NOT_FOUND.value
    assert done.error is not None and "file does not exist" in done.error
    assert "check the model's name and tag" in done.error and "pulling it first" not in done.error


# --- Run --------------------------------------------------------------------------------------


async def test_run_streams_the_answer_into_the_log_before_it_ends_against_local_ollama_api(
    oq: TaskQueue, ollama: OllamaServer
) -> None:
    prompt = "Why is the sky blue?"
    ollama.hold()
    task_id = await submit(
        oq, T.OLLAMA_RUN, model="llama3.2", prompt=prompt, options={"temperature": 0}
    )
    ollama.allow(7)  # "You said: Why is the sky blue?\n" is 7 tokens
    first_line = answer_to(prompt).splitlines()[0]
    await eventually(lambda: first_line in log_of(oq, task_id), what="the first line logged")
    assert await status_of(oq, task_id) is S.RUNNING  # still answering
    assert "Goodbye." not in log_of(oq, task_id)
    ollama.open()
    done = await oq.wait_for(task_id, timeout_s=DONE_S)
    assert done.status is S.COMPLETED, done.error
    assert done.result is not None
    assert done.result["response"] == answer_to(prompt)
    assert done.result["eval_count"] == 12
    assert done.result["tokens_per_s"] == 6.0  # 12 tokens in 2 s, as the server said
    assert done.result["done_reason"] == "stop"
    log_lines = (await oq.read_log(done.id)).splitlines()
    for line in answer_to(prompt).splitlines():
        assert line in log_lines


async def test_chat_answers_the_last_user_message_against_local_ollama_api(
    oq: TaskQueue,
) -> None:
    messages = [
        {"role": "user", "content": "Hello there"},
        {"role": "assistant", "content": "Hi!"},
        {"role": "user", "content": "Count my words please"},
    ]
    done = await run(oq, T.OLLAMA_RUN, model="llama3.2", messages=messages, system="Be brief")
    assert done.status is S.COMPLETED, done.error
    assert done.result is not None
    assert done.result["response"] == answer_to("Count my words please")


async def test_run_params_need_a_prompt_or_messages_against_local_ollama_api(
    oq: TaskQueue,
) -> None:
    from qtqueue.core.errors import QueueError

    with pytest.raises(QueueError) as refused:
        await submit(oq, T.OLLAMA_RUN, model="llama3.2")
    assert refused.value.code == C.VALIDATION_INVALID_PARAMS.value
    assert "either prompt (generate) or messages (chat)" in str(refused.value)


async def test_running_a_missing_model_is_model_not_found_against_local_ollama_api(
    oq: TaskQueue,
) -> None:
    done = await run(oq, T.OLLAMA_RUN, model="mistral:7b", prompt="hi")
    assert done.status is S.FAILED
    assert done.error_code == C.OLLAMA_MODEL_NOT_FOUND.value
    assert done.error is not None
    assert "model 'mistral:7b' not found" in done.error and "try pulling it first" in done.error


@pytest.mark.parametrize("model", ["crashing", "broken"], ids=["http-500", "mid-stream"])
async def test_a_server_error_while_answering_is_inference_failed_against_local_ollama_api(
    oq: TaskQueue, model: str
) -> None:
    done = await run(oq, T.OLLAMA_RUN, model=model, prompt="hello world")
    assert done.status is S.FAILED
    assert done.error_code == C.OLLAMA_INFERENCE_FAILED.value
    assert done.error is not None and "llama runner process has terminated" in done.error


# --- List and status --------------------------------------------------------------------------


async def test_list_shows_the_models_with_sizes_against_local_ollama_api(
    oq: TaskQueue, ollama: OllamaServer
) -> None:
    done = await run(oq, T.OLLAMA_LIST)
    assert done.status is S.COMPLETED, done.error
    assert done.result is not None
    by_name = {m["name"]: m for m in done.result["models"]}
    assert set(by_name) == set(ollama.installed)
    assert by_name["llama3.2:latest"]["size"] == 2_000_000_000
    assert by_name["llama3.2:latest"]["parameter_size"] == "135M"
    log = (await oq.read_log(done.id)).splitlines()
    assert log[0].split() == ["NAME", "ID", "SIZE", "PARAMS", "MODIFIED"]
    row = next(line for line in log if line.startswith("llama3.2:latest"))
    assert "2.0 GB" in row


async def test_status_reports_the_version_and_loaded_models_against_local_ollama_api(
    oq: TaskQueue, ollama: OllamaServer
) -> None:
    idle = await run(oq, T.OLLAMA_STATUS)
    assert idle.status is S.COMPLETED, idle.error
    assert idle.result is not None
    assert idle.result["version"] == "0.6.5" and idle.result["loaded"] == []
    assert "no model loaded" in await oq.read_log(idle.id)

    await run(oq, T.OLLAMA_RUN, model="llama3.2", prompt="load yourself")
    busy = await run(oq, T.OLLAMA_STATUS)
    assert busy.result is not None
    assert [m["name"] for m in busy.result["loaded"]] == ["llama3.2:latest"]
    assert "100% GPU" in await oq.read_log(busy.id)


# --- Batch embeddings -------------------------------------------------------------------------


async def test_batch_embedding_writes_one_vector_per_document_against_local_ollama_api(
    oq: TaskQueue, ollama: OllamaServer, watch: Watch, tmp_path: Path
) -> None:
    texts = [f"document number {i}" for i in range(10)]
    source = tmp_path / "docs.jsonl"
    source.write_text(
        "".join(json.dumps({"id": f"d{i}", "text": t}) + "\n" for i, t in enumerate(texts))
    )
    target = tmp_path / "out" / "vectors.ndjson"
    target.parent.mkdir()
    done = await run(
        oq,
        "batch_embedding",
        model="nomic-embed-text",
        input_file=str(source),
        output_file=str(target),
        batch_size=4,
    )
    assert done.status is S.COMPLETED, done.error
    rows = [json.loads(line) for line in target.read_text().splitlines()]
    assert len(rows) == len(texts)
    assert [row["index"] for row in rows] == list(range(10))
    assert [row["id"] for row in rows] == [f"d{i}" for i in range(10)]
    assert all(len(row["embedding"]) == ollama.embed_dims for row in rows)
    assert rows[3]["embedding"] == embedding_of(texts[3], ollama.embed_dims)
    assert ollama.embed_batches == [4, 4, 2]
    assert done.result == {
        "output_file": str(target),
        "count": 10,
        "dimensions": ollama.embed_dims,
        "model": "nomic-embed-text",
    }
    steps = [step for _, _, step in watch.seen[done.id] if "documents embedded" in step]
    assert steps[:3] == [
        "4/10 documents embedded",
        "8/10 documents embedded",
        "10/10 documents embedded",
    ]
    assert sorted(p.name for p in target.parent.iterdir()) == ["vectors.ndjson"]  # no leftovers


async def test_the_documents_batch_embedding_is_a_built_in_type_against_local_ollama_api(
    make_queue: QueueFactory, ollama: OllamaServer, tmp_path: Path
) -> None:
    # As the SQLite-queue document adds it, on a queue with the built-in families.
    queue = await make_queue(executor_settings={"ollama_host": ollama.url})
    target = tmp_path / "vectors.ndjson"
    params = {"model": "nomic-embed-text", "documents": ["a", "b", "c"], "output_file": str(target)}
    done = await queue.wait_for(await queue.add_task(Task("batch_embedding", params)), DONE_S)
    assert done.status is S.COMPLETED, done.error
    assert len(target.read_text().splitlines()) == 3


async def test_batch_embedding_of_a_missing_model_leaves_no_file_against_local_ollama_api(
    oq: TaskQueue, tmp_path: Path
) -> None:
    target = tmp_path / "vectors.ndjson"
    done = await run(
        oq, "batch_embedding", model="absent", documents=["a", "b"], output_file=str(target)
    )
    assert done.error_code == C.OLLAMA_MODEL_NOT_FOUND.value
    assert not [p for p in tmp_path.iterdir() if p.is_file()]  # no half file, no temporary


async def test_batch_embedding_into_a_folder_is_refused_before_any_work_against_local_ollama_api(
    oq: TaskQueue, ollama: OllamaServer, tmp_path: Path
) -> None:
    done = await run(
        oq, "batch_embedding", model="nomic-embed-text", documents=["a"], output_file=str(tmp_path)
    )
    assert done.error_code == C.VALIDATION_INVALID_PARAMS.value
    assert done.error is not None and "is a folder" in done.error
    assert ollama.embed_batches == []  # nothing was embedded for nothing


async def embed_six_after_two(queue: TaskQueue, ollama: OllamaServer, target: Path) -> str:
    """A batch_embedding of 6 documents, 2 a batch, with the server holding back after the
    first batch; returns once the task has taken it in."""
    ollama.hold()
    task_id = await submit(
        queue,
        "batch_embedding",
        model="nomic-embed-text",
        documents=list("abcdef"),
        output_file=str(target),
        batch_size=2,
    )
    ollama.allow(1)
    await eventually(lambda: _progress_at_least(queue, task_id, 33.0), what="2 of 6 embedded")
    return task_id


async def test_a_paused_batch_embedding_waits_between_batches_against_local_ollama_api(
    oq: TaskQueue, ollama: OllamaServer, tmp_path: Path
) -> None:
    target = tmp_path / "vectors.ndjson"
    task_id = await embed_six_after_two(oq, ollama, target)
    await oq.pause_task(task_id)
    ollama.allow(1)  # the request under way ends...
    await eventually(
        lambda: "paused after 4/6 documents" in log_of(oq, task_id), what="waiting, paused"
    )
    ollama.open()  # the server would answer now, but the task waits
    assert await status_of(oq, task_id) is S.PAUSED
    assert ollama.embed_batches == [2, 2]
    await oq.resume_task(task_id)
    done = await oq.wait_for(task_id, timeout_s=DONE_S)
    assert done.status is S.COMPLETED, done.error
    assert ollama.embed_batches == [2, 2, 2]
    assert len(target.read_text().splitlines()) == 6


async def test_a_cancelled_batch_embedding_leaves_no_file_against_local_ollama_api(
    oq: TaskQueue, ollama: OllamaServer, tmp_path: Path
) -> None:
    target = tmp_path / "vectors.ndjson"
    task_id = await embed_six_after_two(oq, ollama, target)
    await oq.cancel_task(task_id)
    done = await oq.wait_for(task_id, timeout_s=DONE_S)
    assert done.status is S.CANCELLED
    assert not [p for p in tmp_path.iterdir() if p.is_file()]  # no half file, no temporary


async def test_parquet_output_is_written_or_refused_naming_the_extra_against_local_ollama_api(
    oq: TaskQueue, tmp_path: Path
) -> None:
    import importlib.util

    target = tmp_path / "vectors.parquet"
    done = await run(
        oq,
        "batch_embedding",
        model="nomic-embed-text",
        documents=["a", "b"],
        output_file=str(target),
    )
    if importlib.util.find_spec("pyarrow") or importlib.util.find_spec("duckdb"):
        assert done.status is S.COMPLETED, done.error
        assert target.read_bytes()[:4] == b"PAR1"
        if importlib.util.find_spec("duckdb"):
            import duckdb

            rows = duckdb.sql(
                f"SELECT \"index\", len(embedding) FROM '{target}' ORDER BY \"index\""
            ).fetchall()
            assert [r[0] for r in rows] == [0, 1]
            assert rows[0][1] == rows[1][1] > 0  # one vector per document, all of one size
    else:
        assert done.error_code == C.QUEUE_EXTRA_NOT_INSTALLED.value
        assert done.error is not None and "qtqueue[data]" in done.error
        assert not [p for p in tmp_path.iterdir() if p.is_file()]


# --- Failures every family must map -----------------------------------------------------------


async def test_a_dead_server_fails_fast_with_service_unavailable_against_a_closed_port(
    oq: TaskQueue,
) -> None:
    host = f"http://127.0.0.1:{closed_port()}"
    for task_type, params in [
        (T.OLLAMA_LIST, {}),
        (T.OLLAMA_PULL, {"model": "tiny:1b"}),
        (T.OLLAMA_RUN, {"model": "llama3.2", "prompt": "hi"}),
    ]:
        done = await run(oq, task_type, host=host, **params)
        assert done.error_code == C.OLLAMA_SERVICE_UNAVAILABLE.value, (task_type, done.error)
        assert done.error is not None and "ollama serve" in done.error


async def test_a_server_that_goes_away_mid_pull_is_service_unavailable_against_local_ollama_api(
    oq: TaskQueue,
) -> None:
    done = await run(oq, T.OLLAMA_PULL, model="vanishing:1b")
    assert done.status is S.FAILED
    assert done.error_code == C.OLLAMA_SERVICE_UNAVAILABLE.value
    assert done.error is not None and "the connection to Ollama at" in done.error
    assert done.progress == pytest.approx(100 * 8192 / 90000, abs=0.1)  # it had got that far


@pytest.fixture
async def silent_server() -> AsyncIterator[str]:
    """A TCP server on 127.0.0.1 that accepts connections and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_a_silent_server_times_out_with_service_unavailable_against_a_mute_socket(
    data_dir: Path, silent_server: str
) -> None:
    from qtqueue.executors import ExecutorRegistry
    from qtqueue.families.ollama import family

    registry = ExecutorRegistry()
    registry.add_family(family)
    settings = {"ollama_host": silent_server, "ollama_read_timeout_s": 0.5}
    async with TaskQueue(data_dir, registry=registry, executor_settings=settings) as queue:
        done = await run(queue, T.OLLAMA_STATUS)
    assert done.error_code == C.OLLAMA_SERVICE_UNAVAILABLE.value
    assert done.error is not None and "sent nothing for 0.5 s" in done.error


@pytest.mark.usefixtures("secret_service")
async def test_a_proxy_token_comes_from_the_keyring_and_never_leaks_against_local_ollama_api(
    oq: TaskQueue, ollama: OllamaServer, data_dir: Path
) -> None:
    token, wrong = "proxy-token-7f3a91", "wrong-token-2b8c44"
    ollama.token = token
    vault = KeyringVault()
    await asyncio.to_thread(vault.set, "ollama-proxy", token)
    await asyncio.to_thread(vault.set, "ollama-wrong", wrong)

    anonymous = await run(oq, T.OLLAMA_LIST)
    refused = await run(oq, T.OLLAMA_LIST, credential="ollama-wrong")
    listed = await run(oq, T.OLLAMA_LIST, credential="ollama-proxy")
    ran = await run(oq, T.OLLAMA_RUN, model="llama3.2", prompt="hi", credential="ollama-proxy")
    for failed in (anonymous, refused):
        assert failed.error_code == "OLLAMA_AUTHENTICATION_FAILED", failed.error
    assert listed.status is S.COMPLETED and ran.status is S.COMPLETED, (listed.error, ran.error)

    for task in (anonymous, refused, listed, ran):
        shown = json.dumps([task.error, task.error_details, task.result, task.params])
        assert token not in shown and wrong not in shown
        log = await oq.read_log(task.id)
        assert token not in log and wrong not in log
    await oq.close()
    written = b"".join(p.read_bytes() for p in sorted(data_dir.rglob("*")) if p.is_file())
    assert written and token.encode() not in written and wrong.encode() not in written
