"""Terminal and CSV injection (issue 25): names from a model file (or a results store) that a terminal
would obey or a spreadsheet would run, through every command that prints them or writes them to CSV.

The harness already fails a case on any C0/C1 control character on stdout or stderr; the checks here
add the bidirectional overrides, the escaped form of each name being shown (not dropped), and every
CSV cell: no control character, no cell a spreadsheet reads as a formula, numbers left numbers.
"""

from __future__ import annotations

import csv
import re
import sqlite3
from pathlib import Path

import numpy as np

from round3 import Case, Outcome

#: Layer names: a window title (OSC 0), a clear screen (CSI 2 J), a carriage return that rewrites the
#: line, an OSC 8 link, rich markup for a link, a right-to-left override, an 8-bit CSI, DEL; and the
#: formula cells of the OWASP CSV-injection page (=, +, -, @).
HOSTILE_NAMES = (
    "a\x1b]0;pwned\x07.weight",
    "b\x1b[2J.weight",
    "c\rall layers OK.weight",
    "d\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\.weight",
    "[link=http://evil.example/]e[/link].weight",
    "f\u202egnp.exe.weight",
    "g\x9b31m.weight",
    "h\x7f.weight",
    '=HYPERLINK("http://evil.example/","x").weight',
    "+cmd|' /C calc'!A0.weight",
    "-2+3.weight",
    "@SUM(1+1).weight",
)
#: What the terminal must show for some of them (escaped, not dropped).
SHOWN = ("a\\x1b]0;pwned\\x07", "b\\x1b[2J", "c\\rall layers OK", "f\\u202egnp.exe", "example/]e[/link]")

_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _model(path: Path, names: tuple[str, ...] = HOSTILE_NAMES, seed: int = 0, rows: int = 48) -> Path:
    from safetensors.numpy import save_file

    rng = np.random.default_rng(seed)
    save_file({name: rng.standard_normal((rows, 40)).astype(np.float32) for name in names}, str(path))
    return path


def _shown(folder: Path, outcome: Outcome) -> None:
    for stream in (outcome.stdout, outcome.stderr):
        assert not _BIDI.search(stream), f"bidirectional override reached the terminal: {stream[:300]!r}"
    text = "".join(outcome.stdout.split())  # the table may fold a long name
    for name in SHOWN:
        assert "".join(name.split()) in text, f"{name!r} not shown: {outcome.stdout[:2000]!r}"


def _csv_safe(path: Path, *, names: bool = True, negative: bool = True) -> None:
    """Every cell of the CSV at ``path``: printable, never a formula, numbers left numbers (``negative``: some
    negative number is there, unquoted)."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert len(rows) > 1, f"{path}: no rows"
    cells = [cell for row in rows for cell in row]
    for cell in cells:
        assert not _UNPRINTABLE.search(cell), f"{path}: control character in cell {cell!r}"
        assert cell[:1] not in ("=", "+", "-", "@") or _is_number(cell), f"{path}: formula cell {cell!r}"
    assert not negative or any(c.startswith("-") for c in cells), f"{path}: no negative number left as a number"
    if names:
        text = "\n".join(cells)
        for quoted in ("'=HYPERLINK(", "'+cmd|", "'-2+3", "'@SUM(", "a\\x1b]0;pwned\\x07"):
            assert quoted in text, f"{path}: {quoted!r} missing"


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _then(*checks: object) -> object:
    def check(folder: Path, outcome: Outcome) -> None:
        for c in checks:
            c(folder, outcome)  # type: ignore[operator]

    return check


def _analyze(folder: Path) -> list[str]:
    _model(folder / "m.safetensors")
    return ["analyze", "m.safetensors", "-o", "out.csv"]


def _compare(folder: Path) -> list[str]:
    _model(folder / "a.safetensors", seed=1)
    _model(folder / "b.safetensors", seed=2)
    return ["compare", "a.safetensors", "b.safetensors", "-o", "out.csv"]


def _stored(folder: Path) -> Path:
    from netspectra.cli import main

    _model(folder / "m.safetensors")
    assert main(["analyze", str(folder / "m.safetensors"), "--store", str(folder / "s.db"), "--quiet"]) == 0
    return folder / "s.db"


def _forged_store(folder: Path) -> Path:
    """A store whose text columns (written by anyone who can write the file) hold escapes."""
    db = _stored(folder)
    with sqlite3.connect(db) as c:
        c.execute("UPDATE runs SET started = '2026\x1b]0;pwned\x07\x1b[2J', label = 'l\x1b[2J'")
        c.execute("UPDATE layers SET phase = 'p\x1b]0;pwned\x07', kind = 'k\x1b[2J', warning = 'w\x1b[2J: detail'")
    c.close()
    return db


def _runs_list(folder: Path) -> list[str]:
    _forged_store(folder)
    return ["runs", "--store", "s.db"]


def _runs_show(folder: Path) -> list[str]:
    _stored(folder)
    return ["runs", "--store", "s.db", "--show", "1", "-o", "out.csv"]


def _runs_show_forged(folder: Path) -> list[str]:
    _forged_store(folder)
    return ["runs", "--store", "s.db", "--show", "1", "-o", "out.csv"]


def _compress(folder: Path) -> list[str]:
    _model(folder / "m.safetensors", names=("a\x1b]0;pwned\x07\x1b[2J\rall layers OK.weight",))
    return ["compress", "m.safetensors", "-o", "c.safetensors", "--force", "--method", "mp-edge", "--min-dim", "2"]


def _compress_warned(folder: Path, outcome: Outcome) -> None:
    assert outcome.stderr.startswith("netspectra: warning:"), outcome.stderr
    assert "a\\x1b]0;pwned\\x07\\x1b[2J\\rall layers OK" in outcome.stderr


def _track(folder: Path) -> list[str]:
    (folder / "run").mkdir()
    for step in (1, 2):
        _model(folder / "run" / f"step_{step}.safetensors", seed=step)
    return ["track", "run", "-o", "out.csv"]


def _rank(folder: Path) -> list[str]:
    for i, name in enumerate(('=HYPERLINK("evil")', "+cmd|' -C calc'!A0", "-2+3", "@SUM(1+1)")):
        _model(folder / f"{name}.safetensors", names=("x.weight", "y.weight"), seed=i)
    return ["rank", "-o", "out.csv", "--", *sorted(p.name for p in folder.glob("*.safetensors"))]


def _rank_csv(folder: Path, outcome: Outcome) -> None:
    _csv_safe(folder / "out.csv", names=False, negative=False)
    text = (folder / "out.csv").read_text()
    for quoted in ("'=HYPERLINK(", "'+cmd|", "'-2+3", "'@SUM("):
        assert quoted in text, f"{quoted!r} missing: {text}"


def _merge_check(folder: Path) -> list[str]:
    _model(folder / "a.safetensors", seed=1)
    _model(folder / "b.safetensors", seed=2)
    return ["merge-check", "a.safetensors", "b.safetensors", "-o", "out.csv"]


def _prune(folder: Path) -> list[str]:
    _model(folder / "m.safetensors")
    return ["prune", "m.safetensors", "--sparsity", "0.5", "-o", "ratios.json"]


def _select_layers(folder: Path) -> list[str]:
    _model(folder / "m.safetensors")
    return ["select-layers", "m.safetensors", "--top", "0.5", "-o", "layers.yaml"]


def _csv(folder: Path, outcome: Outcome) -> None:
    _csv_safe(folder / "out.csv")


def _csv_names(folder: Path, outcome: Outcome) -> None:
    _csv_safe(folder / "out.csv", negative=False)


CASES = [
    Case("analyze: escapes in layer names, formulas in CSV cells", _analyze, "ok", check=_then(_shown, _csv)),
    Case("compare: escapes and formulas from both models", _compare, "ok", check=_then(_shown, _csv)),
    Case("runs: a store's run times hold escapes", _runs_list, "ok"),
    Case("runs --show: layer names from the store, to the terminal and CSV", _runs_show, "ok", check=_then(_shown, _csv)),
    Case("runs --show: a forged store's phase, kind and warning hold escapes", _runs_show_forged, "ok", check=_csv),
    Case("compress --force: the damage warning names a layer with escapes and a CR", _compress, "ok", check=_compress_warned),
    Case("track: escapes and formulas in the track CSV", _track, "ok", check=_csv_names),
    Case("rank: model file names that are formulas", _rank, "ok", check=_rank_csv),
    Case("merge-check: escapes and formulas in the compatibility CSV", _merge_check, "ok", check=_csv_names),
    Case("prune: the ratio table shows escaped names", _prune, "ok"),
    Case("select-layers: the selection table shows escaped names", _select_layers, "ok"),
]
