"""The column declarations: a text table parsed into :class:`Column` rows, the alpha statistics declared once."""

import pytest

from netspectra.diagnose.rollups import AlphaStats
from netspectra.report.columns import ALPHA_STATS_PAGE, ALPHA_STATS_TERMINAL, Column, cells, columns


def test_a_declaration_reads_as_the_table_it_makes():
    table = """
        layer_index  #       d    order of the matrix in the model
        name         layer   -    tensor name
        alpha_z      z       .1f  |Δα| over the error  (two spaces kept in the help)
        stable_rank  stable rk  .1f
    """
    assert columns(table) == (
        Column("layer_index", "#", "d", "order of the matrix in the model"),
        Column("name", "layer", None, "tensor name"),
        Column("alpha_z", "z", ".1f", "|Δα| over the error  (two spaces kept in the help)"),
        Column("stable_rank", "stable rk", ".1f", ""),
    )


def test_a_line_short_of_cells_is_refused():
    with pytest.raises(ValueError, match="needs 3 or 4 cells"):
        cells("name  layer", 4)


def test_the_alpha_statistics_are_one_declaration_named_per_medium():
    assert [c.key for c in ALPHA_STATS_PAGE] == [c.key for c in ALPHA_STATS_TERMINAL]
    assert [c.format for c in ALPHA_STATS_PAGE] == [c.format for c in ALPHA_STATS_TERMINAL]
    assert {c.key for c in ALPHA_STATS_PAGE} <= set(AlphaStats.__dataclass_fields__)
    assert ALPHA_STATS_PAGE[2] == Column("alpha_mean", "mean α", ".2f")
    assert ALPHA_STATS_TERMINAL[2] == Column("alpha_mean", "mean alpha", ".2f")
