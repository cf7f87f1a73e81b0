"""Helpers of the theme, Help and tray tests: the application's look put back after a test
(the theme and font are the whole application's), and a text's contrast on a background."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication

from qtqueue.ui.theme import ThemeMode, apply_appearance


@pytest.fixture
def plain_look(qapp: QApplication) -> Iterator[None]:
    """Light colours and the system's font after the test, whatever it chose."""
    yield
    apply_appearance(ThemeMode.LIGHT, 0)


def contrast(a: QColor, b: QColor) -> float:
    """The WCAG contrast ratio of two colours (1 to 21; 4.5 is readable body text)."""

    def luminance(c: QColor) -> float:
        def channel(v: float) -> float:
            return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

        return (
            0.2126 * channel(c.redF()) + 0.7152 * channel(c.greenF()) + 0.0722 * channel(c.blueF())
        )

    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)
