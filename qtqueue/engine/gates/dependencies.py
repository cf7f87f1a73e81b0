"""A task waits for the tasks it depends on; it fails (QUEUE_DEPENDENCY_FAILED) when one of them
does not complete, unless it allows that. Dependents are woken through a reverse index."""

from __future__ import annotations

import logging
from collections import defaultdict, deque
from collections.abc import Iterable

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.overview import HeldBy
from qtqueue.core.task import ENDED_IN_WORDS, TERMINAL, Task, TaskStatus
from qtqueue.engine.gates import ADMIT, Fail, Park, Verdict
from qtqueue.engine.lifecycle import Lifecycle
from qtqueue.engine.validation import check_acyclic
from qtqueue.storage.base import TaskFilter

logger = logging.getLogger(__name__)

_ENDED = {**{s.value: words for s, words in ENDED_IN_WORDS.items()}, "removed": "was removed"}


def waiting_reason(waiting: list[str]) -> str:
    """What a task waiting for these dependencies says it waits for."""
    shown = ", ".join(f"{d[:8]}…" for d in waiting[:5]) + (", …" if len(waiting) > 5 else "")
    noun = "dependency" if len(waiting) == 1 else "dependencies"
    return f"waiting for {len(waiting)} {noun}: {shown}"


def dependency_failed(dep_id: str, ended: str) -> Fail:
    """How a task ends when its dependency `dep_id` ended as `ended` (or was removed)."""
    return Fail(
        TaskStatus.FAILED,
        TaskErrorCode.QUEUE_DEPENDENCY_FAILED,
        f"dependency {dep_id} {_ENDED.get(ended, ended)}",
        {"dependency_id": dep_id, "dependency_status": ended},
    )


class DependencyGate:
    """The reverse index of dependencies, and the tasks parked until one of theirs finishes."""

    def __init__(self, lifecycle: Lifecycle) -> None:
        self.lifecycle = lifecycle
        self.state = lifecycle.state
        # id -> unfinished tasks that depend on it (the reverse index that wakes them).
        self._dependents: dict[str, set[str]] = defaultdict(set)
        # How a dependency that is no longer live ended (None: it is gone from the store).
        self._outcome: dict[str, TaskStatus | None] = {}
        # Dependents parked until one of their dependencies finishes (id -> parked seq).
        self._parked: dict[str, int] = {}
        self._settling: deque[str] = deque()
        lifecycle.on_conclude.append(self._concluded)
        lifecycle.on_evict.append(self._evicted)

    def begin_pass(self) -> None:
        """Nothing to look at: dependents are woken when a dependency finishes."""

    def check(self, task: Task) -> Verdict:
        """Park a task whose dependencies are not finished; fail one whose dependency did not
        complete (unless it allows that)."""
        if not task.depends_on:
            return ADMIT
        waiting, failed = self.unmet(task)
        if failed is not None and not task.allow_dependency_failure:
            return dependency_failed(*failed)
        if waiting:
            self._parked[task.id] = task.seq
            return Park(waiting_reason(waiting), HeldBy.DEPENDENCY)
        return ADMIT

    def _state_of(self, dep_id: str) -> TaskStatus | None:
        """A dependency's status; None if it is gone from the store."""
        live = self.state.live.get(dep_id)
        return live.status if live is not None else self._outcome.get(dep_id)

    def unmet(self, task: Task) -> tuple[list[str], tuple[str, str] | None]:
        """(the dependencies not finished yet, (id, how it ended) of the first that did not
        complete, or None)."""
        waiting: list[str] = []
        failed: tuple[str, str] | None = None
        for d in task.depends_on:
            state = self._state_of(d)
            if state is None:
                failed = failed or (d, "removed")
            elif state not in TERMINAL:
                waiting.append(d)
            elif state != TaskStatus.COMPLETED and failed is None:
                failed = (d, state.value)
        return waiting, failed

    # ------------------------------------------------------------------ adding

    async def check_new(self, batch: list[Task]) -> None:
        """Refuse dependencies on unknown tasks (QUEUE_TASK_NOT_FOUND) and cycles within the
        batch (QUEUE_DEPENDENCY_CYCLE); learn how stored dependencies ended."""
        in_batch = {t.id: t for t in batch}
        live = self.state.live
        outside = {
            d
            for t in batch
            for d in t.depends_on
            if d not in in_batch and d not in live and self._outcome.get(d) is None
        }
        found: dict[str, TaskStatus | None] = dict(await self.stored_statuses(outside))
        for t in batch:
            for d in t.depends_on:
                if d in outside and d not in found:
                    raise QueueError(
                        TaskErrorCode.QUEUE_TASK_NOT_FOUND,
                        f"task {t.name!r} depends on {d}, and no task has that id",
                        task_id=t.id,
                        dependency_id=d,
                    )
        check_acyclic(batch)
        self._outcome.update(found)

    async def stored_statuses(self, ids: Iterable[str]) -> dict[str, TaskStatus]:
        """The stored status of each of `ids` that the store holds."""
        wanted = sorted(ids)
        out: dict[str, TaskStatus] = {}
        for i in range(0, len(wanted), 500):
            for task in await self.state.store.list_tasks(TaskFilter(ids=wanted[i : i + 500])):
                out[task.id] = task.status
        return out

    def register(self, tasks: Iterable[Task]) -> None:
        """Put new tasks in the reverse index (before their insert is durable: a dependency
        that finishes meanwhile must find its dependents)."""
        for t in tasks:
            for d in t.depends_on:
                self._dependents[d].add(t.id)

    def forget(self, task: Task) -> None:
        """Take a finished (or never added) task out of the reverse index."""
        for d in task.depends_on:
            dependents = self._dependents.get(d)
            if dependents is not None:
                dependents.discard(task.id)
                if not dependents:
                    del self._dependents[d]
                    self._outcome.pop(d, None)

    async def track(self, tasks: Iterable[Task]) -> None:
        """Put loaded or retried tasks in the reverse index, learning from the store how their
        finished dependencies ended."""
        tasks = [t for t in tasks if t.depends_on]
        unknown = {
            d
            for t in tasks
            for d in t.depends_on
            if d not in self.state.live and d not in self._outcome
        }
        if unknown:
            found = await self.stored_statuses(unknown)
            for d in unknown:
                self._outcome[d] = found.get(d)
        self.register(tasks)

    def runs_again(self, task: Task) -> None:
        """`task` (retried or revived) is unfinished again: its dependents wait for it."""
        self._outcome.pop(task.id, None)

    # ------------------------------------------------------------------ ending

    def _concluded(self, task: Task, status: TaskStatus) -> None:
        self._parked.pop(task.id, None)
        if task.depends_on:
            self.forget(task)
        if task.id in self._dependents:
            self._outcome[task.id] = status
            self._settle(task.id)

    def _evicted(self, task: Task) -> None:
        if task.id in self._dependents:
            self._outcome[task.id] = task.status

    def _settle(self, dep_id: str) -> None:
        """A task that others depend on has finished: wake its dependents. Iterative, so a
        long chain of failing dependents does not recurse."""
        self._settling.append(dep_id)
        if len(self._settling) > 1:
            return  # an outer call is draining the queue
        while self._settling:
            for tid in list(self._dependents.get(self._settling[0], ())):
                self._wake(tid)
            self._settling.popleft()

    def _wake(self, tid: str) -> None:
        seq = self._parked.pop(tid, None)
        if seq is not None:
            # Gated again: waits for the rest, fails, or is queued.
            self.lifecycle.release([(tid, seq)])
            return
        t = self.state.live.get(tid)
        if t is not None and t.status == TaskStatus.PENDING and self.state.dispatching:
            _, failed = self.unmet(t)
            if failed is not None and not t.allow_dependency_failure:
                # Queued behind others: fail it now.
                dependency_failed(*failed).end(self.lifecycle, t)

    async def revive_dependents(self, dep_id: str) -> list[Task]:
        """`dep_id` was retried: tasks that failed because of it (and, in turn, their own
        dependents that failed because of them) wait for it again. Returns them, PENDING and
        recorded, for the caller to queue."""
        state = self.state
        await state.the_writer().flush()
        by_culprit: dict[str, list[Task]] = defaultdict(list)
        for t in await state.store.list_tasks(
            TaskFilter(
                statuses=(TaskStatus.FAILED,),
                error_code=TaskErrorCode.QUEUE_DEPENDENCY_FAILED.value,
            )
        ):
            by_culprit[str(t.error_details.get("dependency_id"))].append(t)
        revived: list[Task] = []
        todo = [dep_id]
        while todo:
            for stored in by_culprit.pop(todo.pop(), []):
                task = state.live.get(stored.id, stored)
                if task.status != TaskStatus.FAILED:
                    continue
                state.live[task.id] = task
                self.lifecycle.renew(task, TaskStatus.FAILED)
                revived.append(task)
                todo.append(task.id)
        await self.track(revived)
        for task in revived:
            self.runs_again(task)
        if revived:
            logger.info("%d dependents of %s wait for it again", len(revived), dep_id)
        return revived
