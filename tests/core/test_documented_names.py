"""The design documents' names for qtqueue's types: aliases (`TaskType.PUSH`,
`Priority.CRITICAL`), `DockerTask`, and the task attributes they read (`duration`,
`error_info`, `can_retry`)."""

from __future__ import annotations

import dataclasses

import pytest

from qtqueue.core.actions import TaskAction, applies
from qtqueue.core.errors import error_info
from qtqueue.core.task import (
    DockerTask,
    Priority,
    Task,
    TaskStatus,
    TaskType,
    documented_task_type,
    parse_task_type,
)

DOCKER_ALIASES = {
    "PUSH": TaskType.DOCKER_PUSH,
    "BUILD": TaskType.DOCKER_BUILD,
    "PULL": TaskType.DOCKER_PULL,
    "RUN": TaskType.DOCKER_RUN,
    "STOP": TaskType.DOCKER_STOP,
    "REMOVE": TaskType.DOCKER_REMOVE,
    "TAG": TaskType.DOCKER_TAG,
}


@pytest.mark.parametrize(("alias", "member"), DOCKER_ALIASES.items())
def test_the_docker_documents_type_names_are_the_docker_types(alias: str, member: TaskType) -> None:
    assert TaskType[alias] is member
    assert parse_task_type(alias) == member.value and documented_task_type(alias) is member
    assert Task(TaskType[alias]).type_name == member.value


def test_aliases_add_no_type_and_lower_case_alias_names_stay_handler_names() -> None:
    assert len(list(TaskType)) == len({t.value for t in TaskType}) == 39
    assert parse_task_type("push") == "push"  # a handler may be called that
    assert documented_task_type("Push") is None
    assert parse_task_type("docker_push") == parse_task_type("DOCKER_PUSH") == "docker_push"


def test_critical_is_urgent_in_every_spelling() -> None:
    assert Priority.CRITICAL is Priority.URGENT
    assert [p.name for p in Priority] == ["LOW", "NORMAL", "HIGH", "URGENT"]
    for text in ("critical", "CRITICAL", " Critical ", 3, "3"):
        assert Priority.parse(text) is Priority.URGENT
    task = Task("x", priority=Priority.CRITICAL)
    assert task.to_dict()["priority"] == "urgent"
    assert Task.from_dict({"task_type": "x", "priority": "critical"}).priority is Priority.URGENT


def test_a_docker_task_is_a_task_in_the_docker_category() -> None:
    task = DockerTask(task_type=TaskType.PUSH, params={"image_name": "me/app"})
    assert isinstance(task, Task) and task.category == "docker"
    assert DockerTask(TaskType.BUILD, category="ci").category == "ci"
    copy = task.copy()
    assert type(copy) is DockerTask and copy.category == "docker" and copy.params == task.params
    assert dataclasses.replace(task, name="n").category == "docker"
    again = DockerTask.from_dict(task.to_dict())
    assert (again.id, again.category, again.task_type) == (task.id, "docker", "docker_push")
    assert DockerTask.from_dict({"task_type": "docker_pull"}).category == "docker"


@pytest.mark.parametrize("status", list(TaskStatus))
def test_can_retry_follows_the_retry_action(status: TaskStatus) -> None:
    task = Task("x", status=status)
    assert task.can_retry is applies(TaskAction.RETRY, task)
    assert task.can_retry is (
        status in (TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.TIMEOUT)
    )


def test_error_info_describes_the_error_and_says_what_to_do() -> None:
    assert Task("x").error_info is None
    failed = Task("x", status=TaskStatus.FAILED, error_code="SYSTEM_DISK_SPACE", error="full")
    info = failed.error_info
    assert info is not None and info == error_info("SYSTEM_DISK_SPACE")
    assert info.description and info.suggestion and info.description != info.suggestion


def test_duration_is_the_running_time_in_seconds() -> None:
    assert Task("x").duration is None
    assert Task("x", duration_s=2.5).duration == 2.5
