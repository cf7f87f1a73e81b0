"""Light, dark or the system's colours, and the font size: applied to the whole application,
live, from the saved settings (`app/theme`, `app/fontSize`).

The window's own colours (status colours, error text, the wait and question banners, the
paused label) are written for a light background. `adapt(light)` gives the colour to use
instead on the active theme, and `themed(css)` does the same for every colour of a style
sheet, so that a module keeps its light colours and wraps them (`themed("color: #dc2626;")`).
When the theme changes, `restyle()` swaps the colours of the style sheets already set, and
the palette change repaints the rest.

"Follow the system" reads `QStyleHints.colorScheme()` (Qt 6.5+) and follows its change
signal. Light and dark use the Fusion style with an explicit palette, so that dark is dark
where the platform gives no dark palette (Windows' native style, offscreen, most X11 setups);
the system's own style comes back when light is chosen again.
"""

from __future__ import annotations

import logging
import re
from enum import StrEnum

from PySide6.QtCore import QObject, QSettings, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QFontMetrics, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory, QTableView, QWidget
from shiboken6 import isValid

logger = logging.getLogger(__name__)

#: The smallest and largest font size the setting accepts (points; 0: the system's).
MIN_FONT_PT = 6
MAX_FONT_PT = 32


class ThemeMode(StrEnum):
    """Which colours the window uses."""

    SYSTEM = "system"
    LIGHT = "light"
    DARK = "dark"


#: Where the window keeps the theme and the font size (`QSettings`, with the rest of `app/`).
KEY_THEME = "app/theme"
KEY_FONT_SIZE = "app/fontSize"


def saved_theme(settings: QSettings) -> ThemeMode:
    """The saved theme (`system` where none is saved, or a value no mode has)."""
    value = str(settings.value(KEY_THEME, ThemeMode.SYSTEM.value))
    try:
        return ThemeMode(value)
    except ValueError:
        logger.warning("ignoring the setting %s: not one of %s", KEY_THEME, list(ThemeMode))
        return ThemeMode.SYSTEM


def saved_font_size(settings: QSettings) -> int:
    """The saved font size in points (0, the system's, where none or a bad one is saved)."""
    try:
        size = int(str(settings.value(KEY_FONT_SIZE, 0)))
    except (TypeError, ValueError):
        logger.warning("ignoring the setting %s: not a whole number", KEY_FONT_SIZE)
        return 0
    if size and not MIN_FONT_PT <= size <= MAX_FONT_PT:
        logger.warning(
            "ignoring the setting %s: not 0 or %d to %d points",
            KEY_FONT_SIZE,
            MIN_FONT_PT,
            MAX_FONT_PT,
        )
        return 0
    return size


#: The words the settings dialog shows for each mode.
THEME_LABELS: dict[ThemeMode, str] = {
    ThemeMode.SYSTEM: "Follow the system",
    ThemeMode.LIGHT: "Light",
    ThemeMode.DARK: "Dark",
}

#: Each light colour the window's modules use, and the colour that reads on a dark
#: background in its place (same meaning: red stays red, amber banners stay amber).
DARK_COLORS: dict[str, str] = {
    # errors
    "#dc2626": "#f87171",
    "#c62828": "#ef7a78",
    "#b91c1c": "#fca5a5",
    # warnings, the paused label, the questions badge
    "#b45309": "#fbbf24",
    "#ea580c": "#fb923c",
    # the wait banner and the question box (background, text, border)
    "#fef3c7": "#3d2e0a",
    "#78350f": "#fde68a",
    "#f59e0b": "#d08a12",
    "#fffbeb": "#2f2712",
    # the keyring warning
    "#fff4e5": "#3a2a14",
    "#5f3a00": "#fcd9a0",
    "#f0b25a": "#b7791f",
    # status colours
    "#6b7280": "#a1a8b3",
    "#2563eb": "#6ea8fe",
    "#0e7490": "#38c6e0",
    "#15803d": "#4ade80",
    # grey text
    "#666666": "#a8a8a8",
    "#666": "#a9a9a9",
    "#222222": "#e6e6e6",
}
_LIGHT_COLORS = {dark: light for light, dark in DARK_COLORS.items()}
_HEX = re.compile(r"#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{3})\b")

#: Whether the dark colours are in use (set by `apply_theme`; None: not applied, read the
#: application's palette).
_dark: bool | None = None


def palette_is_dark(palette: QPalette) -> bool:
    """Whether `palette` draws light text on a dark window."""
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def is_dark() -> bool:
    """Whether the application shows the dark colours now."""
    if _dark is not None:
        return _dark
    return QGuiApplication.instance() is not None and palette_is_dark(QGuiApplication.palette())


def adapt(light: str, dark: bool | None = None) -> str:
    """The colour to draw `light` (a "#rrggbb" of the table) in on the active theme (or on
    dark when `dark`); a colour the table does not know is returned as it is."""
    use_dark = is_dark() if dark is None else dark
    return DARK_COLORS.get(light.lower(), light) if use_dark else light


def color(light: str) -> QColor:
    """`adapt(light)` as a QColor."""
    return QColor(adapt(light))


def themed(css: str, dark: bool | None = None) -> str:
    """`css` with each colour swapped for the active theme's (or dark's / light's)."""
    use_dark = is_dark() if dark is None else dark
    table = DARK_COLORS if use_dark else _LIGHT_COLORS
    return _HEX.sub(lambda m: table.get(m.group(0).lower(), m.group(0)), css)


def dark_palette() -> QPalette:
    """The dark palette (Fusion's roles, all three colour groups)."""
    p = QPalette()
    roles = QPalette.ColorRole
    for role, value in (
        (roles.Window, "#2b2b2b"),
        (roles.WindowText, "#e6e6e6"),
        (roles.Base, "#1f1f1f"),
        (roles.AlternateBase, "#272727"),
        (roles.ToolTipBase, "#383838"),
        (roles.ToolTipText, "#f0f0f0"),
        (roles.PlaceholderText, "#8c8c8c"),
        (roles.Text, "#e6e6e6"),
        (roles.Button, "#353535"),
        (roles.ButtonText, "#e6e6e6"),
        (roles.BrightText, "#ff6b6b"),
        (roles.Light, "#4a4a4a"),
        (roles.Midlight, "#3e3e3e"),
        (roles.Mid, "#2a2a2a"),
        (roles.Dark, "#1a1a1a"),
        (roles.Shadow, "#0d0d0d"),
        (roles.Highlight, "#3d6fd1"),
        (roles.HighlightedText, "#ffffff"),
        (roles.Link, "#6ea8fe"),
        (roles.LinkVisited, "#b794f4"),
    ):
        p.setColor(role, QColor(value))
    disabled = QPalette.ColorGroup.Disabled
    for role in (roles.WindowText, roles.Text, roles.ButtonText):
        p.setColor(disabled, role, QColor("#7a7a7a"))
    p.setColor(disabled, roles.Highlight, QColor("#4a4a4a"))
    p.setColor(disabled, roles.Base, QColor("#262626"))
    return p


def system_is_dark() -> bool:
    """Whether the platform asks for dark colours (Qt 6.5+; False where it cannot say)."""
    hints = QGuiApplication.styleHints()
    scheme = getattr(hints, "colorScheme", None)
    return scheme is not None and scheme() == Qt.ColorScheme.Dark


def restyle(widgets: list[QWidget] | None = None, dark: bool | None = None) -> int:
    """Swap the colours of the style sheets set on `widgets` (default: every widget) for the
    active theme's; returns how many changed."""
    changed = 0
    for widget in QApplication.allWidgets() if widgets is None else widgets:
        css = widget.styleSheet()
        if css and (new := themed(css, dark)) != css:
            widget.setStyleSheet(new)
            changed += 1
    return changed


class Appearance(QObject):
    """The application's theme and font size (one per application: `Appearance.of(app)`).

    `apply(mode, font_pt)` sets both; in SYSTEM mode the platform's colour scheme changes are
    followed."""

    def __init__(self, app: QApplication) -> None:
        super().__init__(app)
        self.setObjectName("qtqueueAppearance")
        self.app = app
        #: The style and font the application started with (light and the system default).
        self.system_style = app.style().name()
        self.system_font = QFont(app.font())
        self.mode = ThemeMode.SYSTEM
        self.font_pt = 0
        hints = QGuiApplication.styleHints()
        if hasattr(hints, "colorSchemeChanged"):
            hints.colorSchemeChanged.connect(self._system_changed)

    @classmethod
    def of(cls, app: QApplication | None = None) -> Appearance:
        """The application's `Appearance`, made on first use."""
        app = app or _application()
        found = app.findChild(Appearance, "qtqueueAppearance")
        return found if found is not None else cls(app)

    @property
    def dark(self) -> bool:
        """Whether the dark colours are in use."""
        return self.mode == ThemeMode.DARK or (self.mode == ThemeMode.SYSTEM and system_is_dark())

    def apply(self, mode: ThemeMode, font_pt: int = 0) -> None:
        """Use `mode`'s colours and a `font_pt`-point font (0: the system's) everywhere."""
        self.mode = mode
        self._apply_colors()
        self.set_font_size(font_pt)

    def _apply_colors(self) -> None:
        global _dark
        dark = self.dark
        wanted = "fusion" if dark else self.system_style
        if self.app.style().name().lower() != wanted.lower():
            # Only when it changes: a new style resets what widgets sized from the old one.
            style = QStyleFactory.create(wanted) or QStyleFactory.create("Fusion")
            self.app.setStyle(style)
        self.app.setPalette(dark_palette() if dark else self.app.style().standardPalette())
        _dark = dark
        changed = restyle(dark=dark)
        logger.info(
            "theme %s (%s): %d style sheets recoloured",
            self.mode.value,
            "dark" if dark else "light",
            changed,
        )

    def set_font_size(self, font_pt: int) -> None:
        """A `font_pt`-point application font (0: the system's), applied to every widget."""
        self.font_pt = font_pt
        font = QFont(self.system_font)
        if font_pt > 0:
            font.setPointSize(font_pt)
        if font == self.app.font():
            return
        # Tables size their rows once, from the font they had: grow or shrink them with it.
        tables = [w for w in self.app.allWidgets() if isinstance(w, QTableView)]
        sizes: list[tuple[QTableView, int]] = []
        for table in tables:
            rows = table.verticalHeader()
            new = QFontMetrics(table.font().resolve(font), table).height()
            ratio = new / max(1, QFontMetrics(table.font(), table).height())
            sizes.append((table, round(rows.defaultSectionSize() * ratio)))
        self.app.setFont(font)
        # Once the font has reached them (a header keeps rows at least as tall as its font).
        QTimer.singleShot(0, lambda: _resize_rows(sizes))

    def _system_changed(self, *_args: object) -> None:
        if self.mode == ThemeMode.SYSTEM:
            self._apply_colors()


def _resize_rows(sizes: list[tuple[QTableView, int]]) -> None:
    for table, size in sizes:
        if isValid(table):
            table.verticalHeader().setDefaultSectionSize(size)


def _application() -> QApplication:
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        raise RuntimeError("the theme needs a QApplication")
    return app


def apply_appearance(mode: ThemeMode, font_pt: int = 0) -> Appearance:
    """Apply `mode` and `font_pt` to the running application (see `Appearance`)."""
    appearance = Appearance.of()
    appearance.apply(mode, font_pt)
    return appearance
