"""Every column of a layer row is a typed attribute (``layer.alpha -> float``), generated from the column groups.

``src/netspectra/diagnose/row_attributes.py`` is written by this file: ``python tests/diagnose/test_row_attributes.py``
rewrites it from the fields of the groups of :data:`netspectra.diagnose.row.GROUP_PATHS` (the one place each
column is declared); the test below regenerates it and fails when the file differs.
"""

import ast
import inspect
import math
import sys
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

from netspectra.diagnose import row as row_module
from netspectra.diagnose.row import GROUP_PATHS, LayerIdentity, LayerReport, OutcomeColumns, PowerLawColumns

GENERATED = Path(row_module.__file__).with_name("row_attributes.py")

HEADER = '''"""Typed attributes of every column of a layer row, for type checkers and IDEs: ``layer.alpha`` is a ``float``.

Generated from the column groups of :mod:`netspectra.diagnose.row` (:data:`~netspectra.diagnose.row.GROUP_PATHS`)
by ``python tests/diagnose/test_row_attributes.py``; do not edit.  That test fails when this file and the groups
differ.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from netspectra.diagnose.row import (
{imports}
    )


class RowAttributes:
    """Mixin of :class:`~netspectra.diagnose.row.LayerReport`: each field of its column groups as a read-only attribute."""

{groups}
'''


def generated_source() -> str:
    """The text of row_attributes.py for the groups as they are declared now."""
    top = {f.name: f.type for f in fields(LayerReport) if f.name != "eigenvalues"}
    imports = "\n".join(f"        {kind}," for kind in sorted(set(top.values())))
    groups = "\n".join(f"    {name}: {kind}" for name, kind in top.items())
    properties = []
    for path, kind in GROUP_PATHS.items():
        for field in fields(kind):
            properties.append(
                f"    @property\n"
                f"    def {field.name}(self) -> {field.type}:\n"
                f'        """The ``{field.name}`` field of :class:`~netspectra.diagnose.row.{kind.__name__}`."""\n'
                f"        return self.{'.'.join(path)}.{field.name}\n"
            )
    text = HEADER.format(imports=imports, groups=groups) + "\n" + "\n".join(properties)
    return text


def test_the_generated_attributes_are_those_of_the_groups():
    assert GENERATED.read_text() == generated_source(), (
        f"{GENERATED} is out of date with the column groups: run python tests/diagnose/test_row_attributes.py"
    )


def test_every_column_is_a_property_with_its_type_and_no_getattr_fallback():
    assert "__getattr__" not in vars(LayerReport)
    hints = {}
    for kind in GROUP_PATHS.values():
        hints.update({f.name: f.type for f in fields(kind)})
    for column in LayerReport.columns():
        attribute = "warnings" if column == "warning" else column
        prop = inspect.getattr_static(LayerReport, attribute)
        assert isinstance(prop, property), column
        assert prop.fget.__annotations__["return"] == hints[attribute], column
    tree = ast.parse(GENERATED.read_text())
    assert not [node for node in ast.walk(tree) if isinstance(node, ast.Name) and node.id == "Any"]
    with pytest.raises(AttributeError):
        LayerReport(LayerIdentity("w", 0, "linear", 4, 2, 2.0, 1, 2)).no_such_column  # noqa: B018


def test_attributes_read_the_groups():
    layer = LayerReport(
        LayerIdentity("w", 3, "linear", 4, 2, 2.0, 1, 2),
        power_law=PowerLawColumns(alpha=2.5),
        outcome=OutcomeColumns(status="fit-failed", warnings=("fit-failed: 1 non-zero eigenvalues (< 10)",)),
        eigenvalues=np.ones(2),
    )
    assert (layer.name, layer.layer_index, layer.alpha, layer.status) == ("w", 3, 2.5, "fit-failed")
    assert math.isnan(layer.mp_area) and layer.htmp_prefers_mp is None and layer.phase == ""
    assert layer.warnings == ("fit-failed: 1 non-zero eigenvalues (< 10)",)
    assert layer.to_dict()["warning"] == layer.warning == "fit-failed: 1 non-zero eigenvalues (< 10)"
    assert layer.with_columns(alpha=3.0).alpha == 3.0


@pytest.mark.parametrize(
    "status, warnings, success, message",
    [
        ("ok", (), True, "analyzed"),
        ("ok", ("under-trained", "large-entries"), True, "analyzed; warnings: under-trained; large-entries"),
        ("fit-failed", ("fit-failed: 3 non-zero eigenvalues (< 10)",), False, "no power-law fit: 3 non-zero eigenvalues (< 10)"),
        ("error", ("matrix holds NaN or Inf",), False, "not analyzed: matrix holds NaN or Inf"),
    ],
)
def test_success_and_message_like_scipy_results(status, warnings, success, message):
    layer = LayerReport(
        LayerIdentity("w", 0, "linear", 4, 2, 2.0, 1, 2), outcome=OutcomeColumns(status=status, warnings=warnings)
    )
    assert (layer.success, layer.message) == (success, message)


if __name__ == "__main__":
    GENERATED.write_text(generated_source())
    print(f"wrote {GENERATED}", file=sys.stderr)
