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
DARE, DELLA,           B + lambda combine(drop(tau_i)): random (DARE: Yu et al., ICML 2024), magnitude-ranked random
Breadcrumbs            (DELLA: Deep et al., 2024) or outlier-and-small (Davari & Belilovsky, ECCV 2024) masks,
                       combined with or without TIES's sign election (:func:`combine_task_vectors`)
SLERP                  sin((1 - t) theta) / sin theta M_1 + sin(t theta) / sin theta M_2 (Shoemake, SIGGRAPH 1985)
NuSLERP                SLERP per tensor, row or column, of models or task vectors (mergekit, EMNLP 2024)
Model Stock            t mean_i M_i + (1 - t) B, t = N cos theta / (1 + (N - 1) cos theta) (Jang et al., ECCV 2024)
=====================  ======================================================================================
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
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
        """Thin SVD (:func:`netspectra.linalg.thin_svd`) of a finite 2-D matrix, in float64."""
        return cls(*thin_svd(matrix))

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
    """Keep the k = max(1, floor(density n)) entries of largest magnitude of ``tau`` (n entries), zero the others.

    The "trim" step of TIES-merging (Yadav et al., NeurIPS 2023), applied per tensor (the paper trims the
    whole flattened task vector; a streaming merge sees one tensor at a time), with mergekit's count of
    entries, so that a TIES merge here equals mergekit's.  Exactly k entries are kept; which of several
    entries of equal magnitude at the threshold survive is unspecified.
    """
    if not 0.0 < density <= 1.0:
        raise ValueError(f"density must lie in (0, 1], got {density}")
    flat = np.asarray(tau, dtype=np.float64).ravel()
    keep = max(1, math.floor(density * flat.size))
    if keep >= flat.size:
        return flat.reshape(np.shape(tau)).copy()
    out = np.zeros_like(flat)
    idx = np.argpartition(np.abs(flat), flat.size - keep)[flat.size - keep :]
    out[idx] = flat[idx]
    return out.reshape(np.shape(tau))


def combine_task_vectors(
    base: np.ndarray,
    deltas: Sequence[np.ndarray],
    weights: Sequence[float],
    *,
    consensus: bool,
    normalize: bool,
    scale: float = 1.0,
) -> np.ndarray:
    """B + lambda tau_m from (sparsified) task vectors d_i: the last step of TIES, DARE, DELLA, Breadcrumbs.

    With consensus (TIES's sign election): gamma_p = sign(sum_i w_i d_i,p), the agreeing set
    A_p = {i : d_i,p != 0, sign(d_i,p) = gamma_p}, tau_m,p = sum_{i in A_p} w_i d_i,p, divided (``normalize``)
    by sum_{i in A_p} w_i where that is non-zero.  Without: tau_m = sum_i w_i d_i, divided (``normalize``) by
    sum_i w_i unless |sum_i w_i| < 1e-8.  Both as in mergekit's generalized task arithmetic (Goddard et al.,
    EMNLP 2024), which agrees with this for positive weights; an entry whose weighted sum is exactly zero
    elects no sign here (mergekit elects +).  Any shape.
    """
    w = np.asarray(weights, dtype=np.float64)
    stacked = np.stack([np.asarray(d, dtype=np.float64) for d in deltas])
    wshape = (-1,) + (1,) * (stacked.ndim - 1)
    weighted = stacked * w.reshape(wshape)
    if consensus:
        sign = np.sign(weighted.sum(axis=0))
        agree = (np.sign(stacked) == sign) & (stacked != 0)
        mixed = np.where(agree, weighted, 0.0).sum(axis=0)
        if normalize:
            den = np.where(agree, w.reshape(wshape), 0.0).sum(axis=0)
            mixed = np.divide(mixed, den, out=np.zeros_like(mixed), where=den != 0)
    else:
        mixed = weighted.sum(axis=0)
        total = float(w.sum())
        if normalize and abs(total) >= 1e-8:
            mixed = mixed / total
    return np.asarray(base, dtype=np.float64) + scale * mixed


def ties(
    base: np.ndarray,
    models: Sequence[np.ndarray],
    weights: Sequence[float],
    density: float | Sequence[float] = 0.2,
    scale: float = 1.0,
    normalize: bool = True,
) -> np.ndarray:
    """TIES-merging: trim, elect sign, disjoint mean (Yadav et al., "TIES-Merging: Resolving
    Interference When Merging Models", NeurIPS 2023).

    With t_i = trim(tau_i, density_i) (top ``density`` fraction by magnitude), the elected sign of entry p
    is gamma_p = sign(sum_i w_i t_i,p), the agreeing set A_p = {i : t_i,p != 0, sign(t_i,p) = gamma_p},
    and tau_m,p = sum_{i in A_p} w_i t_i,p / sum_{i in A_p} w_i (0 where A_p is empty; without
    ``normalize``, mergekit's option, the sum is not divided).  Result B + lambda tau_m
    (:func:`combine_task_vectors`).  With equal weights this is the paper's disjoint mean.  Any shape.

    Parameters
    ----------
    density : float or sequence of float
        One for all task vectors, or one per model.
    """
    taus = task_vectors(base, models)
    densities = per_model(density, len(taus))
    trimmed = [trim(t, d) for t, d in zip(taus, densities)]
    return combine_task_vectors(base, trimmed, weights, consensus=True, normalize=normalize, scale=scale)


def per_model(value: float | Sequence[float], count: int) -> list[float]:
    """``value`` repeated ``count`` times, or the sequence itself (which must have ``count`` entries)."""
    if isinstance(value, (int, float)):
        return [float(value)] * count
    values = [float(v) for v in value]
    if len(values) != count:
        raise ValueError(f"{len(values)} values for {count} models")
    return values


# ------------------------------------------------------------------------------ DARE, DELLA, Breadcrumbs

#: ``draw(p)``: a boolean array of p's shape whose entry j is True with probability p_j (a Bernoulli draw).
BernoulliDraw = Callable[[np.ndarray], np.ndarray]

#: How a sparsified task vector is rescaled: ``l1`` to the L1 norm of the task vector (mergekit's
#: ``rescale: true``), ``inverse`` each kept entry divided by its keep probability (the papers' 1 / (1 - p)),
#: ``none`` not at all.
RESCALES = ("l1", "inverse", "none")


def seeded_draw(rng: np.random.Generator) -> BernoulliDraw:
    """Bernoulli draws from a NumPy generator: ``rng.random(p.shape) < p``."""
    return lambda p: rng.random(np.shape(p)) < p


def rescaled(tau: np.ndarray, kept: np.ndarray, rescale: str, keep_probability: float | np.ndarray) -> np.ndarray:
    """Rescale the sparsified task vector ``kept`` of ``tau`` (see :data:`RESCALES`).

    ``l1``: kept ||tau||_1 / ||kept||_1, unless either norm is below 1e-7 (then ``kept`` as it is), as
    mergekit's ``rescaled_masked_tensor``; ``inverse``: kept / keep_probability (entrywise), which keeps
    the expectation E[kept / p] = tau of every entry.
    """
    if rescale == "none":
        return kept
    if rescale == "inverse":
        return kept / keep_probability
    if rescale != "l1":
        raise ValueError(f"rescale must be one of {', '.join(RESCALES)}, got {rescale!r}")
    before, after = float(np.abs(tau).sum()), float(np.abs(kept).sum())
    if before < 1e-7 or after < 1e-7:
        return kept
    return kept * (before / after)


def dare_drop(tau: np.ndarray, density: float, draw: BernoulliDraw, rescale: str = "l1") -> np.ndarray:
    """DARE's Drop And REscale of one task vector: keep each entry with probability ``density``, rescale.

    tilde tau = (m * tau) / (1 - p) with m_j ~ Bernoulli(1 - p), p = 1 - density the drop rate (Yu et al.,
    "Language Models are Super Mario: Absorbing Abilities from Homologous Models as a Free Lunch", ICML
    2024) for ``rescale="inverse"``; the default ``l1`` rescales to the L1 norm of tau instead, as
    mergekit does (the same in expectation).  ``density >= 1`` returns tau unchanged.  Any shape.
    """
    tau = np.asarray(tau, dtype=np.float64)
    if density >= 1.0:
        return tau.copy()
    kept = np.where(draw(np.full(tau.shape, density)), tau, 0.0)
    return rescaled(tau, kept, rescale, density)


def della_probabilities(tau: np.ndarray, density: float, epsilon: float) -> np.ndarray:
    """MagPrune's keep probabilities: p = density - epsilon + 2 epsilon (r - 1) / (n - 1), r the rank (1 =
    smallest) of |tau_j| within its row of n entries (axis 1; a vector is one row).

    Deep et al., "DELLA-Merging: Reducing Interference in Model Merging through Magnitude-Based Sampling",
    2024 (arXiv:2406.11617): larger entries are kept more often, the mean keep probability is ``density``.
    A row of one entry gets ``density``.  Returned in the shape of tau with a vector as a 1 x n matrix.
    """
    tau = np.asarray(tau, dtype=np.float64)
    rows = tau if tau.ndim >= 2 else tau.reshape(1, -1)
    ranks = np.argsort(np.argsort(np.abs(rows), axis=1, kind="stable"), axis=1, kind="stable").astype(np.float64)
    span = rows.shape[1] - 1
    position = ranks / span if span > 0 else np.full(rows.shape, 0.5)
    return (density - epsilon) + position * 2.0 * epsilon


def della_drop(tau: np.ndarray, density: float, epsilon: float, draw: BernoulliDraw, rescale: str = "l1") -> np.ndarray:
    """DELLA's MagPrune of one task vector: keep entry j with probability p_j (:func:`della_probabilities`),
    then rescale (the paper: each kept entry by 1 / p_j, ``rescale="inverse"``; mergekit: to the L1 norm,
    the default ``l1``).  ``density >= 1`` returns tau unchanged.  Any shape.

    Raises
    ------
    ValueError
        When density - epsilon <= 0 or density + epsilon >= 1 (a probability outside (0, 1)).
    """
    tau = np.asarray(tau, dtype=np.float64)
    if density >= 1.0:
        return tau.copy()
    if density + epsilon >= 1.0 or density - epsilon <= 0.0:
        raise ValueError(f"density +/- epsilon must lie in (0, 1), got density {density:g}, epsilon {epsilon:g}")
    probabilities = della_probabilities(tau, density, epsilon)
    rows = tau if tau.ndim >= 2 else tau.reshape(1, -1)
    kept = np.where(draw(probabilities), rows, 0.0)
    return rescaled(rows, kept, rescale, probabilities).reshape(tau.shape)


def breadcrumbs_drop(tau: np.ndarray, density: float, gamma: float, rescale: str = "none") -> np.ndarray:
    """Model Breadcrumbs' mask of one task vector: drop the ``gamma`` fraction of largest magnitudes (outliers)
    and the smallest, keeping floor(density n) entries (Davari & Belilovsky, "Model Breadcrumbs: Scaling
    Multi-Task Model Merging with Sparse Masks", ECCV 2024).

    In entries sorted by magnitude, keep ranks n_bot .. n_bot + floor(density n) with
    n_bot = max(0, n - floor(density n) - floor(gamma n)) (mergekit's ``magnitude_outliers``: the outliers
    removed shrink when density + gamma > 1).  ``density >= 1`` returns tau unchanged.  Any shape.
    """
    tau = np.asarray(tau, dtype=np.float64)
    if density >= 1.0:
        return tau.copy()
    flat = tau.ravel()
    n = flat.size
    target, top = int(density * n), int(gamma * n)
    bottom = max(0, n - target - top)
    keep = np.zeros(n, dtype=bool)
    keep[np.argsort(np.abs(flat), kind="stable")[bottom : bottom + target]] = True
    kept = np.where(keep, flat, 0.0).reshape(tau.shape)
    return rescaled(tau, kept, rescale, density)


# ------------------------------------------------------------------------------ SLERP, NuSLERP, Model Stock


def slerp(t: float, v0: np.ndarray, v1: np.ndarray, dot_threshold: float = 0.9995, eps: float = 1e-8) -> np.ndarray:
    """Spherical linear interpolation of two tensors, each taken as one vector (Shoemake, "Animating rotation
    with quaternion curves", SIGGRAPH 1985).

    With cos theta = <v0 / ||v0||, v1 / ||v1||> (a norm below ``eps`` taken as 1):
    slerp = sin((1 - t) theta) / sin theta v0 + sin(t theta) / sin theta v1, and the linear interpolation
    (1 - t) v0 + t v1 when |cos theta| > ``dot_threshold`` (nearly collinear or antipodal), as mergekit.
    Note that v0 and v1 are not normalised in the result.  t = 0 gives v0, t = 1 gives v1.  Any shape.
    """
    a = np.asarray(v0, dtype=np.float64).ravel()
    b = np.asarray(v1, dtype=np.float64).ravel()
    if a.size == 0:
        return ((1 - t) * a + t * b).reshape(np.shape(v0))
    norm_a, norm_b = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    norm_a = norm_a if norm_a > eps else 1.0
    norm_b = norm_b if norm_b > eps else 1.0
    dot = float(np.clip(np.dot(a / norm_a, b / norm_b), -1.0, 1.0))
    if abs(dot) > dot_threshold:
        coef_a, coef_b = 1.0 - t, t
    else:
        theta = math.acos(dot)
        coef_a, coef_b = math.sin((1 - t) * theta) / math.sin(theta), math.sin(t * theta) / math.sin(theta)
    return (coef_a * a + coef_b * b).reshape(np.shape(v0))


def nuslerp(t: float, v0: np.ndarray, v1: np.ndarray, *, row_wise: bool = False, flatten: bool = True) -> np.ndarray:
    """NuSLERP: spherical interpolation of the whole tensors (``flatten``), or of each row (last axis), or with
    ``row_wise`` of each column (first axis) (mergekit's ``nuslerp``; Goddard et al., EMNLP 2024).

    For each pair of vectors x, y: cos theta = <x / max(||x||, 1e-7), y / max(||y||, 1e-7)>, and
    (sin((1 - t) theta) x + sin(t theta) y) / sin theta, or (1 - t) x + t y where 1 - cos^2 theta <= 1e-16.
    """
    x = np.asarray(v0, dtype=np.float64)
    y = np.asarray(v1, dtype=np.float64)
    shape = x.shape
    if flatten or x.ndim <= 1:
        x, y = x.reshape(-1), y.reshape(-1)
    elif row_wise:
        x, y = np.swapaxes(x, 0, -1), np.swapaxes(y, 0, -1)
    unit_x = x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-7)
    unit_y = y / np.maximum(np.linalg.norm(y, axis=-1, keepdims=True), 1e-7)
    cos = np.clip(np.sum(unit_x * unit_y, axis=-1, keepdims=True), -1.0, 1.0)
    collinear = (1.0 - cos**2) <= 1e-16
    theta = np.arccos(np.where(collinear, 0.0, cos))
    sin = np.where(collinear, 1.0, np.sin(theta))
    spherical = (np.sin((1 - t) * theta) * x + np.sin(t * theta) * y) / sin
    result = np.where(collinear, (1 - t) * x + t * y, spherical)
    if not flatten and x.ndim > 1 and row_wise:
        result = np.swapaxes(result, 0, -1)
    return result.reshape(shape)


def nuslerp_fraction(weights: Sequence[float]) -> float:
    """t = w_2 / (w_1 + w_2) of NuSLERP's two weights (0.5 when |w_1 + w_2| < 1e-6)."""
    total = float(weights[0]) + float(weights[1])
    return 0.5 if abs(total) < 1e-6 else float(weights[1]) / total


def model_stock(base: np.ndarray, models: Sequence[np.ndarray], filter_wise: bool = False) -> np.ndarray:
    """Model Stock (Jang et al., "Model Stock: All we need is just a few fine-tuned models", ECCV 2024).

    With the task vectors tau_i = M_i - B (N >= 2 of them) and cos theta the mean over pairs i < j of
    <tau_i, tau_j> / max(||tau_i|| ||tau_j||, 1e-6) (clipped to [-1, 1]), the interpolation ratio is
    t = N cos theta / (1 + (N - 1) cos theta) and the result t mean_i M_i + (1 - t) B.  Over the whole tensor,
    or with ``filter_wise`` per row (last axis; a vector is one row).  Where |1 + (N - 1) cos theta| < 1e-6
    t = 0 (the base), as mergekit.
    """
    b = np.asarray(base, dtype=np.float64)
    ms = [np.asarray(m, dtype=np.float64) for m in models]
    shape = b.shape
    if filter_wise:
        if b.ndim <= 1:
            b, ms = b.reshape(1, -1), [m.reshape(1, -1) for m in ms]
    else:
        b, ms = b.reshape(-1), [m.reshape(-1) for m in ms]
    taus = [m - b for m in ms]
    cosines = []
    for i, tau_a in enumerate(taus):
        for tau_b in taus[i + 1 :]:
            norms = np.linalg.norm(tau_a, axis=-1) * np.linalg.norm(tau_b, axis=-1)
            cosines.append(np.clip(np.sum(tau_a * tau_b, axis=-1) / np.maximum(norms, 1e-6), -1.0, 1.0))
    cos = np.mean(cosines, axis=0)[..., None]
    n = len(ms)
    denominator = 1.0 + (n - 1) * cos
    singular = np.abs(denominator) < 1e-6
    t = np.where(singular, 0.0, n * cos / np.where(singular, 1.0, denominator))
    average = np.sum(ms, axis=0) / n
    return (t * average + (1 - t) * b).reshape(shape)


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
