"""Terminal escape sequences in a command's output, as styled spans (no Qt here).

`AnsiParser.feed` takes output as it arrives and returns `Span`s: text with the style the SGR
sequences (`ESC [ … m`) set before it. Colours 30–37/90–97 and 40–47/100–107, 256 colours
(`38;5;n`) and truecolour (`38;2;r;g;b`), bold, italic, underline and resets are applied; every
other escape (cursor moves, erase, window titles, charsets) and the control characters but
newline and tab are dropped, so nothing raw is ever shown (a carriage return that redraws a
progress line starts a new line). A sequence cut between two chunks
is held until the next one completes it; the style carries over from chunk to chunk.

The marks around what a command wrote to stderr (`qtqueue.core.log_streams`) set `Style.stderr`
(SGR resets leave it: colours inside stderr text still apply). A log shown from somewhere in
its middle (a tail) that begins inside a stderr run, or inside a mark, starts as stderr, or
without the piece of the mark.
"""

from __future__ import annotations

import dataclasses
import logging
import re

from qtqueue.core.log_streams import MARK_END_TEXT, MARK_ERR_TEXT, starts_in_stderr, trim_cut_marks

logger = logging.getLogger(__name__)

__all__ = ["PALETTE", "AnsiParser", "Span", "Style", "color_256", "strip_ansi"]

#: The 16 basic colours (Tango): mid tones that read on a light and on a dark background.
PALETTE: tuple[str, ...] = (
    "#2e3436", "#cc0000", "#4e9a06", "#c4a000", "#3465a4", "#75507b", "#06989a", "#d3d7cf",
    "#555753", "#ef2929", "#8ae234", "#fce94f", "#729fcf", "#ad7fa8", "#34e2e2", "#eeeeec",
)  # fmt: skip

#: An escape sequence: CSI (`ESC [ params final`), OSC (`ESC ] … BEL` or `ESC ] … ESC \`),
#: or a two-or-more byte escape (`ESC ( B`, `ESC M`…); or one control character to drop.
_TOKEN = re.compile(
    r"\x1b\[([0-?]*)[ -/]*([@-~])"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"
    r"|\x1b[ -/]*[0-~]"
    r"|[\x00-\x08\x0b-\x1f\x7f]"
)
_NEEDS_WORK = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
#: How long an unfinished sequence at a chunk's end may be before it is dropped as junk.
_MAX_PENDING = 256
_CUBE = (0, 95, 135, 175, 215, 255)


@dataclasses.dataclass(frozen=True, slots=True)
class Style:
    """How a span is drawn: `fg`/`bg` as `#rrggbb` (None: the view's own), the weights, and
    whether the command wrote it to stderr."""

    fg: str | None = None
    bg: str | None = None
    bold: bool = False
    italic: bool = False
    underline: bool = False
    stderr: bool = False


PLAIN = Style()


@dataclasses.dataclass(frozen=True, slots=True)
class Span:
    """A run of text (escapes removed) and its `style`."""

    text: str
    style: Style = PLAIN


def color_256(n: int) -> str:
    """The `#rrggbb` of xterm colour `n` (0–255; out of range is clamped)."""
    n = max(0, min(255, n))
    if n < 16:
        return PALETTE[n]
    if n < 232:
        n -= 16
        r, g, b = _CUBE[n // 36], _CUBE[(n // 6) % 6], _CUBE[n % 6]
    else:
        r = g = b = 8 + 10 * (n - 232)
    return f"#{r:02x}{g:02x}{b:02x}"


def _extended(codes: list[int], i: int) -> tuple[str | None, int]:
    """The colour of `38;5;n` / `38;2;r;g;b` starting at codes[i] (the 38 or 48), and the
    index after it; a truncated one gives None."""
    if i + 1 < len(codes) and codes[i + 1] == 5:
        if i + 2 < len(codes):
            return color_256(codes[i + 2]), i + 3
        return None, len(codes)
    if i + 1 < len(codes) and codes[i + 1] == 2:
        if i + 4 < len(codes):
            r, g, b = (max(0, min(255, c)) for c in codes[i + 2 : i + 5])
            return f"#{r:02x}{g:02x}{b:02x}", i + 5
        return None, len(codes)
    return None, i + 1


_SGR_CACHE: dict[tuple[Style, str], Style] = {}


def apply_sgr(style: Style, params: str) -> Style:
    """`style` after the SGR sequence with `params` (`"1;31"`; empty is a reset)."""
    key = (style, params)
    found = _SGR_CACHE.get(key)
    if found is None:
        if len(_SGR_CACHE) > 4096:  # truecolour gradients: do not grow without bound
            _SGR_CACHE.clear()
        found = _SGR_CACHE[key] = _apply_sgr(style, params)
    return found


def _apply_sgr(style: Style, params: str) -> Style:
    try:
        codes = [int(p) if p else 0 for p in re.split(r"[;:]", params)] if params else [0]
    except ValueError:
        return style  # private parameters (`?`, `<`…): not a colour
    fg, bg, bold, italic, underline = style.fg, style.bg, style.bold, style.italic, style.underline
    i = 0
    while i < len(codes):
        c = codes[i]
        i += 1
        if c == 0:
            fg, bg, bold, italic, underline = None, None, False, False, False
        elif c == 1:
            bold = True
        elif c == 3:
            italic = True
        elif c == 4:
            underline = True
        elif c == 22:
            bold = False
        elif c == 23:
            italic = False
        elif c == 24:
            underline = False
        elif 30 <= c <= 37:
            fg = PALETTE[c - 30]
        elif 90 <= c <= 97:
            fg = PALETTE[c - 90 + 8]
        elif 40 <= c <= 47:
            bg = PALETTE[c - 40]
        elif 100 <= c <= 107:
            bg = PALETTE[c - 100 + 8]
        elif c == 39:
            fg = None
        elif c == 49:
            bg = None
        elif c in (38, 48):
            color, i = _extended(codes, i - 1)
            if color is not None:
                if c == 38:
                    fg = color
                else:
                    bg = color
        # anything else (blink, inverse, fonts…) is tolerated and ignored
    return Style(fg, bg, bold, italic, underline, style.stderr)


class AnsiParser:
    """Output chunks in, styled spans out; keeps the style and any cut sequence between
    chunks (one parser per log shown)."""

    def __init__(self) -> None:
        self.style = PLAIN
        self._pending = ""
        self._fresh = True

    def reset(self) -> None:
        """Forget the style and any held sequence (a new log is shown)."""
        self.style = PLAIN
        self._pending = ""
        self._fresh = True

    def feed(self, text: str) -> list[Span]:
        """The spans of `text` (escapes applied and removed); adjacent spans differ in style."""
        if self._fresh and text:
            # The first text of a log may be its tail, cut anywhere.
            self._fresh = False
            text = trim_cut_marks(text, end=False)  # a cut end waits for the next chunk
            if starts_in_stderr(text):
                self.style = dataclasses.replace(self.style, stderr=True)
        if self._pending:
            text, self._pending = self._pending + text, ""
        if not _NEEDS_WORK.search(text):
            return [Span(text, self.style)] if text else []
        if "\r" in text:
            # A carriage return alone redraws a progress line: each drawing becomes a line of
            # its own (one at a chunk's end waits to see whether a newline follows).
            if text.endswith("\r"):
                text, self._pending = text[:-1], "\r"
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        cut = text.rfind("\x1b")
        if cut >= 0 and len(text) - cut < _MAX_PENDING and _tail_may_continue(text[cut:]):
            text, self._pending = text[:cut], text[cut:] + self._pending
        spans: list[Span] = []
        pos = 0
        for m in _TOKEN.finditer(text):
            if m.start() > pos:
                _add(spans, text[pos : m.start()], self.style)
            pos = m.end()
            if m.group(2) == "m":
                self.style = apply_sgr(self.style, m.group(1))
            elif m.group(0) in _STREAM_MARKS:
                self.style = _with_stream(self.style, m.group(0) == MARK_ERR_TEXT)
        if pos < len(text):
            _add(spans, text[pos:], self.style)
        return spans


_STREAM_MARKS = (MARK_ERR_TEXT, MARK_END_TEXT)
_STREAM_CACHE: dict[tuple[Style, bool], Style] = {}


def _with_stream(style: Style, stderr: bool) -> Style:
    """`style` for text from stderr (or not); the same object for the same style, so adjacent
    spans merge."""
    if style.stderr == stderr:
        return style
    key = (style, stderr)
    found = _STREAM_CACHE.get(key)
    if found is None:
        if len(_STREAM_CACHE) > 4096:
            _STREAM_CACHE.clear()
        found = _STREAM_CACHE[key] = dataclasses.replace(style, stderr=stderr)
        _STREAM_CACHE[(found, not stderr)] = style
    return found


def _tail_may_continue(tail: str) -> bool:
    """Whether `tail` (from an ESC to the chunk's end) can still become a whole sequence."""
    if len(tail) == 1:
        return True
    second = tail[1]
    if second == "[":
        return re.fullmatch(r"\x1b\[[0-?]*[ -/]*", tail) is not None
    if second == "]":
        return re.fullmatch(r"\x1b\][^\x07\x1b]*\x1b?", tail) is not None
    return re.fullmatch(r"\x1b[ -/]+", tail) is not None


def _add(spans: list[Span], text: str, style: Style) -> None:
    if spans and spans[-1].style is style:
        spans[-1] = Span(spans[-1].text + text, style)
    else:
        spans.append(Span(text, style))


def strip_ansi(text: str) -> str:
    """`text` without escape sequences and control characters (but newlines and tabs)."""
    return _TOKEN.sub("", text)
