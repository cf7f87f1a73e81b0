"""Webhooks for task completion (the SQLite-queue document's "web hooks"): when a task ends,
its summary is POSTed as JSON to its `notify_webhook`, else to its named queue's.

The delivery runs in the background once the task's final state is durable (`on_evict`): it
never touches the task's status, result or error. It is signed as CUSTOM_WEBHOOK signs
(`qtqueue.executors.webhooks`: HMAC-SHA256 in `X-Hub-Signature-256: sha256=<hex>`) when the
`webhook_notify_keyring_entry` setting names a keyring entry. Connection errors, time-outs,
429 and 5xx are retried (`Retry-After` honoured) up to `webhook_notify_attempts` tries in all;
each attempt that fails and the outcome are written to the task's log and the engine log.

Why a background deliverer and not an enqueued CUSTOM_WEBHOOK task: the engine must not need
the webhook family (nothing outside a family imports it, and a queue may be built without it),
a notification task would itself end and notify (a loop to guard against), would take a
worker slot and its queue's concurrency from real work, and would fill the task list with one
extra task per task. When the queue closes, the tasks that end while it closes (those it
waits for, those it cancels) still notify: notifications are accepted until the running tasks
have stopped and their ends are durable; then those under way get `CLOSE_GRACE_S` to finish
(so `qtqueue run --until-idle` still posts its last task's), and are dropped after.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from qtqueue.core.errors import QueueError
from qtqueue.core.task import Task
from qtqueue.engine.context import AttemptState
from qtqueue.engine.credentials import CredentialStore
from qtqueue.engine.state import EngineState
from qtqueue.engine.summary import task_summary
from qtqueue.executors.webhooks import (
    retry_after_s,
    retry_wait_s,
    retryable_status,
    signature_headers,
)

logger = logging.getLogger(__name__)

__all__ = ["NOTIFY_DEFAULTS", "Notifier", "notification_body"]

#: The executor settings the notifier reads (the webhook family's settings page shows them),
#: and their values when unset.
NOTIFY_DEFAULTS: dict[str, Any] = {
    "webhook_notify_keyring_entry": "",
    "webhook_notify_attempts": 5,
    "webhook_notify_backoff_s": 2.0,
    "webhook_notify_timeout_s": 10.0,
}
#: A result whose JSON is longer than this is sent as an excerpt of that JSON.
RESULT_EXCERPT_CHARS = 4096
#: The longest wait between tries, whatever a server's Retry-After says.
MAX_WAIT_S = 300.0
#: How long closing the queue waits for notifications under way.
CLOSE_GRACE_S = 5.0


class _Ended:
    """The `TaskSource` of a summary for a task that has ended (nothing runs any more)."""

    def __init__(self, task: Task, now: float) -> None:
        self._task = task
        self._now = now

    async def get_task(self, task_id: str) -> Task:
        return self._task

    def clock(self) -> float:
        return self._now

    def attempt_state(self, task_id: str) -> AttemptState | None:
        return None


async def notification_body(task: Task, now: float) -> bytes:
    """The JSON body posted for `task`: its summary as `TaskQueue.get_task_summary` gives it,
    with `"event": "task.ended"`; a long result becomes `result_excerpt` (its JSON, cut)."""
    summary = await task_summary(_Ended(task, now), task.id)
    result_text = json.dumps(summary.get("result"), default=str)
    if len(result_text) > RESULT_EXCERPT_CHARS:
        summary["result"] = None
        summary["result_excerpt"] = result_text[:RESULT_EXCERPT_CHARS]
    return json.dumps({"event": "task.ended", **summary}, default=str).encode()


def _setting(settings: Mapping[str, Any], key: str) -> Any:
    value = settings.get(key)
    return NOTIFY_DEFAULTS[key] if value is None else value


class Notifier:
    """Posts each ended task's summary to its webhook; hooked on the lifecycle's `on_evict`."""

    def __init__(
        self, state: EngineState, on_evict: list[Callable[[Task], None]], vault: CredentialStore
    ) -> None:
        self.state = state
        self.vault = vault
        self.pending: set[asyncio.Task[Any]] = set()
        #: Set by `drain` (the queue is closing, its tasks have stopped): no more are sent.
        #: The queue clears it once closed.
        self.closed = False
        on_evict.append(self._ended)

    def target(self, task: Task) -> str | None:
        """Where `task`'s end is posted: its own `notify_webhook`, else its queue's."""
        if task.notify_webhook:
            return task.notify_webhook
        queue = self.state.queues.get(task.queue or "")
        return queue.notify_webhook if queue is not None else None

    def _ended(self, task: Task) -> None:
        url = self.target(task)
        if url is not None:
            self.send(self.deliver(task.copy(), url), f"notify {task.id}")

    def send(self, delivery: Coroutine[Any, Any, bool], name: str) -> None:
        """Run a delivery (`deliver`, `post`) in the background, waited for by `drain`;
        dropped once the queue is closing."""
        if self.closed:
            delivery.close()
            return
        sending = self.state.spawn(delivery, name=name)
        self.pending.add(sending)
        sending.add_done_callback(self.pending.discard)

    async def drain(self, timeout_s: float = CLOSE_GRACE_S) -> None:
        """The queue is closing and its running tasks have stopped: let their ends become
        durable (each one notifies then), stop accepting, and wait up to `timeout_s` for the
        notifications under way."""
        try:
            await asyncio.wait_for(self.state.the_writer().flush(), timeout_s)
        except Exception as exc:  # a time-out, or a store failure (the writer's close reports it)
            logger.warning("closing: task ends not yet durable are not notified: %r", exc)
        self.closed = True
        if self.pending:
            _, late = await asyncio.wait(set(self.pending), timeout=timeout_s)
            for sending in late:
                logger.warning("closing: %s dropped", sending.get_name())

    def _note(self, task: Task, line: str, failed: bool = False) -> None:
        """One line in the task's log (appended after its end) and in the engine log."""
        (logger.warning if failed else logger.info)("task %s: %s", task.id, line)
        path = self.state.log_path(task.id)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as log:
                log.write(f"[notify_webhook] {line}\n")
        except OSError as exc:
            logger.warning("task %s: cannot write its log: %s", task.id, exc)

    async def deliver(self, task: Task, url: str) -> bool:
        """POST `task`'s summary to `url` (signed if a keyring entry is set), retrying;
        whether it was accepted (a 2xx)."""
        body = await notification_body(task, time.time())

        def note(line: str, failed: bool) -> None:
            self._note(task, line, failed)

        return await self.post(url, body, "task.ended", "summary", note)

    async def post(
        self,
        url: str,
        body: bytes,
        event: str,
        what: str,
        note: Callable[[str, bool], None],
    ) -> bool:
        """POST the JSON `body` (`what` it is, in words) to `url` with `X-Qtqueue-Event: event`,
        signed and retried as the settings say; each failed try and the outcome go to
        `note(line, failed)`. Whether it was accepted (a 2xx)."""
        import aiohttp  # only when a notification is sent

        settings = self.state.executor_settings
        attempts = max(1, int(_setting(settings, "webhook_notify_attempts")))
        backoff = float(_setting(settings, "webhook_notify_backoff_s"))
        timeout = aiohttp.ClientTimeout(total=float(_setting(settings, "webhook_notify_timeout_s")))
        headers = {"Content-Type": "application/json", "X-Qtqueue-Event": event}
        entry = str(_setting(settings, "webhook_notify_keyring_entry"))
        if entry:
            try:
                headers.update(signature_headers(await self.vault.get(entry), body))
            except QueueError as exc:
                note(f"not sent to {url}: its signing secret: {exc}", True)
                return False
        async with aiohttp.ClientSession(timeout=timeout, trust_env=False) as session:
            for attempt in range(1, attempts + 1):
                wait: float | None = None
                try:
                    async with session.post(url, data=body, headers=headers) as resp:
                        status = resp.status
                        wait = retry_after_s(resp.headers.get("Retry-After"))
                except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                    why, retry = (str(exc) or type(exc).__name__), True
                else:
                    if 200 <= status < 300:
                        note(f"{what} posted to {url}: {status} (try {attempt})", False)
                        return True
                    why, retry = f"answered {status}", retryable_status(status)
                head = f"{what} to {url}, try {attempt}/{attempts}: {why}"
                if not retry or attempt == attempts:
                    note(f"{head}; gave up (the task's outcome is unchanged)", True)
                    return False
                wait = retry_wait_s(attempt, backoff, wait, MAX_WAIT_S)
                note(f"{head}; retrying in {wait:g} s", True)
                await asyncio.sleep(wait)
        return False
