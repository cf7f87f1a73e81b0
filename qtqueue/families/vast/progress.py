"""What a Vast.ai task's log says about its instance, read back line by line (Qt-free): the
instance, its phase, its price and its GPU, for the detail pane's widget (qt.py)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from qtqueue.core.log_lines import LineFeed

logger = logging.getLogger(__name__)

__all__ = ["InstanceFacts", "InstanceFeed"]

_PRICE = re.compile(r"^price: offer (\d+), (\S+)x (.+?), costs \$([\d.]+)/hour")
_CREATED = re.compile(r"^created instance (\d+) from offer")
_PHASE = re.compile(r"^instance (\d+): (creating|loading image|starting|running)\b")
_DESTROYING = re.compile(r"^destroying instance (\d+) \((\S+)x (.+?), (?:\$([\d.]+)/hour|price)")
_GONE = re.compile(r"^(?:instance (\d+) is gone|destroyed instance (\d+))")
_LEFT = re.compile(r"^WARNING: instance (\d+) is LEFT RUNNING")


@dataclass
class InstanceFacts:
    """What is known of the task's instance (None: not said yet)."""

    #: The instance id, once it exists.
    instance: int | None = None
    #: The offer rented.
    offer: int | None = None
    #: creating, loading image, starting, running, destroying, gone, LEFT RUNNING.
    phase: str | None = None
    #: Its price in $/hour.
    price_per_hour: float | None = None
    #: "1x RTX 4090".
    gpu: str | None = None


class InstanceFeed(LineFeed[bool]):
    """The facts of one task's log, fed chunk by chunk as it grows (complete lines only)."""

    def __init__(self) -> None:
        self.facts = InstanceFacts()
        super().__init__()

    def _parse(self, text: str) -> bool:
        before = InstanceFacts(**vars(self.facts))
        for line in text.splitlines():
            self._line(line.strip())
        return self.facts != before

    def _line(self, line: str) -> None:
        f = self.facts
        if m := _PRICE.match(line):
            f.offer, f.gpu, f.price_per_hour = int(m[1]), f"{m[2]}x {m[3]}", float(m[4])
        elif m := _CREATED.match(line):
            f.instance, f.phase = int(m[1]), "creating"
        elif m := _PHASE.match(line):
            f.instance, f.phase = int(m[1]), m[2]
        elif m := _DESTROYING.match(line):
            f.instance, f.gpu, f.phase = int(m[1]), f"{m[2]}x {m[3]}", "destroying"
            f.price_per_hour = float(m[4]) if m[4] else f.price_per_hour
        elif m := _GONE.match(line):
            f.instance, f.phase = int(m[1] or m[2]), "gone"
        elif m := _LEFT.match(line):
            f.instance, f.phase = int(m[1]), "LEFT RUNNING"
