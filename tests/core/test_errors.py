"""Specification of `qtqueue.core.errors`: codes, catalog, QueueError and the classifiers."""

from __future__ import annotations

import asyncio
import errno
import json
import pickle
import signal
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import pytest

from qtqueue.core.errors import (
    CATALOG,
    ErrorCode,
    ErrorInfo,
    QueueError,
    TaskErrorCode,
    classify_exception,
    classify_exit,
    classify_message,
    describe_exit,
    error_info,
)
from qtqueue.executors import default_registry

C = TaskErrorCode

# The built-in families' codes and rules (docker's among them) join the catalog when a registry
# loads them, as in the engine and the window.
default_registry(entry_points=False)

#: The codes of the design documents, which the engine and the UI rely on, written out so that a
#: removed code fails here (adding one fails nothing).
REQUIRED_CODES = [
    "DOCKER_IMAGE_NOT_FOUND",
    "DOCKER_AUTHENTICATION_FAILED",
    "DOCKER_PERMISSION_DENIED",
    "DOCKER_NETWORK_ERROR",
    "DOCKER_REGISTRY_ERROR",
    "DOCKER_BUILD_FAILED",
    "DOCKER_PUSH_FAILED",
    "DOCKER_PULL_FAILED",
    "DOCKER_CONTAINER_NOT_FOUND",
    "DOCKER_CONTAINER_ALREADY_RUNNING",
    "DOCKER_DAEMON_UNAVAILABLE",
    "K8S_CLUSTER_UNAVAILABLE",
    "K8S_AUTHENTICATION_FAILED",
    "K8S_RESOURCE_NOT_FOUND",
    "K8S_RESOURCE_ALREADY_EXISTS",
    "K8S_NAMESPACE_NOT_FOUND",
    "K8S_POD_FAILED",
    "K8S_DEPLOYMENT_FAILED",
    "K8S_SERVICE_FAILED",
    "VAST_API_ERROR",
    "VAST_AUTHENTICATION_FAILED",
    "VAST_INSTANCE_NOT_FOUND",
    "VAST_INSTANCE_CREATION_FAILED",
    "VAST_INSTANCE_DESTRUCTION_FAILED",
    "VAST_QUOTA_EXCEEDED",
    "GITHUB_API_ERROR",
    "GITHUB_AUTHENTICATION_FAILED",
    "GITHUB_REPO_NOT_FOUND",
    "GITHUB_REPO_ALREADY_EXISTS",
    "GITHUB_BRANCH_NOT_FOUND",
    "GITHUB_MERGE_CONFLICT",
    "SYSTEM_TIMEOUT",
    "SYSTEM_RESOURCE_LIMIT",
    "SYSTEM_DISK_SPACE",
    "SYSTEM_MEMORY_LIMIT",
    "SYSTEM_CPU_LIMIT",
    "SYSTEM_PROCESS_KILLED",
    "SYSTEM_COMMAND_NOT_FOUND",
    "SYSTEM_PERMISSION_DENIED",
    "SYSTEM_COMMAND_FAILED",
    "SYSTEM_GPU_LIMIT",
    "NETWORK_CONNECTION_FAILED",
    "NETWORK_TIMEOUT",
    "NETWORK_DNS_ERROR",
    "NETWORK_PROXY_ERROR",
    "NETWORK_FIREWALL_BLOCKED",
    "NETWORK_SSL_ERROR",
    "DATA_FILE_NOT_FOUND",
    "DATA_FILE_CORRUPTED",
    "DATA_FORMAT_INVALID",
    "DATA_SIZE_TOO_LARGE",
    "DATA_ENCODING_ERROR",
    "DATA_PARSING_FAILED",
    "VALIDATION_INVALID_PARAMS",
    "VALIDATION_MISSING_REQUIRED",
    "VALIDATION_INVALID_FORMAT",
    "QUEUE_FULL",
    "QUEUE_TASK_NOT_FOUND",
    "QUEUE_TASK_ALREADY_RUNNING",
    "QUEUE_INVALID_STATE",
    "QUEUE_UNKNOWN_TASK_TYPE",
    "QUEUE_DEPENDENCY_FAILED",
    "QUEUE_DEPENDENCY_CYCLE",
    "QUEUE_TASK_EXPIRED",
    "QUEUE_TASK_INTERRUPTED",
    "QUEUE_ENGINE_LOCKED",
    "QUEUE_ENGINE_UNAVAILABLE",
    "QUEUE_STORE_CORRUPT",
    "QUEUE_REJECTED",
    "OLLAMA_MODEL_NOT_FOUND",
    "OLLAMA_SERVICE_UNAVAILABLE",
    "OLLAMA_INFERENCE_FAILED",
    "CREDENTIAL_NOT_FOUND",
    "CREDENTIAL_BACKEND_UNAVAILABLE",
    "UNKNOWN_ERROR",
    "INTERNAL_ERROR",
]


# --- Codes and catalog ------------------------------------------------------------------------


def test_every_documented_code_is_a_constant() -> None:
    assert len(REQUIRED_CODES) == len(set(REQUIRED_CODES))
    assert set(REQUIRED_CODES) <= {code.name for code in TaskErrorCode}


@pytest.mark.parametrize("name", REQUIRED_CODES)
def test_a_code_value_is_its_name(name: str) -> None:
    code = TaskErrorCode[name]
    assert code.value == name
    assert TaskErrorCode(name) is code
    assert str(code) == name


def test_with_the_built_in_families_loaded_every_constant_has_an_entry() -> None:
    assert set(TaskErrorCode) <= set(CATALOG)


@pytest.mark.parametrize("code", sorted(CATALOG))
def test_every_registered_code_has_a_description_and_a_suggestion_that_are_sentences(
    code: str,
) -> None:
    info = CATALOG[code]
    assert isinstance(info, ErrorInfo)
    assert info.code == code
    if code in set(TaskErrorCode):
        assert info.code is TaskErrorCode(code)
    else:
        assert isinstance(info.code, ErrorCode) and info.code.value == code
    for text in (info.description, info.suggestion):
        assert text.strip() == text
        assert text[0].isupper()
        assert text.endswith(".")
    assert isinstance(info.retryable, bool)


def test_the_catalog_and_its_entries_are_read_only() -> None:
    with pytest.raises(TypeError):
        CATALOG[C.UNKNOWN_ERROR] = CATALOG[C.INTERNAL_ERROR]  # type: ignore[index]
    with pytest.raises(AttributeError):
        CATALOG[C.UNKNOWN_ERROR].retryable = True  # type: ignore[misc]


@pytest.mark.parametrize(
    "code",
    [
        C.NETWORK_CONNECTION_FAILED,
        C.NETWORK_TIMEOUT,
        C.NETWORK_DNS_ERROR,
        C.SYSTEM_TIMEOUT,
        C.SYSTEM_PROCESS_KILLED,
        C.DOCKER_DAEMON_UNAVAILABLE,
        C.DOCKER_REGISTRY_ERROR,
        C.DOCKER_NETWORK_ERROR,
        C.K8S_CLUSTER_UNAVAILABLE,
        C.OLLAMA_SERVICE_UNAVAILABLE,
        C.QUEUE_TASK_INTERRUPTED,
        C.QUEUE_ENGINE_UNAVAILABLE,
        C.QUEUE_FULL,
    ],
)
def test_transient_failures_are_retryable(code: TaskErrorCode) -> None:
    assert CATALOG[code].retryable is True


@pytest.mark.parametrize(
    "code",
    [
        C.DOCKER_AUTHENTICATION_FAILED,
        C.K8S_AUTHENTICATION_FAILED,
        C.GITHUB_AUTHENTICATION_FAILED,
        C.VAST_AUTHENTICATION_FAILED,
        C.DOCKER_IMAGE_NOT_FOUND,
        C.DATA_FILE_NOT_FOUND,
        C.SYSTEM_COMMAND_NOT_FOUND,
        C.SYSTEM_PERMISSION_DENIED,
        C.DOCKER_PERMISSION_DENIED,
        C.VALIDATION_INVALID_PARAMS,
        C.VALIDATION_MISSING_REQUIRED,
        C.VALIDATION_INVALID_FORMAT,
        C.DATA_FORMAT_INVALID,
        C.DATA_PARSING_FAILED,
        C.QUEUE_INVALID_STATE,
        C.QUEUE_UNKNOWN_TASK_TYPE,
        C.QUEUE_DEPENDENCY_CYCLE,
        C.QUEUE_STORE_CORRUPT,
        C.QUEUE_REJECTED,
        C.CREDENTIAL_NOT_FOUND,
        C.SYSTEM_COMMAND_FAILED,
        C.UNKNOWN_ERROR,
        C.INTERNAL_ERROR,
    ],
)
def test_failures_that_need_a_change_first_are_not_retryable(code: TaskErrorCode) -> None:
    assert CATALOG[code].retryable is False


def test_error_info_accepts_a_code_or_its_name_in_any_case() -> None:
    info = CATALOG[C.DOCKER_IMAGE_NOT_FOUND]
    assert error_info(C.DOCKER_IMAGE_NOT_FOUND) is info
    assert error_info("DOCKER_IMAGE_NOT_FOUND") is info
    assert error_info("docker_image_not_found") is info


def test_error_info_of_an_unknown_name_is_unknown_errors() -> None:
    assert error_info("NO_SUCH_CODE") is CATALOG[C.UNKNOWN_ERROR]
    assert error_info("") is CATALOG[C.UNKNOWN_ERROR]


def test_store_corrupt_suggests_a_backup_and_says_the_damaged_file_is_kept() -> None:
    suggestion = CATALOG[C.QUEUE_STORE_CORRUPT].suggestion
    assert "qtqueue restore" in suggestion
    assert "damaged file is kept" in suggestion


# --- QueueError -------------------------------------------------------------------------------


def test_queue_error_message_defaults_to_the_codes_description() -> None:
    err = QueueError(C.QUEUE_TASK_NOT_FOUND)
    assert err.message == CATALOG[C.QUEUE_TASK_NOT_FOUND].description
    assert str(err) == err.message
    assert err.details == {}


def test_queue_error_carries_code_message_and_details() -> None:
    err = QueueError(C.QUEUE_INVALID_STATE, "cannot pause a completed task", task_id="t1")
    assert err.code is C.QUEUE_INVALID_STATE
    assert str(err) == "cannot pause a completed task"
    assert err.details == {"task_id": "t1"}
    assert err.info is CATALOG[C.QUEUE_INVALID_STATE]
    assert err.suggestion == CATALOG[C.QUEUE_INVALID_STATE].suggestion
    assert err.retryable is False
    assert QueueError(C.QUEUE_TASK_INTERRUPTED).retryable is True


def test_queue_error_accepts_the_code_as_a_string() -> None:
    assert QueueError("QUEUE_FULL").code is C.QUEUE_FULL
    assert QueueError("queue_full").code is C.QUEUE_FULL


def test_queue_error_with_an_unknown_code_string_is_unknown_error_and_keeps_the_string() -> None:
    err = QueueError("MADE_UP", "boom")
    assert err.code is C.UNKNOWN_ERROR
    assert err.details == {"original_code": "MADE_UP"}
    assert str(err) == "boom"


def test_queue_error_to_dict_has_every_field_and_is_json_ready() -> None:
    err = QueueError(C.DATA_FILE_NOT_FOUND, "input.csv is missing", path="/tmp/input.csv")
    data = err.to_dict()
    assert data == {
        "code": "DATA_FILE_NOT_FOUND",
        "message": "input.csv is missing",
        "description": CATALOG[C.DATA_FILE_NOT_FOUND].description,
        "suggestion": CATALOG[C.DATA_FILE_NOT_FOUND].suggestion,
        "retryable": False,
        "details": {"path": "/tmp/input.csv"},
    }
    assert json.loads(json.dumps(data)) == data


def test_queue_error_round_trips_through_to_dict_and_from_dict() -> None:
    err = QueueError(C.SYSTEM_COMMAND_FAILED, "make exited with code 2", exit_code=2)
    back = QueueError.from_dict(json.loads(json.dumps(err.to_dict())))
    assert back.code is err.code
    assert str(back) == str(err)
    assert back.details == err.details
    assert back.to_dict() == err.to_dict()


def test_queue_error_details_are_a_copy_in_to_dict() -> None:
    err = QueueError(C.UNKNOWN_ERROR, "x", items=[1])
    err.to_dict()["details"]["extra"] = 1
    assert "extra" not in err.details


def test_queue_error_survives_pickling_with_code_and_details() -> None:
    err = QueueError(C.QUEUE_ENGINE_LOCKED, "locked by pid 42", pid=42)
    back = pickle.loads(pickle.dumps(err))
    assert isinstance(back, QueueError)
    assert (back.code, back.message, back.details) == (err.code, err.message, err.details)


def test_queue_error_is_raised_and_caught_as_an_exception() -> None:
    with pytest.raises(QueueError) as caught:
        raise QueueError(C.QUEUE_FULL)
    assert caught.value.code is C.QUEUE_FULL
    assert "QUEUE_FULL" in repr(caught.value)


# --- classify_exit and describe_exit ----------------------------------------------------------


@pytest.mark.parametrize(
    ("returncode", "expected"),
    [
        (127, C.SYSTEM_COMMAND_NOT_FOUND),
        (126, C.SYSTEM_PERMISSION_DENIED),
        (137, C.SYSTEM_PROCESS_KILLED),
        (-9, C.SYSTEM_PROCESS_KILLED),
        (-15, C.SYSTEM_PROCESS_KILLED),
        (143, C.SYSTEM_PROCESS_KILLED),
        (-11, C.SYSTEM_PROCESS_KILLED),
        (-6, C.SYSTEM_PROCESS_KILLED),
        (1, C.SYSTEM_COMMAND_FAILED),
        (2, C.SYSTEM_COMMAND_FAILED),
        (128, C.SYSTEM_COMMAND_FAILED),
        (160, C.SYSTEM_COMMAND_FAILED),
        (255, C.SYSTEM_COMMAND_FAILED),
    ],
)
def test_classify_exit_by_code_alone(returncode: int, expected: TaskErrorCode) -> None:
    assert classify_exit(returncode) is expected
    assert classify_exit(returncode, "some unremarkable output\n") is expected


def test_classify_exit_prefers_what_the_output_says() -> None:
    output = "writing layer\ncp: error writing 'out.bin': No space left on device\n"
    assert classify_exit(1, output) is C.SYSTEM_DISK_SPACE


def test_classify_exit_of_a_cpu_time_limit_signal_is_cpu_limit() -> None:
    assert classify_exit(-int(signal.SIGXCPU)) is C.SYSTEM_CPU_LIMIT


def test_classify_exit_refuses_a_successful_exit() -> None:
    with pytest.raises(ValueError, match="returncode 0"):
        classify_exit(0)


def test_classify_exit_of_a_real_process_killed_by_sigkill() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == -9
    assert classify_exit(proc.returncode, proc.stderr) is C.SYSTEM_PROCESS_KILLED
    assert describe_exit(proc.returncode) == "killed by signal 9 (SIGKILL)"


def test_classify_exit_of_a_real_shell_running_a_missing_command() -> None:
    proc = subprocess.run(
        ["sh", "-c", "qtqueue-no-such-command-xyz"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 127
    assert classify_exit(proc.returncode, proc.stderr) is C.SYSTEM_COMMAND_NOT_FOUND


@pytest.mark.parametrize(
    ("returncode", "expected"),
    [
        (3, "exited with code 3"),
        (1, "exited with code 1"),
        (-9, "killed by signal 9 (SIGKILL)"),
        (-15, "killed by signal 15 (SIGTERM)"),
        (-11, "killed by signal 11 (SIGSEGV)"),
        (137, "killed by signal 9 (SIGKILL), exit code 137"),
        (255, "exited with code 255"),
    ],
)
def test_describe_exit(returncode: int, expected: str) -> None:
    assert describe_exit(returncode) == expected


def test_describe_exit_of_a_signal_without_a_name() -> None:
    assert describe_exit(-99) == "killed by signal 99"


# --- classify_message -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # disk
        ("write /var/lib/docker/tmp: no space left on device", C.SYSTEM_DISK_SPACE),
        ("OSError: [Errno 122] Disk quota exceeded", C.SYSTEM_DISK_SPACE),
        # memory
        ("fork: Cannot allocate memory", C.SYSTEM_MEMORY_LIMIT),
        ("fatal: Out of memory, malloc failed", C.SYSTEM_MEMORY_LIMIT),
        ("MemoryError", C.SYSTEM_MEMORY_LIMIT),
        ("Killed process 1234 (python) total-vm:... oom-kill", C.SYSTEM_MEMORY_LIMIT),
        ("container exited: OOM", C.SYSTEM_MEMORY_LIMIT),
        ("Reason: OOMKilled", C.SYSTEM_MEMORY_LIMIT),
        # gpu
        ("torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate", C.SYSTEM_GPU_LIMIT),
        ("RuntimeError: No CUDA GPUs are available", C.SYSTEM_GPU_LIMIT),
        (
            'could not select device driver "" with capabilities: [[gpu]]',
            C.SYSTEM_GPU_LIMIT,
        ),
        # resource limits
        ("OSError: [Errno 24] Too many open files", C.SYSTEM_RESOURCE_LIMIT),
        ("bash: fork: Resource temporarily unavailable", C.SYSTEM_RESOURCE_LIMIT),
        # commands and files
        ("bash: kubectl: command not found", C.SYSTEM_COMMAND_NOT_FOUND),
        ('exec: "nvidia-smi": executable file not found in $PATH', C.SYSTEM_COMMAND_NOT_FOUND),
        ("cat: data.csv: No such file or directory", C.DATA_FILE_NOT_FOUND),
        ("rm: cannot remove '/etc/x': Permission denied", C.SYSTEM_PERMISSION_DENIED),
        ("chown: changing ownership: Operation not permitted", C.SYSTEM_PERMISSION_DENIED),
        # docker daemon
        (
            (
                "Got permission denied while trying to connect to the Docker daemon socket at "
                "unix:///var/run/docker.sock"
            ),
            C.DOCKER_PERMISSION_DENIED,
        ),
        (
            (
                "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
                "Is the docker daemon running?"
            ),
            C.DOCKER_DAEMON_UNAVAILABLE,
        ),
        ("error: is the docker daemon running?", C.DOCKER_DAEMON_UNAVAILABLE),
        # docker images and containers
        ("Error response from daemon: manifest unknown", C.DOCKER_IMAGE_NOT_FOUND),
        (
            "Error response from daemon: manifest for foo:v9 not found: manifest unknown",
            C.DOCKER_IMAGE_NOT_FOUND,
        ),
        (
            (
                "pull access denied for foo, repository does not exist or may require "
                "'docker login': denied: requested access to the resource is denied"
            ),
            C.DOCKER_IMAGE_NOT_FOUND,
        ),
        ("repository does not exist", C.DOCKER_IMAGE_NOT_FOUND),
        ("Error: No such image: foo:latest", C.DOCKER_IMAGE_NOT_FOUND),
        ("Error response from daemon: No such container: web", C.DOCKER_CONTAINER_NOT_FOUND),
        (
            "Error response from daemon: removal of container web is already in progress",
            C.DOCKER_CONTAINER_ALREADY_RUNNING,
        ),
        ("Error: container web is already running", C.DOCKER_CONTAINER_ALREADY_RUNNING),
        # docker registry
        ("denied: requested access to the resource is denied", C.DOCKER_AUTHENTICATION_FAILED),
        ("no basic auth credentials", C.DOCKER_AUTHENTICATION_FAILED),
        ("unauthorized: authentication required", C.DOCKER_AUTHENTICATION_FAILED),
        (
            "Error response from daemon: Get https://registry.example.com/v2/: 401 Unauthorized",
            C.DOCKER_AUTHENTICATION_FAILED,
        ),
        ("docker push failed: authentication required", C.DOCKER_AUTHENTICATION_FAILED),
        (
            "toomanyrequests: You have reached your pull rate limit.",
            C.DOCKER_REGISTRY_ERROR,
        ),
        (
            "received unexpected HTTP status: 503 Service Unavailable",
            C.DOCKER_REGISTRY_ERROR,
        ),
        # credentials refused elsewhere
        (
            "error: You must be logged in to the server (Unauthorized)",
            C.K8S_AUTHENTICATION_FAILED,
        ),
        (
            "fatal: Authentication failed for 'https://github.com/me/repo.git/'",
            C.GITHUB_AUTHENTICATION_FAILED,
        ),
        ("git@github.com: Permission denied (publickey).", C.GITHUB_AUTHENTICATION_FAILED),
        ("vast.ai: 401 Unauthorized", C.VAST_AUTHENTICATION_FAILED),
        ("HTTP 401 Unauthorized", C.SYSTEM_PERMISSION_DENIED),
        # kubernetes
        (
            "Unable to connect to the server: dial tcp 10.0.0.1:6443: i/o timeout",
            C.K8S_CLUSTER_UNAVAILABLE,
        ),
        (
            (
                "The connection to the server localhost:8080 was refused - did you specify the "
                "right host or port?"
            ),
            C.K8S_CLUSTER_UNAVAILABLE,
        ),
        ('Error from server (NotFound): namespaces "prod" not found', C.K8S_NAMESPACE_NOT_FOUND),
        (
            'Error from server (NotFound): deployments.apps "web" not found',
            C.K8S_RESOURCE_NOT_FOUND,
        ),
        (
            'Error from server (AlreadyExists): deployments.apps "web" already exists',
            C.K8S_RESOURCE_ALREADY_EXISTS,
        ),
        # git / github
        ("remote: Repository not found.", C.GITHUB_REPO_NOT_FOUND),
        ("name already exists on this account", C.GITHUB_REPO_ALREADY_EXISTS),
        (
            (
                "CONFLICT (content): Merge conflict in app.py\n"
                "Automatic merge failed; fix conflicts and then commit the result."
            ),
            C.GITHUB_MERGE_CONFLICT,
        ),
        # ollama
        (
            'Error: model "llama9" not found, try pulling it first',
            C.OLLAMA_MODEL_NOT_FOUND,
        ),
        ("Error: could not connect to ollama app, is it running?", C.OLLAMA_SERVICE_UNAVAILABLE),
        # network
        (
            "curl: (7) Failed to connect to localhost port 80: Connection refused",
            C.NETWORK_CONNECTION_FAILED,
        ),
        ("[Errno 104] Connection reset by peer", C.NETWORK_CONNECTION_FAILED),
        ("connect: network is unreachable", C.NETWORK_CONNECTION_FAILED),
        (
            (
                "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local "
                "issuer certificate"
            ),
            C.NETWORK_SSL_ERROR,
        ),
        ("SSL: WRONG_VERSION_NUMBER", C.NETWORK_SSL_ERROR),
        ("remote error: tls handshake failure", C.NETWORK_SSL_ERROR),
        ("x509: certificate signed by unknown authority", C.NETWORK_SSL_ERROR),
        ("net/http: TLS handshake timeout", C.NETWORK_TIMEOUT),
        ("ssh: Could not resolve hostname x: Name or service not known", C.NETWORK_DNS_ERROR),
        (
            "dial tcp: lookup registry-1.docker.io: Temporary failure in name resolution",
            C.NETWORK_DNS_ERROR,
        ),
        ("curl: (6) Could not resolve host: example.invalid", C.NETWORK_DNS_ERROR),
        ("nodename nor servname provided, or not known", C.NETWORK_DNS_ERROR),
        ("dial tcp: lookup nosuch.example: no such host", C.NETWORK_DNS_ERROR),
        ("Operation timed out after 30000 milliseconds", C.NETWORK_TIMEOUT),
        ("read: connection timeout", C.NETWORK_TIMEOUT),
        ("requests.exceptions.ReadTimeout: read operation", C.NETWORK_TIMEOUT),
        ("context deadline exceeded", C.NETWORK_TIMEOUT),
        (
            "proxyconnect tcp: dial tcp 10.0.0.9:3128: connect: connection refused",
            C.NETWORK_PROXY_ERROR,
        ),
        ("ProxyError('Cannot connect to proxy.')", C.NETWORK_PROXY_ERROR),
        ("HTTP/1.1 407 Proxy Authentication Required", C.NETWORK_PROXY_ERROR),
        # data
        (
            "UnicodeDecodeError: 'utf-8' codec can't decode byte 0xff in position 0",
            C.DATA_ENCODING_ERROR,
        ),
        ("'ascii' codec can't encode character", C.DATA_ENCODING_ERROR),
        ("json.decoder.JSONDecodeError: Extra data", C.DATA_PARSING_FAILED),
        ("Expecting value: line 1 column 1 (char 0)", C.DATA_PARSING_FAILED),
    ],
)
def test_classify_message(text: str, expected: TaskErrorCode) -> None:
    assert classify_message(text) is expected


def test_classify_message_ignores_case() -> None:
    assert classify_message("NO SPACE LEFT ON DEVICE") is C.SYSTEM_DISK_SPACE
    assert classify_message("connection REFUSED") is C.NETWORK_CONNECTION_FAILED


@pytest.mark.parametrize(
    "text",
    ["", "build finished", "zoom in on the room", "all good", "timeout=30 was configured"],
)
def test_classify_message_returns_none_when_nothing_fits(text: str) -> None:
    assert classify_message(text) is None


# --- classify_exception -----------------------------------------------------------------------


def _raised(action: object) -> BaseException:
    """The exception that calling `action` raises."""
    assert callable(action)
    try:
        action()
    except BaseException as exc:
        return exc
    raise AssertionError("expected an exception")


def _closed_port() -> int:
    """A local port that was just free and is now closed again."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_a_queue_error_keeps_its_code() -> None:
    assert classify_exception(QueueError(C.QUEUE_REJECTED)) is C.QUEUE_REJECTED


def test_a_missing_file_opened_for_real(tmp_path: Path) -> None:
    exc = _raised(lambda: (tmp_path / "missing.txt").open())
    assert isinstance(exc, FileNotFoundError)
    assert classify_exception(exc) is C.DATA_FILE_NOT_FOUND


def test_a_missing_executable_launched_for_real_is_still_a_missing_file() -> None:
    exc = _raised(lambda: subprocess.run(["qtqueue-no-such-program-xyz"], check=False))
    assert isinstance(exc, FileNotFoundError)
    assert classify_exception(exc) is C.DATA_FILE_NOT_FOUND


def test_a_refused_connection_for_real() -> None:
    port = _closed_port()
    exc = _raised(lambda: socket.create_connection(("127.0.0.1", port), timeout=5))
    assert isinstance(exc, ConnectionRefusedError)
    assert classify_exception(exc) is C.NETWORK_CONNECTION_FAILED


def test_an_undecodable_byte_for_real() -> None:
    exc = _raised(lambda: b"\xff".decode("utf-8"))
    assert isinstance(exc, UnicodeDecodeError)
    assert classify_exception(exc) is C.DATA_ENCODING_ERROR


def test_broken_json_for_real_is_a_parse_failure_not_a_value_error() -> None:
    exc = _raised(lambda: json.loads("{"))
    assert isinstance(exc, json.JSONDecodeError)
    assert classify_exception(exc) is C.DATA_PARSING_FAILED


def test_an_asyncio_timeout_for_real() -> None:
    async def wait_forever() -> None:
        await asyncio.wait_for(asyncio.Event().wait(), timeout=0)

    exc = _raised(lambda: asyncio.run(wait_forever()))
    assert isinstance(exc, asyncio.TimeoutError)
    assert classify_exception(exc) is C.SYSTEM_TIMEOUT


def test_a_failed_command_for_real_is_classified_by_its_exit_and_output() -> None:
    script = "import sys; sys.stderr.write('write failed: No space left on device'); sys.exit(1)"
    exc = _raised(
        lambda: subprocess.run([sys.executable, "-c", script], capture_output=True, check=True)
    )
    assert isinstance(exc, subprocess.CalledProcessError)
    assert classify_exception(exc) is C.SYSTEM_DISK_SPACE


def test_a_failed_command_with_nothing_to_say() -> None:
    exc = subprocess.CalledProcessError(3, ["make"], output="", stderr="")
    assert classify_exception(exc) is C.SYSTEM_COMMAND_FAILED


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), C.SYSTEM_DISK_SPACE),
        (OSError(errno.ENOMEM, "Cannot allocate memory"), C.SYSTEM_MEMORY_LIMIT),
        (OSError(errno.EACCES, "Permission denied"), C.SYSTEM_PERMISSION_DENIED),
        (OSError(errno.EPERM, "Operation not permitted"), C.SYSTEM_PERMISSION_DENIED),
        (OSError(errno.EMFILE, "Too many open files"), C.SYSTEM_RESOURCE_LIMIT),
        (
            PermissionError(errno.EACCES, "Permission denied", "/etc/shadow"),
            C.SYSTEM_PERMISSION_DENIED,
        ),
        (TimeoutError("timed out"), C.SYSTEM_TIMEOUT),
        (socket.timeout("timed out"), C.SYSTEM_TIMEOUT),  # noqa: UP041 - the alias is the point
        (subprocess.TimeoutExpired(["sleep", "9"], 1.0), C.SYSTEM_TIMEOUT),
        (
            ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"),
            C.NETWORK_CONNECTION_FAILED,
        ),
        (
            ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"),
            C.NETWORK_CONNECTION_FAILED,
        ),
        (ConnectionError("the peer went away"), C.NETWORK_CONNECTION_FAILED),
        (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), C.NETWORK_DNS_ERROR),
        (ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"), C.NETWORK_SSL_ERROR),
        (ssl.SSLCertVerificationError(1, "certificate verify failed"), C.NETWORK_SSL_ERROR),
        (MemoryError(), C.SYSTEM_MEMORY_LIMIT),
        (UnicodeEncodeError("ascii", "é", 0, 1, "ordinal not in range"), C.DATA_ENCODING_ERROR),
    ],
)
def test_classify_exception_by_type_and_errno(exc: BaseException, expected: TaskErrorCode) -> None:
    assert classify_exception(exc) is expected


def test_plain_value_and_type_errors_are_classified_by_their_message_only() -> None:
    assert classify_exception(ValueError("bad value")) is C.UNKNOWN_ERROR
    assert classify_exception(TypeError("expected str")) is C.UNKNOWN_ERROR
    assert classify_exception(ValueError("Expecting value: line 1")) is C.DATA_PARSING_FAILED
    assert classify_exception(RuntimeError("No space left on device")) is C.SYSTEM_DISK_SPACE


def test_an_exception_that_says_nothing_useful_is_unknown() -> None:
    assert classify_exception(RuntimeError("something odd")) is C.UNKNOWN_ERROR
    assert classify_exception(KeyError("x")) is C.UNKNOWN_ERROR


def test_a_missing_key_or_attribute_is_not_classified_by_its_name() -> None:
    params: dict[str, float] = {}
    no_attribute = AttributeError("'NoneType' object has no attribute 'timeout'")
    assert classify_exception(_raised(lambda: params["timeout"])) is C.UNKNOWN_ERROR
    assert classify_exception(no_attribute) is C.UNKNOWN_ERROR


def test_an_unhelpful_wrapper_is_classified_by_its_explicit_cause() -> None:
    port = _closed_port()

    def push() -> None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError as exc:
            raise RuntimeError("push failed") from exc

    assert classify_exception(_raised(push)) is C.NETWORK_CONNECTION_FAILED


def test_a_helpful_wrapper_wins_over_its_cause() -> None:
    def push() -> None:
        raise QueueError(C.DOCKER_PUSH_FAILED) from ConnectionRefusedError()

    assert classify_exception(_raised(push)) is C.DOCKER_PUSH_FAILED


def test_classify_exception_never_loops_on_a_cause_cycle() -> None:
    first = RuntimeError("a")
    second = RuntimeError("b")
    first.__cause__ = second
    second.__cause__ = first
    assert classify_exception(first) is C.UNKNOWN_ERROR
