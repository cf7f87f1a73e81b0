"""`qtqueue gui` (or `qtqueue` alone): open the desktop window, if this installation has it.

The window is imported lazily: nothing here imports Qt.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from qtqueue.cli.parser import Subparsers, add_command
from qtqueue.config import resolve_data_dir

logger = logging.getLogger(__name__)

ORDER = 180
#: `qtqueue.cluster.connection.ENV_REDIS_URL` (not imported: the command line has no rq here).
ENV_REDIS_URL = "QTQUEUE_REDIS_URL"

_GUI_MISSING = (
    "the desktop window is not available in this installation; "
    "use the command line (qtqueue --help) or install the GUI (pip install 'qtqueue[gui]')"
)


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """The `gui` command."""
    p = add_command(sub, common, "gui", "Open the desktop window.")
    p.add_argument(
        "--screenshot",
        metavar="PNG",
        help="render the window to a PNG once it shows the stored tasks, then exit",
    )
    p.add_argument("--size", metavar="WxH", help="window size for --screenshot (1400x900)")
    p.add_argument("--theme", choices=["system", "light", "dark"], help="colours for --screenshot")
    p.set_defaults(direct=open_gui)


def _raised_open_window(args: argparse.Namespace) -> bool:
    """Whether a window already open on the data directory came to the front when asked —
    before the window and the engine are imported (a second launch answers at once)."""
    import importlib

    try:  # imported by name, as the window is: the command line itself has no Qt
        single = importlib.import_module("qtqueue.ui.single_instance")
    except ImportError:
        return False  # no Qt: open_gui says so
    data_dir = resolve_data_dir(args.data_dir)
    if not single.ask_to_raise(single.instance_name(data_dir)):
        return False
    sys.stdout.write(f"qtqueue is already open on {data_dir}; brought it to the front\n")
    return True


def open_gui(args: argparse.Namespace) -> int:
    """Open the desktop window, if this installation has it (imported lazily: no Qt here)."""
    import importlib.util

    if importlib.util.find_spec("qtqueue.launch") is None:
        sys.stderr.write(f"error: {_GUI_MISSING}\n")
        return 1
    redis = getattr(args, "redis", None) or os.environ.get(ENV_REDIS_URL)
    if not getattr(args, "screenshot", None) and not redis and _raised_open_window(args):
        return 0
    try:
        app = importlib.import_module("qtqueue.launch")
    except ImportError as exc:
        sys.stderr.write(f"error: {_GUI_MISSING} ({exc})\n")
        return 1
    gui_main = getattr(app, "main", None)
    if not callable(gui_main):
        sys.stderr.write(f"error: {_GUI_MISSING}\n")
        return 1
    gui_argv: list[str] = []
    if args.data_dir:
        gui_argv += ["--data-dir", str(resolve_data_dir(args.data_dir))]
    if redis:
        gui_argv += ["--redis", redis]
    if getattr(args, "screenshot", None):
        gui_argv += ["--screenshot", args.screenshot]
    if getattr(args, "size", None):
        gui_argv += ["--size", args.size]
    if getattr(args, "theme", None):
        gui_argv += ["--theme", args.theme]
    return int(gui_main(gui_argv) or 0)
