"""Whether the window can open here, asked before Qt is: Qt's own answer to a missing display
or library is a message about plug-ins and an abort. No Qt is imported here."""

from __future__ import annotations

import ctypes.util
import sys
from collections.abc import Callable, Mapping

from qtqueue.core.errors import QueueError, TaskErrorCode

__all__ = ["display_problem"]

#: The library Qt's xcb plug-in needs from Qt 6.5 on, and Debian's package of it.
XCB_CURSOR = ("xcb-cursor", "libxcb-cursor0")


def display_problem(
    environ: Mapping[str, str],
    *,
    platform: str = sys.platform,
    find_library: Callable[[str], str | None] = ctypes.util.find_library,
) -> QueueError | None:
    """Why the window cannot open with `environ`, or None. Only Linux desktops are checked
    (X11 and Wayland); a Qt platform chosen on purpose (`QT_QPA_PLATFORM=offscreen`, vnc…)
    is left to Qt."""
    if not platform.startswith("linux"):
        return None
    chosen = environ.get("QT_QPA_PLATFORM", "").strip()
    if chosen and not chosen.startswith(("xcb", "wayland")):
        return None
    x11, wayland = bool(environ.get("DISPLAY")), bool(environ.get("WAYLAND_DISPLAY"))
    if not x11 and not wayland:
        return QueueError(
            TaskErrorCode.SYSTEM_NO_DISPLAY,
            "no display to open the window on ($DISPLAY and $WAYLAND_DISPLAY are empty)",
        )
    uses_xcb = chosen.startswith("xcb") or (not chosen and not wayland)
    library, package = XCB_CURSOR
    if uses_xcb and find_library(library) is None:
        return QueueError(
            TaskErrorCode.SYSTEM_LIBRARY_MISSING,
            f"the window's X11 plug-in needs lib{library} (Debian/Ubuntu package {package})",
            library=f"lib{library}",
            package=package,
        )
    return None


def process_age_s() -> float:
    """Seconds since this process started (what a user waits from the launch to the window)."""
    import time

    import psutil  # not before the window's frame shows

    started: float = psutil.Process().create_time()
    return time.time() - started
