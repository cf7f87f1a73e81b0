"""The desktop application: everything that imports Qt lives here.

Importing this package first protects the process from a PySide6 6.12.0 bug (see
`_guard_bool_refcounts`).
"""

from __future__ import annotations

import ctypes
import logging
import sys

logger = logging.getLogger(__name__)


def _guard_singleton_refcounts() -> bool:
    """Work around PySide6 6.12.0, which hands out `None` (from every void method:
    `setText`, `QTimer.start`, `beginInsertRows`…) and `True` (from `SignalInstance.emit`)
    without taking a reference, as if they were immortal. They are from Python 3.12 on; on
    3.11 each call drops a reference and after a few hundred calls the interpreter aborts
    with "none_dealloc: deallocating None" or "bool_dealloc". Where a probe shows the leak,
    `None`, `True` and `False` are made as good as immortal, as Python 3.12 does. Returns
    whether the guard was applied. (The real fix: a PySide6 other than 6.12.0.)"""
    if sys.version_info >= (3, 12):
        return False
    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        ping = Signal()

    probe = _Probe()
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(4):
        probe.setObjectName("probe")
        probe.ping.emit()
    if sys.getrefcount(None) >= none_before and sys.getrefcount(True) >= true_before:
        return False
    for value in (None, True, False):
        ctypes.c_ssize_t.from_address(id(value)).value += 1 << 40
    logger.debug("this PySide6 drops references to None and True; made them immortal")
    return True


SINGLETON_REFCOUNT_GUARD = _guard_singleton_refcounts()
