"""Which weight matrices of a model are analyzed: name patterns and dimension bounds, checked once; the categories
of the reasons a tensor is not."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import ClassVar

from ..constraints import NONE, Constraint, Interval, Kind, check_constraints
from ..errors import UsageError, one_line
from .weights import LAYER_KINDS


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
    min_evals, max_evals : int
        Skip matrices with fewer / more eigenvalues than this: M, times the conv positions k of a pooled
        stack (WeightWatcher's ``min_evals``/``max_evals``; its defaults are 8 and 15,000).
    layers : tuple of int, optional
        Keep only the matrices at these positions of the model's weight matrices, counted from 0 in model
        order before any other filter (the ``layer_index`` of an unfiltered ``netspectra describe``).
    kinds : tuple of str, optional
        Keep only matrices of these kinds (``linear``, ``embedding``, ``conv2d``, ...).
    pool : bool
        A conv kernel of k spatial positions is one stack whose eigenvalues are pooled (default), or with
        False k matrices analyzed one by one, named ``<name>[slice i]`` (WeightWatcher's ``pool=False``).

    Raises
    ------
    UsageError
        An invalid regular expression, a negative ``min_dim`` or a ``max_dim`` below it, a ``max_evals``
        below ``min_evals``, an unknown kind.
    """

    include: str | None = None
    exclude: str | None = None
    min_dim: int = 1
    max_dim: int | None = None
    min_evals: int = 0
    max_evals: int | None = None
    layers: tuple[int, ...] | None = None
    kinds: tuple[str, ...] | None = None
    pool: bool = True
    _include: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _exclude: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    _constraints: ClassVar[dict[str, list[Constraint]]] = {
        "include": [NONE, Kind(str)],
        "exclude": [NONE, Kind(str)],
        "min_dim": [Interval(int, 0, None)],
        "max_dim": [NONE, Interval(int, 1, None)],
        "min_evals": [Interval(int, 0, None)],
        "max_evals": [NONE, Interval(int, 1, None)],
        "layers": [NONE, Kind(tuple, "a tuple of integers >= 0", lambda t: all(_is_position(i) for i in t))],
        "kinds": [NONE, Kind(tuple, f"a tuple of {', '.join(LAYER_KINDS)}", lambda t: all(k in LAYER_KINDS for k in t))],
        "pool": [Kind(bool)],
    }

    def __post_init__(self) -> None:
        for name in ("layers", "kinds"):
            value = getattr(self, name)
            if isinstance(value, list):  # a list reads as the tuple it holds (hashable, as the spec must be)
                object.__setattr__(self, name, tuple(value))
        check_constraints(self)
        if self.max_dim is not None and self.max_dim < self.min_dim:
            raise UsageError(f"LayerSelection.max_dim = {self.max_dim}: must be >= min_dim = {self.min_dim}")
        if self.max_evals is not None and self.max_evals < self.min_evals:
            raise UsageError(f"LayerSelection.max_evals = {self.max_evals}: must be >= min_evals = {self.min_evals}")
        object.__setattr__(self, "_include", _compile(self.include, "include"))
        object.__setattr__(self, "_exclude", _compile(self.exclude, "exclude"))

    def describe(self) -> str:
        """The settings that differ from the defaults, as command-line options: ``--include 'attn' --min-dim 64``."""
        default = LayerSelection()
        given = [
            (f"--{name.replace('_', '-')}", value)
            for name, value in self.settings().items()
            if value != getattr(default, name) and name != "pool"
        ]
        shown = [f"{flag} {','.join(map(str, v)) if isinstance(v, tuple) else repr(v)}" for flag, v in given]
        shown += [] if self.pool else ["--no-pool"]
        return " ".join(shown) or "the default selection"

    def settings(self) -> dict[str, object]:
        """The settings (the fields given at construction) as a dict: the keys of a stored run's identity."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.init}

    def rejects(
        self, names: tuple[str, ...], shape: tuple[int, int], *, num_evals: int | None = None, kind: str = "", position: int = -1
    ) -> str | None:
        """Why a matrix with these names (with and without a split suffix), oriented (N, M) shape, number of
        eigenvalues (default M), kind and position in the model's weight matrices is skipped, or None when it
        is kept.  ``kinds`` and ``layers`` apply where the kind and position are given."""
        if self.layers is not None and position >= 0 and position not in self.layers:
            return "not in layers"
        if self.kinds is not None and kind and kind not in self.kinds:
            return f"kind {kind} not in kinds"
        if self._include is not None and not any(self._include.search(n) for n in names):
            return "not matched by include"
        if self._exclude is not None and any(self._exclude.search(n) for n in names):
            return "matched by exclude"
        n, m = shape
        if m < self.min_dim:
            return f"smaller dimension {m} < min_dim {self.min_dim}"
        if self.max_dim is not None and n > self.max_dim:
            return f"larger dimension {n} > max_dim {self.max_dim}"
        evals = m if num_evals is None else num_evals
        if evals < self.min_evals:
            return f"eigenvalues {evals} < min_evals {self.min_evals}"
        if self.max_evals is not None and evals > self.max_evals:
            return f"eigenvalues {evals} > max_evals {self.max_evals}"
        return None


def _is_position(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


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
    ("eigenvalues", "outside min_evals/max_evals"),
    ("not in layers", "not in layers"),
    ("kind ", "not in kinds"),
)


def skip_category(reason: str) -> str:
    """The category of a skip reason (:data:`SKIP_CATEGORIES`): ``smaller dimension 10 < min_dim 32`` ->
    ``below min_dim``; a reason of no category is its own."""
    return next((category for start, category in SKIP_CATEGORIES if reason.startswith(start)), reason)
