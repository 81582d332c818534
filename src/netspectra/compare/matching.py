"""Pair the weight matrices of two models: by name first, then by shape in model order.

1. **name**: a matrix of A and a matrix of B with the same name and the same shape (N, M and number of
   stacked matrices) are a pair.  Same name with a different shape: neither is paired (reason
   ``shape differs``) — a resized embedding cannot be diffed.
2. **shape**: the matrices left over on both sides are walked in model order; each one of A is paired
   with the first remaining one of B that has its shape.  A renamed copy (``model.`` prefix added,
   ``fc`` renamed ``dense``) is thus paired layer by layer.
3. Whatever is left is reported unmatched (``no counterpart``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from netspectra.io import WeightMatrix
from netspectra.tabular import TableRow

#: Values of :attr:`LayerMatch.matched_by`.
MATCH_KINDS = ("name", "shape")


@dataclass(frozen=True)
class LayerMatch:
    """One pair of matrices, A's and B's, and how they were paired (``name`` or ``shape``)."""

    a: WeightMatrix
    b: WeightMatrix
    matched_by: str


@dataclass(frozen=True)
class Unmatched(TableRow):
    """A matrix of model ``side`` (``a`` or ``b``) without a counterpart, and why."""

    side: str
    name: str
    reason: str


@dataclass(frozen=True)
class Matching:
    """Result of :func:`match_layers`: pairs in A's order and the unmatched matrices of both sides."""

    pairs: tuple[LayerMatch, ...]
    unmatched: tuple[Unmatched, ...]

    @property
    def warning(self) -> str:
        """Why the pairs may be meaningless: no pair matched by name and most pairs matched by shape differ
        in the end of their names too (two unrelated models that happen to share shapes); else ""."""
        if not self.pairs or any(p.matched_by == "name" for p in self.pairs):
            return ""
        alike = sum(_tail(p.a.name) == _tail(p.b.name) for p in self.pairs)
        if alike * 2 >= len(self.pairs):
            return ""  # a renamed copy (a prefix added or removed): the ends of the names still agree
        return (
            f"no layer name in common and {len(self.pairs) - alike} of {len(self.pairs)} shape-matched pairs "
            "differ in name: the models may be unrelated, and the deltas meaningless"
        )


def _tail(name: str) -> str:
    """The last two components of a tensor name (``attn.q_proj.weight`` -> ``q_proj.weight``)."""
    return ".".join(name.split(".")[-2:])


def shape_key(weight: WeightMatrix) -> tuple[int, int, int]:
    """(N, M, number of stacked matrices): what must agree for W_B - W_A to exist."""
    return (*weight.matrix_shape, weight.num_matrices)


def match_layers(a: Sequence[WeightMatrix], b: Sequence[WeightMatrix]) -> Matching:
    """Pair the matrices of A and B by name, then by shape in order (see the module docstring)."""
    by_name_b = {w.name: w for w in b}
    paired: dict[int, LayerMatch | None] = {}
    used_b: set[str] = set()
    unmatched: list[Unmatched] = []
    for i, wa in enumerate(a):
        wb = by_name_b.get(wa.name)
        if wb is None:
            continue
        used_b.add(wb.name)
        if shape_key(wa) == shape_key(wb):
            paired[i] = LayerMatch(wa, wb, "name")
        else:
            paired[i] = None  # consumed: a same-named matrix of another shape is no one's counterpart
            unmatched += [Unmatched("a", wa.name, "shape differs"), Unmatched("b", wb.name, "shape differs")]
    rest_b = [w for w in b if w.name not in used_b]
    for i, wa in enumerate(a):
        if i in paired:
            continue
        j = next((j for j, wb in enumerate(rest_b) if shape_key(wb) == shape_key(wa)), None)
        if j is None:
            unmatched.append(Unmatched("a", wa.name, "no counterpart"))
            continue
        paired[i] = LayerMatch(wa, rest_b.pop(j), "shape")
    unmatched += [Unmatched("b", wb.name, "no counterpart") for wb in rest_b]
    pairs = tuple(paired[i] for i in sorted(paired) if paired[i] is not None)
    return Matching(pairs=pairs, unmatched=tuple(unmatched))
