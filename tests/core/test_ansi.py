"""Terminal colours in a command's output become styled spans, and no escape is ever shown raw."""

from __future__ import annotations

import pytest

from qtqueue.ui.log_view.ansi import PALETTE, AnsiParser, Span, Style, color_256, strip_ansi

RED, GREEN = PALETTE[1], PALETTE[2]


def text_of(spans: list[Span]) -> str:
    return "".join(s.text for s in spans)


def test_plain_output_is_one_unstyled_span() -> None:
    assert AnsiParser().feed("hello\n\tworld\n") == [Span("hello\n\tworld\n", Style())]


def test_basic_colours_bold_and_reset() -> None:
    spans = AnsiParser().feed("ok \x1b[1;31mFAIL\x1b[0m done \x1b[92mPASS\x1b[m\n")
    assert spans == [
        Span("ok ", Style()),
        Span("FAIL", Style(fg=RED, bold=True)),
        Span(" done ", Style()),
        Span("PASS", Style(fg=PALETTE[10])),
        Span("\n", Style()),
    ]


def test_background_and_default_colour_codes() -> None:
    spans = AnsiParser().feed("\x1b[42;30m X \x1b[39m Y \x1b[49mZ")
    assert spans == [
        Span(" X ", Style(fg=PALETTE[0], bg=GREEN)),
        Span(" Y ", Style(bg=GREEN)),
        Span("Z", Style()),
    ]


def test_256_and_truecolour() -> None:
    spans = AnsiParser().feed("\x1b[38;5;196ma\x1b[48;2;16;32;48mb\x1b[38:5:244mc")
    assert [s.style for s in spans] == [
        Style(fg="#ff0000"),
        Style(fg="#ff0000", bg="#102030"),
        Style(fg="#808080", bg="#102030"),
    ]
    assert color_256(1) == RED and color_256(232) == "#080808" and color_256(999) == "#eeeeee"


def test_other_escapes_are_removed_never_shown() -> None:
    raw = (
        "\x1b]0;my title\x07\x1b[2K\x1b[1Gline\x1b[?25l\x1b(B one\x1b[5m\x1b[7m\x07\b\n"
        "\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\\n"
    )
    assert text_of(AnsiParser().feed(raw)) == "line one\nlink\n"
    assert strip_ansi("\x1b[31mred\x1b[0m\x1b[K") == "red"


def test_a_sequence_cut_between_chunks_is_completed_by_the_next() -> None:
    parser = AnsiParser()
    first = parser.feed("before \x1b[3")
    second = parser.feed("1mred\x1b")
    third = parser.feed("[0m after")
    assert text_of(first) == "before "
    assert second == [Span("red", Style(fg=RED))]
    assert third == [Span(" after", Style())]


def test_style_carries_over_to_the_next_chunk() -> None:
    parser = AnsiParser()
    parser.feed("\x1b[32m")
    assert parser.feed("still green\n") == [Span("still green\n", Style(fg=GREEN))]
    parser.reset()
    assert parser.feed("plain") == [Span("plain", Style())]


@pytest.mark.parametrize(
    ("chunks", "shown"),
    [
        (["10%\r20%\r30%\n"], "10%\n20%\n30%\n"),
        (["a\r", "\nb"], "a\nb"),
        (["dos\r\nline\r\n"], "dos\nline\n"),
    ],
)
def test_carriage_returns(chunks: list[str], shown: str) -> None:
    parser = AnsiParser()
    assert "".join(text_of(parser.feed(c)) for c in chunks) == shown


def test_junk_after_escape_is_dropped_not_shown() -> None:
    assert "\x1b" not in text_of(AnsiParser().feed("a\x1b\nb\x1b[31;xyz"))
