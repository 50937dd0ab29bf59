"""The TA's terminal: student text is shown as written, Rich markup escaped, control characters made visible."""

from __future__ import annotations

import pytest
from rich.console import Console

from grader.cli import main
from grader.terminal import plain, safe

from conftest import FIXTURES, ROOT

HOSTILE = ("the output is [batch, length, channels], it needs transposing back [/] [link=https://example.invalid]"
           "click[/link] \x1b]52;c;b3duZWQ=\x07\x1b]0;owned\x07\x9b31m")


def printed(text: str) -> str:
    console = Console(record=True, width=400, emoji=False)
    console.print(text)
    return console.export_text()


def test_brackets_print_as_written() -> None:
    assert printed(safe("the output is [batch, length, channels], it needs transposing back")) == (
        "the output is [batch, length, channels], it needs transposing back\n")


def test_closing_tags_and_links_are_text_not_markup() -> None:
    shown = printed(safe(HOSTILE))
    assert "[/]" in shown and "[link=https://example.invalid]click[/link]" in shown


def test_control_characters_are_replaced_by_visible_escapes() -> None:
    assert plain(HOSTILE).endswith(r"\x1b]52;c;b3duZWQ=\x07\x1b]0;owned\x07\x9b31m")
    assert plain("bell\a, carriage\rreturn, bidi\u202e") == r"bell\x07, carriage\rreturn, bidi\u202e"
    assert plain("two\nlines\ttab") == "two\nlines\ttab"
    assert plain("alice\n", one_line=True) == r"alice\n"


@pytest.mark.slow
def test_check_shows_a_hostile_error_safely(capsys, monkeypatch) -> None:
    """`grader check` on a notebook whose error message carries markup and escape sequences: no crash, no escape
    sequence reaches the terminal, the text is shown as written; check titles keep their shapes."""
    import os

    from grader import cli

    for console in (cli.console, cli.errors):
        monkeypatch.setattr(console, "width", 400)  # one line per row, so the text can be found whole
    os.chdir(ROOT)
    assert main(["check", str(FIXTURES / "adversarial_terminal_escapes.ipynb"), "--exercise", "conv1d"]) == 0
    captured = capsys.readouterr()
    shown = captured.out + captured.err
    assert "\x1b" not in captured.out + captured.err and "\x9b" not in captured.out + captured.err
    assert "the output is [batch, length, channels], it needs transposing back [/]" in shown
    assert "[link=https://example.invalid]click[/link]" in shown
    assert r"\x1b]52;c;b3duZWQ=\x07" in shown
    assert "[batch, out_channels, length]" in shown
