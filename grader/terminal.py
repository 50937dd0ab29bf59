"""Text from notebooks and submission folders, made safe for the TA's terminal.

Rich reads `[...]` as markup (a student's "[batch, length]" would vanish, "[/]" would crash the command, "[link=…]"
would become a hyperlink), and a terminal obeys control sequences (OSC 52 writes the clipboard, OSC 0 the window
title). Every piece of student text passes through `safe` before Rich sees it.
"""

from __future__ import annotations

import re

from rich.markup import escape

# C0 controls but tab and newline, DEL, C1 controls, and the bidirectional overrides that reorder what is shown.
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
CONTROL_OR_NEWLINE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _visible(match: re.Match[str]) -> str:
    """The character as Python writes it in a string literal: ESC becomes \\x1b, a newline \\n."""
    return repr(match.group())[1:-1]


def plain(text: object, one_line: bool = False) -> str:
    """`text` with every control character replaced by its visible escape (and newlines too when `one_line`)."""
    return (CONTROL_OR_NEWLINE if one_line else CONTROL).sub(_visible, str(text))


def safe(text: object, one_line: bool = False) -> str:
    """`text` for Rich: control characters made visible, then markup escaped, so it prints exactly as written."""
    return escape(plain(text, one_line))
