"""Layer-wise pruning ratios from the power-law exponent alpha (AlphaPruning), and magnitude pruning.

AlphaPruning (Lu et al., "AlphaPruning: Using Heavy-Tailed Self Regularization Theory for Improved
Layer-wise Pruning of Large Language Models", NeurIPS 2024): a layer with a smaller alpha is better
trained and is pruned less.  Its allocation, as in the authors' code (``ww_sparsity``):

    r_i = s1 + (s2 - s1) (alpha_i - min alpha) / (max alpha - min alpha),
    s_i = r_i * S * sum_j n_j / sum_j n_j r_j,

with n_i the parameters of layer i and S the target sparsity, so that the parameter-weighted mean of
the s_i is S (defaults s1 = 0.8, s2 = 1.2: the least trained layer is pruned 1.5 times as much as the
best trained one).  Two additions here: ratios are clipped to [0, ``MAX_SPARSITY``] with the excess
moved to the unclipped layers (the paper's mapping can exceed 1 at high S), and a layer without a
fitted alpha gets the mean ratio r = 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from netspectra.act.alpha_map import linear_alpha_map
from netspectra.errors import UsageError
from netspectra.tabular import RowsTable, TableRow

if TYPE_CHECKING:
    from netspectra.diagnose.model import ModelReport

#: Largest sparsity given to one layer (a layer pruned entirely breaks the model).
MAX_SPARSITY = 0.99
#: AlphaPruning's default range of the relative ratios [s1, s2].
DEFAULT_RANGE = (0.8, 1.2)


def alpha_allocation(
    alphas: np.ndarray, sizes: np.ndarray, sparsity: float, ratio_range: tuple[float, float] = DEFAULT_RANGE
) -> np.ndarray:
    """Per-layer sparsities s_i with parameter-weighted mean ``sparsity`` (module docstring).

    Parameters
    ----------
    alphas : array (L,)
        Power-law exponents; NaN for a layer without a fit (it gets r = 1).
    sizes : array (L,)
        Parameters per layer (n_i).
    sparsity : float
        Target fraction S of all parameters pruned, in [0, MAX_SPARSITY].
    ratio_range : (s1, s2)
        Relative ratio of the best- and of the least-trained layer, 0 <= s1 <= s2.

    Returns
    -------
    ndarray (L,)
        s_i in [0, MAX_SPARSITY], sum(s n) = S sum(n) (to rounding).
    """
    sizes = np.asarray(sizes, dtype=np.float64)
    s1, s2 = ratio_range
    if not 0.0 <= sparsity <= MAX_SPARSITY:
        raise UsageError(f"sparsity must lie in [0, {MAX_SPARSITY}], got {sparsity}")
    if not 0.0 <= s1 <= s2:
        raise UsageError(f"ratio range must satisfy 0 <= s1 <= s2, got {ratio_range}")
    ratios = linear_alpha_map(alphas, ratio_range)
    budget = sparsity * sizes.sum()
    out = np.zeros_like(ratios)
    free = np.ones(ratios.size, dtype=bool)
    for _ in range(ratios.size):  # water-filling: clip, move the excess to the unclipped layers
        remaining = budget - (out[~free] * sizes[~free]).sum()
        weight = (ratios[free] * sizes[free]).sum()
        out[free] = ratios[free] * remaining / weight if weight > 0 else 0.0
        over = free & (out > MAX_SPARSITY)
        if not over.any():
            break
        out[over] = MAX_SPARSITY
        free &= ~over
    return out


def magnitude_prune(matrix: np.ndarray, sparsity: float) -> np.ndarray:
    """``matrix`` with its ``round(sparsity * size)`` smallest-magnitude entries set to zero."""
    count = int(round(sparsity * matrix.size))
    if count <= 0:
        return matrix.copy()
    flat = np.abs(matrix).reshape(-1)
    cut = np.argpartition(flat, count - 1)[:count]
    pruned = matrix.copy().reshape(-1)
    pruned[cut] = 0
    return pruned.reshape(matrix.shape)


@dataclass(frozen=True)
class LayerPruning(TableRow):
    """The sparsity given to one weight matrix."""

    name: str
    rows: int
    cols: int
    params: int
    alpha: float
    sparsity: float


@dataclass(frozen=True)
class PruningPlan(RowsTable):
    """Per-layer sparsities for a target (``layers``); ``to_dict`` is what pruning tools read."""

    source: str
    target: float
    ratio_range: tuple[float, float]
    layers: tuple[LayerPruning, ...]
    row_type: ClassVar[type] = LayerPruning

    @property
    def achieved(self) -> float:
        """Parameter-weighted mean sparsity of the plan."""
        total = sum(layer.params for layer in self.layers)
        return sum(layer.sparsity * layer.params for layer in self.layers) / total if total else 0.0

    def to_dict(self) -> dict[str, object]:
        """JSON/YAML-ready: the method, target, range, and ``sparsity`` by layer name (plus the details)."""
        return {
            "method": "alpha-pruning (Lu et al., NeurIPS 2024)",
            "source": self.source,
            "target_sparsity": self.target,
            "ratio_range": list(self.ratio_range),
            "achieved_sparsity": self.achieved,
            "sparsity": {layer.name: layer.sparsity for layer in self.layers},
            "layers": [{**layer.to_dict(), "alpha": None if math.isnan(layer.alpha) else layer.alpha} for layer in self.layers],
        }


def plan_pruning(
    report: ModelReport, sparsity: float, ratio_range: tuple[float, float] = DEFAULT_RANGE, *, uniform: bool = False
) -> PruningPlan:
    """The AlphaPruning plan of an analyzed model (``uniform``: every layer at ``sparsity``, the baseline).

    Layers are the report's rows with status ok or fit-failed, embeddings excluded (AlphaPruning prunes
    the blocks' matrices; an embedding row is a lookup table, not a layer of the computation).
    """
    rows = [layer for layer in report.layers if layer.status != "error" and layer.kind != "embedding"]
    if not rows:
        raise UsageError(f"{report.source}: no analyzed weight matrix to prune")
    sizes = np.array([layer.N * layer.M * layer.num_matrices for layer in rows], dtype=np.float64)
    alphas = np.array([layer.alpha for layer in rows], dtype=np.float64)
    sparsities = np.full(len(rows), sparsity) if uniform else alpha_allocation(alphas, sizes, sparsity, ratio_range)
    layers = tuple(
        LayerPruning(name=layer.name, rows=layer.N, cols=layer.M, params=int(size), alpha=float(alpha), sparsity=float(s))
        for layer, size, alpha, s in zip(rows, sizes, alphas, sparsities)
    )
    return PruningPlan(source=report.source, target=sparsity, ratio_range=ratio_range, layers=layers)
