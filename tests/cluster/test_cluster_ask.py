"""A task on a cluster worker asks a person (`qtqueue ask` from its command, which reaches
Redis through the worker's environment) and goes on with the answer given by
`qtqueue --redis URL answer`, on a real `qtqueue worker` over a real redis-server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from cluster_control_env import background_worker
from cluster_env import RedisServer, log_lines
from helpers.cli import ok, qtqueue_command, refused
from helpers.waiting import eventually, wait_until
from rq.job import Job, JobStatus

from qtqueue.cluster import questions
from qtqueue.cluster.context import LogStream, MetaReporter, WorkerRunContext
from qtqueue.cluster.jobs import SERIALIZER, enqueue
from qtqueue.core.question import Question
from qtqueue.core.task import Task
from qtqueue.executors import default_registry

REGISTRY = default_registry(entry_points=False)
ASK = f"{shlex.quote(sys.executable)} -m qtqueue ask"


def shell(line: str, **fields: object) -> Task:
    """A custom_command task running `line` through /bin/sh."""
    return Task("custom_command", {"command": line, "shell": True}, **fields)  # type: ignore[arg-type]


def status(redis: RedisServer, job_id: str) -> JobStatus | None:
    return Job.fetch(job_id, connection=redis.client, serializer=SERIALIZER).get_status()


def test_a_worker_task_asks_and_goes_on_with_the_answer_given_from_the_command_line(
    redis: RedisServer, tmp_path: Path
) -> None:
    run = qtqueue_command(tmp_path)
    task = shell(f'answer=$({ASK} "Deploy to production?"); echo "got $answer"', max_retries=0)
    enqueue(redis.client, task, REGISTRY)
    with background_worker(redis.url, tmp_path, "w0", client=redis.client):
        open_ones: list[dict[str, Any]] = []

        def asked() -> bool:
            open_ones[:] = json.loads(ok(run("--redis", redis.url, "questions", "--json")))
            return bool(open_ones)

        def meta() -> dict[str, Any]:
            return Job.fetch(task.id, connection=redis.client, serializer=SERIALIZER).meta

        # the job's meta says it waits for an answer once the question is shown there
        wait_until(lambda: meta().get("question"), what="the task waiting for its answer")
        wait_until(asked, what="the task's question")
        (question,) = open_ones
        assert (question["task_id"], question["message"], question["status"]) == (
            task.id, "Deploy to production?", "open"
        )  # fmt: skip
        assert meta()["question"] == question["id"]
        shown = json.loads(ok(run("--redis", redis.url, "show", task.id, "--json")))
        assert shown["status"] == "running"
        assert shown["progress"]["current_step"] == "Waiting for an answer: Deploy to production?"

        answered = run("--redis", redis.url, "answer", question["id"][:8], "yes")

        assert ok(answered).startswith(f"answered {question['id'][:8]}")
        wait_until(lambda: status(redis, task.id) == JobStatus.FINISHED, what="the task's end")
        again = run("--redis", redis.url, "answer", question["id"], "no")
        assert "cannot be answered: it is answered" in refused(again, "QUEUE_INVALID_STATE")
    lines = log_lines(redis.client, task.id)
    assert "got yes" in lines
    assert any(line.startswith("[qtqueue] question: answered by human") for line in lines)
    every = json.loads(ok(run("--redis", redis.url, "questions", "--all", "--json")))
    assert [(q["id"], q["status"], q["answer"]) for q in every] == [
        (question["id"], "answered", "yes")
    ]
    assert json.loads(ok(run("--redis", redis.url, "questions", "--json"))) == []


def test_an_unanswered_question_times_out_with_its_code_and_an_unknown_one_is_not_found(
    redis: RedisServer, tmp_path: Path
) -> None:
    run = qtqueue_command(tmp_path)
    task = shell(f'{ASK} --timeout 1s "Anyone?"; echo "exit $?"', max_retries=0)
    enqueue(redis.client, task, REGISTRY)
    with background_worker(redis.url, tmp_path, "w0", client=redis.client):
        wait_until(lambda: status(redis, task.id) == JobStatus.FINISHED, what="the task's end")
    lines = log_lines(redis.client, task.id)
    assert "exit 1" in lines
    assert any("QUEUE_QUESTION_TIMEOUT" in line for line in lines)
    (question,) = json.loads(ok(run("--redis", redis.url, "questions", "--all", "--json")))
    assert question["status"] == "timed_out"
    late = run("--redis", redis.url, "answer", question["id"], "too late")
    refused(late, "QUEUE_INVALID_STATE")
    refused(run("--redis", redis.url, "answer", "0000ffff", "x"), "QUEUE_QUESTION_NOT_FOUND")


def test_ask_on_a_cluster_refuses_a_task_that_is_not_running(
    redis: RedisServer, tmp_path: Path
) -> None:
    task = shell("true")
    enqueue(redis.client, task, REGISTRY)
    run = qtqueue_command(tmp_path)
    env_run = qtqueue_command(tmp_path, prefix=["env", f"QTQUEUE_TASK_ID={task.id}"])
    asked = env_run("--redis", redis.url, "ask", "Now?")
    assert "only a running task can (it is queued)" in refused(asked, "QUEUE_INVALID_STATE")
    assert json.loads(ok(run("--redis", redis.url, "questions", "--all", "--json"))) == []


def _started_context(redis: RedisServer, tmp_path: Path) -> WorkerRunContext:
    """The RunContext a work horse gives the task's executor, over the task's real job (marked
    started, as a worker marks it)."""
    task = shell("true", max_retries=0)
    job = enqueue(redis.client, task, REGISTRY)
    job.set_status(JobStatus.STARTED)
    log = LogStream(redis.client, task.id, 3600)
    executor = REGISTRY.get("custom_command")
    assert executor is not None
    return WorkerRunContext(task, executor, MetaReporter(job), log, tmp_path)


async def test_ctx_ask_in_the_attempt_waits_for_the_answer_and_a_cancelled_one_ends_its_question(
    redis: RedisServer, tmp_path: Path
) -> None:
    ctx = _started_context(redis, tmp_path)
    asking = asyncio.ensure_future(ctx.ask("Which branch?", context={"repo": "qtqueue"}))
    open_ones: list[Question] = []

    def asked() -> bool:
        open_ones[:] = questions.questions(redis.client)
        return bool(open_ones)

    await eventually(asked, what="the question")  # the asker waits in a thread: the loop is free
    meta = ctx._meta.job.get_meta(refresh=True)
    assert meta["step"] == "Waiting for an answer: Which branch?"
    assert meta["question"] == open_ones[0].id  # the job's meta says it waits for an answer
    await asyncio.to_thread(questions.answer, redis.client, open_ones[0].id, "main")

    answered = await asyncio.wait_for(asking, 30)

    assert (answered.answer, answered.context) == ("main", {"repo": "qtqueue"})
    assert (ctx._meta.job.get_meta(refresh=True)["step"], ctx._meta.job.meta["question"]) == (
        "",
        None,
    )
    cancelled = asyncio.ensure_future(ctx.ask("Still there?"))
    await eventually(lambda: len(questions.questions(redis.client)) == 1, what="the 2nd question")
    cancelled.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await cancelled
    (ended,) = [q for q in questions.questions(redis.client, open_only=False)
                if q.message == "Still there?"]  # fmt: skip
    assert ended.status == "cancelled"
    lines = log_lines(redis.client, ctx.task.id)
    assert lines[1] == "[qtqueue] question: answered by human (answer): main"
    assert lines[-1] == f"[qtqueue] question: question {ended.id} cancelled"
