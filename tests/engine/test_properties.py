"""Properties that hold for any input: adding never crashes on bad params, and no sequence of
control requests breaks the transition rules.

Each example gets a fresh data directory (hypothesis and function-scoped fixtures do not mix)
and its own event loop (`asyncio.run`).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from typing import Any

from helpers.waiting import eventually
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from qtqueue.core.errors import QueueError
from qtqueue.core.task import TERMINAL, Task, TaskStatus, TaskType, can_transition
from qtqueue.engine.events import EventKind, TaskEvent
from qtqueue.engine.queue import TaskQueue
from qtqueue.executors import default_registry

S = TaskStatus
#: Modest by default to keep the suite fast. To search deeper:
#: QTQUEUE_HYPOTHESIS_EXAMPLES=2000 pytest tests/engine/test_properties.py --timeout=0
SETTINGS = settings(
    max_examples=int(os.environ.get("QTQUEUE_HYPOTHESIS_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# --- Any params: added, or refused with a VALIDATION_* code -----------------------------------

BUILT_IN = default_registry(entry_points=False)
FIELD_NAMES = sorted(
    {name for e in BUILT_IN for name in e.schema().get("properties", {})} | {"shell", "args"}
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats()
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=8,
)
params_dicts = st.one_of(
    st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=10), json_values, max_size=6),
    # Mostly well-formed: the required field present, the rest random.
    st.fixed_dictionaries(
        {},
        optional={
            "command": st.text(max_size=20) | json_values,
            "script_path": st.text(max_size=20) | json_values,
            "monitor_type": st.sampled_from(["cpu", "memory", "all", "gpu"]) | json_values,
            **{name: json_values for name in FIELD_NAMES},
        },
    ),
)


@SETTINGS
@given(
    task_type=st.sampled_from([e.name for e in BUILT_IN]),
    params=params_dicts,
)
def test_any_params_are_added_or_refused_with_a_validation_code(
    task_type: str, params: dict[str, Any]
) -> None:
    async def scenario(root: str) -> None:
        async with TaskQueue(
            root, dispatch=False, registry=default_registry(entry_points=False)
        ) as queue:
            try:
                task_id = await queue.add_task(Task(task_type, params))
            except QueueError as exc:
                assert exc.code.value.startswith("VALIDATION_"), exc
                assert await queue.list_tasks() == []
            else:
                stored = await queue.list_tasks()
                assert [t.id for t in stored] == [task_id]
                assert stored[0].type_name == task_type

    with tempfile.TemporaryDirectory() as root:
        asyncio.run(scenario(root))


# --- Any task fields (as a JSON request may carry them): added, or refused ----------------------

any_text = st.text(st.characters(exclude_categories=()), max_size=12)  # lone surrogates too
field_values = {
    "name": any_text | json_values,
    "category": any_text | json_values,
    "tags": st.lists(any_text, max_size=3) | json_values,
    "priority": st.sampled_from(["low", "HIGH", 2, "3"]) | json_values,
    "max_retries": st.integers(-2, 5) | json_values,
    "timeout_s": st.floats() | json_values,
    "retry_backoff": st.lists(st.floats(), max_size=3) | json_values,
    "run_at": st.floats() | json_values,
    "expires_at": st.floats() | json_values,
}


@SETTINGS
@given(fields=st.fixed_dictionaries({}, optional=field_values))
@example(fields={"priority": 1.5})
@example(fields={"name": "\ud800"})
@example(fields={"run_at": "soon"})
@example(fields={"name": [None]})
def test_any_task_fields_are_added_or_refused_with_a_validation_code(
    fields: dict[str, Any],
) -> None:
    async def scenario(root: str) -> None:
        async with TaskQueue(
            root, dispatch=False, registry=default_registry(entry_points=False)
        ) as queue:
            try:
                await queue.add_task(Task(TaskType.CUSTOM_COMMAND, {"command": "true"}, **fields))
            except QueueError as exc:
                assert exc.code.value.startswith("VALIDATION_"), exc

    with tempfile.TemporaryDirectory() as root:
        asyncio.run(scenario(root))


# --- Any sequence of control requests ---------------------------------------------------------

OPS = [
    "add",
    "add_blunt",
    "add_failing",
    "finish",
    "pause",
    "resume",
    "cancel",
    "retry",
    "pause_queue",
    "resume_queue",
    "settle",
]


class Worker:
    """Gated async handlers. Most check in before they finish (so a paused one stays paused);
    "blunt" ones never do, and may finish while paused."""

    def __init__(self, queue: TaskQueue) -> None:
        self.queue = queue
        self.gates: dict[str, asyncio.Event] = {}
        self.all_open = False

    def gate(self, task_id: str) -> asyncio.Event:
        event = self.gates.setdefault(task_id, asyncio.Event())
        if self.all_open:
            event.set()
        return event

    async def handler(self, task_id: str, params: dict[str, Any]) -> None:
        await self.gate(task_id).wait()
        if not params.get("blunt"):
            await self.queue.update_progress(task_id, 50.0, "checking in")  # waits while paused
        if params.get("fail"):
            raise QueueError("NETWORK_TIMEOUT", "failing as asked")

    def open_all(self) -> None:
        self.all_open = True
        for event in self.gates.values():
            event.set()


class TransitionWatcher:
    """Tracks the last announced status of every task; notes any move the rules forbid."""

    def __init__(self) -> None:
        self.last: dict[str, TaskStatus] = {}
        self.problems: list[str] = []

    def __call__(self, events: list[TaskEvent]) -> None:
        for e in events:
            if e.kind is EventKind.ADDED:
                assert e.status is not None
                self.last[e.task_id] = e.status
            elif e.kind is EventKind.CHANGED:
                assert e.status is not None
                before = self.last.get(e.task_id)
                if before is None:
                    self.problems.append(f"{e.task_id}: changed before it was added")
                elif before != e.status and not can_transition(before, e.status):
                    self.problems.append(f"{e.task_id}: {before} -> {e.status}")
                self.last[e.task_id] = e.status


async def _control_scenario(root: str, ops: list[tuple[str, int]]) -> None:
    queue = TaskQueue(root, max_concurrent=2, registry=default_registry(entry_points=False))
    await queue.start()
    worker = Worker(queue)
    queue.register_handler("gated", worker.handler)
    watcher = TransitionWatcher()
    queue.subscribe(watcher)
    ids: list[str] = []
    try:
        for op, n in ops:
            target = ids[n % len(ids)] if ids else "no-such-task"
            try:
                if op == "add":
                    ids.append(await queue.add_task(Task("gated")))
                elif op == "add_blunt":
                    ids.append(await queue.add_task(Task("gated", {"blunt": True})))
                elif op == "add_failing":
                    ids.append(
                        await queue.add_task(
                            Task("gated", {"fail": True}, max_retries=n % 2, retry_backoff=[0.01])
                        )
                    )
                elif op == "finish":
                    worker.gate(target).set()
                elif op == "pause":
                    await queue.pause_task(target)
                elif op == "resume":
                    await queue.resume_task(target)
                elif op == "cancel":
                    await queue.cancel_task(target)
                elif op == "retry":
                    await queue.retry_task(target)
                elif op == "pause_queue":
                    await queue.pause_queue()
                elif op == "resume_queue":
                    await queue.resume_queue()
                elif op == "settle":
                    await queue.list_tasks()  # flushes: lets runs and dispatch move on
            except QueueError:
                pass  # refusing a request is fine; anything else fails the test

        # Drain: let everything through; what is not held must finish.
        worker.open_all()
        await queue.resume_queue()

        async def settled() -> bool:
            stored = {t.id: t.status for t in await queue.list_tasks()}
            return (
                set(stored) == set(ids)
                and all(s in TERMINAL or s is S.PAUSED for s in stored.values())
                and watcher.last == stored  # subscribers were told what the store holds
            )

        await eventually(settled, timeout_s=20, what="every task finished or held, as announced")
    finally:
        await queue.close()
    assert watcher.problems == []


@SETTINGS
@given(
    ops=st.lists(
        st.tuples(st.sampled_from(OPS), st.integers(min_value=0, max_value=50)),
        min_size=1,
        max_size=30,
    )
)
def test_no_sequence_of_requests_breaks_the_transition_rules(ops: list[tuple[str, int]]) -> None:
    with tempfile.TemporaryDirectory() as root:
        asyncio.run(_control_scenario(root, ops))


def test_the_scenario_runs_a_known_sequence() -> None:
    """A fixed sequence through the same scenario, so a failure reproduces without hypothesis."""
    ops = [
        ("add", 0),
        ("add_failing", 1),
        ("add", 0),
        ("pause", 2),
        ("settle", 0),
        ("finish", 0),
        ("pause_queue", 0),
        ("add", 0),
        ("cancel", 1),
        ("retry", 1),
        ("resume_queue", 0),
        ("pause", 0),
        ("finish", 1),
        ("resume", 2),
        ("settle", 0),
    ]
    with tempfile.TemporaryDirectory() as root:
        asyncio.run(_control_scenario(root, ops))


def test_the_sampled_types_are_every_type_the_built_in_families_bring() -> None:
    """The scenarios draw from every type qtqueue's own families register, each once."""
    declared = [str(ex.task_type) for family in BUILT_IN.families() for ex in family.executors()]
    assert declared and len(declared) == len(set(declared))
    assert {e.name for e in BUILT_IN} == set(declared)
