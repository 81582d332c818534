"""Declared constraints on settings objects, checked when the object is made.

In the style of scikit-learn's ``_parameter_constraints``: a settings dataclass lists, per field, the
values it accepts (:class:`Interval`, :class:`OneOf`, :class:`Kind`, :data:`NONE`) in a class variable
``_constraints``, and :func:`check_constraints` (called from ``__post_init__``) raises one :class:`~netspectra.errors.UsageError`
naming the class, the field, the value and what is allowed.  A bad setting never reaches an analysis,
so it can never turn into a silent NaN column.

>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class Fit:
...     level: float = 0.95
...     def __post_init__(self) -> None:
...         check_constraints(self, {"level": [OneOf(0.90, 0.95, 0.99)]})
>>> Fit(level=0.5)
Traceback (most recent call last):
...
netspectra.errors.UsageError: Fit.level = 0.5: must be one of 0.9, 0.95, 0.99
"""

from __future__ import annotations

import math
import numbers
import reprlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from netspectra.errors import NetspectraError, UsageError


def short_repr(value: object) -> str:
    """``repr(value)`` of at most 80 characters, computed only that far (the value may be huge)."""
    text = reprlib.repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class Constraint(Protocol):
    """One set of accepted values: ``accepts(value)`` and a phrase for the error message."""

    def accepts(self, value: object) -> bool: ...

    def describe(self) -> str: ...


def _is_integer(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


@dataclass(frozen=True)
class Interval:
    """Numbers of ``kind`` (``int`` or ``float``; an int is a float too) between ``low`` and ``high``.

    ``closed`` says which ends belong to the interval: ``both``, ``left``, ``right`` or ``neither``; an
    end that is None is unbounded.  NaN and infinities are never accepted.
    """

    kind: type
    low: float | None
    high: float | None
    closed: Literal["both", "left", "right", "neither"] = "both"

    def accepts(self, value: object) -> bool:
        if not (_is_integer(value) if self.kind is int else _is_real(value)):
            return False
        try:
            number = float(value)  # type: ignore[arg-type]
        except OverflowError:  # an int past float's range (10**400)
            return False
        if not math.isfinite(number):
            return False
        if self.low is not None:
            if number < self.low or (number == self.low and self.closed in ("right", "neither")):
                return False
        if self.high is not None:
            if number > self.high or (number == self.high and self.closed in ("left", "neither")):
                return False
        return True

    def describe(self) -> str:
        what = "an integer" if self.kind is int else "a number"
        if self.low is None and self.high is None:
            return f"{what} (finite)"
        if self.high is None:
            return f"{what} {'>=' if self.closed in ('both', 'left') else '>'} {self.low:g}"
        if self.low is None:
            return f"{what} {'<=' if self.closed in ('both', 'right') else '<'} {self.high:g}"
        left = "[" if self.closed in ("both", "left") else "("
        right = "]" if self.closed in ("both", "right") else ")"
        return f"{what} in {left}{self.low:g}, {self.high:g}{right}"


@dataclass(frozen=True, init=False)
class OneOf:
    """Exactly one of the listed values (compared with ``==``; True is not 1 here)."""

    values: tuple[object, ...]

    def __init__(self, *values: object) -> None:
        object.__setattr__(self, "values", values)

    def accepts(self, value: object) -> bool:
        return any(isinstance(value, bool) == isinstance(v, bool) and value == v for v in self.values)

    def describe(self) -> str:
        return "one of " + ", ".join(str(v) for v in self.values)


@dataclass(frozen=True)
class Kind:
    """An instance of ``types`` (e.g. ``Kind(str)``), optionally also passing ``test`` (named by ``what``)."""

    types: type | tuple[type, ...]
    what: str = ""
    test: Callable[[Any], bool] | None = None

    def accepts(self, value: object) -> bool:
        return isinstance(value, self.types) and (self.test is None or bool(self.test(value)))

    def describe(self) -> str:
        if self.what:
            return self.what
        types = self.types if isinstance(self.types, tuple) else (self.types,)
        return "of type " + " or ".join(t.__name__ for t in types)


@dataclass(frozen=True)
class _NoneConstraint:
    def accepts(self, value: object) -> bool:
        return value is None

    def describe(self) -> str:
        return "None"


#: The constraint that accepts None (for optional settings).
NONE: Constraint = _NoneConstraint()


def violation(value: object, constraints: Sequence[Constraint]) -> str | None:
    """What ``value`` must be, when none of ``constraints`` accepts it; None when one does."""
    if any(c.accepts(value) for c in constraints):
        return None
    return " or ".join(c.describe() for c in constraints)


def check_value(where: str, value: object, constraints: Sequence[Constraint], error: type[NetspectraError] = UsageError) -> None:
    """Raise ``error`` ``"{where} = {value}: must be ..."`` unless one constraint accepts ``value``
    (:class:`UsageError` for a setting; a reader passes :class:`SourceError` for a field of a file)."""
    allowed = violation(value, constraints)
    if allowed is not None:
        raise error(f"{where} = {short_repr(value)}: must be {allowed}")


def check_constraints(obj: object, constraints: Mapping[str, Sequence[Constraint]] | None = None) -> None:
    """Check every field named in ``constraints`` (default: ``type(obj)._constraints``) of ``obj``.

    Raises
    ------
    UsageError
        ``"ClassName.field = value: must be ..."`` for the first field no constraint accepts.
    """
    table = constraints if constraints is not None else type(obj)._constraints  # type: ignore[attr-defined]
    for name, accepted in table.items():
        check_value(f"{type(obj).__name__}.{name}", getattr(obj, name), accepted)
