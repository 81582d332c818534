"""Layer-wise pruning ratios from the power-law exponent alpha (AlphaPruning), and magnitude pruning.

AlphaPruning (Lu et al., "AlphaPruning: Using Heavy-Tailed Self Regularization Theory for Improved
Layer-wise Pruning of Large Language Models", NeurIPS 2024; the authors' ``ww_sparsity``, MIT licence):
a layer with a smaller alpha is better trained and is pruned less.  With the authors' defaults:

* **scope**: the linear layers of the model's repeated blocks (:mod:`netspectra.act.blocks`); embeddings,
  the head and a pooler are not pruned;
* **alpha**: fitted with xmin searched near the peak of the ESD (``alpha_peak``:
  :func:`netspectra.rmt.tail_tests.fit_power_law_xmin_peak`, xmin in [0.95 p, 1.5 p] around the peak p of
  the log-histogram) rather than by the KS scan over the whole spectrum;
* **block-wise mapping**: each matrix's score is the mean alpha of its block (``mapping_type='block_wise'``),
  so the matrices of one block get one ratio;
* **allocation** with epsilon = 0.3, s1 = 1 - epsilon, s2 = 1 + epsilon:

      r_i = s1 + (s2 - s1) (a_i - min a) / (max a - min a),
      s_i = r_i * S * sum_j n_j / sum_j n_j r_j,

  a_i the score, n_i the parameters of matrix i and S the target sparsity, so that the parameter-weighted
  mean of the s_i is S.

``mapping="matrix"`` (each matrix its own score) and ``xmin="ks"`` (the analysis's alpha, xmin by the KS
scan) are the variants.  Two additions to the authors' code: ratios are clipped to [0, ``MAX_SPARSITY``]
with the excess moved to the unclipped matrices (the mapping can exceed 1 at high S), and a matrix whose
score is not known (no fitted alpha in its block) gets the mean ratio r = 1.  Where nothing clips, the
ratios equal ``ww_sparsity``'s (tested on the authors' published alpha_peak values of LLaMA-7B and
LLaMA-2-7B, ``tests/data/alphapruning/``).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from netspectra.act.alpha_map import linear_alpha_map
from netspectra.act.blocks import OUTSIDE_BLOCKS, block_scope
from netspectra.constraints import Constraint, Interval, Kind, OneOf, check_constraints
from netspectra.errors import UsageError
from netspectra.rmt.tail_tests import fit_power_law_xmin_peak
from netspectra.tabular import RowsTable, TableRow

if TYPE_CHECKING:
    from netspectra.diagnose.model import ModelReport
    from netspectra.diagnose.row import LayerReport

#: Largest sparsity given to one layer (a layer pruned entirely breaks the model).
MAX_SPARSITY = 0.99
#: AlphaPruning's default epsilon: relative ratios in [1 - epsilon, 1 + epsilon].
DEFAULT_EPSILON = 0.3
#: The relative ratios of the best- and of the least-trained layer at the default epsilon.
DEFAULT_RANGE = (1.0 - DEFAULT_EPSILON, 1.0 + DEFAULT_EPSILON)
#: How matrices get their score: the mean alpha of their block, or their own alpha.
MAPPINGS = ("block", "matrix")
#: How alpha's xmin is chosen: near the ESD's peak (the authors' alpha_peak) or by the KS scan (the analysis's alpha).
XMIN_RULES = ("peak", "ks")


def _valid_range(value: object) -> bool:
    return (
        len(value) == 2  # type: ignore[arg-type]
        and all(isinstance(v, (int, float)) and math.isfinite(v) for v in value)  # type: ignore[union-attr]
        and 0.0 <= value[0] <= value[1]  # type: ignore[index]
    )


@dataclass(frozen=True)
class PruningOptions:
    """What :func:`plan_pruning` does (module docstring); checked when made.

    Parameters
    ----------
    sparsity : float
        Target fraction S of the in-scope parameters pruned, in [0, MAX_SPARSITY].
    ratio_range : (s1, s2)
        Relative ratios of the best- and of the least-trained score, 0 <= s1 <= s2 (default 1 -/+ 0.3).
    mapping : {"block", "matrix"}
        A matrix's score: the mean alpha of its block, or its own alpha.
    xmin : {"peak", "ks"}
        alpha_peak (xmin near the ESD's peak) or the analysis's alpha (xmin by the KS scan).
    uniform : bool
        Every in-scope matrix at ``sparsity`` (the baseline to compare with).
    """

    sparsity: float
    ratio_range: tuple[float, float] = DEFAULT_RANGE
    mapping: str = "block"
    xmin: str = "peak"
    uniform: bool = False
    _constraints: ClassVar[dict[str, list[Constraint]]] = {
        "sparsity": [Interval(float, 0.0, MAX_SPARSITY)],
        "ratio_range": [Kind((tuple, list), "a pair (s1, s2) with 0 <= s1 <= s2", _valid_range)],
        "mapping": [OneOf(*MAPPINGS)],
        "xmin": [OneOf(*XMIN_RULES)],
        "uniform": [Kind(bool)],
    }

    def __post_init__(self) -> None:
        check_constraints(self)
        object.__setattr__(self, "ratio_range", (float(self.ratio_range[0]), float(self.ratio_range[1])))


def block_scores(alphas: np.ndarray, blocks: Sequence[str]) -> np.ndarray:
    """Each matrix's score: the mean of the fitted (finite) alphas of its block; NaN when its block has none.

    ``ww_sparsity``'s ``block_wise`` mapping: ``np.mean(metrics[i:i + layers_per_block])`` repeated over
    the block's matrices.
    """
    alphas = np.asarray(alphas, dtype=np.float64)
    members: dict[str, list[int]] = defaultdict(list)
    for index, block in enumerate(blocks):
        members[block].append(index)
    scores = np.full(alphas.size, np.nan)
    for indices in members.values():
        fitted = alphas[indices][np.isfinite(alphas[indices])]
        if fitted.size:
            scores[indices] = fitted.mean()
    return scores


def alpha_allocation(
    alphas: np.ndarray,
    sizes: np.ndarray,
    sparsity: float,
    ratio_range: tuple[float, float] = DEFAULT_RANGE,
    blocks: Sequence[str] | None = None,
) -> np.ndarray:
    """Per-matrix sparsities s_i with parameter-weighted mean ``sparsity`` (module docstring).

    Parameters
    ----------
    alphas : array (L,)
        Power-law exponents; NaN for a matrix without a fit.
    sizes : array (L,)
        Parameters per matrix (n_i).
    sparsity : float
        Target fraction S of all parameters pruned, in [0, MAX_SPARSITY].
    ratio_range : (s1, s2)
        Relative ratio of the best- and of the least-trained score, 0 <= s1 <= s2.
    blocks : sequence of str, optional
        The block of each matrix: the score is the block's mean alpha (:func:`block_scores`); None: each
        matrix's own alpha.

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
    scores = np.asarray(alphas, dtype=np.float64) if blocks is None else block_scores(alphas, blocks)
    ratios = linear_alpha_map(scores, ratio_range)
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


def peak_alpha(eigenvalues: np.ndarray, zero_tolerance: float = 0.0) -> float:
    """alpha_peak of a spectrum: the power-law fit with xmin near the ESD's peak; NaN when it cannot be fitted.

    Eigenvalues at or below ``zero_tolerance`` (numerical zeros of a rank-deficient matrix) are left out.
    """
    values = np.asarray(eigenvalues, dtype=np.float64)
    try:
        return float(fit_power_law_xmin_peak(values[values > zero_tolerance]).alpha)
    except ValueError:
        return math.nan


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
    """The sparsity given to one weight matrix: its block, its alpha, the score mapped (block mean or alpha)."""

    name: str
    block: str
    rows: int
    cols: int
    params: int
    alpha: float
    score: float
    sparsity: float


@dataclass(frozen=True)
class PruningPlan(RowsTable):
    """Per-matrix sparsities for a target (``layers``), the matrices left out and why (``excluded``);
    ``to_dict`` is what pruning tools read."""

    source: str
    options: PruningOptions
    layers: tuple[LayerPruning, ...]
    excluded: tuple[tuple[str, str], ...]
    row_type: ClassVar[type] = LayerPruning

    @property
    def target(self) -> float:
        """The target sparsity S."""
        return self.options.sparsity

    @property
    def achieved(self) -> float:
        """Parameter-weighted mean sparsity of the plan."""
        total = sum(layer.params for layer in self.layers)
        return sum(layer.sparsity * layer.params for layer in self.layers) / total if total else 0.0

    def to_dict(self) -> dict[str, object]:
        """JSON/YAML-ready: the method and its settings, ``sparsity`` by layer name, the details, the exclusions."""

        def finite(value: float) -> float | None:
            return value if math.isfinite(value) else None

        options = self.options
        method = "uniform" if options.uniform else "alpha-pruning (Lu et al., NeurIPS 2024)"
        return {
            "method": method,
            "source": self.source,
            "target_sparsity": options.sparsity,
            "ratio_range": list(options.ratio_range),
            "mapping": options.mapping,
            "xmin": options.xmin,
            "achieved_sparsity": self.achieved,
            "sparsity": {layer.name: layer.sparsity for layer in self.layers},
            "layers": [{**layer.to_dict(), "alpha": finite(layer.alpha), "score": finite(layer.score)} for layer in self.layers],
            "excluded": dict(self.excluded),
        }


def _alpha_of(layer: LayerReport, xmin: str) -> float:
    """The layer's alpha under the ``xmin`` rule: the row's (KS scan) or alpha_peak of its eigenvalues."""
    if layer.status != "ok":
        return math.nan
    if xmin == "ks":
        return float(layer.alpha)
    values = layer.eigenvalues
    if values is None or values.size < layer.M * layer.num_matrices:
        raise UsageError(f"{layer.name}: alpha_peak needs the full spectrum (not with --tail-only); or use xmin 'ks'")
    tolerance = 10.0 * layer.M * np.finfo(np.float64).eps * float(values.max())
    return peak_alpha(values, tolerance)


def plan_pruning(
    report: ModelReport,
    sparsity: float,
    ratio_range: tuple[float, float] = DEFAULT_RANGE,
    *,
    mapping: str = "block",
    xmin: str = "peak",
    uniform: bool = False,
) -> PruningPlan:
    """The AlphaPruning plan of an analyzed model (module docstring; :class:`PruningOptions` for the settings).

    The matrices pruned are the rows with status ok or fit-failed, embeddings excluded, inside the
    model's repeated blocks when it has any (:func:`netspectra.act.blocks.block_scope`); the others are
    listed in ``excluded`` with the reason.  A fit-failed row has no alpha (its block's mean, or r = 1).
    """
    options = PruningOptions(sparsity, tuple(ratio_range), mapping, xmin, uniform)  # type: ignore[arg-type]
    excluded: list[tuple[str, str]] = []
    candidates = []
    for layer in report.layers:
        if layer.status == "error":
            excluded.append((layer.name, f"not analyzed: {layer.warning or 'error'}"))
        elif layer.kind == "embedding":
            excluded.append((layer.name, "embedding (a lookup table, not a layer of the computation)"))
        else:
            candidates.append(layer)
    scope = block_scope([layer.name for layer in candidates])
    rows = [layer for layer, block in zip(candidates, scope.blocks) if block is not None]
    blocks = [block for block in scope.blocks if block is not None]
    excluded += [(layer.name, OUTSIDE_BLOCKS) for layer, block in zip(candidates, scope.blocks) if block is None]
    if not rows:
        raise UsageError(f"{report.source}: no analyzed weight matrix to prune")
    sizes = np.array([layer.N * layer.M * layer.num_matrices for layer in rows], dtype=np.float64)
    alphas = np.array([_alpha_of(layer, xmin) for layer in rows], dtype=np.float64)
    scores = block_scores(alphas, blocks) if mapping == "block" else alphas
    if uniform:
        sparsities = np.full(len(rows), sparsity)
    else:
        sparsities = alpha_allocation(scores, sizes, sparsity, options.ratio_range)
    layers = tuple(
        LayerPruning(
            name=layer.name,
            block=block,
            rows=layer.N,
            cols=layer.M,
            params=int(size),
            alpha=float(alpha),
            score=float(score),
            sparsity=float(s),
        )
        for layer, block, size, alpha, score, s in zip(rows, blocks, sizes, alphas, scores, sparsities)
    )
    return PruningPlan(source=report.source, options=options, layers=layers, excluded=tuple(excluded))
