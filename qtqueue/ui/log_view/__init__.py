"""The log viewer: a task's output with its ANSI colours, a find bar, follow, wrap, arrival
times, saving and a pop-out window.

`ansi` turns terminal escape sequences into styled spans and imports no Qt; `view` is the
widget (`LogView`), `find_bar` its search, `gutter` the arrival-time margin, `window` the
pop-out window with the whole retained log.
"""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)
