"""git's transfer progress and a repository list, as text: parsed, weighed and written.

git prints its progress on stderr with `--progress`, one phase at a time, each line ended by a
carriage return until the phase is done:

    remote: Compressing objects:  45% (180/402)
    Receiving objects:  45% (180/402), 3.20 MiB | 6.00 MiB/s
    Resolving deltas: 100% (2/2), done.

`parse_progress_line` reads one such line; `TransferProgress` weighs the phases of a clone or a
push into one percentage. The task log keeps one `[git] ...` line per phase (its last state),
which `parse_git_log` reads back for the detail pane. A repository list goes to the log as a
table (`repo_table`) that `parse_repo_table` reads back.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

__all__ = [
    "CLONE_PHASES",
    "GIT_LOG_PREFIX",
    "PUSH_PHASES",
    "GitPhase",
    "RepoRow",
    "TransferProgress",
    "parse_git_log",
    "parse_progress_line",
    "parse_repo_table",
    "repo_table",
]

#: How the task log marks a line git printed.
GIT_LOG_PREFIX = "[git] "

_PROGRESS = re.compile(
    r"^(?P<remote>remote: )?(?P<phase>[A-Z][a-z]+(?: [a-z]+)*):\s+"
    r"(?:(?P<percent>\d{1,3})% \((?P<done>\d+)/(?P<total>\d+)\)|(?P<count>\d+))"
    r"(?:, (?P<size>[\d.]+ (?:bytes|[KMGT]iB))(?: \| (?P<speed>[\d.]+ (?:bytes|[KMGT]iB)/s))?)?"
    r"(?P<finished>, done\.)?\s*$"
)

#: Clone phases and the share of the whole each is given (the rest, 0–5 %, is connecting).
CLONE_PHASES: Mapping[str, tuple[float, float]] = {
    "Enumerating objects": (0.0, 2.0),
    "Counting objects": (2.0, 5.0),
    "Compressing objects": (5.0, 10.0),
    "Receiving objects": (10.0, 85.0),
    "Unpacking objects": (10.0, 85.0),
    "Resolving deltas": (85.0, 95.0),
    "Updating files": (95.0, 100.0),
    "Checking out files": (95.0, 100.0),
}
#: Push phases and their shares.
PUSH_PHASES: Mapping[str, tuple[float, float]] = {
    "Enumerating objects": (0.0, 2.0),
    "Counting objects": (2.0, 5.0),
    "Compressing objects": (5.0, 15.0),
    "Writing objects": (15.0, 95.0),
    "Resolving deltas": (95.0, 100.0),
}


@dataclass(frozen=True, slots=True)
class GitPhase:
    """One progress line of git: a phase and how far it is."""

    phase: str
    """What git is doing: "Receiving objects", "Resolving deltas"..."""
    remote: bool
    """Reported by the server ("remote: Counting objects")."""
    percent: float | None
    """0–100, or None for a phase that only counts ("Enumerating objects: 402")."""
    done: int | None
    """Objects (or deltas, files) handled so far."""
    total: int | None
    """Objects in all; None when git did not say."""
    size: str | None
    """Bytes moved so far as git writes them ("3.20 MiB"), when it says."""
    speed: str | None
    """Transfer rate as git writes it ("6.00 MiB/s"), when it says."""
    finished: bool
    """git printed ", done." — the phase's last line."""

    def describe(self) -> str:
        """'Receiving objects 45% (180/402) · 3.20 MiB · 6.00 MiB/s' — a task's step."""
        parts = [self.phase]
        if self.percent is not None:
            parts.append(f"{self.percent:.0f}% ({self.done}/{self.total})")
        elif self.done is not None:
            parts.append(str(self.done))
        text = " ".join(parts)
        for extra in (self.size, self.speed):
            if extra:
                text += f" · {extra}"
        return text + (" · done" if self.finished else "")


def parse_progress_line(line: str) -> GitPhase | None:
    """The phase a line of git's progress output reports; None for any other line."""
    found = _PROGRESS.match(line.strip())
    if found is None:
        return None
    g = found.groupdict()
    count = g["count"]
    return GitPhase(
        phase=g["phase"],
        remote=bool(g["remote"]),
        percent=float(g["percent"]) if g["percent"] is not None else None,
        done=int(g["done"]) if g["done"] is not None else (int(count) if count else None),
        total=int(g["total"]) if g["total"] is not None else None,
        size=g["size"],
        speed=g["speed"],
        finished=bool(g["finished"]),
    )


class TransferProgress:
    """A clone's or push's overall percentage from the phases it went through: each phase
    known to `phases` fills its share; the percentage never goes back."""

    def __init__(self, phases: Mapping[str, tuple[float, float]]) -> None:
        self.phases = phases
        self.percent = 0.0

    def update(self, phase: GitPhase) -> float:
        """The overall percentage after `phase`."""
        span = self.phases.get(phase.phase)
        if span is not None:
            low, high = span
            share = 1.0 if phase.finished else (phase.percent or 0.0) / 100.0
            self.percent = max(self.percent, low + (high - low) * share)
        return self.percent


def parse_git_log(text: str) -> dict[str, GitPhase]:
    """Each phase's latest state in a task log (its `[git] ...` lines), in order of first
    appearance."""
    phases: dict[str, GitPhase] = {}
    for line in text.splitlines():
        if not line.startswith(GIT_LOG_PREFIX):
            continue
        phase = parse_progress_line(line[len(GIT_LOG_PREFIX) :])
        if phase is not None:
            key = ("remote: " if phase.remote else "") + phase.phase
            phases[key] = phase
    return phases


# --- A repository list ------------------------------------------------------------------------

_TABLE_HEADER = ("REPOSITORY", "VISIBILITY", "BRANCH", "UPDATED", "URL")
_ROW = re.compile(r"^(\S+/\S+)\s+(public|private)\s+(\S+)\s+(\S+)\s+(\S+)$")


@dataclass(frozen=True, slots=True)
class RepoRow:
    """One repository as a list shows it."""

    full_name: str
    """owner/name."""
    private: bool
    """Only people given access see it."""
    default_branch: str
    """Its default branch ("-" when GitHub gave none, e.g. an empty repository)."""
    updated_at: str
    """When it last changed (ISO 8601, as GitHub gives it; "-" when not given)."""
    html_url: str
    """Its page."""

    @classmethod
    def from_api(cls, repo: Mapping[str, Any]) -> RepoRow:
        """The row of a repository object of GitHub's REST API."""
        return cls(
            full_name=str(repo.get("full_name") or "?/?"),
            private=bool(repo.get("private")),
            default_branch=str(repo.get("default_branch") or "-"),
            updated_at=str(repo.get("updated_at") or "-"),
            html_url=str(repo.get("html_url") or "-"),
        )

    def cells(self) -> tuple[str, str, str, str, str]:
        """Its cells, in the table's column order."""
        visibility = "private" if self.private else "public"
        return (self.full_name, visibility, self.default_branch, self.updated_at, self.html_url)


def repo_table(rows: Sequence[RepoRow]) -> list[str]:
    """The lines of a readable table of `rows` (a header, then one line per repository)."""
    cells = [_TABLE_HEADER, *(row.cells() for row in rows)]
    widths = [max(len(line[i]) for line in cells) for i in range(len(_TABLE_HEADER) - 1)]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=False))
        + "  "
        + line[-1]
        for line in cells
    ]


def parse_repo_table(lines: Iterable[str]) -> list[RepoRow]:
    """The rows of the tables `repo_table` wrote among `lines`."""
    rows = []
    for line in lines:
        found = _ROW.match(line.strip())
        if found is not None:
            name, visibility, branch, updated, url = found.groups()
            rows.append(RepoRow(name, visibility == "private", branch, updated, url))
    return rows
