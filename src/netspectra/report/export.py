"""Write results (a model report, a comparison, a compatibility report) to CSV, Parquet or JSON, chosen by
the file extension, atomically.

The file appears complete or not at all (:func:`netspectra.atomic.atomic_write`), so an interrupted run
never leaves a half-written output.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from netspectra.atomic import atomic_write, check_parent
from netspectra.errors import UsageError
from netspectra.report.names import printable

if TYPE_CHECKING:
    from netspectra.diagnose.model import ModelReport

FORMATS = (".csv", ".parquet", ".json")
#: Formats of a document for other tools (pruning ratios, layers to fine-tune): JSON or YAML.
DOCUMENT_FORMATS = (".json", ".yaml", ".yml")
#: Formats of figure files.
PLOT_FORMATS = ("png", "svg")


def write_document(path: Path, document: dict[str, object]) -> None:
    """Write ``document`` atomically as JSON (``.json``) or YAML (``.yaml``/``.yml``, keys in order)."""
    if path.suffix.lower() == ".json":
        text = json.dumps(document, indent=1) + "\n"
    else:
        import yaml

        text = yaml.safe_dump(document, sort_keys=False)
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def check_output_path(path: str | Path, formats: tuple[str, ...] = FORMATS) -> Path:
    """Refuse, before any work, an output path with an extension not in ``formats``, a missing directory,
    or a directory in its place."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in formats:
        raise UsageError(f"{path}: unknown output format {suffix or '(none)'}; use one of {', '.join(formats)}")
    check_parent(path)
    if path.is_dir():
        raise UsageError(f"{path}: is a directory; give a file name")
    return path


def write_results(
    path: str | Path, columns: list[str], rows: Callable[[], Iterable[dict[str, object]]], document: Callable[[], dict]
) -> Path:
    """Write the table (``columns``, ``rows()``) as CSV or Parquet, or ``document()`` as JSON, by the extension
    of ``path``, atomically.

    ``document`` is JSON-ready (non-finite floats already None); for a model report it holds the layer
    rows and the summary, so JSON carries more than the table.  CSV is written by :func:`write_csv`;
    Parquet (pandas and pyarrow) and JSON keep every text as it is.
    """
    path = check_output_path(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        text = json.dumps(document(), indent=1, allow_nan=False)
        atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
        return path
    if suffix == ".csv":
        return write_csv(path, columns, rows())
    try:
        import pyarrow  # noqa: F401
    except ImportError as exc:
        raise UsageError("Parquet output needs pyarrow: pip install 'netspectra[parquet]'") from exc
    import pandas as pd

    table = pd.DataFrame(list(rows()), columns=columns)
    atomic_write(path, lambda tmp: table.to_parquet(tmp, index=False))
    return path


def write_csv(path: str | Path, columns: list[str], rows: Iterable[dict[str, object]]) -> Path:
    """Write the table (``columns``, ``rows``) to ``path`` as CSV, atomically; every CSV netspectra writes is
    written here.

    Cell for cell as ``pandas.DataFrame.to_csv(index=False)`` writes it (empty for NaN and None, floats in
    their shortest round-trip form), by the standard library, except that each text is a
    :func:`spreadsheet_text`: names come from the model file, and a spreadsheet runs a cell that begins
    with ``=`` (``=HYPERLINK(...)``, ``+cmd|' /C calc'!A0``).
    """
    path = Path(path)
    atomic_write(path, lambda tmp: _write_csv(tmp, columns, rows))
    return path


def _write_csv(path: Path, columns: list[str], rows: Iterable[dict[str, object]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([_cell(row[name]) for name in columns] for row in rows)


def _cell(value: object) -> str:
    """A CSV cell as pandas writes it: '' for None and NaN, the shortest round-trip repr of a float; a text
    made a :func:`spreadsheet_text`."""
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (float, np.floating)):
        return "" if math.isnan(value) else repr(float(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return spreadsheet_text(str(value))


def spreadsheet_text(text: str) -> str:
    """``text`` as a CSV cell that a spreadsheet shows as the text it is, never runs as a formula.

    Control characters are escaped visibly (:func:`~netspectra.report.names.printable`: a CSV is also
    read with ``cat``), and a cell that would begin with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
    return gets a leading apostrophe, as the OWASP guidance on CSV injection asks
    (https://owasp.org/www-community/attacks/CSV_Injection), so that a spreadsheet shows it as text.  A
    text that is an ASCII number (``-0.5``, ``-inf``) is left as it is: a spreadsheet reads it as that
    number, which runs nothing.  Numeric cells are numbers, not texts, and never change.
    """
    shown = printable(text)
    return "'" + shown if text[:1] in _FORMULA_LEADS and not _is_number(text) else shown


#: First characters that make a spreadsheet read a cell as a formula (OWASP, CSV injection).
_FORMULA_LEADS = frozenset("=+-@\t\r")


def _is_number(text: str) -> bool:
    if not text.isascii():  # float() also reads other scripts' digits, which a spreadsheet does not
        return False
    try:
        float(text)
    except ValueError:
        return False
    return True


def write_report(report: ModelReport, path: str | Path) -> Path:
    """Write the per-layer table (and for JSON, the summary too) to ``path`` by its extension."""
    return write_results(path, report.columns(), report.rows, report.to_dict)
