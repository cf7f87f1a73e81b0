"""CUSTOM_WEBHOOK against Debian's `webhook` daemon (webhook_env.py), an independent receiver
that checks the body's HMAC-SHA256 (`payload-hmac-sha256` in X-Hub-Signature-256, GitHub's
convention) and runs a command only when it matches."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from webhook_env import webhook_daemon

from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.engine.credentials import KeyringVault
from qtqueue.engine.queue import TaskQueue

SECRET = "daemon-secret-31c9f0"


@pytest.mark.usefixtures("secret_service")
async def test_a_signed_post_runs_the_hook_and_a_wrong_signature_is_refused_by_debian_webhook(
    wq: TaskQueue, tmp_path: Path
) -> None:
    vault = KeyringVault()
    vault.set("deploy-hook", SECRET)
    vault.set("other-hook", "not-the-daemons-secret")
    with webhook_daemon(tmp_path, SECRET) as daemon:
        wrong_id = await wq.add_task(Task(TaskType.CUSTOM_WEBHOOK, {
            "url": daemon.url, "body_json": {"message": "from a wrong key"},
            "signing_keyring_entry": "other-hook", "attempts": 1}, max_retries=0))  # fmt: skip
        wrong = await wq.wait_for(wrong_id, timeout_s=30)
        # The daemon ran nothing: it answered 500 "Error occurred while evaluating hook rules".
        assert wrong.status is TaskStatus.FAILED
        assert wrong.error_code == "WEBHOOK_SERVER_ERROR", wrong.error
        assert wrong.error_details["status"] == 500
        assert "evaluating hook rules" in wrong.error_details["body"]
        assert not daemon.out.exists()

        right_id = await wq.add_task(Task(TaskType.CUSTOM_WEBHOOK, {
            "url": daemon.url, "body_json": {"message": "deployed v1.2"},
            "signing_keyring_entry": "deploy-hook"}, max_retries=0))  # fmt: skip
        right = await wq.wait_for(right_id, timeout_s=30)
    assert right.status is TaskStatus.COMPLETED, right.error
    assert (right.result or {})["status"] == 200 and (right.result or {})["body"] == "wrote\n"
    assert daemon.out.read_text() == "deployed v1.2"  # the daemon's command ran
    log = (tmp_path / "webhook.log").read_text()
    assert "invalid payload signatures" in log and "deliver hook triggered successfully" in log
    for task in (wrong, right):
        shown = json.dumps([task.error, task.error_details, task.result, task.params])
        assert SECRET not in shown + await wq.read_log(task.id)
