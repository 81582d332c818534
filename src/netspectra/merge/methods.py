"""Merge rules as pure functions of NumPy arrays (float64 in, float64 out, no I/O).

Notation: base B, models M_1..M_T with weights w_1..w_T, task vectors tau_i = M_i - B, normalised
weights w^_i = w_i / sum_j w_j, global scale lambda.  Every function takes the tensors of one layer and
returns the merged tensor; the SVD-based rules (:func:`star`, :func:`tsv`) take 2-D task vectors through
their :class:`Decomposition` so that a decomposition computed once (by the compatibility check, say) is
never recomputed.

=====================  ======================================================================================
rule                   merged tensor
=====================  ======================================================================================
linear                 sum_i w_i M_i / sum_i w_i
task arithmetic        B + lambda sum_i w_i tau_i                         (Ilharco et al., ICLR 2023)
TIES                   B + lambda tau_m, tau_m the weighted disjoint mean of the trimmed, sign-elected tau_i
                       (Yadav et al., NeurIPS 2023)
STAR                   B + lambda sum_i w^_i S_eta(tau_i), S_eta the nuclear-norm truncation and rescale
                       (Lee et al., NAACL 2025)
TSV                    B + lambda U_perp diag(T w^_i Sigma_i,k) V_perp^T over the top-k singular vectors of every
                       tau_i, whitened (Gargiulo et al., CVPR 2025)
weighted average       B + lambda sum_i w^_i tau_i (for lambda = 1: the linear merge)
=====================  ======================================================================================
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from netspectra.linalg import thin_svd


@dataclass(frozen=True)
class Decomposition:
    """Thin SVD of a 2-D matrix in its stored orientation: ``matrix = u @ diag(s) @ vt``, s descending.

    Attributes
    ----------
    u : ndarray (R, r)
    s : ndarray (r,)
    vt : ndarray (r, C)
        r = min(R, C); float64.
    """

    u: np.ndarray
    s: np.ndarray
    vt: np.ndarray

    @classmethod
    def of(cls, matrix: np.ndarray) -> Decomposition:
        """Thin SVD (LAPACK gesdd through ``numpy.linalg.svd``) of a finite 2-D matrix, in float64."""
        u, s, vt = thin_svd(matrix)
        return cls(u, s, vt)

    @property
    def shape(self) -> tuple[int, int]:
        return self.u.shape[0], self.vt.shape[1]

    def rebuild(self, s: np.ndarray) -> np.ndarray:
        """u_r diag(s) vt_r for the first r = len(s) components."""
        r = len(s)
        return (self.u[:, :r] * s) @ self.vt[:r]


def normalized(weights: Sequence[float]) -> np.ndarray:
    """w^_i = w_i / sum_j w_j.

    Raises
    ------
    ValueError
        When the weights sum to zero.
    """
    w = np.asarray(weights, dtype=np.float64)
    total = w.sum()
    if total == 0.0:
        raise ValueError("model weights sum to zero")
    return w / total


def _combine(weights: np.ndarray, tensors: Sequence[np.ndarray]) -> np.ndarray:
    """sum_i weights_i tensors_i, in float64, one tensor at a time."""
    out = np.zeros(np.shape(tensors[0]), dtype=np.float64)
    for w, t in zip(weights, tensors):
        out += w * np.asarray(t, dtype=np.float64)
    return out


def task_vectors(base: np.ndarray, models: Sequence[np.ndarray]) -> list[np.ndarray]:
    """tau_i = M_i - B in float64."""
    b = np.asarray(base, dtype=np.float64)
    return [np.asarray(m, dtype=np.float64) - b for m in models]


def linear(models: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    """Weighted average sum_i w_i M_i / sum_i w_i ("model soup"; Wortsman et al., ICML 2022).

    Any shape; all tensors the same shape.
    """
    return _combine(normalized(weights), models)


def task_arithmetic(base: np.ndarray, models: Sequence[np.ndarray], weights: Sequence[float], scale: float = 1.0) -> np.ndarray:
    """B + lambda sum_i w_i (M_i - B), with the raw (not normalised) weights.

    Ilharco et al., "Editing models with task arithmetic", ICLR 2023.  Any shape.
    """
    return np.asarray(base, dtype=np.float64) + scale * _combine(np.asarray(weights, float), task_vectors(base, models))


def weighted_average(base: np.ndarray, models: Sequence[np.ndarray], weights: Sequence[float], scale: float = 1.0) -> np.ndarray:
    """B + lambda sum_i w^_i (M_i - B): the mean task vector, scaled; equals :func:`linear` for lambda = 1.

    The rule every task-vector method applies to tensors it does not decompose (biases, norms, conv
    kernels), so that those tensors move on the same scale as the method's matrices.
    """
    return np.asarray(base, dtype=np.float64) + scale * _combine(normalized(weights), task_vectors(base, models))


# ------------------------------------------------------------------------------------------------ TIES


def trim(tau: np.ndarray, density: float) -> np.ndarray:
    """Keep the ceil(density n) entries of largest magnitude of ``tau`` (n entries), zero the others.

    The "trim" step of TIES-merging (Yadav et al., NeurIPS 2023), applied per tensor (the paper trims the
    whole flattened task vector; a streaming merge sees one tensor at a time).  Exactly that many entries
    are kept; which of several entries of equal magnitude at the threshold survive is unspecified.
    """
    if not 0.0 < density <= 1.0:
        raise ValueError(f"density must lie in (0, 1], got {density}")
    flat = np.asarray(tau, dtype=np.float64).ravel()
    keep = math.ceil(density * flat.size)
    if keep >= flat.size:
        return flat.reshape(np.shape(tau)).copy()
    out = np.zeros_like(flat)
    idx = np.argpartition(np.abs(flat), flat.size - keep)[flat.size - keep :]
    out[idx] = flat[idx]
    return out.reshape(np.shape(tau))


def ties(
    base: np.ndarray, models: Sequence[np.ndarray], weights: Sequence[float], density: float = 0.2, scale: float = 1.0
) -> np.ndarray:
    """TIES-merging: trim, elect sign, disjoint mean (Yadav et al., "TIES-Merging: Resolving
    Interference When Merging Models", NeurIPS 2023).

    With t_i = trim(tau_i, density) (top ``density`` fraction by magnitude), the elected sign of entry p
    is gamma_p = sign(sum_i w_i t_i,p), the agreeing set A_p = {i : t_i,p != 0, sign(t_i,p) = gamma_p},
    and tau_m,p = sum_{i in A_p} w_i t_i,p / sum_{i in A_p} w_i (0 where A_p is empty).  Result
    B + lambda tau_m.  With equal weights this is the paper's disjoint mean.  Any shape.
    """
    w = np.asarray(weights, dtype=np.float64)
    trimmed = np.stack([trim(t, density) for t in task_vectors(base, models)])
    wshape = (-1,) + (1,) * (trimmed.ndim - 1)
    weighted = trimmed * w.reshape(wshape)
    sign = np.sign(weighted.sum(axis=0))
    agree = (np.sign(trimmed) == sign) & (trimmed != 0)
    num = np.where(agree, weighted, 0.0).sum(axis=0)
    den = np.where(agree, w.reshape(wshape), 0.0).sum(axis=0)
    merged = np.divide(num, den, out=np.zeros_like(num), where=den != 0)
    return np.asarray(base, dtype=np.float64) + scale * merged


# ------------------------------------------------------------------------------------------------ STAR


def star_rank(s: np.ndarray, eta: float) -> int:
    """Smallest r with sum_{j<=r} s_j >= eta sum_j s_j (s descending): the rank STAR keeps.

    STAR keeps a fraction eta of the *nuclear norm* ||tau||_* = sum_j s_j, not of the energy sum s_j^2
    (Lee et al., NAACL 2025; the official code's ``eta`` is a percentage of the nuclear norm, default 40).
    0 for an all-zero s.
    """
    if not 0.0 < eta <= 1.0:
        raise ValueError(f"eta must lie in (0, 1], got {eta}")
    cum = np.cumsum(np.asarray(s, dtype=np.float64))
    if cum.size == 0 or cum[-1] <= 0.0:
        return 0
    return int(np.searchsorted(cum, eta * cum[-1], side="left")) + 1


def star_truncate(d: Decomposition, eta: float) -> tuple[np.ndarray, int]:
    """Spectral truncation and rescale of one task vector tau = U diag(s) V^T.

    S_eta(tau) = U_r diag(s_1..r * sum_j s_j / sum_{j<=r} s_j) V_r^T with r = :func:`star_rank`, so the
    nuclear norm is preserved: ||S_eta(tau)||_* = ||tau||_* (Lee et al., "STAR: Spectral Truncation and
    Rescale for Model Merging", NAACL 2025).

    Returns
    -------
    (matrix, r) : the truncated and rescaled task vector (zero for tau = 0) and the rank kept.
    """
    r = star_rank(d.s, eta)
    if r == 0:
        return np.zeros(d.shape), 0
    kept = d.s[:r]
    return d.rebuild(kept * (d.s.sum() / kept.sum())), r


def star(
    base: np.ndarray,
    decompositions: Sequence[Decomposition],
    weights: Sequence[float],
    eta: float = 0.4,
    scale: float = 1.0,
) -> tuple[np.ndarray, list[int]]:
    """STAR merge of a 2-D layer: B + lambda sum_i w^_i S_eta(tau_i) (the paper averages, w^_i = 1/T).

    Parameters
    ----------
    decompositions : the :class:`Decomposition` of each task vector tau_i = M_i - B.

    Returns
    -------
    (merged, ranks) : the merged matrix and the rank kept of each task vector.
    """
    merged = np.asarray(base, dtype=np.float64).copy()
    ranks = []
    for w, d in zip(normalized(weights), decompositions):
        truncated, r = star_truncate(d, eta)
        merged += scale * w * truncated
        ranks.append(r)
    return merged, ranks


# ------------------------------------------------------------------------------------------------ TSV


def polar_factor(a: np.ndarray) -> np.ndarray:
    """Closest matrix with orthonormal columns (on a's range): P_r Q_r^T from a = P diag(d) Q^T,
    over the d above max(shape) eps d_max.

    The orthogonal Procrustes / polar solution argmin ||a - X||_F over partial isometries X.  Dropping
    the numerically zero d matters when a has repeated columns (two identical task vectors): the full
    P Q^T would add arbitrary directions of a's null space.
    """
    p, d, qt = thin_svd(a)
    if d.size == 0 or d[0] == 0.0:
        return np.zeros_like(a)
    r = int(np.count_nonzero(d > max(a.shape) * np.finfo(np.float64).eps * d[0]))
    return p[:, :r] @ qt[:r]


def tsv_rank(m: int, num_tasks: int) -> int:
    """Default components kept per task: max(1, floor(m / T)), so the T blocks fill the m dimensions."""
    return max(1, m // num_tasks)


def tsv(
    base: np.ndarray,
    decompositions: Sequence[Decomposition],
    weights: Sequence[float],
    k: int | None = None,
    scale: float = 1.0,
) -> tuple[np.ndarray, int]:
    """Task-singular-vector merge (TSV-M) of a 2-D layer.

    Keep the top k singular triplets (U_i,k, Sigma_i,k, V_i,k) of each task vector, concatenate
    U = [U_1,k .. U_T,k], V = [V_1,k .. V_T,k], Sigma = blockdiag(T w^_i Sigma_i,k), whiten U and V by
    their polar factors (:func:`polar_factor`), and return B + lambda polar(U) Sigma polar(V)^T
    (Gargiulo et al., "Task Singular Vectors: Reducing Task Interference in Model Merging", CVPR 2025;
    lambda = 1 there).  Whitening removes the overlap between the tasks' singular vectors, the
    interference that plain summation suffers.

    Parameters
    ----------
    k : int, optional
        Components per task (default :func:`tsv_rank`, min(R, C) / T).

    Returns
    -------
    (merged, k) : the merged matrix and the k used.
    """
    shape = decompositions[0].shape
    k = tsv_rank(min(shape), len(decompositions)) if k is None else min(int(k), min(shape))
    factors = np.asarray(normalized(weights)) * len(decompositions)
    u = np.concatenate([d.u[:, :k] for d in decompositions], axis=1)
    v = np.concatenate([d.vt[:k].T for d in decompositions], axis=1)
    sigma = np.concatenate([f * d.s[:k] for f, d in zip(factors, decompositions)])
    delta = (polar_factor(u) * sigma) @ polar_factor(v).T
    return np.asarray(base, dtype=np.float64) + scale * delta, k
