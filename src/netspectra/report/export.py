"""Write a ModelReport to CSV, Parquet or JSON, chosen by the file extension, atomically.

The file appears complete or not at all: it is written to a temporary file in the same directory and
renamed over the target (``os.replace``), so an interrupted run never leaves a half-written output.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from netspectra.diagnose.model import ModelReport
from netspectra.errors import UsageError

FORMATS = (".csv", ".parquet", ".json")


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


def write_report(report: ModelReport, path: str | Path) -> Path:
    """Write the per-layer table (and for JSON, the summary too) to ``path`` by its extension."""
    path = check_output_path(path)
    suffix = path.suffix.lower()
    frame = report.to_frame()
    if suffix == ".csv":
        atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False))
    elif suffix == ".parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError as exc:
            raise UsageError("Parquet output needs pyarrow: pip install 'netspectra[parquet]'") from exc
        atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))
    else:
        text = json.dumps(report.to_dict(), indent=1, allow_nan=False)
        atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return path
