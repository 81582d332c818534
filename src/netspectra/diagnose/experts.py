"""The experts of a mixture-of-experts block against each other: the spread of their alphas and the experts
that stand out from their siblings.

Siblings are the rows of one block with one role and an expert index (``expert`` >= 0): the gate
projections of the 8 experts of block 3, say.  An expert stands out when its alpha is far from the median of
its siblings' in units of their median absolute deviation, the modified z-score of Iglewicz & Hoaglin (B.
Iglewicz and D. C. Hoaglin, *How to Detect and Handle Outliers*, ASQC Quality Press, 1993, ch. 3):

    z_i = (alpha_i - median(alpha)) / (1.4826 MAD),   MAD = median |alpha_j - median(alpha)|,

flagged when |z_i| > :data:`EXPERT_OUTLIER_Z` = 3.5, their recommended cut (1.4826 = 1 / Phi^{-1}(3/4) makes
1.4826 MAD the standard deviation of a normal sample: the rule is |alpha_i - median| > 5.19 MAD).  With
MAD = 0 (more than half of the experts have one alpha, e.g. experts copied from one dense MLP and not yet
trained apart) every expert whose alpha differs stands out (z infinite).  A group of fewer than
:data:`MIN_EXPERTS` fitted experts is described but not searched for outliers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from netspectra.defaults import EXPERT_OUTLIER_Z
from netspectra.diagnose.row import LayerReport

#: 1 / Phi^{-1}(3/4): MAD times this estimates the standard deviation of a normal sample.
MAD_TO_SIGMA = 1.4826
#: Fewest fitted siblings among which an outlier is looked for.
MIN_EXPERTS = 3


def robust_z(values: ArrayLike) -> NDArray[np.float64]:
    """Modified z-scores (x_i - median) / (1.4826 MAD) of finite ``values``; +-inf where MAD = 0 and x_i differs
    from the median, 0 where it does not."""
    x = np.asarray(values, dtype=np.float64)
    center = np.median(x)
    deviation = x - center
    mad = float(np.median(np.abs(deviation)))
    if mad > 0:
        return deviation / (MAD_TO_SIGMA * mad)
    return np.where(deviation == 0, 0.0, np.copysign(np.inf, deviation))


@dataclass(frozen=True)
class ExpertOutlier:
    """An expert whose alpha stands out from its siblings'."""

    expert: int
    name: str
    alpha: float
    robust_z: float


@dataclass(frozen=True)
class ExpertSpread:
    """The alphas of the experts of one block and role: their spread and the ones that stand out."""

    stack: str
    block: int
    role: str
    num_experts: int
    num_fitted: int
    alpha_median: float
    alpha_mad: float
    alpha_min: float
    alpha_max: float
    outliers: tuple[ExpertOutlier, ...] = ()

    def to_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["outliers"] = [asdict(o) for o in self.outliers]
        return out


def expert_spreads(rows: Sequence[LayerReport], threshold: float = EXPERT_OUTLIER_Z) -> tuple[ExpertSpread, ...]:
    """One :class:`ExpertSpread` per (stack, block, role) of expert rows, in model order; outliers are the
    fitted experts with |modified z| > ``threshold``."""
    groups: dict[tuple[str, int, str], list[LayerReport]] = {}
    for row in rows:
        if row.expert >= 0:
            groups.setdefault((row.stack, row.block, row.role), []).append(row)
    return tuple(_spread(key, group, threshold) for key, group in groups.items())


def _spread(key: tuple[str, int, str], group: list[LayerReport], threshold: float) -> ExpertSpread:
    fitted = [r for r in group if r.status == "ok" and math.isfinite(r.alpha)]
    alphas = np.array([r.alpha for r in fitted], dtype=np.float64)
    outliers: tuple[ExpertOutlier, ...] = ()
    if alphas.size >= MIN_EXPERTS:
        z = robust_z(alphas)
        outliers = tuple(
            ExpertOutlier(r.expert, r.name, r.alpha, float(score)) for r, score in zip(fitted, z) if abs(score) > threshold
        )
    some = alphas.size > 0
    median = float(np.median(alphas)) if some else math.nan
    return ExpertSpread(
        stack=key[0],
        block=key[1],
        role=key[2],
        num_experts=len(group),
        num_fitted=int(alphas.size),
        alpha_median=median,
        alpha_mad=float(np.median(np.abs(alphas - median))) if some else math.nan,
        alpha_min=float(alphas.min()) if some else math.nan,
        alpha_max=float(alphas.max()) if some else math.nan,
        outliers=outliers,
    )
