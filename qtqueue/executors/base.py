"""What an executor is, and what the engine gives it while it runs.

An executor declares a pydantic params model (validation, defaults and the JSON schema that the
forms and `qtqueue types` are built from) and an `async run(ctx)`. Executors never import the
engine: the engine implements `RunContext`.
"""

from __future__ import annotations

import inspect
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar, Generic, Protocol, cast, get_args

from pydantic import BaseModel, ConfigDict, ValidationError
from typing_extensions import TypeVar

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.question import Question
from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.core.type_titles import type_title
from qtqueue.executors.spawn_client import SpawnerClient

logger = logging.getLogger(__name__)

SuspendHook = Callable[[], Awaitable[None] | None]
#: Writes input to the running work (a command's stdin); `eof` closes it after the data.
InputSink = Callable[[bytes, bool], Awaitable[None]]


class Params(BaseModel):
    """Base of every params model — an executor's and an API action's (`qtqueue.api.params`
    re-exports it): unknown keys are an error, so a typo never vanishes."""

    model_config = ConfigDict(extra="forbid")


#: An executor's params model (`Executor[P]`, whose `run` gets a `RunContext[P]`); a bare
#: `Executor` (the registry's, a plug-in's untyped one) is `Executor[Any]` (PEP 696 default).
P = TypeVar("P", bound=BaseModel, default=Any)
P_co = TypeVar("P_co", bound=BaseModel, covariant=True, default=Any)
#: A family's settings model, as `RunContext.family_settings` builds it.
S = TypeVar("S", bound=BaseModel)


class RunContext(Protocol[P_co]):
    """The engine's side of a running task, as an executor sees it: `RunContext[P]` gives an
    `Executor[P]` its params as a `P` (`ctx.params.image_name`, checked by mypy)."""

    @property
    def task(self) -> Task:
        """The task being run (read it, do not change it)."""

    @property
    def params(self) -> P_co:
        """The validated params model instance."""

    def progress(
        self,
        percent: float,
        step: str | None = None,
        *,
        done_bytes: int | None = None,
        total_bytes: int | None = None,
    ) -> None:
        """Report progress 0–100 and, optionally, what is being done now and how many bytes
        were moved of how many (the window shows the speed and time left from them)."""

    def phase(self, status: TaskStatus) -> None:
        """Enter an intermediate status (VALIDATING, PREPARING, BUILDING, PULLING…)."""

    def log(self, line: str) -> None:
        """Append one line of text to the task's log (secrets are redacted)."""

    def log_bytes(self, chunk: bytes) -> None:
        """Append raw output to the task's log (secrets are redacted)."""

    async def credential(self, name: str) -> str:
        """A secret from the OS keyring by name; redacted from this task's log from now on."""

    def add_secret(self, secret: str) -> None:
        """Redact `secret` too (a part of a credential, e.g. the password of a JSON login)
        from this task's log and from everything stored about it."""

    async def checkpoint(self) -> None:
        """Return at once, or wait while the task is paused (cooperative pause)."""

    def set_suspend_hooks(self, pause: SuspendHook, resume: SuspendHook) -> None:
        """Let pause/resume suspend the real work (a process tree, a container)."""

    def alert(self, text: str) -> None:
        """Tell a person now (a NOTICE event: the window's tray shows it), e.g. a target down."""

    def attach_pid(self, pid: int) -> None:
        """Record the process the task runs, so a crashed engine's orphans can be stopped."""

    def set_input_sink(self, sink: InputSink | None) -> None:
        """Let `TaskQueue.send_input` write to the work (a process's stdin); None: no more."""

    async def ask(
        self,
        message: str,
        *,
        request_type: str = "question",
        context: Mapping[str, Any] | None = None,
        timeout_s: float = 1800.0,
        conversation_id: str | None = None,
        parent_id: str | None = None,
    ) -> Question:
        """Ask a person and wait for the answer (the task keeps its slot meanwhile): the
        answered `Question` (its `answer`, `response_type`, `instructions`). Unanswered after
        `timeout_s`, raises QueueError(QUEUE_QUESTION_TIMEOUT)."""

    @property
    def data_dir(self) -> str:
        """The engine's data directory (processes find it in $QTQUEUE_DATA_DIR)."""

    @property
    def log_path(self) -> str:
        """Where the task's log file is."""

    @property
    def spawner(self) -> SpawnerClient | None:
        """The process that starts this engine's commands so their outcomes survive an engine
        crash (see spawner.py); None: start them directly."""

    @property
    def settings(self) -> Mapping[str, Any]:
        """The engine's settings for executors (e.g. "docker_host"), read-only, current."""

    def family_settings(self, model: type[S]) -> S:
        """The settings for executors as `model`, a family's settings model (e.g.
        `ctx.family_settings(DockerSettings).docker_host`): its fields read from `settings`,
        its defaults for the rest; current at each call."""


class Executor(ABC, Generic[P]):
    """Runs one task type. Subclasses name their params model in `Executor[MyParams]` (the
    type checker's, and `params_model` unless they set it: validation and forms read that),
    set `task_type` and implement `run(ctx: RunContext[MyParams])`."""

    task_type: ClassVar[TaskType | str]
    params_model: ClassVar[type[BaseModel]] = Params
    #: One line for `qtqueue types` and the new-task dialog.
    summary: ClassVar[str] = ""
    #: The type's name in words ("Docker push"); empty: made from the type name.
    title: ClassVar[str] = ""
    #: Its work is one command started with `run_command` (so through the spawner): after an
    #: engine crash, the spawner knows whether it started and how it ended.
    runs_commands: ClassVar[bool] = False
    #: Whether a failed, timed-out or crash-interrupted attempt may run again by itself (the
    #: task's retries, an engine crash's requeue). False where a second attempt would repeat
    #: what the first may already have done, at a cost — renting a paid GPU instance. A person
    #: can still retry it.
    retry_safe: ClassVar[bool] = True

    @property
    def name(self) -> str:
        """The registered type name."""
        tt = self.task_type
        return tt.value if isinstance(tt, TaskType) else str(tt)

    def describe(self) -> str:
        """One line saying what this executor does."""
        return self.summary

    @property
    def display_title(self) -> str:
        """The type's name as people read it ("Docker push")."""
        return type_title(self.name, self.title)

    def validate(self, params: dict[str, Any]) -> dict[str, Any]:
        """Params checked and completed with defaults, as JSON-ready data.

        Raises QueueError VALIDATION_MISSING_REQUIRED / VALIDATION_INVALID_PARAMS naming each
        bad field and why.
        """
        try:
            model = self.params_model.model_validate(params)
        except ValidationError as exc:
            raise validation_error(self.name, exc) from None
        return model.model_dump(mode="json")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """`Executor[MyParams]` names the params model once: `params_model` defaults to it,
        and one set beside it must be a `MyParams` (else TypeError, naming both)."""
        super().__init_subclass__(**kwargs)
        for base in cls.__dict__.get("__orig_bases__", ()):
            named = get_args(base)
            if getattr(base, "__origin__", None) is not Executor or not named:
                continue
            declared = named[0]
            if not (isinstance(declared, type) and issubclass(declared, BaseModel)):
                continue
            if "params_model" not in cls.__dict__:
                cls.params_model = declared
            elif not issubclass(cls.params_model, declared):
                raise TypeError(
                    f"{cls.__name__}: params_model {cls.params_model.__name__} is not the "
                    f"{declared.__name__} of Executor[{declared.__name__}]"
                )

    def parse(self, params: dict[str, Any]) -> P:
        """The params model instance for already-validated params."""
        return cast(P, self.params_model.model_validate(params))

    def schema(self) -> dict[str, Any]:
        """The params' JSON schema (what forms and `qtqueue types` show)."""
        return self.params_model.model_json_schema()

    @abstractmethod
    async def run(self, ctx: RunContext[P]) -> dict[str, Any] | None:
        """Do the work; return a JSON-ready result. Raise QueueError for a known failure.

        Cancellation arrives as asyncio.CancelledError: clean up (stop processes,
        containers) and re-raise.
        """


def validation_error(type_name: str, exc: ValidationError) -> QueueError:
    """A QueueError that names every bad field of a params model and why."""
    problems: list[str] = []
    missing = False
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "params"
        if err["type"] == "missing":
            missing = True
            problems.append(f"{where}: required")
        elif err["type"] == "extra_forbidden":
            problems.append(f"{where}: unknown parameter")
        else:
            problems.append(f"{where}: {err['msg']}")
    code = (
        TaskErrorCode.VALIDATION_MISSING_REQUIRED
        if missing
        else TaskErrorCode.VALIDATION_INVALID_PARAMS
    )
    return QueueError(
        code, f"invalid params for {type_name}: " + "; ".join(problems), fields=problems
    )


Handler = Callable[[str, dict[str, Any]], Any]


class HandlerParams(BaseModel):
    """A registered handler takes any JSON object as params."""

    model_config = ConfigDict(extra="allow")


class HandlerExecutor(Executor[HandlerParams]):
    """Runs a plain function registered by name: `fn(task_id, params) -> dict`.

    An async function runs on the event loop; a plain one runs in a worker thread so it cannot
    block the loop. A plain function cannot be suspended: pausing it takes effect at its next
    `update_progress` call.
    """

    params_model = HandlerParams

    def __init__(self, name: str, fn: Handler, summary: str = "") -> None:
        if not callable(fn):
            raise TypeError(f"handler for {name!r} is not callable")
        self._name = name
        self.fn = fn
        self.is_async = inspect.iscoroutinefunction(fn)
        self.handler_summary = summary or (inspect.getdoc(fn) or "").split("\n")[0]

    @property
    def name(self) -> str:
        return self._name

    def describe(self) -> str:
        return self.handler_summary

    async def run(self, ctx: RunContext[HandlerParams]) -> dict[str, Any] | None:
        import asyncio

        task = ctx.task
        params = dict(task.params)
        if self.is_async:
            out = await self.fn(task.id, params)
        else:
            out = await asyncio.to_thread(self.fn, task.id, params)
            if inspect.isawaitable(out):
                out = await out
        if out is None or isinstance(out, dict):
            return out
        return {"value": out}
