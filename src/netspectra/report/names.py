"""Untrusted names (layer and file names come from the model file) made safe to show.

A name may hold control characters (an ESC would reach the terminal), mathtext (``$\\frac{$`` broke
matplotlib), or a million characters; what is shown is printable and of bounded length.
"""

from __future__ import annotations

#: Most characters of a name shown in a figure title; longer names keep their start and end.
TITLE_CHARS = 80


def printable(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with each non-printable character replaced by its backslash escape (``\\x1b``).

    ``keep_newlines`` leaves line breaks in place, for the multi-line messages netspectra composes;
    an error line or a table cell escapes them too.
    """
    if text.isprintable():
        return text
    if keep_newlines:
        return "\n".join(printable(line) for line in text.split("\n"))
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def shortened(text: str, limit: int = TITLE_CHARS) -> str:
    """``text`` if it has at most ``limit`` characters, else its start and end joined by an ellipsis."""
    if len(text) <= limit:
        return text
    head = (limit - 1) // 2
    return f"{text[:head]}…{text[len(text) - (limit - 1 - head) :]}"


def display_name(name: str, limit: int = TITLE_CHARS) -> str:
    """A layer name for a figure: printable and at most ``limit`` characters."""
    return shortened(printable(name), limit)
