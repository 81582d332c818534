"""How a result class shows itself at a prompt and in a notebook: :class:`Shown`."""

from __future__ import annotations

from typing import ClassVar


class Shown:
    """Mixin of a result whose ``repr`` and ``_repr_html_`` are the functions ``<shown_as>_repr`` and
    ``<shown_as>_html`` of :mod:`netspectra.report.notebook`, imported when the result is first shown (a result
    module loads no report code).  A dataclass using it is declared with ``repr=False``: a generated ``__repr__``
    would hide this one."""

    shown_as: ClassVar[str]

    def __repr__(self) -> str:
        from netspectra.report import notebook

        return getattr(notebook, f"{self.shown_as}_repr")(self)

    def _repr_html_(self) -> str:
        from netspectra.report import notebook

        return getattr(notebook, f"{self.shown_as}_html")(self)
