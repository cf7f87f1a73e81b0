"""The Workers view's table model: one row per worker of a cluster, updated in place.

A read (`WorkersTableModel.apply(slots, now)`) gives the workers as `ClusterReader.workers()`
lists them (dicts: worker, host, pid, state, task_id, task_name, queues, successful_jobs,
failed_jobs, working_time_s, last_heartbeat, and the source's suspend_requested and alive).
Rows are kept by worker name: a worker already shown has only its changed cells redrawn
(`dataChanged`), a new one is appended, and one no longer listed stays, greyed, as *gone* for
`GONE_KEEP_S` (RQ drops a stopped worker from its list: the row says it went, rather than
vanishing), so a sort proxy above keeps its order and the selection across refreshes.

The state a row shows (`shown_state`):

| state        | when                                                                  |
|--------------|-----------------------------------------------------------------------|
| idle         | RQ says idle, or started                                              |
| busy         | RQ says busy (it runs the task in the Task column)                    |
| suspending   | busy, and told to suspend: it takes no new task after this one        |
| suspended    | told to suspend, and idle: it takes no task until resumed              |
| offline      | told to suspend, and not running: it stays suspended when it starts   |
| lost         | its heartbeat is older than RQ's worker TTL, or its process (on this  |
|              | machine) is not running: it died without saying so                    |
| gone         | no longer in the cluster's list: it stopped (or was lost long ago)    |

Lost, gone and offline rows are greyed. Colours come from `STATE_COLORS` through the theme
(`adapt`), so they read on light and dark.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor, QIcon

from qtqueue.core.task import TaskStatus
from qtqueue.ui.icons import status_icon
from qtqueue.ui.task_list.columns import format_duration
from qtqueue.ui.theme import adapt

logger = logging.getLogger(__name__)

__all__ = [
    "GONE_KEEP_S",
    "NAME_ROLE",
    "SORT_ROLE",
    "STATE_COLORS",
    "STATE_TIPS",
    "TASK_ROLE",
    "WORKER_TTL_S",
    "WorkerColumn",
    "WorkersTableModel",
    "heartbeat_in_words",
    "shown_state",
    "summary_text",
]

#: RQ's worker TTL (`rq.defaults.DEFAULT_WORKER_TTL`, seconds): a live worker beats at least
#: this often, so a heartbeat older than this is a worker that died without saying so.
WORKER_TTL_S = 420.0
#: How long a worker no longer listed stays in the table as "gone" (seconds).
GONE_KEEP_S = 600.0
#: The role of each cell's sort key (numbers sort as numbers).
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
#: The role of a row's worker name (every column).
NAME_ROLE = Qt.ItemDataRole.UserRole + 2
#: The role of the id of the task a row's worker runs ("" when none; every column).
TASK_ROLE = Qt.ItemDataRole.UserRole + 3

_Index = QModelIndex | QPersistentModelIndex


class WorkerColumn(IntEnum):
    """The table's columns, in order."""

    WORKER = 0
    HOST = 1
    PID = 2
    STATE = 3
    TASK = 4
    QUEUES = 5
    DONE = 6
    FAILED = 7
    WORKING = 8
    HEARTBEAT = 9


HEADERS = ("Worker", "Host", "PID", "State", "Task", "Queues", "Done", "Failed", "Working",
           "Heartbeat")  # fmt: skip
HEADER_TIPS = (
    "The worker's name (`qtqueue worker --name`)",
    "The machine it runs on",
    "Its process id on that machine",
    "idle, busy, suspending, suspended, offline, lost or gone",
    "The task it runs now (double-click: show it in the task list)",
    "The queues it takes tasks from, in the order it drains them",
    "Tasks it completed",
    "Tasks that failed on it",
    "The time it spent running tasks",
    "When it last said it is alive",
)

#: Each state's colour on a light background (`adapt` gives dark's).
STATE_COLORS: dict[str, str] = {
    "idle": "#15803d",
    "busy": "#2563eb",
    "suspending": "#b45309",
    "suspended": "#b45309",
    "offline": "#6b7280",
    "lost": "#dc2626",
    "gone": "#6b7280",
}
#: The icon each state shows (the task statuses' icons: same shapes, same meaning).
STATE_ICONS: dict[str, TaskStatus] = {
    "idle": TaskStatus.COMPLETED,
    "busy": TaskStatus.RUNNING,
    "suspending": TaskStatus.PAUSED,
    "suspended": TaskStatus.PAUSED,
    "offline": TaskStatus.PENDING,
    "lost": TaskStatus.FAILED,
    "gone": TaskStatus.CANCELLED,
}
#: What each state means, as its tooltip says.
STATE_TIPS: dict[str, str] = {
    "idle": "Idle: waiting for a task from its queues",
    "busy": "Busy: running the task in the Task column",
    "suspending": "Suspending: it finishes its current task, then takes no new one until resumed",
    "suspended": "Suspended: it takes no new task until resumed (it stays suspended if it "
    "restarts)",
    "offline": "Offline and suspended: it is not running; when it starts again it stays "
    "suspended until resumed",
    "lost": "Lost: no heartbeat within RQ's worker TTL ({ttl:g} s), or its process is not "
    "running: it died without leaving the cluster; its task is retried or dead-lettered",
    "gone": "Gone: it stopped and left the cluster's list of workers",
}
#: The states of a worker told to suspend.
SUSPENDED = frozenset({"suspending", "suspended", "offline"})
#: The states shown greyed: the worker does not run.
NOT_RUNNING = frozenset({"offline", "lost", "gone"})
_GREY = "#6b7280"


def shown_state(slot: dict[str, Any], now: float, gone: bool = False) -> str:
    """The state a worker's row shows (see the module's table)."""
    if gone:
        return "gone"
    state = str(slot.get("state") or "idle")
    if state == "offline":
        return "offline"
    beat = slot.get("last_heartbeat")
    if slot.get("alive") is False or (beat is not None and now - float(beat) > WORKER_TTL_S):
        return "lost"
    if state == "busy" and slot.get("suspend_requested"):
        return "suspending"
    if state == "idle" and slot.get("suspend_requested"):
        return "suspended"  # told so; its own state follows within a beat
    return state if state in STATE_COLORS else "idle"


def heartbeat_in_words(beat: float | None, now: float) -> str:
    """'just now', '3 s ago', '2 m 05 s ago'; '' when none is known."""
    if beat is None:
        return ""
    age = max(0.0, now - beat)
    if age < 1:
        return "just now"
    return f"{int(age)} s ago" if age < 60 else f"{format_duration(age)} ago"


def summary_text(states: list[str]) -> str:
    """'4 workers · 3 busy · 1 suspended', then lost, gone and offline where there are any:
    the workers counted first are those that run (not the lost, gone or offline); busy
    counts the suspending."""
    live = [s for s in states if s not in NOT_RUNNING]
    busy = sum(s in ("busy", "suspending") for s in live)
    parts = [
        f"{len(live)} worker{'s' if len(live) != 1 else ''}",
        f"{busy} busy",
        f"{sum(s == 'suspended' for s in live)} suspended",
    ]
    for state in ("lost", "gone", "offline"):
        if count := states.count(state):
            parts.append(f"{count} {state}")
    return " · ".join(parts)


@dataclass
class _Row:
    """A worker's latest read, whether it went (and when), and what its cells show."""

    slot: dict[str, Any]
    gone_at: float | None = None
    cells: tuple[str, ...] = ()


class WorkersTableModel(QAbstractTableModel):
    """The workers, one row each, kept by name across reads (see the module's notes)."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[_Row] = []
        self._by_name: dict[str, int] = {}
        self._now = 0.0

    # ------------------------------------------------------------------ reads

    def apply(self, slots: list[dict[str, Any]], now: float) -> None:
        """Show a read of the workers at `now` (epoch seconds): changed cells redrawn, new
        workers appended, those not listed any more marked gone (removed after
        GONE_KEEP_S)."""
        self._now = now
        listed = set()
        for slot in slots:
            name = str(slot.get("worker") or "")
            if not name or name in listed:
                continue
            listed.add(name)
            at = self._by_name.get(name)
            if at is None:
                self._append(_Row(dict(slot)))
            else:
                self._rows[at].slot = dict(slot)
                self._rows[at].gone_at = None
        for row in self._rows:
            if row.gone_at is None and row.slot.get("worker") not in listed:
                row.gone_at = now
        self._drop_gone(now)
        for n, row in enumerate(self._rows):
            self._redraw(n, row)

    def _append(self, row: _Row) -> None:
        at = len(self._rows)
        self.beginInsertRows(QModelIndex(), at, at)
        self._rows.append(row)
        self._by_name[str(row.slot["worker"])] = at
        row.cells = self._cells(row)
        self.endInsertRows()

    def _drop_gone(self, now: float) -> None:
        for n in range(len(self._rows) - 1, -1, -1):
            gone_at = self._rows[n].gone_at
            if gone_at is not None and now - gone_at > GONE_KEEP_S:
                self.beginRemoveRows(QModelIndex(), n, n)
                del self._rows[n]
                self.endRemoveRows()
        self._by_name = {str(r.slot["worker"]): n for n, r in enumerate(self._rows)}

    def _redraw(self, n: int, row: _Row) -> None:
        cells = self._cells(row)
        changed = [c for c, (a, b) in enumerate(zip(cells, row.cells, strict=False)) if a != b]
        if len(cells) != len(row.cells):
            changed = list(range(len(cells)))
        row.cells = cells
        if changed:
            self.dataChanged.emit(self.index(n, min(changed)), self.index(n, max(changed)))

    def _cells(self, row: _Row) -> tuple[str, ...]:
        """What each column shows (and the state, which colours the row)."""
        s = row.slot
        state = self.state_of(row)
        done, failed = s.get("successful_jobs"), s.get("failed_jobs")
        return (
            str(s.get("worker") or ""),
            str(s.get("host") or ""),
            str(s.get("pid") or ""),
            state,
            str(s.get("task_name") or s.get("task_id") or "") if state != "gone" else "",
            ", ".join(s.get("queues") or ()),
            "" if done is None else str(done),
            "" if failed is None else str(failed),
            format_duration(s.get("working_time_s")) if s.get("working_time_s") else "",
            heartbeat_in_words(s.get("last_heartbeat"), self._now),
        )

    def state_of(self, row: _Row) -> str:
        """The state the row shows now."""
        return shown_state(row.slot, self._now, row.gone_at is not None)

    # ------------------------------------------------------------------ reading it

    def states(self) -> list[str]:
        """Each row's shown state, in the model's order."""
        return [r.cells[WorkerColumn.STATE] for r in self._rows]

    def names(self) -> list[str]:
        """Each row's worker name, in the model's order."""
        return [str(r.slot["worker"]) for r in self._rows]

    def row_of(self, name: str) -> int | None:
        """The model row of the worker `name`, if shown."""
        return self._by_name.get(name)

    def suspend_in_force(self, name: str) -> bool:
        """Whether the worker `name` is told to suspend (shown suspending, suspended or
        offline, or its suspend key is set)."""
        n = self._by_name.get(name)
        if n is None:
            return False
        row = self._rows[n]
        shown = row.cells[WorkerColumn.STATE]
        return shown in SUSPENDED or (shown != "gone" and bool(row.slot.get("suspend_requested")))

    def slot(self, name: str) -> dict[str, Any] | None:
        """The latest read of the worker `name` (with `shown_state` as "shown")."""
        n = self._by_name.get(name)
        if n is None:
            return None
        row = self._rows[n]
        return {**row.slot, "shown": row.cells[WorkerColumn.STATE]}

    # ------------------------------------------------------------------ Qt's model

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(HEADERS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            return HEADER_TIPS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        column = index.column()
        state = row.cells[WorkerColumn.STATE]
        if role == Qt.ItemDataRole.DisplayRole:
            return row.cells[column]
        if role == NAME_ROLE:
            return str(row.slot["worker"])
        if role == TASK_ROLE:
            return "" if state == "gone" else str(row.slot.get("task_id") or "")
        if role == SORT_ROLE:
            return self._sort_key(row, column)
        if role == Qt.ItemDataRole.ForegroundRole:
            if column == WorkerColumn.STATE:
                return QColor(adapt(STATE_COLORS[state]))
            return QColor(adapt(_GREY)) if state in NOT_RUNNING else None
        if role == Qt.ItemDataRole.DecorationRole and column == WorkerColumn.STATE:
            return self._icon(state)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row, column, state)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (
            WorkerColumn.PID, WorkerColumn.DONE, WorkerColumn.FAILED, WorkerColumn.WORKING,
        ):  # fmt: skip
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    @staticmethod
    def _icon(state: str) -> QIcon:
        return status_icon(STATE_ICONS[state])

    def _sort_key(self, row: _Row, column: int) -> Any:
        s = row.slot
        numbers = {
            WorkerColumn.PID: s.get("pid"),
            WorkerColumn.DONE: s.get("successful_jobs"),
            WorkerColumn.FAILED: s.get("failed_jobs"),
            WorkerColumn.WORKING: s.get("working_time_s"),
            WorkerColumn.HEARTBEAT: s.get("last_heartbeat"),
        }
        if column in numbers:
            value = numbers[WorkerColumn(column)]
            return float(value) if isinstance(value, int | float) else -1.0
        return row.cells[column].lower()

    def _tooltip(self, row: _Row, column: int, state: str) -> str | None:
        s = row.slot
        if column == WorkerColumn.STATE:
            return STATE_TIPS[state].format(ttl=WORKER_TTL_S)
        if column == WorkerColumn.TASK and s.get("task_id") and state != "gone":
            return f"{s.get('task_name') or ''} ({s['task_id']}): double-click to show it"
        if column == WorkerColumn.HEARTBEAT and s.get("last_heartbeat") is not None:
            when = datetime.datetime.fromtimestamp(float(s["last_heartbeat"]))
            return f"last heartbeat {when.isoformat(sep=' ', timespec='seconds')}"
        if column == WorkerColumn.WORKER and row.gone_at is not None:
            when = datetime.datetime.fromtimestamp(row.gone_at)
            return f"{s['worker']}: not listed since {when.isoformat(sep=' ', timespec='seconds')}"
        return None
