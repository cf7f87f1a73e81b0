"""CUSTOM_WEBHOOK through a real TaskQueue against local aiohttp receivers on 127.0.0.1
(webhook_server.py): the request as sent (method, headers, query, JSON/raw/file body), the
response as the result, the expected statuses, retries with Retry-After, time-outs, cancel,
and the NETWORK_* code of each connection failure."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from pathlib import Path
from typing import Any

import pytest
from helpers.waiting import eventually
from webhook_server import Receiver, json_of, proxy_407, reset_server, self_signed

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.engine.credentials import KeyringVault
from qtqueue.engine.queue import TaskQueue
from qtqueue.executors.webhooks import retry_after_s

C = TaskErrorCode
S = TaskStatus
HOOK = TaskType.CUSTOM_WEBHOOK
#: Seconds any task here may take.
DONE_S = 30.0


async def run(queue: TaskQueue, /, **params: Any) -> Task:
    task_id = await queue.add_task(Task(HOOK, params, max_retries=0))
    return await queue.wait_for(task_id, timeout_s=DONE_S)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_a_json_post_is_sent_as_given_and_the_answer_is_the_result_against_local_receiver(
    wq: TaskQueue, receiver: Receiver
) -> None:
    done = await run(
        wq,
        url=receiver.url("/echo"),
        body_json={"event": "deploy", "n": 3},
        headers={"X-Event": "deploy"},
        query={"source": "qtqueue"},
    )
    assert done.status is S.COMPLETED, done.error
    [seen] = receiver.on("/echo")
    assert seen.method == "POST" and json_of(seen) == {"event": "deploy", "n": 3}
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.headers["X-Event"] == "deploy" and seen.query == {"source": "qtqueue"}
    result = done.result or {}
    assert result["status"] == 200 and result["attempts"] == 1
    assert json.loads(result["body"]) == {"received": True}
    assert result["headers"]["X-Receiver"] == "echo"
    assert isinstance(result["elapsed_ms"], int) and result["elapsed_ms"] >= 0
    assert "attempt 1/3: 200 OK" in await wq.read_log(done.id)


async def test_raw_and_file_bodies_are_sent_byte_for_byte_against_local_receiver(
    wq: TaskQueue, receiver: Receiver, tmp_path: Path
) -> None:
    payload = tmp_path / "payload.bin"
    payload.write_bytes(bytes(range(256)) * 3)
    raw = await run(wq, url=receiver.url("/echo"), method="PUT", body_text="a=1&b=é",
                    content_type="application/x-www-form-urlencoded")  # fmt: skip
    sent = await run(wq, url=receiver.url("/echo"), body_file=str(payload))
    assert raw.status is S.COMPLETED and sent.status is S.COMPLETED, (raw.error, sent.error)
    first, second = receiver.on("/echo")
    assert first.method == "PUT" and first.body == "a=1&b=é".encode()
    assert first.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert second.body == payload.read_bytes()

    missing = await run(wq, url=receiver.url("/echo"), body_file=str(tmp_path / "nope"))
    assert missing.error_code == C.DATA_FILE_NOT_FOUND.value
    with pytest.raises(QueueError, match="give one body") as refused:
        await wq.add_task(Task(HOOK, {"url": receiver.url("/echo"), "body_text": "a",
                                      "body_json": {}}))  # fmt: skip
    assert refused.value.code is C.VALIDATION_INVALID_PARAMS


async def test_only_the_first_kib_of_a_long_answer_is_kept_against_local_receiver(
    wq: TaskQueue, receiver: Receiver
) -> None:
    done = await run(wq, url=receiver.url("/big"), method="GET")
    result = done.result or {}
    assert result["body"] == "x" * 1024 and result["body_truncated"] is True


async def test_a_4xx_fails_at_once_with_the_unexpected_status_code_against_local_receiver(
    wq: TaskQueue, receiver: Receiver
) -> None:
    done = await run(wq, url=receiver.url("/status/404"), attempts=3, backoff_s=0)
    assert done.status is S.FAILED
    assert done.error_code == "WEBHOOK_UNEXPECTED_STATUS", done.error
    assert done.error_details["status"] == 404 and done.error_details["body"] == "answered 404"
    assert len(receiver.on("/status/404")) == 1  # never retried
    # An expected status other than 2xx is a success; a 2xx outside the list is not.
    accepted = await run(wq, url=receiver.url("/status/404"), expected_status=[404])
    assert accepted.status is S.COMPLETED and (accepted.result or {})["status"] == 404
    unexpected = await run(wq, url=receiver.url("/status/202"), expected_status=[200])
    assert unexpected.error_code == "WEBHOOK_UNEXPECTED_STATUS"


async def test_5xx_is_retried_after_the_retry_after_seconds_against_local_receiver(
    wq: TaskQueue, receiver: Receiver
) -> None:
    done = await run(wq, url=receiver.url("/flaky/1?after=1"), attempts=3, backoff_s=0)
    assert done.status is S.COMPLETED, done.error
    first, second = receiver.on("/flaky/1")
    assert second.at - first.at >= 0.95  # the server's Retry-After: 1, not backoff_s 0
    assert (done.result or {})["attempts"] == 2 and (done.result or {})["body"] == "finally"
    log = await wq.read_log(done.id)
    assert "attempt 1/3: " in log and "503" in log and "retrying in 1 s" in log
    assert "attempt 2/3: 200 OK" in log


async def test_retry_after_as_an_http_date_is_honoured_against_local_receiver(
    wq: TaskQueue, receiver: Receiver
) -> None:
    done = await run(wq, url=receiver.url("/flaky/1?form=date"), attempts=2, backoff_s=0)
    assert done.status is S.COMPLETED, done.error
    first, second = receiver.on("/flaky/1")
    assert second.at - first.at >= 0.9  # the date was 1–2 s ahead
    assert retry_after_s("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # past: at once
    assert retry_after_s("120") == 120.0 and retry_after_s("soon") is None


async def test_429_through_every_attempt_fails_retryable_against_local_receiver(
    wq: TaskQueue, receiver: Receiver
) -> None:
    done = await run(wq, url=receiver.url("/busy"), attempts=3, backoff_s=0)
    assert done.error_code == "WEBHOOK_SERVER_ERROR", done.error
    assert len(receiver.on("/busy")) == 3
    assert done.error_details["status"] == 429 and done.error_details["attempts"] == 3


async def test_a_silent_server_times_out_each_attempt_against_local_receiver(
    wq: TaskQueue, receiver: Receiver
) -> None:
    done = await run(wq, url=receiver.url("/hang"), timeout_s=0.3, attempts=2, backoff_s=0)
    assert done.error_code == C.NETWORK_TIMEOUT.value, done.error
    assert len(receiver.on("/hang")) == 2
    log = await wq.read_log(done.id)
    assert "attempt 1/2: " in log and "no answer within 0.3 s" in log and "giving up" in log


async def test_cancel_ends_a_request_the_server_never_answers_against_local_receiver(
    wq: TaskQueue, receiver: Receiver
) -> None:
    task_id = await wq.add_task(Task(HOOK, {"url": receiver.url("/hang"), "timeout_s": 600}))
    await eventually(lambda: receiver.on("/hang"), what="the request arrived")
    await wq.cancel_task(task_id)
    done = await wq.wait_for(task_id, timeout_s=10)
    assert done.status is S.CANCELLED


async def test_connection_failures_get_their_network_codes_against_local_reset_server(
    wq: TaskQueue,
) -> None:
    refused = await run(wq, url=f"http://127.0.0.1:{closed_port()}/x", attempts=2, backoff_s=0)
    assert refused.error_code == C.NETWORK_CONNECTION_FAILED.value, refused.error
    log = await wq.read_log(refused.id)
    assert "attempt 1/2" in log and "retrying" in log and "attempt 2/2" in log

    dns = await run(wq, url="http://qtqueue-hook.invalid/x", attempts=1)
    assert dns.error_code == C.NETWORK_DNS_ERROR.value, dns.error

    lines: list[str] = []
    async with reset_server(lines) as url:
        cut = await run(wq, url=url + "/hook", attempts=2, backoff_s=0)
    assert cut.error_code == C.NETWORK_FIREWALL_BLOCKED.value, cut.error
    assert lines == ["POST /hook HTTP/1.1"] * 2  # it was accepted each time, then reset


async def test_a_self_signed_certificate_is_a_tls_error_against_local_https_receiver(
    wq: TaskQueue, tmp_path: Path
) -> None:
    server = Receiver()
    await server.start(tls=self_signed(tmp_path))
    try:
        assert server.base.startswith("https://")
        refused = await run(wq, url=server.url("/echo"), attempts=3, backoff_s=0)
        trusted = await run(wq, url=server.url("/echo"), verify_tls=False)
    finally:
        await server.stop()
    assert refused.error_code == C.NETWORK_SSL_ERROR.value, refused.error
    assert "certificate" in (refused.error or "").lower()
    assert trusted.status is S.COMPLETED, trusted.error  # the same server, unverified


async def test_proxy_failures_are_proxy_errors_against_local_proxy(
    wq: TaskQueue, receiver: Receiver
) -> None:
    lines: list[str] = []
    async with proxy_407(lines) as proxy:
        asked = await run(wq, url=receiver.url("/echo"), proxy=proxy, attempts=3, backoff_s=0)
    assert asked.error_code == C.NETWORK_PROXY_ERROR.value, asked.error
    assert "407" in (asked.error or "")
    assert lines == [f"POST {receiver.url('/echo')} HTTP/1.1"]  # through the proxy, once
    down = f"http://127.0.0.1:{closed_port()}"
    dead = await run(wq, url=receiver.url("/echo"), proxy=down, attempts=1)
    assert dead.error_code == C.NETWORK_PROXY_ERROR.value, dead.error
    assert receiver.seen == []


@pytest.mark.usefixtures("secret_service")
async def test_a_signed_body_carries_its_hmac_and_the_secret_never_leaks_against_local_receiver(
    wq: TaskQueue, receiver: Receiver, data_dir: Path
) -> None:
    secret, bearer = "hmac-secret-5d1e77", "Bearer tok-9a8b7c"
    vault = KeyringVault()
    vault.set("hook-signing", secret)
    vault.set("hook-auth", bearer)
    done = await run(
        wq,
        url=receiver.url("/echo"),
        body_json={"ok": True},
        signing_keyring_entry="hook-signing",
        authorization_keyring_entry="hook-auth",
        signature_header="X-Signature",
        signature_prefix="",
    )
    assert done.status is S.COMPLETED, done.error
    [seen] = receiver.on("/echo")
    want = hmac.new(secret.encode(), seen.body, hashlib.sha256).hexdigest()
    assert seen.headers["X-Signature"] == want
    assert seen.headers["Authorization"] == bearer
    shown = json.dumps([done.error, done.error_details, done.result, done.params])
    log = await wq.read_log(done.id)
    assert secret not in shown + log and "tok-9a8b7c" not in shown + log
    await wq.close()
    written = b"".join(p.read_bytes() for p in sorted(data_dir.rglob("*")) if p.is_file())
    assert written and secret.encode() not in written and b"tok-9a8b7c" not in written
