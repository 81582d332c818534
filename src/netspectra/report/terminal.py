"""The terminal writer: every character netspectra sends to a terminal goes through this module.

Layer, tensor and file names come from the model file (and from a results store, itself a file), so
they may hold what a terminal obeys: ``ESC ] 0 ; title BEL`` retitles the window, ``ESC [ 2 J`` clears
it, a carriage return rewrites the line (``bad.weight\\rall layers OK``), ``ESC ] 8 ;;`` makes a link,
U+202E reverses the text that follows.  Rich passes all of them through (it drops only BEL, BS, VT, FF
and CR, so ``ESC ] 0 ; ...`` still reaches the terminal), and reads ``[link=...]`` in a plain string as
markup that it turns into a link itself.  Hence:

* :func:`safe_console` is the only console the command line prints with: markup and emoji codes off, and
  every segment it renders made printable (:func:`~netspectra.report.names.printable`: C0, C1, DEL and
  the bidirectional overrides shown as ``\\x1b``, ``\\x9b``, ``\\u202e``), whatever the renderable: a
  table cell, a title, a progress bar's label, a status line.  Rich's own control sequences (colours,
  cursor moves of a live display) are not text segments and pass;
* :func:`plain` makes a name a :class:`rich.text.Text` before it goes into a table or a line, so that
  rich measures the escaped text it will print (``attn.qkv[q]`` keeps its ``[q]``);
* :func:`warn` and the command line's error line print one line of plain text, escaped the same way.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

from rich.console import Console, ConsoleOptions, RenderableType
from rich.segment import Segment
from rich.text import Text

from netspectra.report.names import printable


def plain(text: object, style: str = "", *, multiline: bool = False) -> Text:
    """A rich Text of ``str(text)``, printable, never read as markup; ``multiline`` keeps line breaks
    (for messages netspectra composes of several lines; a name in a cell shows ``\\n``)."""
    return Text(printable(str(text), keep_newlines=multiline), style=style)


class SafeConsole(Console):
    """A rich console whose rendered text is always printable (see the module docstring).

    Strings are escaped before rich lays them out (:meth:`render_str`), so their width is the escaped
    width; any other renderable (a Text made elsewhere, a progress bar) is escaped segment by segment as
    it is rendered (:meth:`render`), which no call site can bypass.
    """

    def render_str(self, text: str, **kwargs: Any) -> Text:
        """:meth:`rich.console.Console.render_str` of the printable ``text`` (line breaks kept)."""
        return super().render_str(printable(text, keep_newlines=True), **kwargs)

    def render(self, renderable: RenderableType, options: ConsoleOptions | None = None) -> Iterable[Segment]:
        """The segments of ``renderable``, each text segment printable; control segments as they are."""
        for segment in super().render(renderable, options):
            text = segment.text
            if segment.control or text.isprintable() or text == "\n":
                yield segment
            else:
                yield Segment(printable(text, keep_newlines=True), segment.style)


def safe_console(*, stderr: bool = False, width: int | None = None, quiet: bool = False) -> Console:
    """The console of the command line: :class:`SafeConsole` on stdout (or ``stderr``), markup and emoji
    codes off, ``width`` columns (the terminal's when None)."""
    return SafeConsole(stderr=stderr, width=width, quiet=quiet, markup=False, emoji=False)


def warn(message: str) -> None:
    """Print ``netspectra: warning: MESSAGE`` as one printable line on stderr."""
    print(f"netspectra: warning: {printable(message)}", file=sys.stderr)


def progress_label(name: str, width: int) -> str:
    """The label of a progress bar for the layer ``name``: printable, its last ``width`` characters (the
    informative end of ``encoder.layer.11.attention.output.dense.weight``)."""
    return printable(name)[-width:]
