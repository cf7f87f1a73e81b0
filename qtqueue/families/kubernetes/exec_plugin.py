"""A kubeconfig user's `exec` credential plugin (kubelogin, aws eks get-token, gke-gcloud-auth-
plugin...) run by the family itself, not by lightkube: with no stdin, in its own process group,
within a time limit, and killed with everything it started when the limit passes or the task is
cancelled. lightkube ran it with the task's stdin and no limit: a plugin waiting for a browser
login held the task until its own time limit and outlived a cancel.

The plugin is run as the client.authentication.k8s.io ExecCredential protocol says: `command`
(a relative path with a '/' is relative to the kubeconfig's folder, as kubectl reads it) with
`args`, the environment plus the plugin's `env`, and KUBERNETES_EXEC_INFO describing a
non-interactive call. Its answer's `status.token` (or client certificate and key) becomes a
plain credential of the kubeconfig user, redacted from the task's log.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import signal
from pathlib import Path
from typing import Any

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.executors.base import RunContext

logger = logging.getLogger(__name__)

__all__ = ["EXEC_API_VERSIONS", "exec_credentials"]

_C = TaskErrorCode

#: The ExecCredential versions a plugin may speak.
EXEC_API_VERSIONS = (
    "client.authentication.k8s.io/v1",
    "client.authentication.k8s.io/v1beta1",
    "client.authentication.k8s.io/v1alpha1",
)
#: How much of a failing plugin's stderr a message quotes.
_STDERR_CHARS = 400
#: Seconds to wait for a killed plugin's pipes to close.
_REAP_S = 5.0


def _failure(command: str, why: str, hint: str | None = None) -> QueueError:
    return QueueError(
        _C.K8S_AUTHENTICATION_FAILED,
        f"the kubeconfig user's credential plugin {command!r} {why}"
        + (f" ({hint})" if hint else ""),
        plugin=command,
    )


def _command(command: str, kubeconfig: Path) -> str:
    """`command` as kubectl resolves it: a relative path is relative to the kubeconfig."""
    if os.sep in command and not os.path.isabs(command):
        return str(kubeconfig.parent / command)
    return command


def _kill_group(process: asyncio.subprocess.Process) -> None:
    """SIGKILL the plugin's process group (it and whatever it started)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


async def exec_credentials(
    ctx: RunContext[Any], exec_config: Any, kubeconfig: Path, timeout_s: float
) -> dict[str, str]:
    """Run the plugin `exec_config` (lightkube's `UserExec`) and return the kubeconfig user
    fields its credential fills: {"token": ...} or {"client_cert_data", "client_key_data"}
    (base64, as a kubeconfig holds them). Each secret is redacted from the task's log.

    Raises QueueError K8S_AUTHENTICATION_FAILED when the plugin is missing, fails, answers
    no credential, or gives none within `timeout_s` (then it is killed, with its children);
    a cancelled task kills it too.
    """
    api_version = str(exec_config.apiVersion)
    command = str(exec_config.command)
    if api_version not in EXEC_API_VERSIONS:
        raise _failure(command, f"speaks {api_version!r}, which is not supported")
    env = dict(os.environ)
    env.update({str(v.name): str(v.value) for v in exec_config.env or []})
    info = {"apiVersion": api_version, "kind": "ExecCredential", "spec": {"interactive": False}}
    env["KUBERNETES_EXEC_INFO"] = json.dumps(info)
    hint = exec_config.installHint or None
    try:
        process = await asyncio.create_subprocess_exec(
            _command(command, kubeconfig),
            *[str(a) for a in exec_config.args or []],
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
    except OSError as exc:
        raise _failure(command, f"cannot be run: {exc.strerror or exc}", hint) from None
    answered = False
    try:
        async with asyncio.timeout(timeout_s):
            stdout, stderr = await process.communicate()
        answered = True
    except TimeoutError:
        raise _failure(
            command,
            f"gave no credentials within {timeout_s:g} s and was stopped",
            "it may wait for an interactive login, e.g. in a browser: log in once in a "
            "terminal ('kubectl get ns'), or give the task a token_credential",
        ) from None
    finally:
        if not answered:  # timed out or cancelled: nothing of it (or what it started) stays
            _kill_group(process)
            # Reap it and drain its pipes (a descendant that left the group may hold them).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_REAP_S):
                    await asyncio.shield(process.communicate())
    if process.returncode != 0:
        text = stderr.decode(errors="replace").strip()[-_STDERR_CHARS:]
        raise _failure(command, f"failed (exit status {process.returncode}): {text}", hint)
    return _credentials(ctx, command, stdout)


def _credentials(ctx: RunContext[Any], command: str, stdout: bytes) -> dict[str, str]:
    """The user fields of the plugin's ExecCredential answer; its secrets redacted."""
    try:
        answer = json.loads(stdout)
        status = answer.get("status") or {}
    except (ValueError, AttributeError):
        raise _failure(command, "did not answer an ExecCredential (JSON)") from None
    token = status.get("token")
    if isinstance(token, str) and token:
        ctx.add_secret(token)
        return {"token": token}
    cert, key = status.get("clientCertificateData"), status.get("clientKeyData")
    if isinstance(cert, str) and isinstance(key, str) and cert and key:
        ctx.add_secret(key)
        encoded_key = base64.b64encode(key.encode()).decode()
        ctx.add_secret(encoded_key)
        return {
            "client_cert_data": base64.b64encode(cert.encode()).decode(),
            "client_key_data": encoded_key,
        }
    raise _failure(command, "answered no token and no client certificate")
