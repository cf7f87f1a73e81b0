"""Specification of `qtqueue.core.task`: types, statuses, transitions, priorities, the Task."""

from __future__ import annotations

import dataclasses
import json

import pytest

from qtqueue.core.task import (
    ACTIVE,
    INTERMEDIATE,
    RETRYABLE_TERMINAL,
    TERMINAL,
    UNFINISHED,
    OnInterrupt,
    Permission,
    Priority,
    Task,
    TaskStatus,
    TaskType,
    can_transition,
    documented_task_type,
    new_task_id,
    parse_task_type,
    summarize_params,
)

S = TaskStatus

# --- Transitions ------------------------------------------------------------------------------

#: The rules of `can_transition`'s docstring, written out: row = from, column = to, "x" allowed.
#: Columns in this order:
_COLUMNS = [
    S.PENDING, S.RUNNING, S.PAUSED,
    S.VALIDATING, S.PREPARING, S.UPLOADING, S.DOWNLOADING, S.BUILDING, S.PULLING,
    S.COMPLETED, S.FAILED, S.CANCELLED, S.TIMEOUT,
]  # fmt: skip
_TABLE = """
            PEN RUN PAU VAL PRE UPL DOW BUI PUL COM FAI CAN TIM
pending      .   x   x   x   x   x   x   x   x   .   x   x   .
running      x   x   x   x   x   x   x   x   x   x   x   x   x
paused       x   x   .   x   x   x   x   x   x   .   x   x   .
validating   x   x   x   x   x   x   x   x   x   x   x   x   x
preparing    x   x   x   x   x   x   x   x   x   x   x   x   x
uploading    x   x   x   x   x   x   x   x   x   x   x   x   x
downloading  x   x   x   x   x   x   x   x   x   x   x   x   x
building     x   x   x   x   x   x   x   x   x   x   x   x   x
pulling      x   x   x   x   x   x   x   x   x   x   x   x   x
completed    .   .   .   .   .   .   .   .   .   .   .   .   .
failed       x   .   .   .   .   .   .   .   .   .   .   .   .
cancelled    x   .   .   .   .   .   .   .   .   .   .   .   .
timeout      x   .   .   .   .   .   .   .   .   .   .   .   .
"""


def _allowed_pairs() -> dict[tuple[TaskStatus, TaskStatus], bool]:
    rows = [line.split() for line in _TABLE.strip().splitlines()[1:]]
    table: dict[tuple[TaskStatus, TaskStatus], bool] = {}
    for name, *marks in rows:
        assert len(marks) == len(_COLUMNS)
        for to, mark in zip(_COLUMNS, marks, strict=True):
            table[(TaskStatus(name), to)] = mark == "x"
    return table


ALLOWED = _allowed_pairs()


def test_the_written_table_covers_all_13_by_13_pairs() -> None:
    assert len(TaskStatus) == 13
    assert set(ALLOWED) == {(a, b) for a in TaskStatus for b in TaskStatus}


@pytest.mark.parametrize(("current", "new"), sorted(ALLOWED))
def test_can_transition_follows_the_table(current: TaskStatus, new: TaskStatus) -> None:
    assert can_transition(current, new) is ALLOWED[(current, new)]


def test_completed_is_final_and_failed_outcomes_only_go_back_to_pending() -> None:
    assert not any(can_transition(S.COMPLETED, s) for s in TaskStatus)
    for status in RETRYABLE_TERMINAL:
        assert [s for s in TaskStatus if can_transition(status, s)] == [S.PENDING]


def test_only_active_states_may_be_re_announced() -> None:
    assert {s for s in TaskStatus if can_transition(s, s)} == ACTIVE


# --- Status sets ------------------------------------------------------------------------------


def test_status_sets() -> None:
    assert {
        S.VALIDATING,
        S.PREPARING,
        S.UPLOADING,
        S.DOWNLOADING,
        S.BUILDING,
        S.PULLING,
    } == INTERMEDIATE
    assert INTERMEDIATE | {S.RUNNING} == ACTIVE
    assert {S.COMPLETED, S.FAILED, S.CANCELLED, S.TIMEOUT} == TERMINAL
    assert TERMINAL - {S.COMPLETED} == RETRYABLE_TERMINAL
    assert {S.PENDING, S.PAUSED} | ACTIVE == UNFINISHED
    assert set(TaskStatus) == UNFINISHED | TERMINAL
    assert not UNFINISHED & TERMINAL


@pytest.mark.parametrize("status", list(TaskStatus))
def test_status_properties_agree_with_the_sets(status: TaskStatus) -> None:
    assert status.is_terminal is (status in TERMINAL)
    assert status.is_active is (status in ACTIVE)
    assert status.value == status.name.lower()


# --- Priority ---------------------------------------------------------------------------------


def test_priorities_order_low_to_urgent() -> None:
    assert [int(p) for p in (Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.URGENT)] == [
        0, 1, 2, 3,
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Priority.HIGH, Priority.HIGH),
        (2, Priority.HIGH),
        ("high", Priority.HIGH),
        ("HIGH", Priority.HIGH),
        ("  Urgent ", Priority.URGENT),
        ("0", Priority.LOW),
        (" 3 ", Priority.URGENT),
        ("normal", Priority.NORMAL),
    ],
)
def test_priority_parse_takes_names_numbers_and_itself(
    value: str | int | Priority, expected: Priority
) -> None:
    assert Priority.parse(value) is expected


@pytest.mark.parametrize("value", ["highest", "", "4", "-1", 7, -1])
def test_priority_parse_refuses_what_is_not_a_priority(value: str | int) -> None:
    with pytest.raises((KeyError, ValueError)):
        Priority.parse(value)


# --- Task types -------------------------------------------------------------------------------


@pytest.mark.parametrize("task_type", list(TaskType))
def test_parse_task_type_takes_values_names_and_members_and_gives_a_plain_string(
    task_type: TaskType,
) -> None:
    for given in (
        task_type,
        task_type.value,
        task_type.value.upper(),
        task_type.name,
        task_type.name.lower(),
    ):
        parsed = parse_task_type(given)
        assert parsed == task_type == task_type.value
        assert type(parsed) is str
        assert documented_task_type(given) is task_type


def test_a_task_read_back_has_a_plain_string_type_equal_to_the_constant() -> None:
    task = Task.from_dict(Task(TaskType.DOCKER_PUSH, {"image_name": "app"}).to_dict())
    assert type(task.task_type) is str and task.task_type == TaskType.DOCKER_PUSH == "docker_push"


@pytest.mark.parametrize("name", ["my_handler", "acme.deploy", "send-mail"])
def test_parse_task_type_keeps_a_handler_name_as_it_is(name: str) -> None:
    parsed = parse_task_type(name)
    assert parsed == name
    assert not isinstance(parsed, TaskType)
    assert documented_task_type(name) is None


def test_task_type_family_groups_types() -> None:
    assert TaskType.DOCKER_PUSH.family == "docker"
    assert TaskType.K8S_DEPLOY.family == "k8s"
    assert TaskType.CUSTOM_COMMAND.family == "custom"
    assert TaskType.SYSTEM_MONITOR.family == "system"


# --- The Task ---------------------------------------------------------------------------------


def _full_task() -> Task:
    """A task with every field away from its default."""
    return Task(
        id="22222222-2222-2222-2222-222222222222",
        task_type=TaskType.CUSTOM_COMMAND,
        params={"command": "echo", "args": ["a", "b"], "nested": {"x": [1, 2.5, None]}},
        name="say hello",
        category="system",
        tags=["a", "b"],
        priority=Priority.HIGH,
        max_retries=3,
        retry_backoff=[0.5, 2.0],
        timeout_s=12.5,
        run_at=1_700_000_100.0,
        expires_at=1_700_000_900.0,
        depends_on=["11111111-1111-1111-1111-111111111111"],
        resources={"cpu_cores": 2, "memory_gb": 1.5},
        permission=Permission.SUPERVISED,
        on_interrupt=OnInterrupt.FAIL,
        status=TaskStatus.PAUSED,
        progress=42.5,
        current_step="Step 2/3",
        created_at=1_700_000_000.0,
        started_at=1_700_000_001.0,
        completed_at=None,
        duration_s=3.25,
        error="boom",
        error_code="SYSTEM_COMMAND_FAILED",
        error_details={"exit_code": 3},
        retry_count=1,
        dead_letter=True,
        result={"exit_code": 0},
        paused_from=TaskStatus.BUILDING,
        wait_reason="waiting",
        pid=4321,
        seq=17,
        updated_at=1_700_000_002.0,
    )


def test_to_dict_is_json_ready_and_from_dict_reads_it_back() -> None:
    task = _full_task()
    data = task.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["task_type"] == "custom_command"
    assert data["status"] == "paused"
    assert data["priority"] == "high"
    assert data["paused_from"] == "building"
    assert data["permission"] == "supervised"
    assert Task.from_dict(data) == task
    assert Task.from_dict(json.loads(json.dumps(data))) == task


def test_to_dict_has_every_field() -> None:
    assert set(_full_task().to_dict()) == {f.name for f in dataclasses.fields(Task)}


def test_a_handler_type_round_trips_as_its_name() -> None:
    task = Task("acme.deploy", {"x": 1})
    back = Task.from_dict(task.to_dict())
    assert back.task_type == "acme.deploy"
    assert back == task


def test_from_dict_refuses_unknown_fields_and_needs_a_type() -> None:
    data = Task(TaskType.CUSTOM_COMMAND).to_dict()
    with pytest.raises(ValueError, match="statsu"):
        Task.from_dict({**data, "statsu": "pending"})
    del data["task_type"]
    with pytest.raises(ValueError, match="task_type"):
        Task.from_dict(data)


def test_from_dict_accepts_a_priority_number() -> None:
    data = Task(TaskType.CUSTOM_COMMAND).to_dict()
    assert Task.from_dict({**data, "priority": 3}).priority is Priority.URGENT


def test_copy_is_independent_of_the_original() -> None:
    task = _full_task()
    copy = task.copy()
    assert copy == task
    copy.params["command"] = "rm"
    copy.tags.append("c")
    copy.depends_on.clear()
    copy.resources["gpu"] = 1
    copy.error_details["exit_code"] = 4
    assert copy.result is not None and isinstance(copy.retry_backoff, list)
    copy.result["exit_code"] = 9
    copy.retry_backoff.append(9.0)
    assert task == _full_task()


def test_new_tasks_get_distinct_uuid_ids_and_sensible_defaults() -> None:
    a, b = Task(TaskType.CUSTOM_COMMAND), Task(TaskType.CUSTOM_COMMAND)
    assert a.id != b.id
    assert len(new_task_id()) == 36
    assert a.status is TaskStatus.PENDING
    assert a.priority is Priority.NORMAL
    assert a.on_interrupt is OnInterrupt.RETRY
    assert a.permission is Permission.AUTONOMOUS
    assert a.type_name == "custom_command"


def test_a_default_name_summarises_the_params() -> None:
    assert summarize_params(TaskType.CUSTOM_COMMAND, {"command": "ls", "args": ["-l"]}) == "ls -l"
    assert summarize_params(TaskType.CUSTOM_SCRIPT, {"script_path": "/x.sh"}) == "/x.sh"
    keys = ("monitor_type",)
    assert summarize_params(TaskType.SYSTEM_MONITOR, {"monitor_type": "cpu"}, keys) == "cpu"
    assert summarize_params(TaskType.SYSTEM_MONITOR, {"monitor_type": "cpu"}) == "system_monitor"
    assert summarize_params(TaskType.SYSTEM_MONITOR, {}, keys) == "system_monitor"
    assert summarize_params("acme.deploy", {}) == "acme.deploy"
    assert len(summarize_params(TaskType.CUSTOM_COMMAND, {"command": "x" * 500})) == 120
