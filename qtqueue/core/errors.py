"""Error codes, their human explanations, and the classifiers that pick a code for a failure.

Every failure the engine records carries a `TaskErrorCode`. `CATALOG` maps each code to an
`ErrorInfo`: a one-sentence description, a concrete suggestion, and whether an automatic retry
can help. Executors raise `QueueError` for failures they understand; everything else is mapped
to a code by `classify_exception`, `classify_exit` (a finished process) or `classify_message`
(a line of output or an error text).

Nothing here does IO, and nothing here imports anything beyond the standard library.
"""

from __future__ import annotations

import errno
import json
import logging
import re
import signal
import socket
import ssl
import subprocess
import types
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

logger = logging.getLogger(__name__)

__all__ = [
    "CATALOG",
    "ErrorInfo",
    "QueueError",
    "TaskErrorCode",
    "classify_exception",
    "classify_exit",
    "classify_message",
    "describe_exit",
    "error_info",
]


class TaskErrorCode(StrEnum):
    """The kind of a failure. Each value equals its name, and it is what the store keeps."""

    DOCKER_IMAGE_NOT_FOUND = "DOCKER_IMAGE_NOT_FOUND"
    DOCKER_AUTHENTICATION_FAILED = "DOCKER_AUTHENTICATION_FAILED"
    DOCKER_PERMISSION_DENIED = "DOCKER_PERMISSION_DENIED"
    DOCKER_NETWORK_ERROR = "DOCKER_NETWORK_ERROR"
    DOCKER_REGISTRY_ERROR = "DOCKER_REGISTRY_ERROR"
    DOCKER_BUILD_FAILED = "DOCKER_BUILD_FAILED"
    DOCKER_PUSH_FAILED = "DOCKER_PUSH_FAILED"
    DOCKER_PULL_FAILED = "DOCKER_PULL_FAILED"
    DOCKER_CONTAINER_NOT_FOUND = "DOCKER_CONTAINER_NOT_FOUND"
    DOCKER_CONTAINER_ALREADY_RUNNING = "DOCKER_CONTAINER_ALREADY_RUNNING"
    DOCKER_DAEMON_UNAVAILABLE = "DOCKER_DAEMON_UNAVAILABLE"

    K8S_CLUSTER_UNAVAILABLE = "K8S_CLUSTER_UNAVAILABLE"
    K8S_AUTHENTICATION_FAILED = "K8S_AUTHENTICATION_FAILED"
    K8S_RESOURCE_NOT_FOUND = "K8S_RESOURCE_NOT_FOUND"
    K8S_RESOURCE_ALREADY_EXISTS = "K8S_RESOURCE_ALREADY_EXISTS"
    K8S_NAMESPACE_NOT_FOUND = "K8S_NAMESPACE_NOT_FOUND"
    K8S_POD_FAILED = "K8S_POD_FAILED"
    K8S_DEPLOYMENT_FAILED = "K8S_DEPLOYMENT_FAILED"
    K8S_SERVICE_FAILED = "K8S_SERVICE_FAILED"

    VAST_API_ERROR = "VAST_API_ERROR"
    VAST_AUTHENTICATION_FAILED = "VAST_AUTHENTICATION_FAILED"
    VAST_INSTANCE_NOT_FOUND = "VAST_INSTANCE_NOT_FOUND"
    VAST_INSTANCE_CREATION_FAILED = "VAST_INSTANCE_CREATION_FAILED"
    VAST_INSTANCE_DESTRUCTION_FAILED = "VAST_INSTANCE_DESTRUCTION_FAILED"
    VAST_QUOTA_EXCEEDED = "VAST_QUOTA_EXCEEDED"

    GITHUB_API_ERROR = "GITHUB_API_ERROR"
    GITHUB_AUTHENTICATION_FAILED = "GITHUB_AUTHENTICATION_FAILED"
    GITHUB_REPO_NOT_FOUND = "GITHUB_REPO_NOT_FOUND"
    GITHUB_REPO_ALREADY_EXISTS = "GITHUB_REPO_ALREADY_EXISTS"
    GITHUB_BRANCH_NOT_FOUND = "GITHUB_BRANCH_NOT_FOUND"
    GITHUB_MERGE_CONFLICT = "GITHUB_MERGE_CONFLICT"

    SYSTEM_TIMEOUT = "SYSTEM_TIMEOUT"
    SYSTEM_RESOURCE_LIMIT = "SYSTEM_RESOURCE_LIMIT"
    SYSTEM_DISK_SPACE = "SYSTEM_DISK_SPACE"
    SYSTEM_MEMORY_LIMIT = "SYSTEM_MEMORY_LIMIT"
    SYSTEM_CPU_LIMIT = "SYSTEM_CPU_LIMIT"
    SYSTEM_PROCESS_KILLED = "SYSTEM_PROCESS_KILLED"
    SYSTEM_COMMAND_NOT_FOUND = "SYSTEM_COMMAND_NOT_FOUND"
    SYSTEM_PERMISSION_DENIED = "SYSTEM_PERMISSION_DENIED"
    SYSTEM_COMMAND_FAILED = "SYSTEM_COMMAND_FAILED"
    SYSTEM_GPU_LIMIT = "SYSTEM_GPU_LIMIT"

    NETWORK_CONNECTION_FAILED = "NETWORK_CONNECTION_FAILED"
    NETWORK_TIMEOUT = "NETWORK_TIMEOUT"
    NETWORK_DNS_ERROR = "NETWORK_DNS_ERROR"
    NETWORK_PROXY_ERROR = "NETWORK_PROXY_ERROR"
    NETWORK_FIREWALL_BLOCKED = "NETWORK_FIREWALL_BLOCKED"
    NETWORK_SSL_ERROR = "NETWORK_SSL_ERROR"

    DATA_FILE_NOT_FOUND = "DATA_FILE_NOT_FOUND"
    DATA_FILE_CORRUPTED = "DATA_FILE_CORRUPTED"
    DATA_FORMAT_INVALID = "DATA_FORMAT_INVALID"
    DATA_SIZE_TOO_LARGE = "DATA_SIZE_TOO_LARGE"
    DATA_ENCODING_ERROR = "DATA_ENCODING_ERROR"
    DATA_PARSING_FAILED = "DATA_PARSING_FAILED"

    VALIDATION_INVALID_PARAMS = "VALIDATION_INVALID_PARAMS"
    VALIDATION_MISSING_REQUIRED = "VALIDATION_MISSING_REQUIRED"
    VALIDATION_INVALID_FORMAT = "VALIDATION_INVALID_FORMAT"

    QUEUE_FULL = "QUEUE_FULL"
    QUEUE_TASK_NOT_FOUND = "QUEUE_TASK_NOT_FOUND"
    QUEUE_TASK_ALREADY_RUNNING = "QUEUE_TASK_ALREADY_RUNNING"
    QUEUE_INVALID_STATE = "QUEUE_INVALID_STATE"
    QUEUE_UNKNOWN_TASK_TYPE = "QUEUE_UNKNOWN_TASK_TYPE"
    QUEUE_DEPENDENCY_FAILED = "QUEUE_DEPENDENCY_FAILED"
    QUEUE_DEPENDENCY_CYCLE = "QUEUE_DEPENDENCY_CYCLE"
    QUEUE_TASK_EXPIRED = "QUEUE_TASK_EXPIRED"
    QUEUE_TASK_INTERRUPTED = "QUEUE_TASK_INTERRUPTED"
    QUEUE_ENGINE_LOCKED = "QUEUE_ENGINE_LOCKED"
    QUEUE_ENGINE_UNAVAILABLE = "QUEUE_ENGINE_UNAVAILABLE"
    QUEUE_STORE_CORRUPT = "QUEUE_STORE_CORRUPT"
    QUEUE_REJECTED = "QUEUE_REJECTED"

    OLLAMA_MODEL_NOT_FOUND = "OLLAMA_MODEL_NOT_FOUND"
    OLLAMA_SERVICE_UNAVAILABLE = "OLLAMA_SERVICE_UNAVAILABLE"
    OLLAMA_INFERENCE_FAILED = "OLLAMA_INFERENCE_FAILED"

    CREDENTIAL_NOT_FOUND = "CREDENTIAL_NOT_FOUND"
    CREDENTIAL_BACKEND_UNAVAILABLE = "CREDENTIAL_BACKEND_UNAVAILABLE"

    UNKNOWN_ERROR = "UNKNOWN_ERROR"
    INTERNAL_ERROR = "INTERNAL_ERROR"


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """What a code means to a user.

    `description` is one sentence saying what went wrong; `suggestion` is one or two sentences
    saying what to do about it; both end with a period. `retryable` is True when an automatic
    retry can help without anyone changing anything (a network blip, a timeout, a busy or
    restarting service) and False when something must change first (parameters, credentials,
    permissions, a missing file, the task's state). It is shown with the error; it does not
    limit the retries a task asks for (`Task.max_retries`), which `final` does.

    `final` is True when no retry can ever fix the failure, because the task itself or a
    person's decision is the cause (its parameters, its type, a missing credential, a failed
    dependency, a rejection): such failures are not retried even when the task asks for
    retries (`max_retries`), while every other failure is.
    """

    code: TaskErrorCode
    description: str
    suggestion: str
    retryable: bool
    final: bool = False


_C = TaskErrorCode

_ENTRIES: tuple[tuple[TaskErrorCode, str, str, bool], ...] = (
    # --- Docker ---------------------------------------------------------------------------
    (
        _C.DOCKER_IMAGE_NOT_FOUND,
        "The Docker image could not be found in the registry or on this machine.",
        (
            "Check the image name and tag for typos, and run 'docker login' if the image is in a "
            "private repository."
        ),
        False,
    ),
    (
        _C.DOCKER_AUTHENTICATION_FAILED,
        "The Docker registry rejected the credentials.",
        (
            "Run 'docker login' for that registry, or update the stored registry token, then retry "
            "the task."
        ),
        False,
    ),
    (
        _C.DOCKER_PERMISSION_DENIED,
        "This user is not allowed to talk to the Docker daemon.",
        "Add the user to the 'docker' group (then log out and back in), or use rootless Docker.",
        False,
    ),
    (
        _C.DOCKER_NETWORK_ERROR,
        "Docker could not reach the network it needed.",
        (
            "Check the machine's internet connection and Docker's proxy and DNS settings; the task "
            "can be retried once the network is back."
        ),
        True,
    ),
    (
        _C.DOCKER_REGISTRY_ERROR,
        "The Docker registry returned an error or refused the request for now.",
        (
            "Wait a little and retry; if it keeps failing, check the registry's status page or "
            "your pull rate limit."
        ),
        True,
    ),
    (
        _C.DOCKER_BUILD_FAILED,
        "The Docker build failed.",
        "Read the build log for the failing step and fix the Dockerfile or the build context.",
        False,
    ),
    (
        _C.DOCKER_PUSH_FAILED,
        "Pushing the Docker image failed.",
        (
            "Check the log for the cause; confirm you are logged in and the repository exists, "
            "then retry."
        ),
        True,
    ),
    (
        _C.DOCKER_PULL_FAILED,
        "Pulling the Docker image failed.",
        "Check the log for the cause and the network connection, then retry.",
        True,
    ),
    (
        _C.DOCKER_CONTAINER_NOT_FOUND,
        "The Docker container does not exist.",
        "Check the container name or id with 'docker ps -a'.",
        False,
    ),
    (
        _C.DOCKER_CONTAINER_ALREADY_RUNNING,
        "The Docker container is already running or busy with another operation.",
        "Stop the container first, or use a different container name.",
        False,
    ),
    (
        _C.DOCKER_DAEMON_UNAVAILABLE,
        "The Docker daemon is not running or cannot be reached.",
        (
            "Start Docker (for example 'sudo systemctl start docker' or open Docker Desktop) and "
            "retry."
        ),
        True,
    ),
    # --- Kubernetes -----------------------------------------------------------------------
    (
        _C.K8S_CLUSTER_UNAVAILABLE,
        "The Kubernetes cluster could not be reached.",
        (
            "Check that the cluster is up and that the current kubectl context points at it "
            "('kubectl config current-context')."
        ),
        True,
    ),
    (
        _C.K8S_AUTHENTICATION_FAILED,
        "The Kubernetes cluster rejected the credentials.",
        "Refresh the credentials in your kubeconfig (log in to the cluster again) and retry.",
        False,
    ),
    (
        _C.K8S_RESOURCE_NOT_FOUND,
        "The Kubernetes resource does not exist.",
        "Check the resource kind, name and namespace with 'kubectl get'.",
        False,
    ),
    (
        _C.K8S_RESOURCE_ALREADY_EXISTS,
        "A Kubernetes resource with that name already exists.",
        "Choose another name, delete the existing resource, or apply the change as an update.",
        False,
    ),
    (
        _C.K8S_NAMESPACE_NOT_FOUND,
        "The Kubernetes namespace does not exist.",
        "Create the namespace ('kubectl create namespace NAME') or fix the namespace parameter.",
        False,
    ),
    (
        _C.K8S_POD_FAILED,
        "A Kubernetes pod failed.",
        "Inspect it with 'kubectl describe pod' and 'kubectl logs' to find the cause.",
        False,
    ),
    (
        _C.K8S_DEPLOYMENT_FAILED,
        "The Kubernetes deployment did not become ready.",
        (
            "Check 'kubectl rollout status' and the pods' events for image, resource or probe "
            "problems."
        ),
        False,
    ),
    (
        _C.K8S_SERVICE_FAILED,
        "The Kubernetes service could not be created or updated.",
        "Check the service definition (ports, selector, type) and the cluster's events.",
        False,
    ),
    # --- Vast.ai --------------------------------------------------------------------------
    (
        _C.VAST_API_ERROR,
        "The Vast.ai API returned an error.",
        "Wait a moment and retry; if it persists, check the Vast.ai status page.",
        True,
    ),
    (
        _C.VAST_AUTHENTICATION_FAILED,
        "Vast.ai rejected the API key.",
        "Set a valid Vast.ai API key in the credentials settings.",
        False,
    ),
    (
        _C.VAST_INSTANCE_NOT_FOUND,
        "The Vast.ai instance does not exist.",
        "Check the instance id; it may already have been destroyed.",
        False,
    ),
    (
        _C.VAST_INSTANCE_CREATION_FAILED,
        "The Vast.ai instance could not be created.",
        "The offer may have been taken; retry or pick another offer.",
        True,
    ),
    (
        _C.VAST_INSTANCE_DESTRUCTION_FAILED,
        "The Vast.ai instance could not be destroyed.",
        "Retry, and check the Vast.ai console so the instance does not keep costing money.",
        True,
    ),
    (
        _C.VAST_QUOTA_EXCEEDED,
        "The Vast.ai account has reached its quota or credit limit.",
        "Add credit or destroy unused instances, then retry.",
        False,
    ),
    # --- GitHub ---------------------------------------------------------------------------
    (
        _C.GITHUB_API_ERROR,
        "The GitHub API returned an error.",
        "Wait a moment and retry; if it persists, check githubstatus.com and your rate limit.",
        True,
    ),
    (
        _C.GITHUB_AUTHENTICATION_FAILED,
        "GitHub rejected the credentials.",
        "Set a valid GitHub token with the needed scopes in the credentials settings.",
        False,
    ),
    (
        _C.GITHUB_REPO_NOT_FOUND,
        "The GitHub repository does not exist or this account cannot see it.",
        (
            "Check the owner and repository name, and that the token can access private "
            "repositories."
        ),
        False,
    ),
    (
        _C.GITHUB_REPO_ALREADY_EXISTS,
        "A GitHub repository with that name already exists.",
        "Choose another name or use the existing repository.",
        False,
    ),
    (
        _C.GITHUB_BRANCH_NOT_FOUND,
        "The Git branch does not exist.",
        "Check the branch name, or create the branch first.",
        False,
    ),
    (
        _C.GITHUB_MERGE_CONFLICT,
        "The changes conflict with the target branch.",
        "Resolve the conflicts locally, commit, and push again.",
        False,
    ),
    # --- System ---------------------------------------------------------------------------
    (
        _C.SYSTEM_TIMEOUT,
        "The operation took longer than its time limit.",
        (
            "Raise the task's timeout if the work is legitimately slow, or find out what it was "
            "waiting for."
        ),
        True,
    ),
    (
        _C.SYSTEM_RESOURCE_LIMIT,
        "A system resource limit was reached (processes, open files or similar).",
        "Wait for other work to finish and retry, or raise the limit (see 'ulimit -a').",
        True,
    ),
    (
        _C.SYSTEM_DISK_SPACE,
        "The disk is full or the disk quota is used up.",
        (
            "Free some disk space (for example 'docker system prune' or deleting old files), then "
            "retry."
        ),
        False,
    ),
    (
        _C.SYSTEM_MEMORY_LIMIT,
        "The process ran out of memory.",
        (
            "Close other programs or give the task more memory, or process the data in smaller "
            "pieces."
        ),
        False,
    ),
    (
        _C.SYSTEM_CPU_LIMIT,
        (
            "The task needs more CPU than it may have: it used up its CPU time limit, or it asks "
            "for more cores than the machine has."
        ),
        (
            "Ask for fewer cores (or run it on a bigger machine), or raise the task's CPU time "
            "limit, or make the work smaller."
        ),
        False,
    ),
    (
        _C.SYSTEM_PROCESS_KILLED,
        "The process was killed by a signal before it finished.",
        (
            "Check whether something stopped it (the system's out-of-memory killer, a user, a "
            "shutdown); retrying may succeed."
        ),
        True,
    ),
    (
        _C.SYSTEM_COMMAND_NOT_FOUND,
        "The command or program could not be found.",
        "Install the program, or give its full path, and check the PATH the engine runs with.",
        False,
    ),
    (
        _C.SYSTEM_PERMISSION_DENIED,
        "The operating system refused the operation for lack of permission.",
        (
            "Check the file's permissions (and that a script is executable), or run the task as a "
            "user with the needed rights."
        ),
        False,
    ),
    (
        _C.SYSTEM_COMMAND_FAILED,
        "The command exited with an error.",
        "Read the task's output for the command's own error message.",
        False,
    ),
    (
        _C.SYSTEM_GPU_LIMIT,
        "No GPU was available, or the GPU ran out of memory.",
        "Wait for other GPU work to finish and retry, or use a smaller model or batch size.",
        True,
    ),
    # --- Network --------------------------------------------------------------------------
    (
        _C.NETWORK_CONNECTION_FAILED,
        "The network connection was refused or dropped.",
        "Check that the remote service is running and reachable; the task can be retried.",
        True,
    ),
    (
        _C.NETWORK_TIMEOUT,
        "A network operation timed out.",
        "Check the internet connection and the remote service, then retry.",
        True,
    ),
    (
        _C.NETWORK_DNS_ERROR,
        "A host name could not be resolved.",
        (
            "Check the host name for typos and the machine's DNS settings; retry once the network "
            "is up."
        ),
        True,
    ),
    (
        _C.NETWORK_PROXY_ERROR,
        "The connection through the proxy failed.",
        "Check the proxy settings (HTTP_PROXY, HTTPS_PROXY, NO_PROXY) and that the proxy is up.",
        True,
    ),
    (
        _C.NETWORK_FIREWALL_BLOCKED,
        "A firewall blocked the connection.",
        "Allow the connection in the firewall, or ask the network administrator to.",
        False,
    ),
    (
        _C.NETWORK_SSL_ERROR,
        "The secure (TLS/SSL) connection could not be established.",
        (
            "Check the system clock and the server's certificate, and install any corporate CA "
            "certificate the network requires."
        ),
        False,
    ),
    # --- Data -----------------------------------------------------------------------------
    (
        _C.DATA_FILE_NOT_FOUND,
        "A file or directory the task needs does not exist.",
        "Check the path in the task's parameters and that the file is where it should be.",
        False,
    ),
    (
        _C.DATA_FILE_CORRUPTED,
        "A file is damaged and cannot be read.",
        "Restore the file from a backup or download it again.",
        False,
    ),
    (
        _C.DATA_FORMAT_INVALID,
        "The data is not in the expected format.",
        "Check that the input is the kind of file the task expects.",
        False,
    ),
    (
        _C.DATA_SIZE_TOO_LARGE,
        "The data is larger than allowed.",
        "Split the data into smaller pieces or raise the size limit.",
        False,
    ),
    (
        _C.DATA_ENCODING_ERROR,
        "Text could not be decoded or encoded with the expected character set.",
        "Convert the input to UTF-8, or set the encoding the data really uses.",
        False,
    ),
    (
        _C.DATA_PARSING_FAILED,
        "The data could not be parsed.",
        "Check the input for syntax errors (for example invalid JSON) or truncation.",
        False,
    ),
    # --- Validation -----------------------------------------------------------------------
    (
        _C.VALIDATION_INVALID_PARAMS,
        "The task's parameters are not valid.",
        "Correct the parameters named in the message and submit the task again.",
        False,
    ),
    (
        _C.VALIDATION_MISSING_REQUIRED,
        "A required parameter is missing.",
        "Fill in the missing parameter named in the message and submit the task again.",
        False,
    ),
    (
        _C.VALIDATION_INVALID_FORMAT,
        "A parameter value is not in the expected format.",
        "Correct the value's format as the message describes and submit the task again.",
        False,
    ),
    # --- Queue ----------------------------------------------------------------------------
    (
        _C.QUEUE_FULL,
        "The queue is full and cannot accept more tasks now.",
        "Wait for some tasks to finish, or remove finished tasks, then submit again.",
        True,
    ),
    (
        _C.QUEUE_TASK_NOT_FOUND,
        "No task with that id exists.",
        "Refresh the task list; the task may have been deleted.",
        False,
    ),
    (
        _C.QUEUE_TASK_ALREADY_RUNNING,
        "The task is already running.",
        "Wait for it to finish, or cancel it first.",
        False,
    ),
    (
        _C.QUEUE_INVALID_STATE,
        "The request does not fit the task's current status.",
        "Refresh the task list and choose an action the task's status allows.",
        False,
    ),
    (
        _C.QUEUE_UNKNOWN_TASK_TYPE,
        "No executor or handler is registered for this task type.",
        "Check the task type's spelling, or install or register the handler that runs it.",
        False,
    ),
    (
        _C.QUEUE_DEPENDENCY_FAILED,
        "A task this one depends on failed, was cancelled or timed out.",
        "Fix and retry the failed dependency, then retry this task.",
        False,
    ),
    (
        _C.QUEUE_DEPENDENCY_CYCLE,
        "The task's dependencies form a cycle, so none of them could ever start.",
        "Remove one of the dependencies so that the chain has a beginning.",
        False,
    ),
    (
        _C.QUEUE_TASK_EXPIRED,
        "The task was not started before its expiry time.",
        "Submit it again with a later expiry time, or none.",
        False,
    ),
    (
        _C.QUEUE_TASK_INTERRUPTED,
        "The task was cut short: the engine (or the process that followed its command) "
        "stopped while it ran, and how it ended is not known.",
        "Its log shows how far it got; check whether its work was done before running it "
        "again, and see the engine log if this keeps happening.",
        True,
    ),
    (
        _C.QUEUE_ENGINE_LOCKED,
        "Another engine is already using this data directory.",
        "Close the other instance, or start this one with a different data directory.",
        False,
    ),
    (
        _C.QUEUE_ENGINE_UNAVAILABLE,
        "The running engine's local API could not be reached.",
        "Start the engine (or wait until it has started), then try again.",
        True,
    ),
    (
        _C.QUEUE_STORE_CORRUPT,
        "The queue database file is damaged or is not a qtqueue database.",
        (
            "Run 'qtqueue restore' to list the automatic backups and bring one back, or start "
            "on an empty queue with 'qtqueue run --new-store-if-damaged'; either way the "
            "damaged file is kept beside it under a new name."
        ),
        False,
    ),
    (
        _C.QUEUE_REJECTED,
        "A person rejected the task when asked to approve it.",
        "Change the task as the reviewer asked and submit it again.",
        False,
    ),
    # --- Ollama ---------------------------------------------------------------------------
    (
        _C.OLLAMA_MODEL_NOT_FOUND,
        "The Ollama model is not installed.",
        "Pull the model first ('ollama pull MODEL'), or check the model name.",
        False,
    ),
    (
        _C.OLLAMA_SERVICE_UNAVAILABLE,
        "The Ollama service is not running or cannot be reached.",
        "Start Ollama ('ollama serve') and retry.",
        True,
    ),
    (
        _C.OLLAMA_INFERENCE_FAILED,
        "The Ollama model failed while generating a response.",
        "Retry; if it keeps failing, check the Ollama log and try a smaller model or prompt.",
        True,
    ),
    # --- Credentials ----------------------------------------------------------------------
    (
        _C.CREDENTIAL_NOT_FOUND,
        "The credential the task needs is not stored in the keyring.",
        "Add the credential in the credentials settings, then retry the task.",
        False,
    ),
    (
        _C.CREDENTIAL_BACKEND_UNAVAILABLE,
        "No usable operating-system keyring is available to read credentials from.",
        (
            "Unlock or install a keyring service (for example GNOME Keyring or KWallet), then "
            "retry the task."
        ),
        False,
    ),
    # --- Other ----------------------------------------------------------------------------
    (
        _C.UNKNOWN_ERROR,
        "An unexpected error occurred.",
        "Read the task's error message and output for details.",
        False,
    ),
    (
        _C.INTERNAL_ERROR,
        "Something went wrong inside the queue engine itself.",
        "Check the engine log and report the problem with the log attached.",
        False,
    ),
)

#: Failures no retry can fix: the task as given, or a person's decision, is the cause.
_FINAL: frozenset[TaskErrorCode] = frozenset(
    {
        _C.VALIDATION_INVALID_PARAMS,
        _C.VALIDATION_MISSING_REQUIRED,
        _C.VALIDATION_INVALID_FORMAT,
        _C.QUEUE_UNKNOWN_TASK_TYPE,
        _C.QUEUE_DEPENDENCY_FAILED,
        _C.QUEUE_DEPENDENCY_CYCLE,
        _C.QUEUE_TASK_EXPIRED,
        _C.QUEUE_REJECTED,
        _C.QUEUE_INVALID_STATE,
        _C.QUEUE_TASK_NOT_FOUND,
        _C.CREDENTIAL_NOT_FOUND,
    }
)

#: Every `TaskErrorCode` with its `ErrorInfo`. Read-only.
CATALOG: Mapping[TaskErrorCode, ErrorInfo] = types.MappingProxyType(
    {
        code: ErrorInfo(code, desc, hint, retry, code in _FINAL)
        for code, desc, hint, retry in _ENTRIES
    }
)


def _parse_code(code: TaskErrorCode | str) -> TaskErrorCode | None:
    """`code` as a `TaskErrorCode` (names are matched case-insensitively), or None."""
    if isinstance(code, TaskErrorCode):
        return code
    try:
        return TaskErrorCode(code.strip().upper())
    except ValueError:
        return None


def error_info(code: TaskErrorCode | str) -> ErrorInfo:
    """The `ErrorInfo` for `code`; a string that names no code gets UNKNOWN_ERROR's info.

    Strings are matched case-insensitively ("docker_image_not_found" works). Never raises.
    """
    parsed = _parse_code(code)
    return CATALOG[parsed if parsed is not None else TaskErrorCode.UNKNOWN_ERROR]


def _rebuild_queue_error(
    cls: type[QueueError], code: str, message: str, details: dict[str, Any]
) -> QueueError:
    """Unpickling helper for `QueueError` (keeps the code and details across processes)."""
    return cls(code, message, **details)


class QueueError(Exception):
    """An error a user can act on: a code, a message, details; str() is the message.

    `code` is a `TaskErrorCode`; a string naming a code is accepted (case-insensitively), and a
    string naming no code becomes UNKNOWN_ERROR with the original string kept in
    ``details["original_code"]``. `message` defaults to the code's description. `details` are
    facts about the failure (exit code, path, step); keep them JSON-serialisable if they are to
    be stored. Instances pickle with their code and details intact.
    """

    code: TaskErrorCode
    message: str
    details: dict[str, Any]

    def __init__(
        self, code: TaskErrorCode | str, message: str | None = None, **details: Any
    ) -> None:
        parsed = _parse_code(code)
        if parsed is None:
            logger.warning("QueueError with unknown code %r; using UNKNOWN_ERROR", code)
            details.setdefault("original_code", str(code))
            parsed = TaskErrorCode.UNKNOWN_ERROR
        text = message if message is not None else CATALOG[parsed].description
        super().__init__(text)
        self.code = parsed
        self.message = text
        self.details = dict(details)

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        extra = f", details={self.details!r}" if self.details else ""
        return f"{type(self).__name__}({self.code.value}, {self.message!r}{extra})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_queue_error, (type(self), self.code.value, self.message, self.details))

    @property
    def info(self) -> ErrorInfo:
        """The catalog entry for this error's code."""
        return CATALOG[self.code]

    @property
    def suggestion(self) -> str:
        """What the user can do about it (the code's suggestion)."""
        return self.info.suggestion

    @property
    def retryable(self) -> bool:
        """Whether an automatic retry can help (the code's `ErrorInfo.retryable`)."""
        return self.info.retryable

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: code (its value), message, description, suggestion, retryable,
        details (a copy). `QueueError.from_dict` reads it back."""
        info = self.info
        return {
            "code": self.code.value,
            "message": self.message,
            "description": info.description,
            "suggestion": info.suggestion,
            "retryable": info.retryable,
            "details": dict(self.details),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QueueError:
        """The inverse of `to_dict`: uses "code", "message" and "details"; the other keys are
        derived from the code and ignored. A missing "code" gives UNKNOWN_ERROR."""
        details = data.get("details") or {}
        return cls(
            str(data.get("code", TaskErrorCode.UNKNOWN_ERROR)),
            data.get("message"),
            **dict(details),
        )


# --- Classifying messages -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Rule:
    """One row of the message table: if `pattern` matches, the code is the first `context`
    code whose pattern also matches somewhere in the text, else `code`."""

    pattern: re.Pattern[str]
    code: TaskErrorCode
    context: tuple[tuple[re.Pattern[str], TaskErrorCode], ...] = ()


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def _rule(
    pattern: str,
    code: TaskErrorCode,
    context: tuple[tuple[str, TaskErrorCode], ...] = (),
) -> _Rule:
    return _Rule(_rx(pattern), code, tuple((_rx(p), c) for p, c in context))


# Most specific first: the first rule that matches wins.
_RULES: tuple[_Rule, ...] = (
    # Docker: the daemon and its socket.
    _rule(
        r"permission denied while trying to connect to the docker daemon",
        _C.DOCKER_PERMISSION_DENIED,
    ),
    _rule(
        r"cannot connect to the docker daemon|is the docker daemon running"
        r"|docker daemon is not running",
        _C.DOCKER_DAEMON_UNAVAILABLE,
    ),
    # Docker: images and containers ("pull access denied" before any auth rule).
    _rule(
        r"manifest unknown|manifest for \S+ not found|pull access denied"
        r"|repository does not exist|no such image|an image does not exist locally",
        _C.DOCKER_IMAGE_NOT_FOUND,
    ),
    _rule(r"no such container", _C.DOCKER_CONTAINER_NOT_FOUND),
    _rule(
        r"\bcontainer\b[^\n]*(?:is already in progress|already running)"
        r"|(?:is already in progress|already running)[^\n]*\bcontainer\b"
        r"|container name \S+ is already in use|cannot remove a running container",
        _C.DOCKER_CONTAINER_ALREADY_RUNNING,
    ),
    # Docker: registry credentials and registry trouble.
    _rule(
        r"no basic auth credentials|denied: requested access"
        r"|unauthorized: (?:authentication required|incorrect username or password)",
        _C.DOCKER_AUTHENTICATION_FAILED,
    ),
    _rule(
        r"toomanyrequests|received unexpected http status: 5\d\d",
        _C.DOCKER_REGISTRY_ERROR,
    ),
    # Kubernetes (kubectl's wording).
    _rule(
        r"unable to connect to the server|the connection to the server \S+ was refused",
        _C.K8S_CLUSTER_UNAVAILABLE,
    ),
    _rule(r"namespaces? \"[^\"]*\" not found", _C.K8S_NAMESPACE_NOT_FOUND),
    _rule(r"error from server \(notfound\)", _C.K8S_RESOURCE_NOT_FOUND),
    _rule(r"error from server \(alreadyexists\)", _C.K8S_RESOURCE_ALREADY_EXISTS),
    # Git / GitHub.
    _rule(r"remote: repository not found", _C.GITHUB_REPO_NOT_FOUND),
    _rule(r"name already exists on this account", _C.GITHUB_REPO_ALREADY_EXISTS),
    _rule(
        r"merge conflict|conflict \(content\)|automatic merge failed",
        _C.GITHUB_MERGE_CONFLICT,
    ),
    # Ollama.
    _rule(
        r"try pulling it first|ollama[^\n]*\bmodel\b[^\n]*not found",
        _C.OLLAMA_MODEL_NOT_FOUND,
    ),
    _rule(
        r"could not connect to ollama|ollama server not responding",
        _C.OLLAMA_SERVICE_UNAVAILABLE,
    ),
    # Network trouble with a recognisable cause, before the generic connection/timeout rules.
    _rule(
        r"proxyconnect|proxyerror|proxy error|unable to connect to proxy"
        r"|proxy authentication required|tunnel connection failed",
        _C.NETWORK_PROXY_ERROR,
    ),
    _rule(r"tls handshake timeout", _C.NETWORK_TIMEOUT),
    _rule(
        r"certificate verify failed|\bssl:|\bssl_connect\b|tls handshake|ssl handshake|\bx509:",
        _C.NETWORK_SSL_ERROR,
    ),
    _rule(
        r"name or service not known|temporary failure in name resolution"
        r"|could not resolve host|nodename nor servname|no such host",
        _C.NETWORK_DNS_ERROR,
    ),
    # Machine resources.
    _rule(r"no space left on device|disk quota exceeded|\benospc\b", _C.SYSTEM_DISK_SPACE),
    _rule(
        r"cuda out of memory|cuda error: out of memory|no cuda gpus are available"
        r"|could not select device driver[^\n]*gpu",
        _C.SYSTEM_GPU_LIMIT,
    ),
    _rule(
        r"cannot allocate memory|out of memory|memoryerror|\boom\b|\boomkilled\b",
        _C.SYSTEM_MEMORY_LIMIT,
    ),
    _rule(r"too many open files|resource temporarily unavailable", _C.SYSTEM_RESOURCE_LIMIT),
    # Python's own decoding and parsing errors.
    _rule(
        r"unicodedecodeerror|unicodeencodeerror|codec can't (?:decode|encode)",
        _C.DATA_ENCODING_ERROR,
    ),
    _rule(r"jsondecodeerror|expecting value", _C.DATA_PARSING_FAILED),
    # Programs and files.
    _rule(r"command not found|executable file not found", _C.SYSTEM_COMMAND_NOT_FOUND),
    # Credentials refused: by whom depends on what else the text mentions.
    _rule(
        r"\bunauthori[sz]ed\b|authentication required|authentication failed|bad credentials"
        r"|invalid credentials|must be logged in to the server|permission denied \(publickey",
        _C.SYSTEM_PERMISSION_DENIED,
        context=(
            (
                r"kubectl|kubernetes|\bk8s\b|kubeconfig|logged in to the server",
                _C.K8S_AUTHENTICATION_FAILED,
            ),
            (r"github", _C.GITHUB_AUTHENTICATION_FAILED),
            (r"\bvast(?:\.ai|ai)?\b", _C.VAST_AUTHENTICATION_FAILED),
            (r"docker|registry|\bpush\b|\bpull\b", _C.DOCKER_AUTHENTICATION_FAILED),
        ),
    ),
    _rule(r"permission denied|operation not permitted", _C.SYSTEM_PERMISSION_DENIED),
    _rule(r"no such file or directory", _C.DATA_FILE_NOT_FOUND),
    # Generic network failures last: many specific messages above contain these words.
    _rule(
        r"connection refused|connection reset|connection aborted|network is unreachable"
        r"|no route to host",
        _C.NETWORK_CONNECTION_FAILED,
    ),
    _rule(
        r"timed out|timeout(?:error|exception)?\b(?!\s*=)|deadline exceeded|\betimedout\b",
        _C.NETWORK_TIMEOUT,
    ),
)


def classify_message(text: str) -> TaskErrorCode | None:
    """The code an error text or a tail of command output points to, or None if nothing fits.

    Matching is case-insensitive against a fixed table, most specific pattern first (so
    "permission denied while trying to connect to the Docker daemon socket" is
    DOCKER_PERMISSION_DENIED, not SYSTEM_PERMISSION_DENIED). Credential refusals
    ("unauthorized", "authentication required", ...) map to the service the text mentions
    (Kubernetes, GitHub, Vast.ai, Docker/registry/push/pull), and to SYSTEM_PERMISSION_DENIED
    when it mentions none.
    """
    if not text:
        return None
    for rule in _RULES:
        if rule.pattern.search(text):
            for pattern, code in rule.context:
                if pattern.search(text):
                    return code
            return rule.code
    return None


# --- Classifying process exits --------------------------------------------------------------


def _signal_number(returncode: int) -> int | None:
    """The signal that ended a process: -N from Popen, 128+N (below 160) from a shell."""
    if returncode < 0:
        return -returncode
    if 128 < returncode < 160:
        return returncode - 128
    return None


def _signal_name(signum: int) -> str | None:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return None


_SIGNAL_CODES: dict[int, TaskErrorCode] = {
    int(sig): code
    for name, code in (
        ("SIGXCPU", _C.SYSTEM_CPU_LIMIT),
        ("SIGXFSZ", _C.SYSTEM_RESOURCE_LIMIT),
    )
    if (sig := getattr(signal, name, None)) is not None
}


def classify_exit(returncode: int, output_tail: str = "") -> TaskErrorCode:
    """The code for a process that exited with `returncode`, given the end of its output.

    A specific match of `classify_message(output_tail)` wins. Otherwise: 127 is
    SYSTEM_COMMAND_NOT_FOUND, 126 SYSTEM_PERMISSION_DENIED; death by a signal (a negative
    code, Popen's convention, or 129-159 from a shell) is SYSTEM_PROCESS_KILLED, except
    SIGXCPU (SYSTEM_CPU_LIMIT) and SIGXFSZ (SYSTEM_RESOURCE_LIMIT); anything else is
    SYSTEM_COMMAND_FAILED. Raises ValueError for 0, which is not a failure.
    """
    if returncode == 0:
        raise ValueError("classify_exit() called with returncode 0, which is not a failure")
    specific = classify_message(output_tail)
    if specific is not None:
        return specific
    if returncode == 127:
        return TaskErrorCode.SYSTEM_COMMAND_NOT_FOUND
    if returncode == 126:
        return TaskErrorCode.SYSTEM_PERMISSION_DENIED
    signum = _signal_number(returncode)
    if signum is not None:
        return _SIGNAL_CODES.get(signum, TaskErrorCode.SYSTEM_PROCESS_KILLED)
    return TaskErrorCode.SYSTEM_COMMAND_FAILED


def describe_exit(returncode: int) -> str:
    """A short phrase for an exit status, to follow a command's name.

    "exited with code 3"; "killed by signal 9 (SIGKILL)" for Popen's -9; "killed by signal 9
    (SIGKILL), exit code 137" for a shell's 137. Unknown signal numbers have no name part.
    """
    signum = _signal_number(returncode)
    if signum is None:
        return f"exited with code {returncode}"
    name = _signal_name(signum)
    text = f"killed by signal {signum}" + (f" ({name})" if name else "")
    if returncode > 0:
        text += f", exit code {returncode}"
    return text


# --- Classifying exceptions -----------------------------------------------------------------

_ERRNO_CODES: dict[int, TaskErrorCode] = {
    num: code
    for name, code in (
        ("ENOSPC", _C.SYSTEM_DISK_SPACE),
        ("EDQUOT", _C.SYSTEM_DISK_SPACE),
        ("ENOMEM", _C.SYSTEM_MEMORY_LIMIT),
        ("EACCES", _C.SYSTEM_PERMISSION_DENIED),
        ("EPERM", _C.SYSTEM_PERMISSION_DENIED),
        ("ENOENT", _C.DATA_FILE_NOT_FOUND),
        ("EMFILE", _C.SYSTEM_RESOURCE_LIMIT),
        ("ENFILE", _C.SYSTEM_RESOURCE_LIMIT),
        ("EFBIG", _C.DATA_SIZE_TOO_LARGE),
        ("ETIMEDOUT", _C.NETWORK_TIMEOUT),
        ("EHOSTUNREACH", _C.NETWORK_CONNECTION_FAILED),
        ("ENETUNREACH", _C.NETWORK_CONNECTION_FAILED),
    )
    if (num := getattr(errno, name, None)) is not None
}

# isinstance checks, most specific first (JSONDecodeError and UnicodeError are ValueErrors;
# SSLError, gaierror, TimeoutError and the rest are OSErrors).
_TYPE_CODES: tuple[tuple[type[BaseException], TaskErrorCode], ...] = (
    (json.JSONDecodeError, _C.DATA_PARSING_FAILED),
    (UnicodeError, _C.DATA_ENCODING_ERROR),
    (ssl.SSLError, _C.NETWORK_SSL_ERROR),
    (socket.gaierror, _C.NETWORK_DNS_ERROR),
    (TimeoutError, _C.SYSTEM_TIMEOUT),  # also asyncio.TimeoutError and socket.timeout
    (subprocess.TimeoutExpired, _C.SYSTEM_TIMEOUT),
    (ConnectionError, _C.NETWORK_CONNECTION_FAILED),
    (FileNotFoundError, _C.DATA_FILE_NOT_FOUND),
    (PermissionError, _C.SYSTEM_PERMISSION_DENIED),
    (MemoryError, _C.SYSTEM_MEMORY_LIMIT),
)


# Programming errors whose text names a key or an attribute, not a failure: never classified by
# their message.
_NAME_ONLY_ERRORS: tuple[type[BaseException], ...] = (LookupError, AttributeError, NameError)


def _output_text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value if isinstance(value, str) else ""


def _classify_one(exc: BaseException) -> TaskErrorCode | None:
    if isinstance(exc, QueueError):
        return exc.code
    for exc_type, code in _TYPE_CODES:
        if isinstance(exc, exc_type):
            return code
    if isinstance(exc, OSError) and exc.errno in _ERRNO_CODES:
        return _ERRNO_CODES[exc.errno]
    if isinstance(exc, subprocess.CalledProcessError) and exc.returncode != 0:
        tail = _output_text(exc.stdout)[-4000:] + "\n" + _output_text(exc.stderr)[-4000:]
        return classify_exit(exc.returncode, tail)
    if isinstance(exc, _NAME_ONLY_ERRORS):
        return None  # their text is a key or attribute name, e.g. KeyError('timeout')
    return classify_message(f"{type(exc).__name__}: {exc}")


def classify_exception(exc: BaseException) -> TaskErrorCode:
    """The code for an exception.

    A `QueueError` keeps its own code. Other exceptions are matched by type, most specific
    first (JSONDecodeError before ValueError, SSLError and gaierror before OSError, ...), then
    by an OSError's errno (ENOSPC, ENOMEM, EACCES, ...), a CalledProcessError by
    `classify_exit`, then by `classify_message` on "TypeName: message" (not for LookupError,
    AttributeError and NameError, whose text is just a name). If all that finds
    nothing, the explicit cause (``raise ... from cause``) is classified the same way; failing
    that, UNKNOWN_ERROR. Plain ValueError/TypeError are not assumed to be bad parameters.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        code = _classify_one(current)
        if code is not None:
            return code
        current = current.__cause__
    return TaskErrorCode.UNKNOWN_ERROR
