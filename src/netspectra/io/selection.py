"""Which weight matrices of a model are analyzed: name patterns and dimension bounds, checked once; the categories
of the reasons a tensor is not."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar

from ..constraints import NONE, Constraint, Interval, Kind, check_constraints
from ..errors import UsageError, one_line


def _compile(pattern: str | None, what: str) -> re.Pattern[str] | None:
    if pattern is None:
        return None
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise UsageError(f"invalid {what} regular expression {pattern!r}: {one_line(exc)}") from None


@dataclass(frozen=True)
class LayerSelection:
    """The layer filter of an analysis, validated when made.

    Attributes
    ----------
    include, exclude : str, optional
        Regular expressions searched (``re.search``) in the tensor name; a split part of a fused QKV
        tensor matches if either its name with suffix (``...c_attn.weight[q]``) or without does.
    min_dim : int
        Skip matrices whose smaller dimension M is below this (default 1: every matrix is kept, and a
        1 x N one gets an error row in the analysis, saying why it has no spectrum).
    max_dim : int, optional
        Skip matrices whose larger dimension N is above this.

    Raises
    ------
    UsageError
        An invalid regular expression, a negative ``min_dim`` or a ``max_dim`` below it.
    """

    include: str | None = None
    exclude: str | None = None
    min_dim: int = 1
    max_dim: int | None = None
    _include: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _exclude: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    _constraints: ClassVar[dict[str, list[Constraint]]] = {
        "include": [NONE, Kind(str)],
        "exclude": [NONE, Kind(str)],
        "min_dim": [Interval(int, 0, None)],
        "max_dim": [NONE, Interval(int, 1, None)],
    }

    def __post_init__(self) -> None:
        check_constraints(self)
        if self.max_dim is not None and self.max_dim < self.min_dim:
            raise UsageError(f"LayerSelection.max_dim = {self.max_dim}: must be >= min_dim = {self.min_dim}")
        object.__setattr__(self, "_include", _compile(self.include, "include"))
        object.__setattr__(self, "_exclude", _compile(self.exclude, "exclude"))

    def describe(self) -> str:
        """The settings that differ from the defaults, as command-line options: ``--include 'attn' --min-dim 64``."""
        given = {"include": self.include, "exclude": self.exclude, "min-dim": self.min_dim, "max-dim": self.max_dim}
        default = {"include": None, "exclude": None, "min-dim": LayerSelection.min_dim, "max-dim": None}
        return " ".join(f"--{k} {v!r}" for k, v in given.items() if v != default[k]) or "the default selection"

    def settings(self) -> dict[str, object]:
        """The four settings as a dict (the keys of a stored run's identity)."""
        return {"include": self.include, "exclude": self.exclude, "min_dim": self.min_dim, "max_dim": self.max_dim}

    def rejects(self, names: tuple[str, ...], shape: tuple[int, int]) -> str | None:
        """Why a matrix with these names (with and without a split suffix) and oriented (N, M) shape is
        skipped, or None when it is kept."""
        if self._include is not None and not any(self._include.search(n) for n in names):
            return "not matched by include"
        if self._exclude is not None and any(self._exclude.search(n) for n in names):
            return "matched by exclude"
        n, m = shape
        if m < self.min_dim:
            return f"smaller dimension {m} < min_dim {self.min_dim}"
        if self.max_dim is not None and n > self.max_dim:
            return f"larger dimension {n} > max_dim {self.max_dim}"
        return None


#: The reasons a tensor is skipped (by :func:`~.layers.plan_tensor` and :meth:`LayerSelection.rejects`, by how each
#: reason starts) and the category counts group them by.
SKIP_CATEGORIES: tuple[tuple[str, str], ...] = (
    ("fewer than 2 dimensions", "1-D or scalar (bias, norm, counter)"),
    ("more than 5 dimensions", "more than 5 dimensions"),
    ("normalization weight", "normalization weight"),
    ("bias or mask buffer", "bias or mask buffer"),
    ("boolean mask", "boolean mask"),
    ("integer buffer", "integer buffer (ids, indices)"),
    ("depthwise conv", "depthwise conv (in-channels 1)"),
    ("name of ", "name too long"),
    ("name is not valid Unicode", "name not valid Unicode"),
    ("not matched by include", "not matched by include"),
    ("matched by exclude", "matched by exclude"),
    ("smaller dimension", "below min_dim"),
    ("larger dimension", "above max_dim"),
)


def skip_category(reason: str) -> str:
    """The category of a skip reason (:data:`SKIP_CATEGORIES`): ``smaller dimension 10 < min_dim 32`` ->
    ``below min_dim``; a reason of no category is its own."""
    return next((category for start, category in SKIP_CATEGORIES if reason.startswith(start)), reason)
