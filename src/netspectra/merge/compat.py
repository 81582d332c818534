"""Spectral compatibility of one layer across models: pure functions of the layer's matrices.

For the matrices W_1..W_n of one layer in the models being merged, and the task vectors tau_i = M_i - B
against the base B, five criteria, each with a (caution, incompatible) threshold pair in
:class:`Thresholds` (the number of eigenvalues above the Tracy–Widom bulk edge, ``spikes_min`` and
``spikes_max``, is reported alongside; Johnstone, Ann. Stat. 2001).  The spectral criteria compare the
models with each other, not with the base: fine-tuning legitimately grows norms and spikes.

===================  ===========================================================================================
criterion            definition
===================  ===========================================================================================
erank_spread         (max - min) / max of the effective ranks exp(H(s / sum s)) (Roy & Vetterli, EUSIPCO 2007)
spectral_norm_ratio  max / min of ||W_i||_2
sigma2_ratio         max / min of the Marchenko–Pastur noise level sigma^2 = median(lambda) / mu_beta of each
                     W_i (Gavish & Donoho, IEEE TIT 2014), lambda the eigenvalues of W^T W / N
rel_distance         max_i ||M_i - R||_F / ||R||_F, R the base (else the mean of the models): how far the
                     models are from a common point; fine-tunes of one base are close, unrelated models are not
interference         max over pairs of task vectors of the excess overlap of their signal subspaces (below)
===================  ===========================================================================================

Interference (task vectors only, so it needs a base).  Each tau_i = U diag(s) V^T keeps its k_i signal
components, the singular values above the Tracy–Widom edge of its own MP fit (at least one).  The
overlap of tasks i, j on the left is O = ||U_i,k^T U_j,k||_F^2 / min(k_i, k_j), the mean squared cosine of
the principal angles between the two subspaces, 1 when one contains the other; for random subspaces
E[O] = c = max(k_i, k_j) / R (R rows).  The excess (O - c) / (1 - c), clipped at 0, is averaged with the
same quantity on the right (columns).  Overlapping singular vectors are what Gargiulo et al. ("Task
Singular Vectors", CVPR 2025) identify as task interference; interference only ever raises a caution.

The verdict is the worst level over the criteria: ``compatible`` (a weighted average is safe), ``caution``
(task vectors overlap, or the spectra differ: prefer STAR or TSV), ``incompatible`` (the models do not look
like fine-tunes of one base; merging them is unlikely to keep either).  The thresholds are conventions of
this package, chosen so that fine-tunes of one base sit well inside them and independently initialised
models fall outside (``rel_distance`` ~ 1 or more); they are not taken from the literature.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np

from netspectra.constraints import Constraint, Interval, Kind, OneOf, check_constraints
from netspectra.defaults import TW1_QUANTILES, TW_LEVEL
from netspectra.diagnose.options import AnalysisOptions
from netspectra.errors import MatrixError
from netspectra.merge.inputs import MergeError
from netspectra.merge.methods import Decomposition
from netspectra.merge.results import VERDICTS, LayerCompatibility
from netspectra.pipeline import analyze_array
from netspectra.rmt import marchenko_pastur as mp
from netspectra.spec import AnalysisSpec


def _limits(pair: object) -> bool:
    number = Interval(float, 0.0, None)
    return isinstance(pair, tuple) and len(pair) == 2 and all(map(number.accepts, pair)) and pair[0] <= pair[1]


#: A (caution, incompatible) pair of limits.
_LIMITS = Kind(tuple, "a pair (caution, incompatible) of finite numbers >= 0 with caution <= incompatible", _limits)


@dataclass(frozen=True)
class Thresholds:
    """(caution, incompatible) limits of each criterion; a value above a limit reaches that level.

    ``interference`` has a caution limit only.  ``low_rank`` is the largest signal rank, as a fraction of
    min(rows, cols), at which ``spectral-auto`` treats the task vectors as low-rank (STAR rather than TSV).
    ``tw_level`` is the Tracy–Widom quantile of the bulk edge that counts spikes.
    """

    erank_spread: tuple[float, float] = (0.25, 0.5)
    spectral_norm_ratio: tuple[float, float] = (1.5, 3.0)
    sigma2_ratio: tuple[float, float] = (1.5, 3.0)
    rel_distance: tuple[float, float] = (0.5, 0.9)
    interference: float = 0.1
    low_rank: float = 0.1
    tw_level: float = TW_LEVEL

    _constraints: ClassVar[dict[str, list[Constraint]]] = {
        "erank_spread": [_LIMITS],
        "spectral_norm_ratio": [_LIMITS],
        "sigma2_ratio": [_LIMITS],
        "rel_distance": [_LIMITS],
        "interference": [Interval(float, 0.0, 1.0)],
        "low_rank": [Interval(float, 0.0, 1.0, closed="right")],
        "tw_level": [OneOf(*TW1_QUANTILES)],
    }

    def __post_init__(self) -> None:
        check_constraints(self)

    def to_dict(self) -> dict[str, object]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.__dict__.items()}


DEFAULT_THRESHOLDS = Thresholds()


def is_matrix(shape: Sequence[int]) -> bool:
    """A non-empty 2-D shape: what the spectral criteria and the SVD-based rules apply to."""
    return len(shape) == 2 and min(shape) > 0


@dataclass(frozen=True)
class MatrixSpectrum:
    """What the criteria need from one matrix: columns of its analysis row (eigenvalues of W^T W / N, N >= M).

    ``effective_rank``, ``spectral_norm``, ``sigma2_mp`` and ``num_spikes`` of the
    :class:`~netspectra.diagnose.row.LayerReport` that :func:`netspectra.analyze` gives the matrix, so that
    merge-check and an analysis of the same model agree.
    """

    effective_rank: float
    spectral_norm: float
    sigma2: float
    spikes: int

    @classmethod
    def of(cls, matrix: np.ndarray, options: AnalysisOptions = AnalysisOptions(depth=False)) -> MatrixSpectrum:
        """The columns of ``matrix`` analyzed as one layer with ``options`` (an all-zero matrix: all zero).

        Raises
        ------
        MatrixError
            A matrix without a spectrum (NaN/Inf, a single column).
        """
        array = np.asarray(matrix)
        if not np.any(array):
            return cls(0.0, 0.0, 0.0, 0)
        if min(array.shape) == 1:  # a vector: one eigenvalue ||w||^2 / N, no row (1 x N has no spectrum)
            n = max(array.shape)
            lam = np.array([float(np.sum(np.square(array, dtype=np.float64))) / n])
            sigma2 = mp.sigma2_median(lam, 1 / n)
            return cls(1.0, math.sqrt(n * lam[0]), sigma2, mp.count_spikes(lam, n, 1, sigma2, options.tw_level))
        row = analyze_array(array, AnalysisSpec(fit=options))
        if row.status == "error":
            raise MatrixError(row.warning)
        return cls(row.effective_rank, row.spectral_norm, row.sigma2_mp, row.num_spikes)


def signal_rank(d: Decomposition, tw_level: float = TW_LEVEL) -> int:
    """Singular values of a task vector above its own MP Tracy–Widom edge; at least 1 unless tau = 0.

    Eigenvalues s_i^2 / N of tau^T tau / N, N = max(R, C), beta = min(R, C) / N, counted by
    :func:`netspectra.rmt.marchenko_pastur.count_spikes`.
    """
    if d.s.size == 0 or d.s[0] == 0.0:
        return 0
    n, m = max(d.shape), min(d.shape)
    evals = d.s**2 / n
    sigma2 = mp.sigma2_median(evals, m / n)
    return max(1, mp.count_spikes(evals, n, m, sigma2, tw_level))


def subspace_overlap(a: np.ndarray, b: np.ndarray) -> float:
    """||a^T b||_F^2 / min(k_a, k_b) for orthonormal columns a (n x k_a), b (n x k_b): the mean squared
    cosine of the principal angles, in [0, 1]."""
    k = min(a.shape[1], b.shape[1])
    return float(np.sum((a.T @ b) ** 2) / k) if k else math.nan


def excess_overlap(overlap: float, chance: float) -> float:
    """(overlap - chance) / (1 - chance) clipped to [0, 1]: 0 at the random-subspace level, 1 for nested."""
    if chance >= 1.0:
        return 0.0
    return float(min(1.0, max(0.0, (overlap - chance) / (1.0 - chance))))


@dataclass(frozen=True)
class PairInterference:
    overlap: float
    chance: float
    interference: float


def pair_interference(di: Decomposition, ki: int, dj: Decomposition, kj: int) -> PairInterference:
    """Excess signal-subspace overlap of two task vectors, averaged over the left and right sides."""
    rows, cols = di.shape
    big = max(ki, kj)
    left = subspace_overlap(di.u[:, :ki], dj.u[:, :kj])
    right = subspace_overlap(di.vt[:ki].T, dj.vt[:kj].T)
    c_left, c_right = big / rows, big / cols
    return PairInterference(
        (left + right) / 2, (c_left + c_right) / 2, (excess_overlap(left, c_left) + excess_overlap(right, c_right)) / 2
    )


def _spread(values: Sequence[float]) -> float:
    top = max(values)
    return (top - min(values)) / top if top > 0 else 0.0


def _ratio(values: Sequence[float]) -> float:
    low = min(values)
    return max(values) / low if low > 0 else math.nan


def layer_compatibility(
    name: str,
    models: Sequence[np.ndarray],
    base: np.ndarray | None = None,
    decompositions: Sequence[Decomposition] | None = None,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    fit: AnalysisOptions = AnalysisOptions(),
) -> LayerCompatibility:
    """Compatibility criteria and verdict of one 2-D layer.

    Parameters
    ----------
    name : str
        Tensor name (copied into the row).
    models : sequence of 2-D arrays
        The layer in every model, same shape.
    base : 2-D array, optional
        The layer in the base model: the task vectors M_i - B give the interference (NaN without a base)
        and the distances are measured from it (from the mean of the models without a base).
    decompositions : sequence of Decomposition, optional
        SVDs of the task vectors if already computed (otherwise computed here).
    thresholds : Thresholds
        Limits of the criteria; ``tw_level`` counts the spikes.
    fit : AnalysisOptions
        Fit options of the rows the spectral criteria read (:class:`MatrixSpectrum`; depth is not needed).

    Returns
    -------
    LayerCompatibility
    """
    options = replace(fit, tw_level=thresholds.tw_level, depth=False)
    try:
        spectra = [MatrixSpectrum.of(w, options) for w in models]
    except MatrixError as exc:
        raise MergeError(f"tensor {name!r}: {exc}") from None
    if base is not None:
        reference = np.asarray(base, dtype=np.float64)
    else:
        reference = np.mean([np.asarray(m, np.float64) for m in models], axis=0)
    ref_norm = float(np.linalg.norm(reference))
    distances = [float(np.linalg.norm(np.asarray(m, np.float64) - reference)) for m in models]
    rel_distance = max(distances) / ref_norm if ref_norm > 0 else (0.0 if max(distances) == 0 else math.inf)

    ranks: tuple[int, ...] = ()
    best = PairInterference(math.nan, math.nan, math.nan)
    if base is not None:
        if decompositions is None:
            decompositions = [Decomposition.of(np.asarray(m, np.float64) - reference) for m in models]
        ranks = tuple(signal_rank(d, thresholds.tw_level) for d in decompositions)
        pairs = [
            pair_interference(decompositions[i], ranks[i], decompositions[j], ranks[j])
            for i, j in itertools.combinations(range(len(models)), 2)
            if ranks[i] and ranks[j]
        ]
        if pairs:
            best = max(pairs, key=lambda p: p.interference)
        elif len(models) > 1:
            best = PairInterference(0.0, 0.0, 0.0)

    values = {
        "erank_spread": _spread([s.effective_rank for s in spectra]),
        "spectral_norm_ratio": _ratio([s.spectral_norm for s in spectra]),
        "sigma2_ratio": _ratio([s.sigma2 for s in spectra]),
        "rel_distance": rel_distance,
    }
    level = 0
    reasons = []
    for key, value in values.items():
        caution, incompatible = getattr(thresholds, key)
        hit = 2 if value > incompatible else 1 if value > caution else 0
        if hit:
            reasons.append(f"{key} {value:.3g} > {incompatible if hit == 2 else caution:g}")
            level = max(level, hit)
    if best.interference > thresholds.interference:
        reasons.append(f"interference {best.interference:.3g} > {thresholds.interference:g}")
        level = max(level, 1)
    rows, cols = np.shape(models[0])
    return LayerCompatibility(
        name=name,
        rows=int(rows),
        cols=int(cols),
        erank_min=min(s.effective_rank for s in spectra),
        erank_max=max(s.effective_rank for s in spectra),
        spikes_min=min(s.spikes for s in spectra),
        spikes_max=max(s.spikes for s in spectra),
        task_ranks=ranks,
        overlap=best.overlap,
        overlap_chance=best.chance,
        **values,
        interference=best.interference,
        verdict=VERDICTS[level],
        reasons="; ".join(reasons),
    )
