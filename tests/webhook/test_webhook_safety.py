"""CUSTOM_WEBHOOK against local aiohttp receivers on 127.0.0.1 (webhook_server.py): a call is
never repeated by the queue beyond its own `attempts` (a POST is not idempotent), and a header
HTTP cannot carry (a control character, a bad name, a token pasted with its newline) is refused
with a coded error naming the header, never its value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from webhook_server import Receiver

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.engine.credentials import KeyringVault
from qtqueue.engine.queue import TaskQueue
from qtqueue.families.webhook.params import WebhookParams
from qtqueue.families.webhook.request import classify

C = TaskErrorCode
S = TaskStatus
HOOK = TaskType.CUSTOM_WEBHOOK
#: Seconds any task here may take.
DONE_S = 30.0


async def test_a_failing_call_is_sent_attempts_times_never_rerun_by_queue_against_local_receiver(
    wq: TaskQueue, receiver: Receiver
) -> None:
    url = receiver.url("/status/500")
    task_id = await wq.add_task(
        Task(HOOK, {"url": url, "body_json": {"deploy": 1}, "backoff_s": 0})
    )
    added = await wq.get_task(task_id)
    assert (added.max_retries or 0) > 0  # the queue's default would rerun a retry-safe type
    done = await wq.wait_for(task_id, timeout_s=DONE_S)
    assert done.status is S.FAILED and done.error_code == "WEBHOOK_SERVER_ERROR", done.error
    assert len(receiver.on("/status/500")) == 3  # the default attempts, once
    assert done.retry_count == 0 and done.error_details["attempts"] == 3


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"headers": {"X-Token": "abc123SECRET\n"}}, "X-Token"),
        ({"headers": {"X-Ok": "1", "X-Token": "abc\r\nX-Injected: abc123SECRET"}}, "X-Token"),
        ({"headers": {"Bad Name": "abc123SECRET"}}, "Bad Name"),
        ({"signature_header": "X-Sig\n"}, "signature_header"),
        ({"content_type": "text/plain\nX-Evil: abc123SECRET"}, "content_type"),
    ],
)
async def test_a_header_http_cannot_carry_is_refused_at_add_naming_it_not_its_value(
    wq: TaskQueue, params: dict[str, object], named: str
) -> None:
    with pytest.raises(QueueError) as refused:
        await wq.add_task(Task(HOOK, {"url": "http://127.0.0.1:9/hook", **params}))
    assert refused.value.code is C.VALIDATION_INVALID_PARAMS
    shown = str(refused.value) + json.dumps(refused.value.details)
    assert named in shown and "abc123SECRET" not in shown
    assert await wq.list_tasks() == []


def test_a_request_aiohttp_refuses_to_send_is_a_coded_error_not_unknown() -> None:
    p = WebhookParams(url="http://127.0.0.1:9/hook")
    refused = ValueError("Forbidden control character detected in headers: abc123SECRET")
    failed = classify(refused, p)
    assert failed.error.code is C.VALIDATION_INVALID_PARAMS and failed.retry is False
    assert "abc123SECRET" not in str(failed.error)


@pytest.mark.usefixtures("secret_service")
async def test_a_keyring_token_with_a_trailing_newline_is_sent_without_it_against_local_receiver(
    wq: TaskQueue, receiver: Receiver, data_dir: Path
) -> None:
    vault = KeyringVault()
    vault.set("pasted", "Bearer tok-5e6f7a\n")
    vault.set("two-lines", "Bearer tok-5e6f7a\nX-Injected: 1")
    task_id = await wq.add_task(
        Task(HOOK, {"url": receiver.url("/echo"), "authorization_keyring_entry": "pasted"})
    )
    done = await wq.wait_for(task_id, timeout_s=DONE_S)
    assert done.status is S.COMPLETED, done.error
    [seen] = receiver.on("/echo")
    assert seen.headers["Authorization"] == "Bearer tok-5e6f7a"

    task_id = await wq.add_task(
        Task(HOOK, {"url": receiver.url("/echo"), "authorization_keyring_entry": "two-lines"})
    )
    bad = await wq.wait_for(task_id, timeout_s=DONE_S)
    assert bad.error_code == C.VALIDATION_INVALID_FORMAT.value, bad.error
    assert "two-lines" in (bad.error or "") and len(receiver.on("/echo")) == 1
    shown = json.dumps([bad.error, bad.error_details]) + await wq.read_log(bad.id)
    assert "tok-5e6f7a" not in shown
