"""Parameter settings that vary over the tensors of a model, in mergekit's syntax.

A setting is a scalar, a **gradient** (a list of values spread evenly over the depth of the model: at
relative layer position t in [0, 1], numbers are interpolated linearly between the two nearest list
entries, other values are picked), or **conditions** (a list of ``{filter, value}``: the first whose
``filter`` is a substring of the tensor name, or is missing or ``*``, gives the value; none: unset)::

    density: 0.5
    weight: [0, 0.3, 0.7, 1]
    t:
      - filter: self_attn
        value: [0, 0.5, 0.3, 0.7, 1]
      - value: 0.5

The same rules as mergekit's ``evaluate_setting`` (Goddard et al., "Arcee's MergeKit: A Toolkit for
Merging Large Language Models", EMNLP 2024, industry track), so that its configurations mean the same here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from netspectra.constraints import short_repr
from netspectra.errors import UsageError

#: A single value of a parameter.
Scalar = bool | int | float | str | None


@dataclass(frozen=True)
class Gradient:
    """Values spread evenly over the layers (first at t = 0, last at t = 1)."""

    values: tuple[Scalar, ...]

    def at(self, t: float) -> Scalar:
        """Linear interpolation at t of numbers; the entry at floor(t (n - 1)) of anything else."""
        n = len(self.values)
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in self.values):
            return self.values[int(t * (n - 1))]
        scaled = t * (n - 1)
        i0 = int(scaled)
        i1 = min(n - 1, i0 + 1)
        frac = scaled - i0
        return (1 - frac) * self.values[i0] + frac * self.values[i1]  # type: ignore[operator]


@dataclass(frozen=True)
class Conditions:
    """``(filter, value)`` pairs: the first whose filter is None, ``*`` or a substring of the name applies."""

    branches: tuple[tuple[str | None, Scalar | Gradient], ...]

    def at(self, name: str, t: float) -> Scalar:
        for pattern, value in self.branches:
            if pattern is None or pattern == "*" or (name and pattern in name):
                return value.at(t) if isinstance(value, Gradient) else value
        return None


#: A parameter's setting: one value, a gradient or conditions.
Setting = Scalar | Gradient | Conditions


def parse_setting(value: object, where: str) -> Setting:
    """The setting written as ``value`` (parsed YAML/JSON); its values are checked by the caller.

    Raises
    ------
    UsageError
        An empty list, a list mixing values and conditions, a condition without ``value`` or with another
        key, a filter that is not a string, or a value that is no scalar.
    """
    if isinstance(value, dict):
        return Conditions((_branch(value, where),))
    if isinstance(value, list):
        if not value:
            raise UsageError(f"{where}: an empty list sets nothing")
        if all(isinstance(v, dict) for v in value):
            return Conditions(tuple(_branch(v, f"{where}[{i}]") for i, v in enumerate(value)))
        return _gradient(value, where)
    return _scalar(value, where)


def evaluate(setting: Setting, name: str, t: float) -> Scalar:
    """The value of ``setting`` for tensor ``name`` at relative depth ``t`` (None: no condition applies)."""
    if isinstance(setting, Gradient):
        return setting.at(t)
    if isinstance(setting, Conditions):
        return setting.at(name, t)
    return setting


def leaves(setting: object) -> Iterator[Scalar]:
    """Every value a setting (or a tuple of per-model settings) can give, for checking."""
    if isinstance(setting, tuple):
        for item in setting:
            yield from leaves(item)
    elif isinstance(setting, Gradient):
        yield from setting.values
    elif isinstance(setting, Conditions):
        for _, value in setting.branches:
            yield from leaves(value)
    else:
        yield setting  # type: ignore[misc]


def varies(setting: object) -> bool:
    """Whether the setting depends on the tensor (a gradient or conditions)."""
    return isinstance(setting, (Gradient, Conditions)) or (isinstance(setting, tuple) and any(map(varies, setting)))


def to_plain(setting: object) -> object:
    """The setting as parsed YAML/JSON again (what :func:`parse_setting` reads)."""
    if isinstance(setting, tuple):
        return [to_plain(s) for s in setting]
    if isinstance(setting, Gradient):
        return list(setting.values)
    if isinstance(setting, Conditions):
        return [
            {"value": to_plain(value)} if pattern is None else {"filter": pattern, "value": to_plain(value)}
            for pattern, value in setting.branches
        ]
    return setting


def _branch(entry: dict, where: str) -> tuple[str | None, Scalar | Gradient]:
    unknown = sorted(set(entry) - {"filter", "value"}, key=str)
    if unknown or "value" not in entry:
        raise UsageError(f"{where}: a condition is a mapping with 'value' and optionally 'filter', got {short_repr(entry)}")
    pattern = entry.get("filter")
    if pattern is not None and not isinstance(pattern, str):
        raise UsageError(f"{where}.filter must be a string (a substring of tensor names), got {short_repr(pattern)}")
    value = entry["value"]
    if isinstance(value, list):
        if not value:
            raise UsageError(f"{where}.value: an empty list sets nothing")
        return pattern, _gradient(value, f"{where}.value")
    return pattern, _scalar(value, f"{where}.value")


def _gradient(values: list, where: str) -> Gradient:
    return Gradient(tuple(_scalar(v, f"{where}[{i}]") for i, v in enumerate(values)))


def _scalar(value: object, where: str) -> Scalar:
    if value is not None and not isinstance(value, (bool, int, float, str)):
        raise UsageError(f"{where}: expected a value, a list of values or conditions, got {short_repr(value)}")
    return value
