"""Text for the terminal from untrusted strings: layer and file names come from the model file.

Rich parses ``[...]`` in plain strings as markup (``attn.qkv[q]`` would lose its ``[q]``) and passes
control characters to the terminal (an ESC in a tensor name could recolour or rewrite the screen), so
every name goes into a table or a line as a :class:`rich.text.Text` made here: no markup, and each
non-printable character shown as its escape (``\\x1b``).
"""

from __future__ import annotations

from rich.text import Text

from netspectra.report.names import printable


def plain(text: object, style: str = "", *, multiline: bool = False) -> Text:
    """A rich Text of ``str(text)``, printable, never read as markup; ``multiline`` keeps line breaks
    (for messages netspectra composes of several lines; a name in a cell shows ``\\n``)."""
    return Text(printable(str(text), keep_newlines=multiline), style=style)
