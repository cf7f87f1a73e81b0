"""The parts of an attached engine's port that answer for one subject each (`RemoteEngine`
composes them): its questions, its start checks, its schedules and its settings, over the local
API's actions. The reads the window makes synchronously (schedules, start checks, settings) are
answered from what the last read or event left here."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from qtqueue.core.overview import StartChecks
from qtqueue.core.question import Question
from qtqueue.core.task import Task
from qtqueue.engine.schedule_rules import MissedPolicy, Schedule, template_of
from qtqueue.executors import ExecutorRegistry
from qtqueue.settings import EngineSettings, Settings, family_settings

logger = logging.getLogger(__name__)

__all__ = [
    "EngineCaller",
    "RemoteOverview",
    "RemoteQuestions",
    "RemoteSchedules",
    "RemoteSettings",
]


class EngineCaller(Protocol):
    """What the parts need of `RemoteEngine`: one action on the engine."""

    async def call(
        self, action: str, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:  # pragma: no cover - a protocol
        """One action on the engine; its QueueError as raised by the engine."""
        ...


class RemoteQuestions:
    """`QuestionsPort` over the `questions` and `answer_question` actions."""

    def __init__(self, engine: EngineCaller) -> None:
        self._engine = engine

    async def list(self, *, open_only: bool = True, task_id: str | None = None) -> list[Question]:
        params: dict[str, Any] = {"open_only": open_only}
        if task_id is not None:
            params["task_id"] = task_id
        reply = await self._engine.call("questions", params)
        return [Question.from_dict(q) for q in reply.get("questions", [])]

    async def answer(
        self,
        question_id: str,
        message: str,
        *,
        response_type: str = "answer",
        instructions: Sequence[str] = (),
        generated_by: str = "human",
        responder_id: str | None = None,
    ) -> Question:
        reply = await self._engine.call(
            "answer_question",
            {
                "question_id": question_id,
                "message": message,
                "response_type": response_type,
                "instructions": list(instructions),
                "generated_by": generated_by,
                "responder_id": responder_id,
            },
        )
        return Question.from_dict(reply["question"])


class RemoteOverview:
    """`OverviewPort` from the `waiting` action, read again after each batch of changes."""

    def __init__(self) -> None:
        self.checks: dict[str, StartChecks] = {}

    def start_checks(self, task_id: str) -> StartChecks | None:
        return self.checks.get(task_id)

    def update(self, waiting: Iterable[Mapping[str, Any]]) -> None:
        checks: dict[str, StartChecks] = {}
        for w in waiting:
            if not w.get("attempts"):
                continue
            checks[str(w["id"])] = StartChecks(
                attempts=int(w["attempts"]),
                last_reason=str(w.get("last_reason") or ""),
                first_failed_at=float(w.get("first_failed_at") or 0.0),
                last_checked_at=float(w.get("last_checked_at") or 0.0),
                held_by=str(w.get("held_by") or ""),
            )
        self.checks = checks


class RemoteSchedules:
    """`SchedulesPort` over the schedule actions; the list is kept by SCHEDULE_CHANGED events."""

    def __init__(self, engine: EngineCaller) -> None:
        self._engine = engine
        self.cached: list[Schedule] = []

    def list_schedules(self) -> list[Schedule]:
        return list(self.cached)

    async def refresh(self) -> None:
        reply = await self._engine.call("schedule_list")
        self.cached = [Schedule.from_dict(s) for s in reply.get("schedules", [])]

    async def _one(self, action: str, params: dict[str, Any]) -> Schedule:
        reply = await self._engine.call(action, params)
        await self.refresh()
        return Schedule.from_dict(reply["schedule"])

    async def add_schedule(
        self,
        template: Mapping[str, Any] | Task,
        *,
        every: str | float | None = None,
        cron: str | None = None,
        name: str = "",
        timezone: str | None = None,
        missed: MissedPolicy | str = MissedPolicy.RUN_ONCE,
        paused: bool = False,
    ) -> Schedule:
        body = template_of(template) if isinstance(template, Task) else dict(template)
        return await self._one(
            "schedule_add",
            {
                "template": body, "every": every, "cron": cron, "name": name,
                "timezone": timezone, "paused": paused,
                "missed": missed.value if isinstance(missed, MissedPolicy) else missed,
            },
        )  # fmt: skip

    async def update_schedule(self, ref: str, **changes: Any) -> Schedule:
        params: dict[str, Any] = {"schedule_id": ref}
        for key, value in changes.items():
            if isinstance(value, Task):
                value = template_of(value)
            elif isinstance(value, MissedPolicy):
                value = value.value
            params[key] = value
        return await self._one("schedule_update", params)

    async def pause_schedule(self, ref: str) -> Schedule:
        return await self._one("schedule_manage", {"schedule_id": ref, "action": "pause"})

    async def resume_schedule(self, ref: str) -> Schedule:
        return await self._one("schedule_manage", {"schedule_id": ref, "action": "resume"})

    async def delete_schedule(self, ref: str) -> str:
        params = {"schedule_id": ref, "action": "remove"}
        reply = await self._engine.call("schedule_manage", params)
        await self.refresh()
        return str(reply["schedule_id"])

    async def run_now(self, ref: str) -> str:
        params = {"schedule_id": ref, "action": "run_now"}
        reply = await self._engine.call("schedule_manage", params)
        await self.refresh()
        return str(reply["task_id"])


class RemoteSettings:
    """`EngineSettingsPort` over `config_get` / `config_set`; `current()` is the last read."""

    def __init__(self, engine: EngineCaller, registry: ExecutorRegistry) -> None:
        self._engine = engine
        self._models = family_settings(registry)
        self._current = Settings(EngineSettings(), {})

    def current(self) -> Settings:
        return self._current

    def _read(self, reply: Mapping[str, Any]) -> None:
        families = reply.get("families") or {}
        self._current = Settings(
            EngineSettings.model_validate(reply.get("engine") or {}),
            {
                name: model.model_validate(families[name])
                for name, model in self._models.items()
                if name in families
            },
        )

    async def refresh(self) -> None:
        """Read the settings the engine uses now."""
        self._read(await self._engine.call("config_get"))

    async def change(self, edited: Settings) -> None:
        params = {
            "engine": edited.engine.model_dump(mode="json", exclude_unset=True),
            "families": {
                name: model.model_dump(mode="json", exclude_unset=True)
                for name, model in edited.families.items()
            },
        }
        self._read(await self._engine.call("config_set", params))
