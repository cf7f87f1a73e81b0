"""Progress of an Ollama pull, without Ollama: the layers of the server's streamed status summed
into one percentage with speed and ETA, the per-layer lines written to the task log (and read
back by the window's layer view), and sizes for people. Pure: no IO, no SDK."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "PullLayer",
    "PullProgress",
    "format_pull_line",
    "human_duration",
    "human_size",
    "parse_pull_lines",
]

#: A layer's line is logged again when its share moved at least this many points.
LOG_EVERY_POINTS = 10.0
#: Characters of a digest's hex shown for a layer (as `ollama pull` shows them).
SHORT_DIGEST = 12

_PULL_LINE = re.compile(r"^layer (\S+): (\S+)(?: (\d+)/(\d+) bytes)?$")


@dataclass(frozen=True, slots=True)
class PullLayer:
    """One layer (blob) of a model being pulled.

    `state` is "downloading" until `completed` reaches `total`, then "done"; both counts are
    bytes as the server reports them (a resumed pull reports what it already had too).
    """

    state: str
    completed: int
    total: int

    @property
    def percent(self) -> float:
        """How much of this layer is there, 0–100."""
        return min(100.0, 100.0 * self.completed / self.total) if self.total else 100.0


def short_digest(digest: str) -> str:
    """`sha256:6a0746a1ec1a…` → `6a0746a1ec1a`."""
    return digest.split(":", 1)[-1][:SHORT_DIGEST]


def format_pull_line(digest: str, layer: PullLayer) -> str:
    """The log line for a layer: `layer <short digest>: <state> <completed>/<total> bytes`."""
    return f"layer {short_digest(digest)}: {layer.state} {layer.completed}/{layer.total} bytes"


def parse_pull_lines(text: str) -> dict[str, PullLayer]:
    """The latest state of each layer named by `layer <digest>: ...` lines of a task's log,
    in the order layers first appear; other lines are ignored."""
    layers: dict[str, PullLayer] = {}
    for line in text.splitlines():
        found = _PULL_LINE.match(line.rstrip("\r"))
        if found is None:
            continue
        digest, state, completed, total = found.groups()
        layers[digest] = PullLayer(
            state, int(completed) if completed else 0, int(total) if total else 0
        )
    return layers


def human_size(n: float) -> str:
    """Bytes for people, in decimal units as Ollama shows them: '2.0 GB', '512 B'."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def human_duration(seconds: float) -> str:
    """'45s', '3m07s', '2h05m'."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class PullProgress:
    """The layers of one model pull, fed the server's status objects one by one.

    `feed` takes a status (`{"status": "pulling <digest>", "digest": ..., "total": N,
    "completed": M}`, or a plain `{"status": "verifying sha256 digest"}`) and returns the log
    line worth writing for it, or None: a layer's line when its state changes or its share
    moved `LOG_EVERY_POINTS`, a plain status once. `percent` is the bytes of every layer seen
    over their sizes and never goes down. `restart()` marks a new request (a resume): speed and
    ETA count only the bytes moved since, not those the server already had.
    """

    def __init__(self, model: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.model = model
        self.layers: dict[str, PullLayer] = {}
        self.statuses: list[str] = []
        self._clock = clock
        self._logged: dict[str, tuple[str, float]] = {}
        self._percent = 0.0
        self._since = clock()
        self._since_bytes = 0
        self._moved_before = 0

    def restart(self) -> None:
        """A new request begins: speed is measured from here."""
        self._moved_before = self.moved
        self._since = self._clock()
        self._since_bytes = self.completed

    @property
    def moved(self) -> int:
        """Bytes that arrived during this task's requests (not those the server had before a
        resumed request started)."""
        return self._moved_before + max(0, self.completed - self._since_bytes)

    def feed(self, item: Mapping[str, Any]) -> str | None:
        """Take one status object; the line to log for it, or None to stay quiet."""
        status = str(item.get("status") or "")
        digest = item.get("digest")
        total = item.get("total")
        if digest and isinstance(total, int) and total > 0:
            completed = item.get("completed")
            done = min(completed, total) if isinstance(completed, int) else 0
            layer = PullLayer("done" if done >= total else "downloading", done, total)
            self.layers[str(digest)] = layer
            self._update_percent()
            return self._layer_line(str(digest), layer)
        if not status or (self.statuses and self.statuses[-1] == status):
            return None
        self.statuses.append(status)
        return status

    def _layer_line(self, digest: str, layer: PullLayer) -> str | None:
        last = self._logged.get(digest)
        if (
            last is not None
            and last[0] == layer.state
            and layer.percent - last[1] < LOG_EVERY_POINTS
        ):
            return None
        self._logged[digest] = (layer.state, layer.percent)
        return format_pull_line(digest, layer)

    def _update_percent(self) -> None:
        total = self.total
        if total:
            self._percent = max(self._percent, min(100.0, 100.0 * self.completed / total))

    def complete(self) -> None:
        """The server said success: every layer is there."""
        self._percent = 100.0

    @property
    def completed(self) -> int:
        """Bytes present of all layers seen."""
        return sum(layer.completed for layer in self.layers.values())

    @property
    def total(self) -> int:
        """Size of all layers seen."""
        return sum(layer.total for layer in self.layers.values())

    @property
    def percent(self) -> float:
        """Bytes present of all bytes seen, 0–100; never lower than before."""
        return self._percent

    @property
    def speed(self) -> float | None:
        """Bytes a second since the last `restart()`, or None before any arrived."""
        elapsed = self._clock() - self._since
        moved = self.completed - self._since_bytes
        if elapsed <= 0 or moved <= 0:
            return None
        return moved / elapsed

    def step(self) -> str:
        """`Pulling <model>: 12.3 MB / 40.0 MB, 3.1 MB/s, ETA 9s` (speed and ETA once known)."""
        done, total = self.completed, self.total
        text = f"Pulling {self.model}: {human_size(done)} / {human_size(total)}"
        speed = self.speed
        if speed is not None:
            text += f", {human_size(speed)}/s"
            if done < total:
                text += f", ETA {human_duration((total - done) / speed)}"
        return text
