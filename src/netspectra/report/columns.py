"""The columns of the result tables, declared as the tables they make: one line a column, its cells apart by two
or more spaces.

A declaration reads like the table it lays out::

    layer_index  #      d  order of the matrix in the model
    name         layer  -  tensor name

The cells are the key (the row's field or dict key), the header, the format (a :func:`format` spec, or ``-``
for text) and, where the medium shows one, the help (a page's tooltip).  The alpha statistics of a group of
layers are declared once for the page and the terminal, which only name them differently.
"""

from __future__ import annotations

import re
from typing import NamedTuple

#: What parts the cells of a line: two or more spaces (a header or help may hold single ones).
_CELL_GAP = re.compile(r" {2,}")


class Column(NamedTuple):
    """One column of a table: the key of its value, the header, the format (None: text) and the help."""

    key: str
    header: str
    format: str | None
    help: str = ""


def cells(table: str, count: int) -> list[list[str]]:
    """The cells of each non-blank line of ``table``: ``count`` of them, the last taking the rest of the line.

    Raises
    ------
    ValueError
        A line with fewer than ``count - 1`` cells (the last may be missing: it is then empty).
    """
    rows = []
    for line in filter(None, (line.strip() for line in table.splitlines())):
        row = _CELL_GAP.split(line, maxsplit=count - 1)
        if len(row) < count - 1:
            raise ValueError(f"a column declaration needs {count - 1} or {count} cells: {line!r}")
        rows.append(row + [""] * (count - len(row)))
    return rows


def columns(table: str) -> tuple[Column, ...]:
    """The columns declared in ``table``: key, header, format (``-`` for text) and an optional help."""
    return tuple(Column(key, header, None if fmt == "-" else fmt, help_) for key, header, fmt, help_ in cells(table, 4))


#: The alpha statistics of a group of layers (fields of :class:`~netspectra.diagnose.rollups.AlphaStats`) in the
#: tables by role and by block: field, format, header in a page, header in a terminal (narrower).
_ALPHA_STATS = """
    num_layers         d    layers         layers
    num_fitted         d    fitted         fitted
    alpha_mean         .2f  mean α         mean alpha
    alpha_median       .2f  median α       median
    alpha_min          .2f  min α          min
    alpha_max          .2f  max α          max
    num_under_trained  d    under-trained  under-tr.
    num_over_trained   d    over-trained   over-tr.
"""
#: The alpha statistics of a group of layers in a page (:mod:`netspectra.report.html`).
ALPHA_STATS_PAGE = tuple(Column(key, page, fmt) for key, fmt, page, _ in cells(_ALPHA_STATS, 4))
#: The alpha statistics of a group of layers in a terminal (:mod:`netspectra.report.table`).
ALPHA_STATS_TERMINAL = tuple(Column(key, terminal, fmt) for key, fmt, _, terminal in cells(_ALPHA_STATS, 4))
