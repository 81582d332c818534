"""What every results row shares: its fields are its columns, in order, for ``to_frame`` and the writers; in
JSON, a NaN or infinite value is null."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import fields
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import pandas as pd


def finite_or_none(value: object) -> object:
    """``value``, or None for a NaN or infinite float (JSON has neither)."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def finite_row(row: Mapping[str, object]) -> dict[str, object]:
    """A copy of ``row`` whose NaN and infinite floats are None (:func:`finite_or_none`)."""
    return {key: finite_or_none(value) for key, value in row.items()}


class TableRow:
    """Mixin of a frozen dataclass whose fields are the columns of a results table."""

    @classmethod
    def columns(cls) -> list[str]:
        """Stable column order: the fields in declaration order."""
        return [f.name for f in fields(cls)]  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, object]:
        """The row as a plain dict, keys in column order."""
        return {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]


class RowsTable:
    """Mixin of a result whose ``layers`` are rows of one type (:attr:`row_type`, with ``columns()`` and
    ``to_dict()``): the table as plain rows (for the writers, no pandas) or as a DataFrame."""

    layers: tuple[Any, ...]
    row_type: ClassVar[type]

    def columns(self) -> list[str]:
        """Column order of the table."""
        return self.row_type.columns()

    def rows(self) -> list[dict[str, object]]:
        """One dict per row, keys in column order."""
        return [layer.to_dict() for layer in self.layers]

    def finite_rows(self) -> list[dict[str, object]]:
        """:meth:`rows` for JSON: NaN and infinite floats as None."""
        return [finite_row(row) for row in self.rows()]

    def to_frame(self) -> pd.DataFrame:
        """One DataFrame row per layer, columns in :meth:`columns` order."""
        import pandas as pd

        return pd.DataFrame(self.rows(), columns=self.columns())
