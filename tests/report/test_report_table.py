"""The terminal table on narrow and wide terminals (``COLUMNS=60`` / ``200``)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from netspectra import ModelReport
from netspectra.report.table import TABLE_COLUMNS, print_report

LONG = "encoder.layer.11.attention.self.query_key_value.weight"


def printed(report: ModelReport, width: int) -> list[str]:
    out = io.StringIO()
    print_report(report, Console(file=out, width=width, color_system=None, force_terminal=False))
    return out.getvalue().splitlines()


@pytest.fixture()
def report(small_report):
    first, *rest = small_report.layers
    flagged = first.with_columns(name=LONG, warnings=("over-trained", "large-entries"))
    return ModelReport(source="m.safetensors", layers=(flagged, *rest))


def test_narrow_terminal_keeps_alpha_and_the_warning_labels(report):
    lines = printed(report, 60)
    assert max(map(len, lines)) <= 60
    header = next(line for line in lines if "layer" in line and "alpha" in line)
    assert "warning" in header and "alpha_w" not in header
    table = "\n".join(lines)
    assert "over-trained," in table and "large-entries" in table  # folded, not cut
    assert "…" in table and "query_key_value" in table  # long names keep their informative end


def test_wide_terminal_shows_every_column_and_whole_names(report):
    lines = printed(report, 200)
    assert max(map(len, lines)) <= 200
    header = next(line for line in lines if "layer" in line and "alpha" in line)
    # the names (blocks.N.random) say a block but no role and no expert: those two columns are left out
    assert all(c.header in header for c in TABLE_COLUMNS if c.key not in ("role", "expert"))
    assert " role " not in header and "expert" not in header
    assert LONG.removesuffix(".weight") in "\n".join(lines)


def test_roles_blocks_and_experts_show_where_the_names_say_them(report):
    """Issue 26: the role, block and expert columns, the table by role and the experts that stand out."""
    first, *rest = report.layers
    experts = [
        first.with_columns(name=f"model.layers.3.mlp.experts.down_proj[{e}]", role="expert_down", block=3, expert=e, alpha=a)
        for e, a in enumerate((3.0, 3.1, 2.9, 3.05, 9.0))
    ]
    moe = ModelReport(source="m.safetensors", layers=(*experts, *rest))
    text = "\n".join(printed(moe, 200))
    header = next(line for line in text.splitlines() if "layer" in line and "alpha" in line)
    assert all(c.header in header for c in TABLE_COLUMNS)
    assert "by role" in text and "expert_down" in text
    assert "1 stand out from their siblings" in text
    assert "block 3 expert_down: expert 4 alpha 9.00 against median 3.05" in text


def test_names_print_verbatim_and_the_verdict_ends_the_output(report):
    """Brackets are not markup ([q] stays), control characters are shown as escapes, not sent to the
    terminal; the last lines are the phases with their meaning and the verdict sentence."""
    from netspectra.report.verdict import reading

    first, second, *rest = report.layers
    odd = (first.with_columns(name="h.0.attn.c_attn.weight[q]"), second.with_columns(name="x\x1b[31mred[/bold]"), *rest)
    odd_report = ModelReport(source="m.safetensors", layers=odd)
    text = "\n".join(printed(odd_report, 200))
    assert "h.0.attn.c_attn.weight[q]".removesuffix(".weight") in text or "c_attn.weight[q]" in text
    assert "\x1b" not in text and "x\\x1b[31mred[/bold]" in text
    assert text.rstrip().endswith(reading(odd_report.summary, odd_report.layers).split()[-1])
    assert "verdict: " in text and "phases (Martin & Mahoney 2021):" in text


def test_a_model_of_more_layers_than_the_table_holds_prints_the_first_and_says_so(report, monkeypatch):
    """Rich lays a row out in about a millisecond: 200k layers would print for minutes, so the terminal
    table stops at MAX_TABLE_ROWS and its caption says where every layer is."""
    import netspectra.report.table as table

    monkeypatch.setattr(table, "MAX_TABLE_ROWS", 2)
    names = [layer.name.removesuffix(".weight") for layer in report.layers]
    text = "\n".join(printed(report, 200))
    assert names[1] in text and names[2] not in text
    assert f"the first 2 of {len(report.layers)} layers; -o FILE.csv or --json gives every layer" in text
    monkeypatch.setattr(table, "MAX_TABLE_ROWS", len(report.layers))
    assert "the first" not in "\n".join(printed(report, 200))
