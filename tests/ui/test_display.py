"""Opening the window where it cannot open: without a display, `qtqueue` says so with a code
and what to do instead of Qt's abort about platform plug-ins; a missing X11 library is named
with its package."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from helpers.cli import qtqueue_env, refused

from qtqueue.ui.display import display_problem

_NO_DISPLAY = ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")


def _without_display(tmp_path: Path) -> dict[str, str]:
    return {k: v for k, v in qtqueue_env(tmp_path).items() if k not in _NO_DISPLAY}


def test_without_a_display_the_window_says_what_to_do_instead_of_aborting(
    tmp_path: Path,
) -> None:
    for argv in (["gui"], []):  # `qtqueue gui`, and `qtqueue` alone (what `make run` runs)
        result = subprocess.run(
            [sys.executable, "-m", "qtqueue", "--data-dir", str(tmp_path / "q"), *argv],
            capture_output=True, text=True, env=_without_display(tmp_path), timeout=60,
            check=False,
        )  # fmt: skip
        stderr = refused(result, "SYSTEM_NO_DISPLAY")
        assert "qtqueue run" in stderr and "xvfb-run" in stderr and "--screenshot" in stderr
        assert "platform plugin" not in stderr  # not Qt's own message, and no abort (rc 1)


def test_a_platform_chosen_on_purpose_is_left_to_qt() -> None:
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}, platform="linux") is None
    assert display_problem({}, platform="darwin") is None
    assert display_problem({}, platform="win32") is None


def test_the_x11_library_qt_needs_is_named_with_its_package_when_this_machine_lacks_it() -> None:
    # The library lookup's answer is given (this machine has the library installed).
    lacking = display_problem({"DISPLAY": ":0"}, platform="linux", find_library=lambda _: None)
    assert lacking is not None and lacking.code.value == "SYSTEM_LIBRARY_MISSING"
    assert "libxcb-cursor0" in str(lacking)
    assert "apt-get install libxcb-cursor0" in lacking.suggestion
    on_wayland = {"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}
    assert display_problem(on_wayland, platform="linux", find_library=lambda _: None) is None
    here = {k: v for k, v in os.environ.items() if k not in _NO_DISPLAY} | {"DISPLAY": ":0"}
    assert display_problem(here, platform="linux") is None  # installed here by make test
