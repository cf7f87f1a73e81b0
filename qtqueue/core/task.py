"""The task: plain data, its types, statuses, priorities and the allowed transitions.

Nothing here does IO. The engine owns live `Task` instances; everything it hands out is a copy.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qtqueue.core.error_catalog import ErrorInfo


#: The types of a field's value that `Task.to_dict` keeps as they are (no enum to turn).
_PLAIN_TYPES = frozenset({str, int, float, bool, type(None), list, dict})


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: Any) -> tuple[str, ...]:
    """The names of a dataclass's fields, in order (`dataclasses.fields` builds them anew
    on every call)."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


class TaskType(StrEnum):
    """Constants for the task types the design documents name; values are stored in lower case.

    A task's `task_type` is a plain string (whatever type name an executor registered, a
    plug-in's as much as these); `TaskType.DOCKER_PUSH == "docker_push"`."""

    DOCKER_PUSH = "docker_push"
    DOCKER_BUILD = "docker_build"
    DOCKER_PULL = "docker_pull"
    DOCKER_RUN = "docker_run"
    DOCKER_STOP = "docker_stop"
    DOCKER_REMOVE = "docker_remove"
    DOCKER_TAG = "docker_tag"
    K8S_DEPLOY = "k8s_deploy"
    K8S_SCALE = "k8s_scale"
    K8S_DELETE = "k8s_delete"
    K8S_GET = "k8s_get"
    K8S_LOGS = "k8s_logs"
    K8S_EXEC = "k8s_exec"
    VAST_CREATE = "vast_create"
    VAST_DESTROY = "vast_destroy"
    VAST_LIST = "vast_list"
    VAST_SEARCH = "vast_search"
    GITHUB_CREATE_REPO = "github_create_repo"
    GITHUB_LIST_REPOS = "github_list_repos"
    GITHUB_CLONE = "github_clone"
    GITHUB_PUSH = "github_push"
    OLLAMA_PULL = "ollama_pull"
    OLLAMA_RUN = "ollama_run"
    OLLAMA_LIST = "ollama_list"
    OLLAMA_STATUS = "ollama_status"
    SYSTEM_MONITOR = "system_monitor"
    SYSTEM_BACKUP = "system_backup"
    SYSTEM_UPDATE = "system_update"
    SYSTEM_CLEANUP = "system_cleanup"
    CUSTOM_SCRIPT = "custom_script"
    CUSTOM_COMMAND = "custom_command"
    CUSTOM_WEBHOOK = "custom_webhook"
    DATA_PROCESS = "data_process"
    DATA_ANALYZE = "data_analyze"
    DATA_EXPORT = "data_export"
    DATA_IMPORT = "data_import"
    NETWORK_TEST = "network_test"
    NETWORK_SCAN = "network_scan"
    NETWORK_MONITOR = "network_monitor"
    # The Docker queue document's names: aliases of the DOCKER_* members
    # (`TaskType.PUSH is TaskType.DOCKER_PUSH`); iteration lists each type once.
    PUSH = "docker_push"
    BUILD = "docker_build"
    PULL = "docker_pull"
    RUN = "docker_run"
    STOP = "docker_stop"
    REMOVE = "docker_remove"
    TAG = "docker_tag"

    @property
    def family(self) -> str:
        """The family a type belongs to ("docker", "k8s", …), used to group types in forms."""
        return self.value.split("_", 1)[0]


_TYPE_NAMES: dict[str, TaskType] = {
    **{t.value: t for t in TaskType},
    **{t.name: t for t in TaskType},
}
#: The alias names ("PUSH"), matched only exactly as written: "push" may be a handler's name.
_ALIAS_NAMES: dict[str, TaskType] = {
    name: t for name, t in TaskType.__members__.items() if name != t.name
}


def documented_task_type(value: str) -> TaskType | None:
    """The `TaskType` constant a type name is (its value or its name, in any case; an alias
    name such as "PUSH" in upper case only), or None."""
    if isinstance(value, TaskType):
        return value
    found = _TYPE_NAMES.get(value) or _ALIAS_NAMES.get(value)
    if found is None:
        found = _TYPE_NAMES.get(value.lower())
    return found


def parse_task_type(value: str) -> str:
    """A stored or typed type name as the plain string that is stored: a documented type's
    value ("custom_command", from "CUSTOM_COMMAND" or any case of either), or the name as given
    (a handler's or a plug-in's)."""
    found = documented_task_type(value)
    return str.__str__(found) if found is not None else str(value)


class TaskStatus(StrEnum):
    """The 13 states of a task. See `can_transition` for the allowed moves."""

    PENDING = "pending"
    RUNNING = "running"
    PAUSED = "paused"
    VALIDATING = "validating"
    PREPARING = "preparing"
    UPLOADING = "uploading"
    DOWNLOADING = "downloading"
    BUILDING = "building"
    PULLING = "pulling"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL

    @property
    def is_active(self) -> bool:
        """True while an executor is working on the task (RUNNING or an intermediate phase)."""
        return self in ACTIVE


#: Phases an executor reports while it works; the task counts as running in all of them.
INTERMEDIATE: frozenset[TaskStatus] = frozenset(
    {
        TaskStatus.VALIDATING,
        TaskStatus.PREPARING,
        TaskStatus.UPLOADING,
        TaskStatus.DOWNLOADING,
        TaskStatus.BUILDING,
        TaskStatus.PULLING,
    }
)
#: An executor holds the task: RUNNING or any intermediate phase.
ACTIVE: frozenset[TaskStatus] = INTERMEDIATE | {TaskStatus.RUNNING}
#: Finished for good unless someone retries it.
TERMINAL: frozenset[TaskStatus] = frozenset(
    {TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.TIMEOUT}
)
#: Failed outcomes that a manual retry may restart.
RETRYABLE_TERMINAL: frozenset[TaskStatus] = frozenset(
    {TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.TIMEOUT}
)
#: How each of those outcomes reads after a task's name ("build failed").
ENDED_IN_WORDS: dict[TaskStatus, str] = {
    TaskStatus.FAILED: "failed",
    TaskStatus.CANCELLED: "was cancelled",
    TaskStatus.TIMEOUT: "timed out",
}
#: Not finished: waiting, held, or being worked on.
UNFINISHED: frozenset[TaskStatus] = frozenset(TaskStatus) - TERMINAL


def can_transition(current: TaskStatus, new: TaskStatus) -> bool:
    """Whether a task may move from `current` to `new`. The one place this rule lives.

    - PENDING starts (RUNNING or a phase), is held (PAUSED), cancelled, or failed before it
      ever ran (a failed dependency, an expiry, a missing executor).
    - Active states move between phases, pause, finish in any terminal state, or go back to
      PENDING (interrupted by a shutdown or crash, or an automatic retry after backoff).
    - PAUSED resumes to PENDING (held before it started) or to an active state, is cancelled,
      fails (its process died while suspended, or it was interrupted) or goes back to PENDING.
    - FAILED, CANCELLED and TIMEOUT go back to PENDING on a retry. COMPLETED is final.
    """
    if current == new:
        return current in ACTIVE  # re-announcing a phase is harmless; nothing else repeats
    if current == TaskStatus.PENDING:
        return new in ACTIVE or new in (TaskStatus.PAUSED, TaskStatus.CANCELLED, TaskStatus.FAILED)
    if current in ACTIVE:
        return new in ACTIVE or new in TERMINAL or new in (TaskStatus.PAUSED, TaskStatus.PENDING)
    if current == TaskStatus.PAUSED:
        return new in ACTIVE or new in (
            TaskStatus.PENDING,
            TaskStatus.CANCELLED,
            TaskStatus.FAILED,
        )
    if current in RETRYABLE_TERMINAL:
        return new == TaskStatus.PENDING
    return False


class Priority(IntEnum):
    """Higher runs first; within one priority, first in, first out. `CRITICAL` (the RQ-style
    document's name) is an alias of `URGENT`: the same member, shown as "urgent"."""

    LOW = 0
    NORMAL = 1
    HIGH = 2
    URGENT = 3
    CRITICAL = 3

    @classmethod
    def parse(cls, value: str | int | Priority) -> Priority:
        """`Priority` from its name ("high"), its number (2) or itself."""
        if isinstance(value, Priority):
            return value
        if isinstance(value, int):
            return cls(value)
        text = value.strip()
        if text.lstrip("-").isdigit():
            return cls(int(text))
        return cls[text.upper()]


class Permission(StrEnum):
    """How much a human must be involved before the task runs."""

    AUTONOMOUS = "autonomous"
    SUPERVISED = "supervised"
    HUMAN_REQUIRED = "human_required"


class OnInterrupt(StrEnum):
    """What to do with a task found running after a crash or an unclean stop.

    RETRY: fail it with QUEUE_TASK_INTERRUPTED, which the retry policy then retries if retries
    are left (counted like any retry). REQUEUE: put it back in the queue without spending a
    retry. FAIL: fail it and leave it to the user.
    """

    RETRY = "retry"
    REQUEUE = "requeue"
    FAIL = "fail"


def new_task_id() -> str:
    """A fresh task id: a random UUID in its canonical text form."""
    return str(uuid.uuid4())


@dataclass(slots=True)
class Task:
    """One unit of work and everything known about it.

    Callers build a `Task` with the fields up to `queue`; the engine fills in the rest.
    Times are UNIX timestamps in seconds (float); durations carry their unit in the name.
    """

    task_type: str
    """The name of the executor that runs it ("custom_command", a plug-in's type, the name given
    to `register_handler`); a `TaskType` constant works too. The engine stores it as a plain
    string (`parse_task_type`)."""
    params: dict[str, Any] = field(default_factory=dict)
    """Parameters, validated against the executor's params model when the task is added."""
    name: str = ""
    """What the user calls it; defaults to a summary of type and params."""
    category: str = "general"
    """A free label ("docker", "system"); per-category concurrency limits key on it."""
    tags: list[str] = field(default_factory=list)
    """Free labels for filtering."""
    priority: Priority = Priority.NORMAL
    """Higher runs first."""
    max_retries: int | None = None
    """Automatic retries: every failed or timed-out attempt is run again, up to this many
    times, unless no retry can fix its error (see `ErrorInfo.final`) or `retry_on` /
    `no_retry_on` leave its code out. None (unset): its queue's default, filled in when it is
    added; 0: it runs once."""
    retry_on: list[str] = field(default_factory=list)
    """Error codes to retry; when it names any, only those are retried (empty: all)."""
    no_retry_on: list[str] = field(default_factory=list)
    """Error codes never retried automatically."""
    retry_backoff: float | list[float] = 1.0
    """A number: base seconds of exponential backoff with jitter. A list: explicit intervals,
    the last one repeating."""
    timeout_s: float | None = None
    """Seconds of running time (paused time not counted) before the task ends in TIMEOUT.
    None (unset): its queue's default, filled in when it is added; 0: no timeout (stored as
    None once added, which then means none)."""
    run_at: float | None = None
    """Not started before this time; also set by the engine for a retry's backoff."""
    expires_at: float | None = None
    """A task not started by then is cancelled (QUEUE_TASK_EXPIRED)."""
    depends_on: list[str] = field(default_factory=list)
    """Ids of tasks that must complete first."""
    allow_dependency_failure: bool = False
    """Run once every dependency is finished, however it ended (default: a failed, cancelled
    or timed-out dependency fails this task with QUEUE_DEPENDENCY_FAILED)."""
    ttl_s: float | None = None
    """Seconds from creation after which a task that has not started is cancelled
    (QUEUE_TASK_EXPIRED); the engine turns it into `expires_at`."""
    resources: dict[str, Any] = field(default_factory=dict)
    """What it needs of the machine: cpu_cores, memory_gb, disk_gb, disk_path, gpu_memory_gb."""
    permission: Permission = Permission.AUTONOMOUS
    """Whether a human must approve it first."""
    on_interrupt: OnInterrupt = OnInterrupt.RETRY
    """What happens if the engine dies while the task runs."""
    queue: str | None = None
    """The named queue it waits in (high_priority, default, low_priority or a user-defined
    one); each has its own concurrency limit and defaults. None: the one its priority picks
    when it is added (URGENT and HIGH: high_priority, LOW: low_priority, else default)."""
    notify_webhook: str | None = None
    """An http(s) URL that gets the task's summary as a signed JSON POST when it ends (None:
    its queue's `notify_webhook`, if any); see `engine/notify.py`."""
    created_by: str = ""
    """Who added it: the user's login name (window, command line, local API), the API key's
    name (REST API) or `schedule:<id>`. Empty: the engine fills in the user's login name."""

    id: str = field(default_factory=new_task_id)
    """A UUID, unique for ever."""
    status: TaskStatus = TaskStatus.PENDING
    """Where it is in its life; see `can_transition`."""
    progress: float = 0.0
    """0–100."""
    current_step: str = ""
    """What it is doing now, in words."""
    done_bytes: int | None = None
    """Bytes moved so far by a task that reports them (a pull, push, copy); in memory and in
    events only, not stored."""
    total_bytes: int | None = None
    """Bytes it will move in all, when known (with `done_bytes`); not stored."""
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    """When the current (or last) attempt started."""
    completed_at: float | None = None
    """When it reached a terminal status."""
    duration_s: float | None = None
    """Running time of the last attempt, paused time excluded."""
    error: str | None = None
    """The human message of the last failure."""
    error_code: str | None = None
    """A `TaskErrorCode` value naming the kind of failure."""
    error_details: dict[str, Any] = field(default_factory=dict)
    """Facts about the failure (exit code, signal, the step that failed…)."""
    retry_count: int = 0
    """Automatic and manual retries so far."""
    dead_letter: bool = False
    """Failed for good after its retry budget: listed apart until requeued."""
    result: dict[str, Any] | None = None
    """What the executor returned."""
    paused_from: TaskStatus | None = None
    """The status a PAUSED task had before it was paused."""
    wait_reason: str = ""
    """Why a PENDING task is not running yet, in words (empty when it is simply queued)."""
    pid: int | None = None
    """Process id of the running command, so a crashed engine's orphans can be found."""
    approved_at: float | None = None
    """When a person approved a HUMAN_REQUIRED task (None: not yet)."""
    seq: int = 0
    """Queue order within a priority; assigned by the engine."""
    updated_at: float = field(default_factory=time.time)

    def copy(self) -> Task:
        """An independent copy (lists and dicts too), safe to hand to callers."""
        # Slot by slot, not `dataclasses.replace` (which runs __init__ again): half the time,
        # and the engine copies a task for every event and every read.
        new = object.__new__(type(self))
        for name in _field_names(type(self)):
            setattr(new, name, getattr(self, name))
        new.params = dict(self.params)
        new.tags = list(self.tags)
        new.depends_on = list(self.depends_on)
        new.retry_on = list(self.retry_on)
        new.no_retry_on = list(self.no_retry_on)
        new.resources = dict(self.resources)
        new.error_details = dict(self.error_details)
        new.result = dict(self.result) if self.result is not None else None
        if isinstance(self.retry_backoff, list):
            new.retry_backoff = list(self.retry_backoff)
        return new

    @property
    def type_name(self) -> str:
        """The stored name of `task_type` ("custom_command", or a handler name)."""
        return str.__str__(self.task_type)

    @property
    def duration(self) -> float | None:
        """Seconds the last attempt ran (`duration_s`, paused time excluded): set when it
        finishes, and at each pause (its running time until then); None until then. The live
        running time of an attempt under way is `TaskQueue.attempt_state(id).running_s`."""
        return self.duration_s

    @property
    def error_info(self) -> ErrorInfo | None:
        """The error code's catalog entry — `description`, `suggestion`, `retryable` — or
        None when the task has no error."""
        if not self.error_code:
            return None
        from qtqueue.core.errors import error_info  # the catalog loads only when asked

        return error_info(self.error_code)

    @property
    def can_retry(self) -> bool:
        """Whether a person can retry it now: it failed, was cancelled or timed out (the rule
        `core.actions` applies to TaskAction.RETRY)."""
        return self.status in RETRYABLE_TERMINAL

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field (enums as their values)."""
        out: dict[str, Any] = {}
        for name in _field_names(type(self)):
            value = getattr(self, name)
            if type(value) not in _PLAIN_TYPES:  # most fields: no enum checks
                if isinstance(value, StrEnum):
                    value = value.value
                elif isinstance(value, IntEnum):
                    value = value.name.lower()
            out[name] = value
        out["task_type"] = self.type_name
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Task:
        """The inverse of `to_dict`; unknown keys are an error (a typo should not vanish)."""
        unknown = set(data).difference(_field_names(cls))
        if unknown:
            raise ValueError(f"unknown task field(s): {', '.join(sorted(unknown))}")
        kwargs = dict(data)
        if "task_type" not in kwargs:
            raise ValueError("task_type is required")
        kwargs["task_type"] = parse_task_type(str(kwargs["task_type"]))
        if "priority" in kwargs:
            kwargs["priority"] = Priority.parse(kwargs["priority"])
        for key, enum in (
            ("status", TaskStatus),
            ("permission", Permission),
            ("on_interrupt", OnInterrupt),
            ("paused_from", TaskStatus),
        ):
            if kwargs.get(key) is not None:
                kwargs[key] = enum(kwargs[key])
        return cls(**kwargs)


@dataclass(slots=True)
class DockerTask(Task):
    """A `Task` whose category defaults to "docker" (the Docker queue document's name):
    `DockerTask(task_type=TaskType.PUSH, params={"image_name": "me/app", "tag": "v1"})`."""

    category: str = "docker"
    """A free label; "docker" unless given."""


#: The param keys that name a task of any type (a command line, a script, a URL), tried after
#: the keys its family names (`Family.name_keys`, read through `ExecutorRegistry.name_keys`).
DEFAULT_NAME_KEYS: tuple[str, ...] = ("command", "script_path", "url")


def summarize_params(
    task_type: TaskType | str, params: Mapping[str, Any], name_keys: Sequence[str] = ()
) -> str:
    """A default task name: the value of the first of `name_keys` (the keys the type's family
    names, most telling first; then command, script_path, url) set in `params` — a command line
    with its args, the image… — or the type. `ExecutorRegistry.default_name` passes the keys of
    the type's family in that registry."""
    name = str.__str__(task_type)
    for key in (*name_keys, *DEFAULT_NAME_KEYS):
        value = params.get(key)
        if value:
            text = (
                " ".join(map(str, value))
                if isinstance(value, Sequence) and not isinstance(value, str)
                else str(value)
            )
            if key == "command" and params.get("args"):
                text += " " + " ".join(map(str, params["args"]))
            return text[:120]
    return name
