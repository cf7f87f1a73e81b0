"""The cluster side of the Kubernetes executors: a kubeconfig read into a lightkube
`AsyncClient` (plus what raw HTTP and WebSocket calls need), and the mapping from the API
server's failures to qtqueue's K8S_* codes.

Why lightkube: it is small (pure Python on httpx), typed (models and resources generated from
the API's OpenAPI description, `py.typed`), asyncio-native (`AsyncClient`, async watches) and
kept up (regular releases). The official `kubernetes` client is synchronous (its asyncio
flavour is generated code of several megabytes), and `kubernetes_asyncio` is that same generated
code on aiohttp: both are large, untyped, and build every request through a thread-unsafe
global configuration.

lightkube is imported here, lazily (`open_cluster`, `k8s_error`), never at the family's import.
"""

from __future__ import annotations

import contextlib
import logging
import os
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.executors.base import RunContext
from qtqueue.families.kubernetes.exec_plugin import exec_credentials
from qtqueue.families.kubernetes.params import ClusterParams
from qtqueue.families.kubernetes.settings import KubernetesSettings

if TYPE_CHECKING:
    from lightkube import AsyncClient

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_KUBECONFIG",
    "Cluster",
    "cluster_session",
    "k8s_error",
    "kubeconfig_path",
    "open_cluster",
]

_C = TaskErrorCode

DEFAULT_KUBECONFIG = "~/.kube/config"
#: Seconds to wait for a TCP (and TLS) connection: a dead cluster fails fast, whatever the
#: request timeout (a cluster that accepts connections but does not answer waits the latter).
CONNECT_TIMEOUT_S = 5.0


@dataclass
class Cluster:
    """One task's connection to a cluster.

    `client` is a lightkube `AsyncClient` (pod logs and exec included); `namespace` the task's
    namespace (params, else settings, else the context's, else "default"); `server` the API
    server's URL, for messages.
    """

    client: AsyncClient
    namespace: str
    server: str
    context_name: str
    request_timeout_s: float = 30.0
    rollout_timeout_s: float = 600.0

    def where(self) -> str:
        """The context and server, for messages."""
        return f"{self.context_name} ({self.server})"

    async def close(self) -> None:
        """Release the connection pool."""
        with contextlib.suppress(Exception):
            await self.client.close()


def kubeconfig_path(params_path: str | None, settings: KubernetesSettings) -> Path:
    """The kubeconfig to read: the task's, else the settings', else the first file of
    $KUBECONFIG (a path list), else ~/.kube/config."""
    chosen = params_path or settings.k8s_kubeconfig
    if not chosen:
        env = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p.strip()]
        chosen = env[0] if env else DEFAULT_KUBECONFIG
    return Path(chosen).expanduser()


def _config_error(path: Path, why: str) -> QueueError:
    return QueueError(
        _C.K8S_CLUSTER_UNAVAILABLE,
        f"kubeconfig {path}: {why} (set the kubeconfig in the task, in the Kubernetes settings "
        "or in $KUBECONFIG)",
        kubeconfig=str(path),
    )


async def open_cluster(ctx: RunContext[Any], params: ClusterParams) -> Cluster:
    """A connection to the cluster the task names: its kubeconfig and context (params, else
    `KubernetesSettings`, else $KUBECONFIG / ~/.kube/config and its current-context). A
    `token_credential` (a keyring credential's name) replaces the context user's credentials
    with that bearer token; the token is redacted from the task's log.

    Raises QueueError at once: K8S_CLUSTER_UNAVAILABLE for a missing or unreadable
    kubeconfig, VALIDATION_INVALID_PARAMS for a context it does not have.
    """
    import httpx2
    import msgspec
    from lightkube import AsyncClient, ConfigError, KubeConfig
    from lightkube.config.models import User

    settings = ctx.family_settings(KubernetesSettings)
    path = kubeconfig_path(params.kubeconfig, settings)
    if not path.is_file():
        raise _config_error(path, "no such file")
    try:
        config = KubeConfig.from_file(path)
    except (OSError, ConfigError) as exc:
        raise _config_error(path, str(exc)) from None
    except Exception as exc:  # YAML or structure: lightkube lets yaml's and msgspec's through
        raise _config_error(path, f"not a valid kubeconfig ({type(exc).__name__}: {exc})") from None
    context_name = params.context or settings.k8s_context or None
    try:
        single = config.get(context_name)
    except (ConfigError, KeyError) as exc:
        known = ", ".join(sorted(config.contexts)) or "none"
        raise QueueError(
            _C.VALIDATION_INVALID_PARAMS,
            f"kubeconfig {path}: context {context_name or '(current)'} cannot be used: "
            f"{exc} (contexts: {known})",
            kubeconfig=str(path),
            context=context_name,
        ) from None
    assert single is not None  # get() without a default raises instead
    user = single.user or User()
    for secret in (user.token, user.password):
        if secret:  # the kubeconfig's own credentials never reach a log either
            ctx.add_secret(secret)
    if params.token_credential:
        token = (await ctx.credential(params.token_credential)).strip()
        ctx.add_secret(token)
        user = msgspec.structs.replace(
            user, token=token, token_file=None, exec=None, username=None, password=None
        )
    elif user.exec is not None and not (user.token or user.token_file):
        # The plugin is run here (no stdin, a time limit, killed on cancel), not by lightkube.
        found = await exec_credentials(ctx, user.exec, path, settings.k8s_request_timeout_s)
        user = msgspec.structs.replace(user, exec=None, **found)
    single = single._replace(user=user)
    namespace = params.namespace or settings.k8s_namespace or single.namespace
    timeout = httpx2.Timeout(settings.k8s_request_timeout_s, connect=CONNECT_TIMEOUT_S)
    server = single.cluster.server
    try:
        client = AsyncClient(single, namespace=namespace, timeout=timeout, field_manager="qtqueue")
    except (ConfigError, OSError, ssl.SSLError, ValueError) as exc:
        raise _config_error(path, f"context {single.context_name}: {exc}") from None
    return Cluster(
        client=client,
        namespace=namespace,
        server=server,
        context_name=single.context_name,
        request_timeout_s=settings.k8s_request_timeout_s,
        rollout_timeout_s=settings.k8s_rollout_timeout_s,
    )


@contextlib.asynccontextmanager
async def cluster_session(ctx: RunContext[Any], params: ClusterParams) -> AsyncIterator[Cluster]:
    """`open_cluster`, closed at the end of the block."""
    cluster = await open_cluster(ctx, params)
    try:
        yield cluster
    finally:
        await cluster.close()


# --- Failures -------------------------------------------------------------------------------


def _status_body(exc: Any) -> dict[str, Any]:
    """The API server's `Status` object of an HTTP error ({} when the body is not one)."""
    response = getattr(exc, "response", None)
    if response is None:
        return {}
    try:
        body = response.json()
    except Exception:
        return {}
    return body if isinstance(body, dict) else {}


def _what(kind: str | None, name: str | None, namespace: str | None) -> str:
    text = " ".join(p for p in (kind, name and repr(name)) if p) or "the resource"
    return f"{text} in namespace {namespace!r}" if namespace else text


def _chain(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def k8s_error(
    exc: BaseException,
    *,
    kind: str | None = None,
    name: str | None = None,
    namespace: str | None = None,
    server: str | None = None,
    fallback: TaskErrorCode = _C.UNKNOWN_ERROR,
) -> QueueError:
    """A QueueError for a failure of a call about `kind` `name` in `namespace`.

    HTTP 401/403: K8S_AUTHENTICATION_FAILED; 404 whose Status names a namespace (the API
    server's answer to a request into a missing namespace): K8S_NAMESPACE_NOT_FOUND; other 404:
    K8S_RESOURCE_NOT_FOUND; 409 AlreadyExists: K8S_RESOURCE_ALREADY_EXISTS; 400/422 (Invalid,
    BadRequest): VALIDATION_INVALID_PARAMS; 5xx and a refused, timed-out or unresolvable
    connection: K8S_CLUSTER_UNAVAILABLE; anything else `fallback` (the operation's own code,
    e.g. K8S_DEPLOYMENT_FAILED). A QueueError passes through. The message names what was asked for
    and the server's own message.
    """
    if isinstance(exc, QueueError):
        return exc
    import httpx2

    what = _what(kind, name, namespace)
    details: dict[str, Any] = {
        k: v for k, v in (("kind", kind), ("name", name), ("namespace", namespace)) if v
    }
    if isinstance(exc, httpx2.HTTPStatusError):
        status = exc.response.status_code
        body = _status_body(exc)
        reason = str(body.get("reason") or "")
        text = str(body.get("message") or exc.response.reason_phrase or status)
        found: dict[str, Any] = body["details"] if isinstance(body.get("details"), dict) else {}
        details["status_code"] = status
        if reason:
            details["reason"] = reason
        if status in (401, 403):
            why = "unauthorized: the credentials were refused" if status == 401 else text
            return QueueError(_C.K8S_AUTHENTICATION_FAILED, f"{what}: {why}", **details)
        if status == 404:
            if found.get("kind") == "namespaces" or (
                kind not in ("Namespace", "namespaces") and 'namespaces "' in text
            ):
                missing = str(found.get("name") or namespace or "")
                return QueueError(
                    _C.K8S_NAMESPACE_NOT_FOUND,
                    f"{what}: namespace {missing!r} not found",
                    **details,
                )
            return QueueError(_C.K8S_RESOURCE_NOT_FOUND, f"{what} not found", **details)
        if status == 409 and (reason == "AlreadyExists" or "already exists" in text):
            return QueueError(_C.K8S_RESOURCE_ALREADY_EXISTS, f"{what} already exists", **details)
        if status in (400, 422):
            return QueueError(_C.VALIDATION_INVALID_PARAMS, f"{what}: {text}", **details)
        code = _C.K8S_CLUSTER_UNAVAILABLE if status >= 500 else fallback
        return QueueError(code, f"{what}: the API server answered {status}: {text}", **details)
    where = server or "the cluster"
    chain = _chain(exc)
    if any(isinstance(e, ssl.SSLError) for e in chain):
        return QueueError(
            _C.NETWORK_SSL_ERROR, f"{what}: TLS with {where} failed: {exc}", **details
        )
    if isinstance(exc, httpx2.TimeoutException):
        return QueueError(
            _C.K8S_CLUSTER_UNAVAILABLE, f"{what}: {where} did not answer in time", **details
        )
    if isinstance(exc, httpx2.TransportError | OSError):
        return QueueError(
            _C.K8S_CLUSTER_UNAVAILABLE,
            f"{what}: cannot connect to {where}: {exc or type(exc).__name__}",
            **details,
        )
    from lightkube import ConfigError

    if isinstance(exc, ConfigError):
        return QueueError(_C.K8S_CLUSTER_UNAVAILABLE, f"{what}: kubeconfig: {exc}", **details)
    return QueueError(fallback, f"{what}: {type(exc).__name__}: {exc}", **details)
