"""The one rule for which tasks each user action applies to (`core.actions`): it agrees with
the status transitions the engine allows, and a selection's actions are those that apply to
every task in it."""

from __future__ import annotations

import itertools

import pytest

from qtqueue.core.actions import (
    DONE_WORDS,
    TaskAction,
    applicable_to_all,
    applies,
    awaits_approval,
    statuses_for,
)
from qtqueue.core.task import Permission, Task, TaskStatus, can_transition


def task(status: TaskStatus, **fields: object) -> Task:
    t = Task("custom_command", {"command": "true"}, **fields)  # type: ignore[arg-type]
    t.status = status
    return t


def reachable(status: TaskStatus, target: TaskStatus) -> bool:
    return can_transition(status, target)


@pytest.mark.parametrize(
    ("action", "allowed"),
    [
        # pausing holds a task: allowed where the task may move to PAUSED
        (TaskAction.PAUSE, lambda s: reachable(s, TaskStatus.PAUSED)),
        # cancelling ends a task: allowed where it may still move to CANCELLED
        (TaskAction.CANCEL, lambda s: reachable(s, TaskStatus.CANCELLED)),
        # a retry starts a finished task over
        (TaskAction.RETRY, lambda s: s.is_terminal and reachable(s, TaskStatus.PENDING)),
        (TaskAction.RESUME, lambda s: s == TaskStatus.PAUSED),
        # only a task that can no longer move on its own may be deleted
        (TaskAction.REMOVE, lambda s: not any(
            reachable(s, t) for t in TaskStatus if t != TaskStatus.PENDING
        )),
    ],
)
def test_each_action_applies_exactly_where_the_state_machine_allows_it(
    action: TaskAction, allowed: object
) -> None:
    assert callable(allowed)
    for status in TaskStatus:
        assert applies(action, task(status)) == allowed(status), (action, status)
        assert (status in statuses_for(action)) == allowed(status), (action, status)


def test_approval_and_rejection_apply_only_to_tasks_awaiting_approval() -> None:
    waiting = task(TaskStatus.PENDING, permission=Permission.HUMAN_REQUIRED)
    approved = task(TaskStatus.PENDING, permission=Permission.HUMAN_REQUIRED)
    approved.approved_at = 1.0
    autonomous = task(TaskStatus.PENDING)
    finished = task(TaskStatus.CANCELLED, permission=Permission.HUMAN_REQUIRED)
    for action in (TaskAction.APPROVE, TaskAction.REJECT):
        assert applies(action, waiting)
        assert not applies(action, approved)
        assert not applies(action, autonomous)
        assert not applies(action, finished)
    assert awaits_approval(waiting) and not awaits_approval(finished)


def test_requeue_applies_to_dead_letters_only() -> None:
    dead = task(TaskStatus.FAILED)
    dead.dead_letter = True
    assert applies(TaskAction.REQUEUE, dead)
    assert not applies(TaskAction.REQUEUE, task(TaskStatus.FAILED))


def test_a_selections_actions_are_those_that_apply_to_every_task_in_it() -> None:
    """However the selection is mixed, `applicable_to_all` (the one walk the window does)
    equals asking `applies` task by task."""
    samples = [task(s) for s in TaskStatus]
    samples.append(task(TaskStatus.PENDING, permission=Permission.HUMAN_REQUIRED))
    dead = task(TaskStatus.FAILED)
    dead.dead_letter = True
    samples.append(dead)
    assert applicable_to_all([]) == frozenset()
    for size in (1, 2, 3):
        for chosen in itertools.combinations(samples, size):
            expected = {a for a in TaskAction if all(applies(a, t) for t in chosen)}
            assert applicable_to_all(chosen) == expected, [t.status for t in chosen]


def test_every_action_says_how_it_reads_once_done() -> None:
    assert set(DONE_WORDS) == set(TaskAction)
