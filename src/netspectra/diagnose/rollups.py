"""Aggregates of a model's rows by role and by transformer block (the ``role``, ``stack`` and ``block`` columns).

Each aggregate is an :class:`AlphaStats` over its rows: how many, how many with a power-law fit (status
``ok``), the mean, median, smallest and largest alpha of those, and how many carry the ``under-trained``
(alpha > 6) and ``over-trained`` (alpha < 2) labels.  Groups come in model order (the order of their first
row).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import TypeVar

import numpy as np

from netspectra.diagnose.row import LayerReport

K = TypeVar("K")


@dataclass(frozen=True)
class AlphaStats:
    """Counts and alpha statistics of a group of rows (alpha over the fitted ones; NaN when none is)."""

    num_layers: int
    num_fitted: int
    alpha_mean: float
    alpha_median: float
    alpha_min: float
    alpha_max: float
    num_under_trained: int
    num_over_trained: int

    @classmethod
    def of(cls, rows: Sequence[LayerReport]) -> AlphaStats:
        alphas = np.array([r.alpha for r in rows if r.status == "ok"], dtype=np.float64)
        alphas = alphas[np.isfinite(alphas)]
        some = alphas.size > 0
        return cls(
            num_layers=len(rows),
            num_fitted=int(alphas.size),
            alpha_mean=float(alphas.mean()) if some else math.nan,
            alpha_median=float(np.median(alphas)) if some else math.nan,
            alpha_min=float(alphas.min()) if some else math.nan,
            alpha_max=float(alphas.max()) if some else math.nan,
            num_under_trained=sum(_labelled(r, "under-trained") for r in rows),
            num_over_trained=sum(_labelled(r, "over-trained") for r in rows),
        )


def _labelled(row: LayerReport, label: str) -> bool:
    return any(w.startswith(label) for w in row.warnings)


@dataclass(frozen=True)
class RoleRollup:
    """The rows of one role (``attn_q``, ``mlp_down``, ``expert_up``, ...)."""

    role: str
    stats: AlphaStats

    def to_dict(self) -> dict[str, object]:
        return {"role": self.role, **asdict(self.stats)}


@dataclass(frozen=True)
class BlockRollup:
    """The rows of one transformer block (``block`` >= 0) of one stack."""

    stack: str
    block: int
    stats: AlphaStats

    def to_dict(self) -> dict[str, object]:
        return {"stack": self.stack, "block": self.block, **asdict(self.stats)}


def _groups(rows: Iterable[LayerReport], key: Callable[[LayerReport], K]) -> dict[K, list[LayerReport]]:
    out: dict[K, list[LayerReport]] = {}
    for row in rows:
        out.setdefault(key(row), []).append(row)
    return out


def role_rollups(rows: Sequence[LayerReport]) -> tuple[RoleRollup, ...]:
    """One :class:`RoleRollup` per role present, in model order."""
    return tuple(RoleRollup(role, AlphaStats.of(group)) for role, group in _groups(rows, lambda r: r.role).items())


def block_rollups(rows: Sequence[LayerReport]) -> tuple[BlockRollup, ...]:
    """One :class:`BlockRollup` per (stack, block) with block >= 0, in model order."""
    inside = (r for r in rows if r.block >= 0)
    return tuple(
        BlockRollup(stack, block, AlphaStats.of(group))
        for (stack, block), group in _groups(inside, lambda r: (r.stack, r.block)).items()
    )
