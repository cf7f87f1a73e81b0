"""Progress of Docker streams, without Docker: layer bytes of a pull or push summed into one
percentage, the per-layer lines written to the task log (and read back by the window), and
the step counter of a build. Pure: nothing here does IO or imports the SDK."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "BuildSteps",
    "LayerProgress",
    "LayerState",
    "format_layer_line",
    "parse_layer_lines",
]

#: A layer's line is logged again when its percentage moved at least this many points.
LOG_EVERY_POINTS = 10.0

#: Statuses after which a layer's bytes have all been transferred (pull and push).
_TRANSFERRED = (
    "download complete",
    "verifying checksum",
    "extracting",
    "pull complete",
    "pushed",
)
#: Statuses of layers that need no transfer at all: their bytes count for nothing.
_SKIPPED = ("already exists", "layer already exists", "mounted from")


def _finished(status: str) -> bool:
    lowered = status.lower()
    return lowered.startswith(_SKIPPED) or lowered.startswith(_TRANSFERRED)


_LAYER_LINE = re.compile(r"^layer (\S+): (.+?)(?: (\d+)/(\d+) bytes)?$")


@dataclass(frozen=True, slots=True)
class LayerState:
    """One layer's latest state in a pull or push.

    `status` is the daemon's word for it ("Downloading", "Pull complete", "Pushed", ...);
    `current` and `total` are bytes, both None when the daemon gave no count.
    """

    status: str
    current: int | None = None
    total: int | None = None

    @property
    def percent(self) -> float | None:
        """How far this layer's transfer is, 0–100, or None without a byte count."""
        if self.current is None or not self.total:
            return None
        return min(100.0, 100.0 * self.current / self.total)


def format_layer_line(layer_id: str, state: LayerState) -> str:
    """The log line for a layer: `layer <id>: <status>[ <current>/<total> bytes]`."""
    line = f"layer {layer_id}: {state.status}"
    if state.current is not None and state.total is not None:
        line += f" {state.current}/{state.total} bytes"
    return line


def parse_layer_lines(text: str) -> dict[str, LayerState]:
    """The latest state of each layer named by `layer <id>: ...` lines in a task's log.

    Other lines are ignored; layers keep the order in which they first appear.
    """
    layers: dict[str, LayerState] = {}
    for line in text.splitlines():
        found = _LAYER_LINE.match(line.rstrip("\r"))
        if found is None:
            continue
        layer_id, status, current, total = found.groups()
        layers[layer_id] = LayerState(
            status,
            int(current) if current is not None else None,
            int(total) if total is not None else None,
        )
    return layers


def _megabytes(n: float) -> str:
    return f"{n / 1e6:.1f} MB"


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class LayerProgress:
    """The layers of one pull or push, fed the daemon's progress messages one by one.

    `feed` takes a decoded message (`{"id": LAYER, "status": ..., "progressDetail":
    {"current": N, "total": M}}`) and returns the log line worth writing for it, or None:
    a layer's line is written when its status changes, or when its percentage moved
    `LOG_EVERY_POINTS` or more since its last line. `percent` sums the bytes of every layer
    (a layer whose size is not known yet counts as the average known size; layers that need
    no transfer count for nothing) and never goes down. `step` says it for a person:
    "Pulling: 12.3 MB / 40.0 MB, ETA 5s".
    """

    def __init__(self, verb: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.verb = verb
        self.layers: dict[str, LayerState] = {}
        self._clock = clock
        self._logged: dict[str, tuple[str, float | None]] = {}
        self._percent = 0.0
        self._first_bytes_at: float | None = None
        self._first_bytes = 0

    @staticmethod
    def is_layer_message(item: Mapping[str, Any]) -> bool:
        """Whether a stream message is about one layer (it has an id and a progressDetail)."""
        return bool(item.get("id")) and "progressDetail" in item and bool(item.get("status"))

    def feed(self, item: Mapping[str, Any]) -> str | None:
        """Take one layer message; the line to log for it, or None to stay quiet."""
        layer_id = str(item["id"])
        status = str(item["status"])
        detail = item.get("progressDetail") or {}
        current, total = detail.get("current"), detail.get("total")
        previous = self.layers.get(layer_id)
        lowered = status.lower()
        if isinstance(current, int) and isinstance(total, int) and total > 0:
            # The daemon's count can overshoot the size (push counts the tar stream).
            state = LayerState(status, min(current, total), total)
        elif lowered.startswith(_TRANSFERRED) and previous is not None and previous.total:
            state = LayerState(status, previous.total, previous.total)
        else:
            state = LayerState(status)
        if lowered.startswith("extracting") and state.total:
            # Extraction reports its own count; the download itself is complete.
            state = LayerState(status, state.total, state.total)
        self.layers[layer_id] = state
        self._note_bytes()
        return self._log_line(layer_id, state)

    def _log_line(self, layer_id: str, state: LayerState) -> str | None:
        pct = state.percent
        last = self._logged.get(layer_id)
        if last is not None and last[0] == state.status:
            last_pct = last[1]
            if pct is None:
                return None
            if last_pct is not None:
                finished_now = pct == 100.0 and last_pct < 100.0
                if pct - last_pct < LOG_EVERY_POINTS and not finished_now:
                    return None
        self._logged[layer_id] = (state.status, pct)
        return format_layer_line(layer_id, state)

    def _totals(self) -> tuple[float, float]:
        """(bytes done, bytes expected), the unknown sizes estimated."""
        done = 0.0
        known = 0.0
        sized = 0
        unknown = 0
        for state in self.layers.values():
            if state.total:
                sized += 1
                known += state.total
                done += state.current or 0
            elif _finished(state.status):
                continue  # nothing to transfer, or finished without a count
            else:
                unknown += 1
        expected = known + (unknown * known / sized if sized else 0.0)
        return done, expected

    def _note_bytes(self) -> None:
        done, expected = self._totals()
        if self._first_bytes_at is None and done > 0:
            self._first_bytes_at = self._clock()
            self._first_bytes = int(done)
        if expected > 0:
            self._percent = max(self._percent, min(100.0, 100.0 * done / expected))

    def complete(self) -> None:
        """The stream ended well: everything is there (also when no layer needed moving)."""
        self._percent = 100.0

    @property
    def percent(self) -> float:
        """Bytes transferred of all bytes expected, 0–100; never lower than before."""
        return self._percent

    @property
    def bytes_done(self) -> int:
        return int(self._totals()[0])

    def byte_counts(self) -> dict[str, int | None]:
        """`done_bytes` and `total_bytes` for `RunContext.progress` (total None while no
        layer's size is known)."""
        done, expected = self._totals()
        return {"done_bytes": int(done), "total_bytes": int(expected) if expected else None}

    def step(self) -> str:
        """`<verb>: <done> MB / <expected> MB[, ETA <time>]`."""
        done, expected = self._totals()
        text = f"{self.verb}: {_megabytes(done)} / {_megabytes(expected)}"
        eta = self._eta(done, expected)
        if eta is not None:
            text += f", ETA {_duration(eta)}"
        return text

    def _eta(self, done: float, expected: float) -> float | None:
        if self._first_bytes_at is None or done >= expected:
            return None
        elapsed = self._clock() - self._first_bytes_at
        moved = done - self._first_bytes
        if elapsed <= 0 or moved <= 0:
            return None
        return (expected - done) / (moved / elapsed)


_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")


class BuildSteps:
    """Reads a classic build's output: splits the daemon's text chunks into lines and follows
    its `Step N/M : INSTRUCTION` lines.

    `feed` returns the complete lines the chunk finished; after a step line, `number`,
    `total` and `instruction` describe the step being built, `percent` is the share of steps
    already done and `step` the current step as a person reads it.
    """

    def __init__(self) -> None:
        self._partial = ""
        self.number = 0
        self.total = 0
        self.instruction = ""

    def feed(self, text: str) -> list[str]:
        """The complete lines in `text` (with what earlier chunks left unfinished)."""
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        for line in lines:
            self._scan(line)
        return lines

    def flush(self) -> list[str]:
        """The last, unterminated line, if any."""
        rest, self._partial = self._partial, ""
        if rest:
            self._scan(rest)
            return [rest]
        return []

    def _scan(self, line: str) -> None:
        found = _STEP.match(line.strip())
        if found is not None:
            self.number, self.total = int(found.group(1)), int(found.group(2))
            self.instruction = found.group(3).strip()

    def complete(self) -> None:
        """The stream ended well: everything is there (also when no layer needed moving)."""
        self._percent = 100.0

    @property
    def percent(self) -> float:
        """Steps finished of all steps, 0–100 (0 before the first step line)."""
        if not self.total:
            return 0.0
        return 100.0 * (self.number - 1) / self.total

    @property
    def step(self) -> str | None:
        """The step being built ("Step 3/7: RUN make"), or None before the first step line."""
        if not self.total:
            return None
        return f"Step {self.number}/{self.total}: {self.instruction}"[:200]
