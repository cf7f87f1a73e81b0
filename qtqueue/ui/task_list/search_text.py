"""What the task list's search looks in, one case-folded text per task: name, id, parameter
values (never a secret-looking key's), category, tags, error code and error message.

The first search over 100,000 tasks used to build every text then (0.86 s on a loaded
machine, against 0.12–0.16 s for the next ones). `SearchTexts` builds them while the window
is idle instead, a slice of `SLICE` tasks per event-loop turn after a load or a big batch,
so the first search finds them ready; a search that comes before builds the missing ones
itself, as before. A new snapshot keeps its text unless a searched field changed (progress
updates cost nothing), and the building is about twice as fast as before (a secret-looking
key is recognised once per distinct key, not once per task).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from PySide6.QtCore import QObject, QTimer

from qtqueue.core.task import Task
from qtqueue.ui.task_list.columns import is_secret_key

logger = logging.getLogger(__name__)

#: Tasks whose text is built per idle turn (some 5–10 ms of work on a slow machine).
SLICE = 2_000


class _Secrets(dict[str, bool]):
    """Whether a key looks secret, remembered per key (keys repeat across tasks)."""

    def __missing__(self, key: str) -> bool:
        secret = self[key] = is_secret_key(key)
        return secret


_SECRET = _Secrets()


def _param_words(params: Mapping[str, Any]) -> Iterable[str]:
    """`columns.param_words`, with the secret-key decision remembered per key."""
    secret = _SECRET
    for key, value in params.items():
        if secret[key]:
            continue
        if isinstance(value, str):
            if value:
                yield value
        elif isinstance(value, Mapping):
            for k, v in value.items():
                if not secret[str(k)]:
                    yield f"{k}={v}"
        elif isinstance(value, (list, tuple)):
            yield from map(str, value)
        elif value is not None:
            yield str(value)


def build_text(t: Task) -> str:
    """One task's search text (see the module docstring)."""
    parts = [t.name, t.id, t.category]
    if t.params:
        parts.extend(_param_words(t.params))
    if t.tags:
        parts.extend(t.tags)
    if t.error_code:
        parts.append(t.error_code)
    if t.error:
        parts.append(t.error)
    return "\n".join(parts).casefold()


def same_text(old: Task, new: Task) -> bool:
    """Whether two snapshots of a task search alike (no searched field changed)."""
    return (
        old.name == new.name
        and old.category == new.category
        and old.error == new.error
        and old.error_code == new.error_code
        and old.tags == new.tags
        and old.params == new.params
    )


class SearchTexts(QObject):
    """The search text of each task the model holds, by id; built ahead in idle slices."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._texts: dict[str, str] = {}
        self._todo: dict[str, Task] = {}  # id -> the snapshot to build ahead
        self._timer = QTimer(self)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._build_slice)

    def text(self, t: Task) -> str:
        """`t`'s search text (built now if it is not yet); `t` is the model's snapshot."""
        text = self._texts.get(t.id)
        if text is None:
            text = self._texts[t.id] = build_text(t)
        return text

    def reset(self, tasks: Iterable[Task]) -> None:
        """Forget every text; build those of `tasks` in idle slices."""
        self._texts = {}
        self._todo = {t.id: t for t in tasks}
        self._schedule()

    def add(self, tasks: Iterable[Task]) -> None:
        """New tasks: build their texts in idle slices."""
        self._todo.update((t.id, t) for t in tasks)
        self._schedule()

    def change(self, old: Task, new: Task) -> None:
        """A new snapshot: its text is built again (ahead) only if a searched field changed."""
        if not same_text(old, new):
            self._texts.pop(new.id, None)
            self._todo[new.id] = new
            self._schedule()
        elif new.id in self._todo:
            self._todo[new.id] = new

    def forget(self, task_id: str) -> None:
        """A task left the model."""
        self._texts.pop(task_id, None)
        self._todo.pop(task_id, None)

    @property
    def ahead(self) -> int:
        """How many tasks' texts are still to build ahead."""
        return len(self._todo)

    def stop(self) -> None:
        """Stop building ahead (the window is closing)."""
        self._timer.stop()
        self._todo = {}

    def _schedule(self) -> None:
        if self._todo and not self._timer.isActive():
            self._timer.start()

    def _build_slice(self) -> None:
        todo, texts = self._todo, self._texts
        for _ in range(min(SLICE, len(todo))):
            task_id, t = todo.popitem()
            if task_id not in texts:
                texts[task_id] = build_text(t)
        if not todo:
            self._timer.stop()
