"""Names from a model file reach a terminal and a CSV file neutralized, in one place each (issue 25):
the terminal writer (:mod:`netspectra.report.terminal`) and the CSV writer (:func:`netspectra.report.export.write_csv`)."""

from __future__ import annotations

import ast
import csv
import io
import sys
from pathlib import Path

import pytest
from rich.table import Table
from rich.text import Text

from netspectra.report.export import spreadsheet_text, write_csv
from netspectra.report.terminal import progress_label, safe_console, warn

pytestmark = pytest.mark.hardening

PAYLOADS = (
    "\x1b]0;pwned\x07",  # window title
    "\x1b[2J",  # clear screen
    "\x1b]8;;http://evil.example/\x1b\\",  # OSC 8 link
    "\r",
    "\x9b31m",  # 8-bit CSI
    "\x7f",
    "\u202e",  # right-to-left override
)
NAME = "layer" + "".join(PAYLOADS) + ".weight"


class FakeTerminal(io.StringIO):
    """stderr as a terminal: the progress bar draws only on one."""

    def isatty(self) -> bool:
        return True


def _rendered(*renderables: object) -> str:
    out = FakeTerminal()
    console = safe_console(width=300)
    console.file = out
    for r in renderables:
        console.print(r)
    return out.getvalue()


def test_the_safe_console_escapes_every_renderable_whoever_made_it():
    """A str, a Text made without :func:`plain` and a table cell: no payload reaches the output, each is
    shown escaped (a Text drops BEL and CR itself)."""
    table = Table("layer")
    table.add_row(NAME)
    table.add_row(Text(NAME, style="bold red"))
    out = _rendered(NAME, Text(NAME), table)
    for payload in PAYLOADS:
        assert payload not in out
    assert out.count("layer\\x1b]0;pwned") == 4 and out.count("\\x1b[2J") == 4
    assert "\\u202e" in out and "\\r" in out and "\\x9b31m" in out


def test_the_safe_console_reads_no_markup():
    """``[link=...]`` in a name would become an OSC 8 hyperlink that rich writes itself."""
    out = _rendered("[link=http://evil.example/]click[/link] :warning:")
    assert "\x1b]8" not in out and "[link=http://evil.example/]click[/link] :warning:" in out


def test_the_progress_bar_label_is_printable_and_keeps_the_end():
    label = progress_label(NAME, 48)
    assert label.isprintable() and len(label) == 48 and label.endswith("\\u202e.weight")
    assert progress_label("encoder.layer.0.weight", 48) == "encoder.layer.0.weight"


def test_the_live_progress_bar_on_a_terminal_shows_the_name_escaped(monkeypatch):
    from netspectra.commands.common import progress_bar

    fake = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", fake)
    with progress_bar("analyzing") as advance:
        advance(1, 2, NAME)
    out = fake.getvalue()
    assert "\\x9b31m\\x7f\\u202e.weight" in out  # drawn (the end of the name), and escaped
    for payload in PAYLOADS:
        assert payload == "\r" or payload not in out  # rich's live display returns the cursor with CR itself


def test_a_warning_is_one_printable_line(capsys):
    warn(f"worst {NAME}: zeroed")
    err = capsys.readouterr().err
    assert err.startswith("netspectra: warning: worst layer\\x1b]0;pwned") and err.count("\n") == 1
    assert all(payload not in err for payload in PAYLOADS)


def test_no_console_is_made_outside_the_terminal_writer():
    """Every console of the package is :func:`safe_console`; a ``rich.console.Console(...)`` made anywhere
    else would print names unescaped."""
    package = Path(__file__).parents[2] / "src" / "netspectra"
    makers = []
    for path in package.rglob("*.py"):
        if path.name == "terminal.py" and path.parent.name == "report":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "Console":
                makers.append(f"{path.relative_to(package)}:{node.lineno}")
    assert makers == []


@pytest.mark.parametrize(
    ("text", "cell"),
    [
        ('=HYPERLINK("http://evil.example/","x")', '\'=HYPERLINK("http://evil.example/","x")'),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3.weight", "'-2+3.weight"),
        ("@SUM(1+1)", "'@SUM(1+1)"),
        ("\tx", "'\\tx"),
        ("\r=1", "'\\r=1"),
        ("a\x1b[2J\u202e", "a\\x1b[2J\\u202e"),
        ("-0.5", "-0.5"),
        ("-inf", "-inf"),
        ("+1e3", "+1e3"),
        ("-\u0661", "'-\u0661"),  # float() reads an Arabic-Indic 1, a spreadsheet does not
        ("layers.0.weight", "layers.0.weight"),
        ("", ""),
    ],
)
def test_spreadsheet_text(text, cell):
    assert spreadsheet_text(text) == cell


def test_csv_cells_are_neutralized_and_numbers_stay_numbers(tmp_path):
    path = write_csv(
        tmp_path / "t.csv",
        ["name", "x", "n", "ok", "missing"],
        [
            {"name": "=1+1", "x": -0.5, "n": -3, "ok": True, "missing": None},
            {"name": "b\x1b[2J", "x": float("nan"), "n": 2, "ok": False, "missing": float("-inf")},
        ],
    )
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows == [
        ["name", "x", "n", "ok", "missing"],
        ["'=1+1", "-0.5", "-3", "True", ""],
        ["b\\x1b[2J", "", "2", "False", "-inf"],
    ]
