"""Error codes, their human explanations, and the classifiers that pick a code for a failure.

Every failure the engine records carries an error code: a plain upper-case string such as
"SYSTEM_COMMAND_FAILED". `TaskErrorCode` names the core's codes and every code of the design
documents as constants. The codes' texts and the message rules are data: the core's in
`core/errors.toml` (shipped in the package), each family's in its own folder, all registered into
one open `ErrorCatalog`, `CATALOG`. A family registers its codes when the executor registry loads
it (`qtqueue.executors.ExecutorRegistry.add_family`); a duplicate code from another owner raises.

`CATALOG` maps each registered code to an `ErrorInfo`: a one-sentence description, a concrete
suggestion, and whether an automatic retry can help. Executors raise `QueueError` for failures
they understand; everything else is mapped to a code by `classify_exception`, `classify_exit` (a
finished process) or `classify_message` (a line of output or an error text, families' rules
first).

Nothing here imports anything beyond the standard library; the only IO is reading the core's
TOML file from the package when the module is imported.
"""

from __future__ import annotations

import errno
import functools
import json
import logging
import signal
from collections.abc import Mapping
from importlib import resources
from typing import Any

from qtqueue.core.error_catalog import (
    CODE_SYNTAX,
    CORE_OWNER,
    ErrorCatalog,
    ErrorInfo,
    MessageRule,
    parse_catalog,
)
from qtqueue.core.error_codes import Code, ErrorCode, TaskErrorCode

logger = logging.getLogger(__name__)

__all__ = [
    "CATALOG",
    "CORE_OWNER",
    "Code",
    "ErrorCatalog",
    "ErrorCode",
    "ErrorInfo",
    "MessageRule",
    "QueueError",
    "TaskErrorCode",
    "classify_exception",
    "classify_exit",
    "classify_message",
    "describe_exit",
    "error_info",
    "parse_catalog",
]


def _core_catalog() -> ErrorCatalog:
    catalog = ErrorCatalog()
    catalog.register_file(CORE_OWNER, resources.files("qtqueue.core") / "errors.toml")
    return catalog


#: The process's open catalog: the core's codes, plus every family's once it is loaded.
CATALOG: ErrorCatalog = _core_catalog()


def error_info(code: str) -> ErrorInfo:
    """The `ErrorInfo` for `code`; a string that names no registered code gets UNKNOWN_ERROR's
    texts. Strings are matched case-insensitively ("docker_image_not_found" works). Never raises.
    """
    return CATALOG.info(code)


def _rebuild_queue_error(
    cls: type[QueueError], code: str, message: str, details: dict[str, Any]
) -> QueueError:
    """Unpickling helper for `QueueError` (keeps the code and details across processes)."""
    return cls(code, message, **details)


class QueueError(Exception):
    """An error a user can act on: a code, a message, details; str() is the message.

    `code` is a `TaskErrorCode` or another registered code (an `ErrorCode`); a string naming a
    code is accepted (case-insensitively), and a string naming no registered code becomes
    UNKNOWN_ERROR with the original string kept in ``details["original_code"]``. `message`
    defaults to the code's description. `details` are facts about the failure (exit code, path,
    step); keep them JSON-serialisable if they are to be stored. Instances pickle with their
    code and details intact.
    """

    code: Code
    message: str
    details: dict[str, Any]

    def __init__(self, code: str, message: str | None = None, **details: Any) -> None:
        parsed = CATALOG.parse(code)
        if parsed is None:
            logger.warning("QueueError with unknown code %r; using UNKNOWN_ERROR", code)
            details.setdefault("original_code", str(code))
            parsed = TaskErrorCode.UNKNOWN_ERROR
        self._info: ErrorInfo | None = None
        text = message if message is not None else CATALOG.info(parsed).description
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
        """The catalog entry for this error's code (or the one it came with over the wire)."""
        return self._info if self._info is not None else CATALOG.info(self.code)

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
        """The inverse of `to_dict`: uses "code", "message" and "details". A code this process
        has not registered (a plug-in's, read by a client that did not load the plug-in) is kept
        with the description, suggestion and retryable the dict carries. A missing "code" gives
        UNKNOWN_ERROR."""
        details = dict(data.get("details") or {})
        code = str(data.get("code", TaskErrorCode.UNKNOWN_ERROR)).strip().upper()
        description, suggestion = data.get("description"), data.get("suggestion")
        if (
            CATALOG.parse(code) is None
            and CODE_SYNTAX.fullmatch(code)
            and isinstance(description, str)
            and isinstance(suggestion, str)
        ):
            err = cls(TaskErrorCode.UNKNOWN_ERROR, data.get("message"), **details)
            err.code = ErrorCode(code)
            err._info = ErrorInfo(err.code, description, suggestion, bool(data.get("retryable")))
            return err
        return cls(code, data.get("message"), **details)


# --- Classifying messages -------------------------------------------------------------------


def classify_message(text: str) -> Code | None:
    """The code an error text or a tail of command output points to, or None if nothing fits.

    Matching is case-insensitive against the registered rules, families' first, then the
    core's, most specific pattern first (so "permission denied while trying to connect to the
    Docker daemon socket" is DOCKER_PERMISSION_DENIED, not SYSTEM_PERMISSION_DENIED, once the
    docker family is loaded). Credential refusals ("unauthorized", "authentication required",
    ...) map to the service the text mentions (Kubernetes, GitHub, Vast.ai, and whatever a
    family adds), and to SYSTEM_PERMISSION_DENIED when it mentions none.
    """
    return CATALOG.classify_message(text)


_C = TaskErrorCode


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


def classify_exit(returncode: int, output_tail: str = "") -> Code:
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
# SSLError, gaierror, TimeoutError and the rest are OSErrors). Built on first use: ssl, socket
# and subprocess cost the command line's start more than the rest of this module.
@functools.cache
def _type_codes() -> tuple[tuple[type[BaseException], TaskErrorCode], ...]:
    import socket
    import ssl
    import subprocess

    return (
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


def _classify_one(exc: BaseException) -> Code | None:
    if isinstance(exc, QueueError):
        return exc.code
    for exc_type, code in _type_codes():
        if isinstance(exc, exc_type):
            return code
    if isinstance(exc, OSError) and exc.errno in _ERRNO_CODES:
        return _ERRNO_CODES[exc.errno]
    import subprocess  # loaded by _type_codes() already

    if isinstance(exc, subprocess.CalledProcessError) and exc.returncode != 0:
        tail = _output_text(exc.stdout)[-4000:] + "\n" + _output_text(exc.stderr)[-4000:]
        return classify_exit(exc.returncode, tail)
    if isinstance(exc, _NAME_ONLY_ERRORS):
        return None  # their text is a key or attribute name, e.g. KeyError('timeout')
    return classify_message(f"{type(exc).__name__}: {exc}")


def classify_exception(exc: BaseException) -> Code:
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
