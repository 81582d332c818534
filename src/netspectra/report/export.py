"""Write results (a model report, a comparison, a compatibility report) to CSV, Parquet or JSON, chosen by
the file extension, atomically.

The file appears complete or not at all: it is written to a temporary file in the same directory and
renamed over the target (``os.replace``), so an interrupted run never leaves a half-written output.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from netspectra.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

    from netspectra.diagnose.model import ModelReport

FORMATS = (".csv", ".parquet", ".json")
#: Formats of figure files.
PLOT_FORMATS = ("png", "svg")


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary path beside ``path``, then rename it to ``path``.

    The temporary file is removed if ``write`` fails or is interrupted.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise UsageError(f"{path}: directory {path.parent} does not exist")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.fchmod(fd, 0o666 & ~_umask())  # mkstemp creates 0600; give the file the usual permissions
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def check_output_path(path: str | Path) -> Path:
    """Refuse, before any work, an output path with an unknown extension or a missing directory."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise UsageError(f"{path}: unknown output format {suffix or '(none)'}; use one of {', '.join(FORMATS)}")
    if not path.parent.is_dir():
        raise UsageError(f"{path}: directory {path.parent} does not exist")
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_results(path: str | Path, frame: Callable[[], pd.DataFrame], document: Callable[[], dict]) -> Path:
    """Write ``frame()`` as CSV or Parquet, or ``document()`` as JSON, by the extension of ``path``, atomically.

    ``document`` is JSON-ready (non-finite floats already None); for a model report it holds the layer
    rows and the summary, so JSON carries more than the table.
    """
    path = check_output_path(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        text = json.dumps(document(), indent=1, allow_nan=False)
        atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
        return path
    table = frame()
    if suffix == ".csv":
        atomic_write(path, lambda tmp: table.to_csv(tmp, index=False))
        return path
    try:
        import pyarrow  # noqa: F401
    except ImportError as exc:
        raise UsageError("Parquet output needs pyarrow: pip install 'netspectra[parquet]'") from exc
    atomic_write(path, lambda tmp: table.to_parquet(tmp, index=False))
    return path


def write_report(report: ModelReport, path: str | Path) -> Path:
    """Write the per-layer table (and for JSON, the summary too) to ``path`` by its extension."""
    return write_results(path, report.to_frame, report.to_dict)
