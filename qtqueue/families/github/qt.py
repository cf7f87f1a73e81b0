"""The github family's widget in the detail pane: a clone's or push's git transfer, phase by
phase (objects, bytes, speed), or the repositories a list found.

The window loads this module through the family descriptor (`Family.qt_module`) and asks
`detail_widget(parent)` for the widget; nothing else imports it. The widget reads the task's
log as it grows (each chunk parsed once): the `[git] <phase>: ...` lines a clone or push writes
(`progress.parse_progress_line`) and the table a list writes (`progress.parse_repo_table`). It
follows the detail pane's family-widget contract: `shows(task)`, `reset()`,
`feed(task_id, chunk)`, `finish(task_id)` and the `updated(task id)` signal.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QGroupBox,
    QTreeWidgetItem,
    QWidget,
)

from qtqueue.core.log_lines import LogLines
from qtqueue.core.task import Task, TaskType
from qtqueue.families.github.progress import (
    GIT_LOG_PREFIX,
    GitPhase,
    RepoRow,
    parse_progress_line,
    parse_repo_table,
)
from qtqueue.ui.family_widgets import fit_rows, hosted_list

logger = logging.getLogger(__name__)

__all__ = ["GitHubView", "detail_widget"]

#: Task types whose log this widget reads.
SHOWN_TYPES = frozenset(
    {TaskType.GITHUB_CLONE.value, TaskType.GITHUB_PUSH.value, TaskType.GITHUB_LIST_REPOS.value}
)
TRANSFER_TITLE = "Git transfer"
REPOS_TITLE = "Repositories"
_TRANSFER_COLUMNS = ["Phase", "Progress", "Objects", "Transferred", "Speed"]
_REPO_COLUMNS = ["Repository", "Visibility", "Branch", "Updated", "Page"]


def phase_cells(phase: GitPhase) -> list[str]:
    """A phase's row: name, percentage, objects, bytes, speed ('—' where git said nothing)."""
    name = ("remote: " if phase.remote else "") + phase.phase
    if phase.finished:
        progress = "done"
    elif phase.percent is not None:
        progress = f"{phase.percent:.0f} %"
    else:
        progress = "…"
    if phase.total is not None:
        objects = f"{phase.done} / {phase.total}"
    else:
        objects = str(phase.done) if phase.done is not None else "—"
    return [name, progress, objects, phase.size or "—", phase.speed or "—"]


def repo_cells(row: RepoRow) -> list[str]:
    """A repository's row: owner/name, visibility, default branch, last update, page."""
    visibility = "private" if row.private else "public"
    return [row.full_name, visibility, row.default_branch, row.updated_at, row.html_url]


class GitHubView(QGroupBox):
    """'Git transfer': one row per git phase, updated in place; or 'Repositories (N)': one row
    per repository listed. `updated(task id)` is emitted after the rows changed."""

    updated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(TRANSFER_TITLE, parent)
        self.setObjectName("githubBox")
        self.view = hosted_list(self, "githubView")
        self._lines = LogLines()
        self._phases: dict[str, QTreeWidgetItem] = {}
        self._repos = 0
        self.reset()

    def shows(self, task: Task) -> bool:
        """Whether the widget has something to say about `task` (a clone, push or list)."""
        return task.type_name in SHOWN_TYPES

    def reset(self) -> None:
        """Forget what is shown: another task (or its log from the start) comes next."""
        self._lines = LogLines()
        self._phases.clear()
        self._repos = 0
        self.view.clear()
        self._columns(_TRANSFER_COLUMNS)
        fit_rows(self.view)
        self.setTitle(TRANSFER_TITLE)

    def feed(self, task_id: str, chunk: str) -> None:
        """The next piece of `task_id`'s log (an unfinished last line waits for the next)."""
        self._show(task_id, self._lines.feed(chunk))

    def finish(self, task_id: str) -> None:
        """`task_id`'s log ended: its last line counts even without a newline."""
        self._show(task_id, self._lines.finish())

    def _show(self, task_id: str, lines: list[str]) -> None:
        changed = False
        for line in lines:
            if line.startswith(GIT_LOG_PREFIX):
                phase = parse_progress_line(line[len(GIT_LOG_PREFIX) :])
                if phase is not None:
                    self._show_phase(phase)
                    changed = True
        rows = parse_repo_table(line for line in lines if not line.startswith(GIT_LOG_PREFIX))
        if rows:
            self._show_repos(rows)
            changed = True
        if not changed:
            return
        for column in range(self.view.columnCount() - 1):
            self.view.resizeColumnToContents(column)
        fit_rows(self.view)
        self.updated.emit(task_id)

    def _columns(self, labels: list[str]) -> None:
        self.view.setColumnCount(len(labels))
        self.view.setHeaderLabels(labels)

    def _show_phase(self, phase: GitPhase) -> None:
        cells = phase_cells(phase)
        item = self._phases.get(cells[0])
        if item is None:
            item = QTreeWidgetItem(cells)
            self.view.addTopLevelItem(item)
            self._phases[cells[0]] = item
        for column, text in enumerate(cells):
            item.setText(column, text)

    def _show_repos(self, rows: list[RepoRow]) -> None:
        if not self._repos:
            self._columns(_REPO_COLUMNS)
        self.view.addTopLevelItems([QTreeWidgetItem(repo_cells(row)) for row in rows])
        self._repos += len(rows)
        self.setTitle(f"{REPOS_TITLE} ({self._repos})")


def detail_widget(parent: QWidget | None = None) -> GitHubView:
    """The widget the detail pane hosts for this family."""
    return GitHubView(parent)
