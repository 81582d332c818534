"""Denoise one matrix: SVD, keep rule, shrinkage, low-rank factors and the cosine-overlap check.

W (stored R x C) is oriented N x M with N >= M (transposed when R < C), decomposed W = U diag(s) V^T,
and rebuilt as W_hat = U_r diag(eta) V_r^T from the r components the method keeps, with eta = s
(``hard``) or an optimal shrinker eta(y) sigma sqrt N, y = s / (sigma sqrt N) (Gavish & Donoho, IEEE TIT
63(4), 2017).  Because W_hat shares W's singular vectors, ||W - W_hat|| follows from s - eta alone.

The overlap check follows Nishikawa, Shimizu & Hashiguchi (arXiv 2512.12911): how well do the kept
singular vectors of W align with those of the signal S in W = S + noise?  Without S it is predicted
from the spectrum, |<u_hat_i, u_i>|^2 -> (x^4 - beta) / (x^2 (x^2 + 1)) and |<v_hat_i, v_i>|^2 ->
(x^4 - beta) / (x^2 (x^2 + beta)) with x = x(y_i) (Benaych-Georges & Nadakuditi, J. Multivar. Anal. 111,
2012); with a reference S (tests, planted signals) it is also measured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TypedDict, Unpack

import numpy as np

from netspectra.denoise.encoding import encode
from netspectra.denoise.methods import SHRINK_KINDS, Method
from netspectra.denoise.results import LayerCompression
from netspectra.errors import MatrixError
from netspectra.io import dtypes
from netspectra.io.factored import factor_product
from netspectra.linalg import gram_svd, thin_svd
from netspectra.pipeline import check_matrices
from netspectra.rmt.thresholds import bgn_cos2_left, bgn_cos2_right, bgn_signal_strength, shrink

#: Warning of a matrix in which nothing rises above the threshold (W_hat = 0).
NOTE_ZEROED = "no component above the threshold: replaced by zeros"


@dataclass(frozen=True)
class LowRank:
    """W_hat = left @ right in the stored orientation: left (R x r), right (r x C), float64.

    The kept singular values are split evenly, left = U_r diag(sqrt eta), right = diag(sqrt eta) V_r^T
    (transposed back for a matrix stored M x N), so both factors have the same scale.
    """

    left: np.ndarray
    right: np.ndarray

    @property
    def rank(self) -> int:
        return self.left.shape[1]

    def dense(self) -> np.ndarray:
        """W_hat in the stored orientation."""
        return self.left @ self.right


def stored_product(factors: LowRank, dtype: str) -> np.ndarray:
    """W_hat as the factored output stores it: the product of its factors rounded to ``dtype``, formed as the
    reader of that output forms it (:func:`~netspectra.io.factored.factor_product`), so that a dense and a
    factored output of one compression are one model (bit for bit in F32 and F64)."""
    left, right = (dtypes.decode(encode(f, dtype), dtype) for f in (factors.left, factors.right))
    return factor_product(left, right, dtypes.result_dtype(dtype))


@dataclass(frozen=True)
class OrientedSVD:
    """Thin SVD of a matrix oriented N x M (N >= M): W = u diag(s) vt, s descending.

    ``transposed`` tells whether the stored matrix is M x N (W is its transpose).  Compute it once with
    :meth:`of` and pass it to :func:`compress_svd` as often as needed (one per method, say).
    """

    u: np.ndarray
    s: np.ndarray
    vt: np.ndarray
    transposed: bool

    @classmethod
    def of(cls, matrix: np.ndarray) -> OrientedSVD:
        """Decompose a 2-D matrix given in its stored orientation (float64; :func:`~netspectra.linalg.gram_svd`:
        the Gram matrix's eigenvectors where accurate, else LAPACK gesdd).

        Raises
        ------
        MatrixError
            For a matrix that is not 2-D, empty, all zero, or has NaN/Inf entries.
        """
        stored = _checked(matrix)
        transposed = stored.shape[0] < stored.shape[1]
        u, s, vt = gram_svd(stored.T if transposed else stored)
        return cls(u, s, vt, transposed)

    @property
    def shape(self) -> tuple[int, int]:
        """(N, M), N >= M."""
        return self.u.shape[0], self.vt.shape[1]

    @property
    def stored_shape(self) -> tuple[int, int]:
        """Shape of the matrix as stored: (M, N) when ``transposed``, else (N, M)."""
        n, m = self.shape
        return (m, n) if self.transposed else (n, m)


class CompressKeywords(TypedDict, total=False):
    """The keyword arguments of :func:`compress_matrix` and :func:`compress_svd` (documented there)."""

    sigma: float | None
    reference: np.ndarray | None
    name: str
    kind: str
    dtype: str
    factored: bool


def compress_matrix(
    matrix: np.ndarray, method: Method | str, shrink_kind: str = "hard", **keywords: Unpack[CompressKeywords]
) -> tuple[LayerCompression, LowRank]:
    """Low-rank denoise one 2-D matrix, given in its stored orientation.

    Parameters
    ----------
    matrix : ndarray, 2-D
        The weight matrix as stored (R x C); computed in float64.
    method : Method or str
        Keep rule (see :mod:`netspectra.denoise.methods`).
    shrink_kind : str
        ``hard`` (keep the selected values) or ``frobenius``/``operator``/``nuclear``.
    sigma : float, optional
        Known noise entry standard deviation (estimated from the spectrum otherwise).
    reference : ndarray, optional
        The true signal S (same shape as ``matrix``) for the measured overlaps and signal error.
    name, kind, dtype : str
        Copied into the result row (default ``""``, ``linear``, ``F64``).
    factored : bool
        Whether the matrix will be written as factors (sets ``params_after`` to r (N + M) when smaller; default
        False).

    Returns
    -------
    (LayerCompression, LowRank)

    Raises
    ------
    MatrixError
        For a matrix that is not 2-D, empty, all zero, or has NaN/Inf entries.
    """
    return compress_svd(OrientedSVD.of(matrix), method, shrink_kind, **keywords)


def compress_svd(
    svd: OrientedSVD,
    method: Method | str,
    shrink_kind: str = "hard",
    *,
    sigma: float | None = None,
    reference: np.ndarray | None = None,
    name: str = "",
    kind: str = "linear",
    dtype: str = "F64",
    factored: bool = False,
) -> tuple[LayerCompression, LowRank]:
    """:func:`compress_matrix` from a precomputed :class:`OrientedSVD` (same parameters)."""
    if isinstance(method, str):
        method = Method.parse(method)
    if shrink_kind not in SHRINK_KINDS:
        raise ValueError(f"unknown shrinker {shrink_kind!r}; expected one of {', '.join(SHRINK_KINDS)}")
    u, s, vt = svd.u, svd.s, svd.vt
    n, m = svd.shape
    beta = m / n

    selection = method.select(s, n, m, sigma)
    scale = selection.sigma * math.sqrt(n)
    y = s[: selection.rank] / scale if scale > 0 else np.full(selection.rank, np.inf)
    eta = s[: selection.rank] if shrink_kind == "hard" or scale == 0 else shrink(shrink_kind, y, beta) * scale
    rank = int(np.count_nonzero(eta > 0))  # shrinkers are monotone: the survivors lead
    eta = eta[:rank]
    x = bgn_signal_strength(y[:rank], beta)
    cos_left, cos_right = bgn_cos2_left(x, beta), bgn_cos2_right(x, beta)

    residual = s.copy()
    residual[:rank] -= eta
    root = np.sqrt(eta)
    a, b = u[:, :rank] * root, root[:, None] * vt[:rank]
    factors = LowRank(np.ascontiguousarray(b.T), np.ascontiguousarray(a.T)) if svd.transposed else LowRank(a, b)

    measured_left: tuple[float, ...] = ()
    measured_right: tuple[float, ...] = ()
    signal_error = math.nan
    if reference is not None:
        measured_left, measured_right, signal_error = _against_reference(
            np.asarray(reference, dtype=np.float64), svd, rank, factors
        )

    params_factored = rank * (n + m)
    return (
        LayerCompression(
            name=name,
            kind=kind,
            dtype=dtype,
            N=n,
            M=m,
            transposed=svd.transposed,
            method=str(method),
            shrink=shrink_kind,
            sigma=selection.sigma,
            tau=selection.tau,
            rank_selected=selection.rank,
            rank=rank,
            params_before=n * m,
            params_after=params_factored if factored and params_factored < n * m else n * m,
            params_factored=params_factored,
            rel_fro_error=float(np.linalg.norm(residual) / np.linalg.norm(s)),
            rel_spec_error=float(np.max(np.abs(residual)) / s[0]),
            energy_kept=float(np.dot(eta, eta) / np.dot(s, s)),
            mean_pred_cos2_left=float(np.mean(cos_left)) if rank else math.nan,
            mean_pred_cos2_right=float(np.mean(cos_right)) if rank else math.nan,
            pred_cos2_left=tuple(float(c) for c in cos_left),
            pred_cos2_right=tuple(float(c) for c in cos_right),
            measured_cos2_left=measured_left,
            measured_cos2_right=measured_right,
            signal_rel_error=signal_error,
            warning="" if rank else NOTE_ZEROED,
        ),
        factors,
    )


def measured_overlaps(estimate_vectors: np.ndarray, signal_vectors: np.ndarray) -> np.ndarray:
    """|<a_i, b_i>|^2 for matching columns of two matrices of unit vectors (as many as both have)."""
    k = min(estimate_vectors.shape[1], signal_vectors.shape[1])
    return np.einsum("ij,ij->j", estimate_vectors[:, :k], signal_vectors[:, :k]) ** 2


def _against_reference(
    reference: np.ndarray, svd: OrientedSVD, rank: int, factors: LowRank
) -> tuple[tuple[float, ...], tuple[float, ...], float]:
    if reference.shape != svd.stored_shape:
        raise ValueError(f"reference signal has shape {reference.shape}, matrix has {svd.stored_shape}")
    signal = reference.T if svd.transposed else reference
    us, ss, vts = thin_svd(signal)
    signal_rank = int(np.count_nonzero(ss > ss[0] * max(signal.shape) * np.finfo(np.float64).eps)) if ss[0] > 0 else 0
    left = measured_overlaps(svd.u[:, :rank], us[:, :signal_rank])
    right = measured_overlaps(svd.vt[:rank].T, vts[:signal_rank].T)
    norm = np.linalg.norm(reference)
    error = float(np.linalg.norm(factors.dense() - reference) / norm) if norm > 0 else math.nan
    return tuple(float(c) for c in left), tuple(float(c) for c in right), error


def _checked(matrix: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", over="ignore"):  # a signalling NaN warns when cast; check_matrices reports it
        arr = np.asarray(matrix, dtype=np.float64)
    if arr.ndim != 2:
        raise MatrixError(f"expected a 2-D matrix, got shape {arr.shape}")
    check_matrices(arr[None] if arr.shape[0] >= arr.shape[1] else arr.T[None])
    return arr
