"""What every results row shares: its fields are its columns, in order, for ``to_frame`` and the writers."""

from __future__ import annotations

from dataclasses import fields


class TableRow:
    """Mixin of a frozen dataclass whose fields are the columns of a results table."""

    @classmethod
    def columns(cls) -> list[str]:
        """Stable column order: the fields in declaration order."""
        return [f.name for f in fields(cls)]  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, object]:
        """The row as a plain dict, keys in column order."""
        return {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]
