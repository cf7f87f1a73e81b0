"""What a click on a statistics chart does: a `FilterRequest` (the tasks behind the point or
bar) applied to the task list through the window's filter choices, and `install`, which wires
the statistics view (and the detail pane's process graph) into the window."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from PySide6.QtWidgets import QComboBox, QTableView

from qtqueue.core.task import Task, TaskStatus
from qtqueue.ui.forms.main_window_ui import Ui_MainWindow
from qtqueue.ui.task_list.filters import DEAD_LETTERS, TaskFilters
from qtqueue.ui.task_list.model import TaskTableModel
from qtqueue.ui.task_list.period_chip import PeriodChip
from qtqueue.ui.task_list.proxy import TaskFilterProxy, finished_in
from qtqueue.ui.task_list.status_filters import ALL, STATUS_FILTERS

logger = logging.getLogger(__name__)


class Window(Protocol):
    """What the links use of the main window (not imported: the window imports this)."""

    form: Ui_MainWindow
    model: TaskTableModel
    proxy: TaskFilterProxy
    filters: TaskFilters
    table: QTableView
    detail: Any
    queue: Any
    statsUpdated: Any
    sidebar: Any

    def select_tasks(self, ids: Iterable[str]) -> None:
        """Select exactly these tasks' rows."""
        ...


@dataclass(frozen=True)
class FilterRequest:
    """The tasks behind a chart's point or bar.

    `status` is a status filter's choice (a set of statuses, or `DEAD_LETTERS`), None for
    any; `task_type` a type's name; `error_code` an error code; `finished` a period
    (start, end) of UNIX times the tasks finished in, `period` that period in words
    ("14:00–15:00"). `label` says in words what was clicked.
    """

    label: str
    status: frozenset[TaskStatus] | str | None = None
    task_type: str | None = None
    error_code: str | None = None
    finished: tuple[float, float] | None = None
    period: str = ""

    def matches(self, task: Task) -> bool:
        """Whether `task` is one of the tasks asked for."""
        if self.status == DEAD_LETTERS:
            if not task.dead_letter:
                return False
        elif isinstance(self.status, frozenset) and task.status not in self.status:
            return False
        if self.task_type is not None and task.type_name != self.task_type:
            return False
        if self.error_code is not None and task.error_code != self.error_code:
            return False
        return self.finished is None or finished_in(task.completed_at, self.finished)

    @property
    def narrows(self) -> bool:
        """Whether the filters alone show more than the tasks asked for (an error code; a
        period is a filter of its own): those tasks are then selected in the list too."""
        return self.error_code is not None


def _choose(combo: QComboBox, data: Any) -> bool:
    """Select the item of `combo` whose data is `data` ("All"'s None included); whether one was."""
    for i in range(combo.count()):
        if combo.itemData(i) == data:
            combo.setCurrentIndex(i)
            return True
    return False


def apply_request(window: Window, request: FilterRequest) -> list[str]:
    """Show the Tasks tab filtered to `request`'s tasks: its status and type choices, the
    other choices cleared; a period becomes the list's period filter (its chip says so); an
    error code also goes into the search where the search finds error codes. Where the
    filters show more than the request (a code), its tasks are selected. Returns the ids of
    the tasks asked for that the list holds."""
    f = window.form
    f.tabs.setCurrentWidget(f.tasksTab)
    model = window.model
    ids = [t.id for t in model.tasks() if request.matches(t)]
    status = request.status
    if (request.narrows or request.finished is not None) and isinstance(status, frozenset):
        status = _narrowest(status, {t.status for t in model.tasks() if t.id in set(ids)})
    if not _choose(f.filterStatus, status_key(status)):
        _choose(f.filterStatus, ALL)
    if request.task_type is None or not _choose(f.filterType, request.task_type):
        _choose(f.filterType, None)
    _choose(f.filterCategory, None)
    _choose(f.filterTag, None)
    search = ""
    code = request.error_code
    if code is not None and ids and _search_finds(window, ids, code):
        search = code
    f.searchBox.setText(search)
    window.filters.set_period(request.finished, request.period)
    window.filters.apply_status()
    window.filters.apply_values()
    window.filters.apply_search()
    if request.narrows:
        window.select_tasks(ids)
        if ids:
            row = model.row_of(ids[0])
            if row is not None:
                index = window.proxy.mapFromSource(model.index(row, 0))
                window.table.scrollTo(index)
    logger.info("statistics: %s -> %d tasks", request.label, len(ids))
    return ids


def status_key(status: frozenset[TaskStatus] | str | None) -> str | None:
    """The status filter's choice (its key) for a chart's set of statuses: the choice that
    keeps exactly that set; the pending tasks' bar leads to "Waiting"; None: no such choice."""
    if status is None:
        return ALL
    if isinstance(status, str):
        return status
    if status == frozenset({TaskStatus.PENDING}):
        return "waiting"
    return next((c.key for c in STATUS_FILTERS if c.statuses == status), None)


def _narrowest(within: frozenset[TaskStatus], found: set[TaskStatus]) -> frozenset[TaskStatus]:
    """The smallest status choice inside `within` that holds every status in `found` (the
    clicked tasks' statuses): "Failed or timed out" rather than "Finished" where all of
    them failed. `within` itself where none is smaller."""
    best = within
    for choice in STATUS_FILTERS:
        data = choice.statuses
        if data is not None and found <= data <= within and len(data) < len(best):
            best = data
    return best


def _search_finds(window: Window, ids: Iterable[str], code: str) -> bool:
    """Whether the list's search text of these tasks holds `code` (so searching for it keeps
    them)."""
    model = window.model
    needle = code.casefold()
    for task_id in ids:
        row = model.row_of(task_id)
        if row is None or needle not in model.search_text(row):
            return False
    return True


def install(window: Window, view: Any) -> None:
    """Wire the statistics view (`view`, built once the tasks show) into the window: clicks
    on its charts filter the task list (a period shows as a chip over it), the status and
    error charts follow the window's `get_queue_stats()` results, and the detail pane's
    process graph samples only where the window runs the engine."""
    view.filterRequested.connect(lambda request: apply_request(window, request))
    window.statsUpdated.connect(view.show_queue_stats)
    PeriodChip.install(window.filters, window.sidebar.banner)
    window.detail.process_graph.owns_engine = window.queue.owns_engine
